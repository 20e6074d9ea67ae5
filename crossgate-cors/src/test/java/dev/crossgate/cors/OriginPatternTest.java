package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OriginPatternTest {

    @ParameterizedTest(name = "{0} matches {1}: {2}")
    @CsvSource({
            // an exact pattern matches its own normalised origin and other spellings of it, nothing else
            "https://app.example.com,          https://app.example.com,               true",
            "https://app.example.com,          https://APP.example.com:443,           true",
            "https://app.example.com,          HTTPS://App.Example.Com,               true",
            "https://app.example.com,          https://app.example.com:0443,          true",
            "https://APP.example.com:443,      https://app.example.com,               true",
            "https://app.example.com,          http://app.example.com,                false",
            "https://app.example.com,          https://app.example.com:8443,          false",
            "https://app.example.com,          https://example.com,                   false",
            "https://app.example.com,          https://a.app.example.com,             false",
            "https://app.example.com,          https://app.example.com.evil.com,      false",
            "https://app.example.com,          https://app.example.co,                false",
            "https://app.example.com,          https://app.example.com.,              false",
            "https://app.example.com,          https://app.example.com/,              false",
            "https://app.example.com,          https://user@app.example.com,          false",
            "https://app.example.com,          null,                                  false",
            "https://app.example.com,          '',                                    false",
            "https://xn--bcher-kva.example,    https://xn--bcher-kva.example,         true",
            "https://bücher.example,           https://xn--bcher-kva.example,         true",
            "https://xn--bcher-kva.example,    https://bücher.example,                true",
            "http://[::1]:8080,                http://[::1]:8080,                     true",
            "http://[::1]:8080,                http://[0:0:0:0:0:0:0:1]:8080,         true",
            "http://[0::1]:8080,               http://[::1]:8080,                     true",
            "http://[::1]:8080,                http://[::1],                          false",
            "http://[::1]:8080,                http://[::2]:8080,                     false",
            "http://127.0.0.1:8080,            http://127.0.0.1:8080,                 true",
            "http://127.0.0.1:8080,            http://127.1:8080,                     false",
            // any port, the default port included; never another scheme or host
            "http://localhost:*,               http://localhost,                      true",
            "http://localhost:*,               http://localhost:80,                   true",
            "http://localhost:*,               http://localhost:3000,                 true",
            "http://localhost:*,               http://LOCALHOST:5173,                 true",
            "http://localhost:*,               http://localhost:65535,                true",
            "http://localhost:*,               https://localhost:3000,                false",
            "http://localhost:*,               https://localhost,                     false",
            "http://localhost:*,               http://localhost.evil.com,             false",
            "http://localhost:*,               http://localhost.evil.com:3000,        false",
            "http://localhost:*,               http://a.localhost:3000,               false",
            "http://localhost:*,               http://evillocalhost:3000,             false",
            "http://localhost:*,               http://127.0.0.1:3000,                 false",
            "http://localhost:*,               http://localhost:0,                    false",
            "http://[::1]:*,                   http://[::1]:3000,                     true",
            "http://[::1]:*,                   http://[0::1],                         true",
            "http://[::1]:*,                   http://[::2]:3000,                     false",
            // subdomains: one or more labels before the domain, never the domain itself
            "https://*.example.com,            https://a.example.com,                 true",
            "https://*.example.com,            https://a.b.example.com,               true",
            "https://*.example.com,            https://A.B.EXAMPLE.COM:443,           true",
            "https://*.example.com,            https://xn--bcher-kva.example.com,     true",
            "https://*.example.com,            https://bücher.example.com,            true",
            "https://*.example.com,            https://example.com,                   false",
            "https://*.example.com,            https://evil-example.com,              false",
            "https://*.example.com,            https://evilexample.com,               false",
            "https://*.example.com,            https://example.com.evil.com,          false",
            "https://*.example.com,            https://a.example.com.evil.com,        false",
            "https://*.example.com,            https://.example.com,                  false",
            "https://*.example.com,            https://a..example.com,                false",
            "https://*.example.com,            http://a.example.com,                  false",
            "https://*.example.com,            https://a.example.com:8443,            false",
            "https://*.example.com,            https://a.example.co,                  false",
            "https://*.example.com,            null,                                  false",
            // subdomains on any port
            "https://*.example.com:*,          https://a.example.com,                 true",
            "https://*.example.com:*,          https://a.example.com:443,             true",
            "https://*.example.com:*,          https://a.example.com:8443,            true",
            "https://*.example.com:*,          https://a.b.example.com:3000,          true",
            "https://*.example.com:*,          https://example.com:8443,              false",
            "https://*.example.com:*,          https://example.com,                   false",
            "https://*.example.com:*,          http://a.example.com:8443,             false",
            "https://*.example.com:*,          https://evil-example.com:8443,         false",
            "https://*.example.com:*,          https://example.com.evil.com:8443,     false",
            // subdomains on one explicit port
            "https://*.example.com:8443,       https://a.example.com:8443,            true",
            "https://*.example.com:8443,       https://a.example.com,                 false",
            // every origin
            "*,                                https://app.example.com,               true",
            "*,                                http://localhost:3000,                 true",
            "*,                                http://[::1]:8080,                     true",
            "*,                                tauri://localhost,                     true",
            "*,                                null,                                  true",
            "*,                                not an origin,                         true",
            // the opaque origin, and only it
            "null,                             null,                                  true",
            "null,                             NULL,                                  false",
            "null,                             https://null,                          false",
            "null,                             '',                                    false",
            "null,                             https://app.example.com,               false",
            "null,                             file://,                               false",
    })
    void aPatternMatchesExactlyTheOriginsItStandsFor(String pattern, String origin, boolean matches) {
        assertThat(OriginPattern.parse(pattern).matches(origin)).isEqualTo(matches);
    }

    @Test
    void noPatternMatchesAMissingOrigin() {
        for (String p : new String[] {"*", "null", "https://app.example.com", "http://localhost:*", "https://*.example.com"}) {
            assertThat(OriginPattern.parse(p).matches(null)).as(p).isFalse();
        }
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({
            "*,                            *,                            ANY",
            "null,                         null,                         NULL",
            "file://,                      file://,                      FILE",
            "file:///,                     file://,                      FILE",
            "https://APP.example.com:443,  https://app.example.com,      EXACT",
            "http://[0:0::1]:8080,         http://[::1]:8080,            EXACT",
            "https://bücher.example,       https://xn--bcher-kva.example, EXACT",
            "HTTP://LocalHost:*,           http://localhost:*,           WILDCARD",
            "https://*.Example.COM,        https://*.example.com,        WILDCARD",
            "https://*.example.com:443,    https://*.example.com,        WILDCARD",
            "https://*.example.com:*,      https://*.example.com:*,      WILDCARD",
            "https://*.example.com:8443,   https://*.example.com:8443,   WILDCARD",
    })
    void aPatternIsNormalisedAndClassified(String input, String normalised, OriginPattern.Kind kind) {
        OriginPattern p = OriginPattern.parse(input);

        assertThat(p.toString()).isEqualTo(normalised);
        assertThat(p.kind()).isEqualTo(kind);
        assertThat(p).isEqualTo(OriginPattern.parse(normalised));
        assertThat(p.hashCode()).isEqualTo(OriginPattern.parse(normalised).hashCode());
    }

    @Test
    void aSubdomainPatternOnAnyPortExposesItsParts() {
        OriginPattern p = OriginPattern.parse("https://*.Example.com:*");

        assertThat(p.scheme()).isEqualTo("https");
        assertThat(p.host()).isEqualTo("example.com");
        assertThat(p.port()).isEqualTo(-1);
        assertThat(p.subdomains()).isTrue();
        assertThat(p.anyPort()).isTrue();
    }

    @Test
    void anExactPatternExposesItsParts() {
        OriginPattern p = OriginPattern.parse("http://App.example.com:8080");

        assertThat(p.scheme()).isEqualTo("http");
        assertThat(p.host()).isEqualTo("app.example.com");
        assertThat(p.port()).isEqualTo(8080);
        assertThat(p.subdomains()).isFalse();
        assertThat(p.anyPort()).isFalse();
    }

    @Test
    void theAnyAndNullPatternsHaveNoSchemeOrHost() {
        for (String s : new String[] {"*", "null"}) {
            OriginPattern p = OriginPattern.parse(s);
            assertThat(p.scheme()).as(s).isNull();
            assertThat(p.host()).as(s).isNull();
            assertThat(p.port()).as(s).isEqualTo(-1);
        }
    }
}
