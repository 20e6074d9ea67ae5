package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The canonical form of a request head: one decision for target, path, framing and authority. */
class CanonicalRequestTest {

    private static HttpRequest head(String method, String uri, String... headers) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.valueOf(method), uri);
        for (int i = 0; i + 1 < headers.length; i += 2) {
            r.headers().add(headers[i], headers[i + 1]);
        }
        return r;
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "/private/data|/private/data",
        "//private/data|/private/data",
        "/private//data/|/private/data/",
        "/./private/data|/private/data",
        "/x/../private/data|/private/data",
        "/../private/data|/private/data",
        "/%70rivate/data|/private/data",
        "/private/%2e%2e/private/data|/private/data",
        "/private/%2E/data|/private/data",
        "/a/..|/",
        "/a/.|/a/",
        "/.|/",
        "/a/.b/..c|/a/.b/..c",
        "/caf%c3%a9|/caf%C3%A9",
        "/a%7e%41|/a~A",
        "/a%20b|/a%20b",
        "/PRIVATE/data|/PRIVATE/data",
    })
    void pathsAreNormalisedToTheFormEveryRuleMatches(String raw, String expected) {
        assertThat(CanonicalRequest.normalizePath(raw, new String[1])).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0} is ambiguous")
    @CsvSource({"/private%2Fdata", "/private%2fdata", "/private%5Cdata", "/private;x/data", "/private\\data", "/private%252Fdata"})
    void ambiguousSpellingsAreRefused(String raw) {
        String[] why = new String[1];
        assertThat(CanonicalRequest.normalizePath(raw, why)).isNull();
        assertThat(why[0]).isNotNull();
    }

    @ParameterizedTest(name = "{0} is invalid")
    @CsvSource({"/a%", "/a%4", "/a%G1", "/a%00b", "/a%0d%0a", "/a%7F", "/a#frag", "/é", "private"})
    void invalidPathsAreRefused(String raw) {
        String[] why = new String[1];
        assertThat(CanonicalRequest.normalizePath(raw, why)).isNull();
        assertThat(why[0]).isNull();
    }

    @Test
    void anAbsoluteFormTargetBecomesOriginFormAndItsAuthorityTheHost() {
        HttpRequest r = head("GET", "HTTP://api.example.com:8080//private/./data?x=1", "Host", "other.example");
        CanonicalRequest c = CanonicalRequest.parse(r, null);
        assertThat(c.refusal).isNull();
        assertThat(c.path).isEqualTo("/private/data");
        assertThat(r.uri()).isEqualTo("/private/data?x=1");
        assertThat(r.headers().getAll("host")).containsExactly("api.example.com:8080");
        assertThat(c.hostPort).containsExactly("api.example.com", "8080");
    }

    @ParameterizedTest(name = "{0} {1} -> {2}")
    @CsvSource({
        "GET, http://u@api.example.com/, http.target_invalid",
        "GET, http:///x, http.target_invalid",
        "GET, ftp://api.example.com/x, http.target_invalid",
        "GET, *, http.target_invalid",
        "CONNECT, api.example.com:443, http.target_invalid",
        "GET, api.example.com:443, http.target_invalid",
        "GET, ?a=1, http.target_invalid",
        "GET, /a\\b, http.path_ambiguous",
    })
    void targetsThatAreNotOriginOrAbsoluteFormAreRefused(String method, String uri, String reason) {
        CanonicalRequest c = CanonicalRequest.parse(head(method, uri, "Host", "api.example.com"), null);
        assertThat(c.refusal).isNotNull();
        assertThat(c.refusal.code()).isEqualTo(reason);
        assertThat(c.framingInDoubt()).isTrue();
    }

    @Test
    void optionsAsteriskIsTheEdgesOwn() {
        CanonicalRequest c = CanonicalRequest.parse(head("OPTIONS", "*", "Host", "api.example.com"), null);
        assertThat(c.refusal).isNull();
        assertThat(c.asterisk).isTrue();
    }

    @ParameterizedTest(name = "Transfer-Encoding: {0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "chunked|",
        "Chunked|",
        " chunked |",
        ", chunked|",
        "gzip, chunked|http.transfer_coding_unsupported",
        "chunked, chunked|http.malformed",
        "gzip|http.malformed",
        "chunked;x=1|http.malformed",
        "chunked, gzip|http.malformed",
    })
    void onlyChunkedAloneFramesABody(String te, String reason) {
        CanonicalRequest c = CanonicalRequest.parse(head("POST", "/x", "Host", "api.example.com", "Transfer-Encoding", te), null);
        if (reason == null) {
            assertThat(c.refusal).isNull();
            assertThat(c.framing).isEqualTo(CanonicalRequest.Framing.CHUNKED);
        } else {
            assertThat(c.refusal.code()).isEqualTo(reason);
            assertThat(c.framingInDoubt()).isTrue();
        }
    }

    @Test
    void hostMustBeThereOnceAndValid() {
        assertThat(CanonicalRequest.parse(head("GET", "/"), null).refusal).isEqualTo(Reason.HOST_MISSING);
        assertThat(CanonicalRequest.parse(head("GET", "/", "Host", "a.example", "Host", "b.example"), null).refusal).isEqualTo(Reason.HOST_DUPLICATE);
        assertThat(CanonicalRequest.parse(head("GET", "/", "Host", "a.example, b.example"), null).refusal).isEqualTo(Reason.HOST_INVALID);
        assertThat(CanonicalRequest.parse(head("GET", "/", "Host", "a.example:0"), null).refusal).isEqualTo(Reason.HOST_INVALID);
        assertThat(CanonicalRequest.parse(head("GET", "/", "Host", "a.example:99999"), null).refusal).isEqualTo(Reason.HOST_INVALID);
        assertThat(CanonicalRequest.parse(head("GET", "/", "Host", "[::1]:80"), null).hostPort).containsExactly("[::1]", "80");
    }

    @Test
    void contentLengthIsTheDecidedLength() {
        CanonicalRequest c = CanonicalRequest.parse(head("POST", "/x", "Host", "a.example", "Content-Length", "0"), null);
        assertThat(c.framing).isEqualTo(CanonicalRequest.Framing.LENGTH);
        assertThat(c.hasBody()).isFalse();
        c = CanonicalRequest.parse(head("POST", "/x", "Host", "a.example", "Content-Length", "12"), null);
        assertThat(c.contentLength).isEqualTo(12);
        assertThat(c.hasBody()).isTrue();
    }

    // ---------------------------------------------------------------- properties

    /** Normalising twice changes nothing, and what comes out has no dot segment, no empty segment, no escaped separator. */
    @Property(tries = 3000)
    void normalisationIsIdempotentAndLeavesNoAmbiguity(@ForAll("paths") String raw) {
        String once = CanonicalRequest.normalizePath(raw, new String[1]);
        if (once == null) {
            return;
        }
        assertThat(CanonicalRequest.normalizePath(once, new String[1])).isEqualTo(once);
        assertThat(once).startsWith("/").doesNotContain("//").doesNotContain("/./").doesNotContain("/../")
                .doesNotEndWith("/.").doesNotEndWith("/..");
        assertThat(once.toUpperCase(java.util.Locale.ROOT)).doesNotContain("%2F").doesNotContain("%5C").doesNotContain("%25")
                .doesNotContain("%2E").doesNotContain("%7E");
    }

    /** No spelling of a protected path escapes its rule: every spelling normalises to the path itself, or is refused. */
    @Property(tries = 3000)
    void everySpellingOfAProtectedPathIsThatPathOrRefused(@ForAll("spellingsOfPrivateData") String spelling) {
        String p = CanonicalRequest.normalizePath(spelling, new String[1]);
        if (p != null) {
            assertThat(p).isEqualTo("/private/data");
        }
    }

    @Provide
    Arbitrary<String> paths() {
        Arbitrary<String> piece = Arbitraries.oneOf(
                Arbitraries.of("/", "//", ".", "..", "%2e", "%2E", "%2f", "%5c", "%25", ";", "\\", "%41", "%7e", "%c3%a9", "%", "%zz", "a", "b", "~", "-"),
                Arbitraries.strings().withCharRange('!', '~').ofMaxLength(3));
        return piece.list().ofMaxSize(12).map(l -> "/" + String.join("", l));
    }

    @Provide
    Arbitrary<String> spellingsOfPrivateData() {
        Arbitrary<String> slash = Arbitraries.of("/", "//", "/./", "/x/../", "/%2e/", "/y/%2E%2e/", "///", "\\", "%2f", "/;/");
        Arbitrary<Boolean> flip = Arbitraries.of(true, false);
        Arbitrary<String> privateWord = spelled("private");
        Arbitrary<String> dataWord = spelled("data");
        return Combinators.combine(slash, privateWord, slash, dataWord, flip).as((a, w1, b, w2, dot) ->
                (a.startsWith("/") ? a : "/" + a) + w1 + b + w2 + (dot ? "" : "/."))
                .map(s -> s.endsWith("/.") ? s.substring(0, s.length() - 2) : s);
    }

    /** A word with each letter left as it is or percent-encoded in upper or lower case hex. */
    private static Arbitrary<String> spelled(String word) {
        List<Arbitrary<String>> letters = new java.util.ArrayList<>();
        for (char c : word.toCharArray()) {
            String hex = Integer.toHexString(c);
            letters.add(Arbitraries.of(String.valueOf(c), "%" + hex, "%" + hex.toUpperCase(java.util.Locale.ROOT)));
        }
        return Combinators.combine(letters).as(parts -> String.join("", parts));
    }

    @Test
    void forwardedHeadersParseQuotedStrings() {
        List<Map<String, String>> f = ForwardedHeaders.parse(List.of("for=\"[2001:db8::1]:4711\";proto=https;host=\"a,b;c\", for=192.0.2.60"));
        assertThat(f).hasSize(2);
        assertThat(f.get(0)).containsEntry("for", "[2001:db8::1]:4711").containsEntry("host", "a,b;c").containsEntry("proto", "https");
        assertThat(f.get(1)).containsEntry("for", "192.0.2.60");
        assertThat(ForwardedHeaders.parse(List.of("for=\"unterminated"))).isNull();
    }

    @Test
    void theSynthesizedForwardedKeepsTheClientThatXForwardedForNamed() {
        io.netty.handler.codec.http.HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
        h.add("x-forwarded-for", "203.0.113.7, 10.0.0.2");
        ForwardedHeaders.Chain chain = ForwardedHeaders.read(h, true);
        assertThat(ForwardedHeaders.client(chain, "10.0.0.1", a -> a.getHostAddress().startsWith("10."))).isEqualTo("203.0.113.7");
        ForwardedHeaders.write(h, chain, "10.0.0.1", "https", "api.example.com");
        assertThat(h.get("x-forwarded-for")).isEqualTo("203.0.113.7, 10.0.0.2, 10.0.0.1");
        assertThat(h.get("forwarded")).isEqualTo("for=203.0.113.7, for=10.0.0.2, for=10.0.0.1;proto=https;host=\"api.example.com\"");
    }

    @Test
    void anUntrustedPeersForwardingHeadersAreReplaced() {
        io.netty.handler.codec.http.HttpHeaders h = new io.netty.handler.codec.http.DefaultHttpHeaders();
        h.add("x-forwarded-for", "1.2.3.4");
        h.add("forwarded", "for=1.2.3.4");
        ForwardedHeaders.Chain chain = ForwardedHeaders.read(h, false);
        ForwardedHeaders.write(h, chain, "::1", "http", null);
        assertThat(h.get("x-forwarded-for")).isEqualTo("::1");
        assertThat(h.get("forwarded")).isEqualTo("for=\"[::1]\";proto=http");
        assertThat(h.contains("x-forwarded-host")).isFalse();
    }
}
