package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Origin normalisation follows the URL standard's host parser and origin serialization (the expected
 * values below are what {@code new URL(input).origin} gives in a WHATWG-conformant implementation), and
 * every rejected shape is reported with its exact message and fix.
 */
class OriginParsingTest {

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            // scheme and host are lower-cased
            "HTTPS://App.Example.COM,          https://app.example.com",
            "http://LOCALHOST:3000,            http://localhost:3000",
            // default ports are dropped, explicit non-default ports are kept
            "http://app.example.com:80,        http://app.example.com",
            "https://app.example.com:443,      https://app.example.com",
            "ws://socket.example.com:80,       ws://socket.example.com",
            "wss://socket.example.com:443,     wss://socket.example.com",
            "http://app.example.com:443,       http://app.example.com:443",
            "https://app.example.com:80,       https://app.example.com:80",
            "https://app.example.com:8443,     https://app.example.com:8443",
            "wss://socket.example.com:8443,    wss://socket.example.com:8443",
            "http://app.example.com:0080,      http://app.example.com",
            "https://app.example.com:08443,    https://app.example.com:8443",
            "https://127.0.0.1:443,            https://127.0.0.1",
            "http://127.0.0.1:8080,            http://127.0.0.1:8080",
            // a scheme with '.' and '+' is valid even though it looks like a regular expression (found by the fuzz test)
            "a.+b.c://0.0.0.0,                 a.+b.c://0.0.0.0",
            // IPv6 in brackets, RFC 5952 shortest form as the URL standard serializes it
            "http://[0:0:0:0:0:0:0:1]:8080,    http://[::1]:8080",
            "http://[2001:DB8::0:1],           http://[2001:db8::1]",
            "http://[::1]:80,                  http://[::1]",
            "http://[0:0:0:0:0:0:0:0],         http://[::]",
            "http://[2001:db8:0:0:1:0:0:1],    http://[2001:db8::1:0:0:1]",
            "http://[1:0:0:2:0:0:0:3],         http://[1:0:0:2::3]",
            "http://[::FFFF:127.0.0.1],        http://[::ffff:7f00:1]",
            // internationalised domain names become punycode (UTS #46, non-transitional, as in the URL standard)
            "https://bücher.example,           https://xn--bcher-kva.example",
            "https://BÜCHER.example,           https://xn--bcher-kva.example",
            "https://xn--BCHER-KVA.example,    https://xn--bcher-kva.example",
            "https://ａｐｐ.example.com,         https://app.example.com",
    })
    void originsAreNormalisedToTheirUrlStandardSerialization(String input, String expected) {
        assertThat(Origin.parse(input).serialized()).isEqualTo(expected);
        assertThat(Origin.parse(input).toString()).isEqualTo(expected);
        assertThat(Origin.normalize(input)).isEqualTo(expected);
    }

    /**
     * UTS #46 deviation characters: browsers keep them (non-transitional), IDNA2003 maps them away
     * ("faß" would become "fass", another domain). The engine refuses them instead of guessing.
     */
    @ParameterizedTest
    @CsvSource({
            "https://faß.example, ß, 00DF",
            "https://σς.example,  ς, 03C2",
            "https://a\u200db.example, \u200d, 200D",
    })
    void deviationCharactersThatIdnaVersionsEncodeDifferentlyAreRefused(String input, String c, String code) {
        String value = input.replace("\\u200d", "\u200d");
        String ch = c.replace("\\u200d", "\u200d");
        assertThatThrownBy(() -> Origin.parse(value)).isInstanceOfSatisfying(OriginParseException.class, e -> {
            assertThat(e.getMessage()).isEqualTo("\"" + value + "\" contains \"" + ch + "\" (U+" + code + "), which IDNA versions encode differently");
            assertThat(e.fix()).isEqualTo("write the host in punycode (xn--...) as the browser shows it");
        });
        assertThat(Origin.normalize(value)).isNull();
    }

    @Test
    void aSubdomainWildcardBeforeABrokenIpv6HostIsAParseErrorNotACrash() {
        // Found by the fuzz test: "http://*.[" used to throw StringIndexOutOfBoundsException.
        assertThatThrownBy(() -> OriginPattern.parse("http://*.[")).isInstanceOfSatisfying(OriginParseException.class,
                e -> assertThat(e.getMessage()).isEqualTo("\"http://*.[\" has an invalid IPv6 address \"[\""));
    }

    @Test
    void defaultPortIsDroppedWhenNormalising() {
        Origin o = Origin.parse("https://app.example.com:443");

        assertThat(o.port()).isEqualTo(-1);
        assertThat(o.effectivePort()).isEqualTo(443);
        assertThat(o.serialized()).isEqualTo("https://app.example.com");
    }

    @Test
    void anExplicitNonDefaultPortIsKeptWhenNormalising() {
        Origin o = Origin.parse("HTTP://[0:0::1]:8080");

        assertThat(o.scheme()).isEqualTo("http");
        assertThat(o.host()).isEqualTo("[::1]");
        assertThat(o.port()).isEqualTo(8080);
        assertThat(o.effectivePort()).isEqualTo(8080);
    }

    @Test
    void aSchemeWithoutADefaultPortHasNoEffectivePort() {
        Origin o = Origin.parse("tauri://localhost");

        assertThat(o.port()).isEqualTo(-1);
        assertThat(o.effectivePort()).isEqualTo(-1);
    }

    @Test
    void differentSpellingsOfOneOriginAreEqualOrigins() {
        Origin a = Origin.parse("https://APP.example.com:443");
        Origin b = Origin.parse("https://app.example.com");

        assertThat(a).isEqualTo(b);
        assertThat(a.hashCode()).isEqualTo(b.hashCode());
        assertThat(Origin.parse("http://app.example.com")).isNotEqualTo(b);
        assertThat(Origin.parse("https://app.example.com:8443")).isNotEqualTo(b);
    }

    @ParameterizedTest
    @ValueSource(strings = {
            "https://app.example.com",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "https://xn--bcher-kva.example",
            "wss://socket.example.com:8443",
            "tauri://localhost",
            "https://a.b.c.example.co.uk:65535",
            // also canonical, and an Origin header a browser sends as is:
            "http://[::1]:8080",
            "http://[2001:db8::1]",
            "http://printer.2nd-floor",
    })
    void normalisingAnOriginAlreadyInCanonicalFormReturnsTheVeryInstanceGiven(String canonical) {
        assertThat(Origin.normalize(canonical)).isSameAs(canonical);
    }

    @Test
    void normalisingNullGivesNull() {
        assertThat(Origin.normalize(null)).isNull();
    }

    static Stream<Arguments> rejectedOrigins() {
        String regexFix = "list exact origins, use http://host:* for any port or https://*.example.com for subdomains";
        String ipv4Fix = "write the address as four decimal numbers";
        String ipv6Fix = "write a valid IPv6 address, such as [::1]";
        return Stream.of(
                Arguments.of("",
                        "an empty origin (expected: scheme://host[:port], such as https://app.example.com)",
                        "https://app.example.com"),
                Arguments.of("app.example.com",
                        "\"app.example.com\" has no scheme (expected: scheme://host[:port])",
                        "write \"https://app.example.com\""),
                Arguments.of("//app.example.com/",
                        "\"//app.example.com/\" has no scheme (expected: scheme://host[:port])",
                        "write \"https://app.example.com\""),
                Arguments.of("1http://app.example.com",
                        "\"1http://app.example.com\" has an invalid scheme \"1http\" (expected: a letter followed by letters, digits, '+', '-' or '.')",
                        "write https://... or http://..."),
                Arguments.of("https://",
                        "\"https://\" has no host",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com/",
                        "\"https://app.example.com/\" ends with a slash, and an origin has no path",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com/api/v1?x=1",
                        "\"https://app.example.com/api/v1?x=1\" has a path \"/api/v1\", and an origin is only scheme://host[:port]",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com?x=1",
                        "\"https://app.example.com?x=1\" has a query, and an origin is only scheme://host[:port]",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com#top",
                        "\"https://app.example.com#top\" has a fragment, and an origin is only scheme://host[:port]",
                        "write \"https://app.example.com\""),
                Arguments.of("https://user:pass@app.example.com",
                        "\"https://user:pass@app.example.com\" contains user information ('@'), which an origin never has",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com:",
                        "\"https://app.example.com:\" has an empty port after ':'",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com:https",
                        "\"https://app.example.com:https\" has a port \"https\" that is not a number",
                        "write a port from 1 to 65535"),
                Arguments.of("https://app.example.com:0",
                        "\"https://app.example.com:0\" has port 0, which is out of range (expected: 1-65535)",
                        "use a port from 1 to 65535"),
                Arguments.of("https://app.example.com:70000",
                        "\"https://app.example.com:70000\" has port 70000, which is out of range (expected: 1-65535)",
                        "use a port from 1 to 65535"),
                Arguments.of("https://app.example.com:99999999999",
                        "\"https://app.example.com:99999999999\" has port 99999999999, which is out of range (expected: 1-65535)",
                        "use a port from 1 to 65535"),
                Arguments.of("http://::1",
                        "\"http://::1\" has an IPv6 address without brackets",
                        "write \"http://[::1]\""),
                Arguments.of("http://2001:db8::1",
                        "\"http://2001:db8::1\" has an IPv6 address without brackets",
                        "write \"http://[2001:db8::1]\""),
                Arguments.of("http://[::1",
                        "\"http://[::1\" has an unterminated IPv6 address (missing ']')",
                        "write \"http://[::1]\""),
                Arguments.of("http://[::1]x",
                        "\"http://[::1]x\" has characters after the IPv6 address (expected: ':' and a port)",
                        "write \"http://[::1]\""),
                Arguments.of("http://[::1::2]",
                        "\"http://[::1::2]\" has an invalid IPv6 address \"[::1::2]\"", ipv6Fix),
                Arguments.of("http://[1:2:3:4:5:6:7:8:9]",
                        "\"http://[1:2:3:4:5:6:7:8:9]\" has an invalid IPv6 address \"[1:2:3:4:5:6:7:8:9]\"", ipv6Fix),
                Arguments.of("http://[::1%25eth0]",
                        "\"http://[::1%25eth0]\" has an invalid IPv6 address \"[::1%25eth0]\"", ipv6Fix),
                // The URL standard's IPv6 parser takes ASCII hex digits only (here U+0661 ARABIC-INDIC DIGIT ONE).
                Arguments.of("http://[\u0661::1]",
                        "\"http://[\u0661::1]\" has an invalid IPv6 address \"[\u0661::1]\"", ipv6Fix),
                Arguments.of("http://127.1",
                        "\"http://127.1\" has \"127.1\", which is not a valid IPv4 address (expected: four decimal numbers 0-255, such as 127.0.0.1)",
                        ipv4Fix),
                Arguments.of("http://256.0.0.1",
                        "\"http://256.0.0.1\" has \"256.0.0.1\", which is not a valid IPv4 address (expected: four decimal numbers 0-255, such as 127.0.0.1)",
                        ipv4Fix),
                Arguments.of("http://0x7f.0.0.1",
                        "\"http://0x7f.0.0.1\" has \"0x7f.0.0.1\", which is not a valid IPv4 address (expected: four decimal numbers 0-255, such as 127.0.0.1)",
                        ipv4Fix),
                Arguments.of(" https://app.example.com",
                        "\" https://app.example.com\" contains whitespace or a control character",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com\n",
                        "\"https://app.example.com\n\" contains whitespace or a control character",
                        "write \"https://app.example.com\""),
                Arguments.of("/\\.vercel\\.app$/",
                        "\"/\\.vercel\\.app$/\" looks like a regular expression, and origins are not regular expressions",
                        regexFix),
                Arguments.of("^https://.*",
                        "\"^https://.*\" looks like a regular expression, and origins are not regular expressions",
                        regexFix),
                Arguments.of("https://app%2Eexample.com",
                        "\"https://app%2Eexample.com\" has a percent-encoded host, which browsers never send in an Origin",
                        "write the host name without percent-encoding"),
                Arguments.of("https://app..example.com",
                        "\"https://app..example.com\" has an empty label in its host",
                        "remove the extra '.'"),
                Arguments.of("https://.example.com",
                        "\"https://.example.com\" has an empty label in its host",
                        "remove the extra '.'"),
                Arguments.of("https://app.example.com.",
                        "\"https://app.example.com.\" has a host ending in '.'",
                        "write \"https://app.example.com\""),
                Arguments.of("https://app.example.com.:8443",
                        "\"https://app.example.com.:8443\" has a host ending in '.'",
                        "write \"https://app.example.com:8443\""),
                Arguments.of("https://app$.example.com",
                        "\"https://app$.example.com\" has \"$\" in its host, which is not allowed in a host name",
                        "write the host with letters, digits, '-' and '.' only"),
                Arguments.of("https://*.example.com",
                        "\"https://*.example.com\" contains '*', and an origin has no wildcard",
                        "use the origin itself"),
                Arguments.of("https://app-*.example.com",
                        "\"https://app-*.example.com\" contains '*', and an origin has no wildcard",
                        "use the origin itself"),
                Arguments.of("https://*",
                        "\"https://*\" uses '*' as the whole host",
                        "write \"*\" alone to allow every origin, or https://*.example.com for subdomains"),
                Arguments.of("http://localhost:*",
                        "\"http://localhost:*\" has a port \"*\" that is not a number",
                        "write a port from 1 to 65535"));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("rejectedOrigins")
    void aMalformedOriginIsRejectedWithItsExactMessageAndFix(String input, String message, String fix) {
        assertThatThrownBy(() -> Origin.parse(input))
                .isInstanceOfSatisfying(OriginParseException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo(message);
                    assertThat(e.fix()).isEqualTo(fix);
                    assertThat(e.value()).isEqualTo(input);
                });
        assertThat(Origin.normalize(input)).isNull();
    }

    @Test
    void aMissingOriginIsRejectedAsAnEmptyOrigin() {
        assertThatThrownBy(() -> Origin.parse(null))
                .isInstanceOfSatisfying(OriginParseException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("an empty origin (expected: scheme://host[:port], such as https://app.example.com)");
                    assertThat(e.fix()).isEqualTo("https://app.example.com");
                    assertThat(e.value()).isEmpty();
                });
    }

    @Test
    void anOverlongOriginIsRejectedWithItsLength() {
        String input = "https://" + "a".repeat(1017) + ".com";

        assertThatThrownBy(() -> Origin.parse(input))
                .isInstanceOfSatisfying(OriginParseException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo("an origin of 1029 characters (expected: at most 1024)");
                    assertThat(e.fix()).isEqualTo("use the origin of the page, scheme://host[:port]");
                });
    }

    static Stream<Arguments> rejectedPatterns() {
        return Stream.of(
                Arguments.of("https://app-*.example.com",
                        "\"https://app-*.example.com\" has a '*' inside a host name; a wildcard may only stand for whole leading labels",
                        "write \"https://*.example.com\""),
                Arguments.of("https://a*.example.com",
                        "\"https://a*.example.com\" has a '*' inside a host name; a wildcard may only stand for whole leading labels",
                        "write \"https://*.example.com\""),
                Arguments.of("https://*",
                        "\"https://*\" uses '*' as the whole host",
                        "write \"*\" alone to allow every origin, or https://*.example.com for subdomains"),
                Arguments.of("https://*.*.example.com",
                        "\"https://*.*.example.com\" looks like a regular expression, and origins are not regular expressions",
                        "list exact origins, use http://host:* for any port or https://*.example.com for subdomains"),
                Arguments.of("http://localhost:x",
                        "\"http://localhost:x\" has a port \"x\" that is not a number or '*'",
                        "write a port from 1 to 65535, or ':*' for any port"),
                Arguments.of("http://localhost:0",
                        "\"http://localhost:0\" has port 0, which is out of range (expected: 1-65535)",
                        "use a port from 1 to 65535, or \"http://localhost:*\" for any port"),
                Arguments.of("https://*.127.0.0.1",
                        "\"https://*.127.0.0.1\" puts a subdomain wildcard before an IP address",
                        "list the address exactly: \"https://127.0.0.1\""),
                Arguments.of("https://*.example.com/",
                        "\"https://*.example.com/\" ends with a slash, and an origin has no path",
                        "write \"https://*.example.com\""));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("rejectedPatterns")
    void aMalformedPatternIsRejectedWithItsExactMessageAndFix(String input, String message, String fix) {
        assertThatThrownBy(() -> OriginPattern.parse(input))
                .isInstanceOfSatisfying(OriginParseException.class, e -> {
                    assertThat(e.getMessage()).isEqualTo(message);
                    assertThat(e.fix()).isEqualTo(fix);
                    assertThat(e.value()).isEqualTo(input);
                });
    }

    private static final Pattern REWRITE = Pattern.compile("write \"(.*)\"", Pattern.DOTALL);

    /** Inputs with exactly one thing wrong, whose fix proposes a rewritten origin. */
    @ParameterizedTest(name = "[{index}] {0}")
    @ValueSource(strings = {
            "app.example.com",
            "https://app.example.com/",
            "https://app.example.com/index.html",
            "https://app.example.com?x=1",
            "https://app.example.com#top",
            "https://user@app.example.com",
            "https://app.example.com:",
            "https://app.example.com.",
            "https://app.example.com.:8443",
            " https://app.example.com ",
            "https://app .example.com",
            "http://[::1",
            "http://[::1]x",
            "http://::1",
            "http://2001:db8::1",
            "http://fe80::1",
    })
    void aProposedRewriteIsItselfAValidOrigin(String input) {
        assertThatThrownBy(() -> Origin.parse(input))
                .isInstanceOfSatisfying(OriginParseException.class, e -> {
                    Matcher m = REWRITE.matcher(e.fix());
                    assertThat(m.matches()).as("fix %s proposes a rewrite", e.fix()).isTrue();
                    String rewrite = m.group(1);
                    assertThat(rewrite).isNotEqualTo(input);
                    assertThat(Origin.normalize(rewrite)).as("the proposed rewrite %s is a valid origin", rewrite).isNotNull();
                });
    }
}
