package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.cors.internal.OriginSyntax;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;

/**
 * Random text (arbitrary Unicode, origin-ish fragments, and valid origins with one character changed) and
 * random valid origins in many spellings, through the parsers, the normaliser, the allocation-free scanner,
 * patterns and policies.
 */
class OriginFuzzTest {
    private static final int TRIES = 5000;

    private static final CorsPolicy ONE_EXACT = CorsPolicy.builder()
            .allowOrigins("https://api.target.com")
            .allowCredentials(true)
            .build();

    private static final CorsPolicy TWENTY_EXACT = CorsPolicy.builder()
            .allowOrigins(twentyOrigins())
            .allowCredentials(true)
            .build();

    private static final CorsPolicy MIXED = CorsPolicy.builder()
            .allowOrigins("https://app.example.com", "http://localhost:*", "https://*.example.com:*", "http://[::1]:8080",
                    "https://*.target.com", "tauri://localhost", "https://xn--bcher-kva.example")
            .build();

    private static final CorsPolicy ANY = CorsPolicy.builder()
            .allowOrigins("*")
            .build();

    private static final CorsPolicy OPAQUE = CorsPolicy.builder()
            .allowOrigins("null", "file://", "https://app.example.com")
            .dangerouslyAllowNullOrigin(true)
            .build();

    private static final List<CorsPolicy> POLICIES = List.of(ONE_EXACT, TWENTY_EXACT, MIXED, ANY, OPAQUE);

    private static List<String> twentyOrigins() {
        List<String> origins = new ArrayList<>();
        for (int i = 1; i <= 19; i++) {
            origins.add("https://app" + i + ".partner.example");
        }
        origins.add("https://api.target.com");
        return origins;
    }

    // ---------------------------------------------------------------------------------------------
    // Properties

    @Property(tries = TRIES)
    void parsingAnyTextThrowsNothingButOriginParseException(@ForAll("text") String s) {
        try {
            Origin o = Origin.parse(s);
            assertThat(o.serialized()).isNotNull();
        } catch (OriginParseException e) {
            assertThat(e.getMessage()).isNotBlank();
            assertThat(e.fix()).isNotBlank();
        }
        try {
            OriginPattern p = OriginPattern.parse(s);
            assertThat(p.toString()).isNotNull();
        } catch (OriginParseException e) {
            assertThat(e.getMessage()).isNotBlank();
            assertThat(e.fix()).isNotBlank();
        }
    }

    @Property(tries = TRIES)
    void normalisingAnyTextGivesNullOrAFixpointThatAgreesWithParse(@ForAll("text") String s) {
        String n = Origin.normalize(s);
        Origin parsed = parseOrNull(s);

        assertThat(n).isEqualTo(parsed == null ? null : parsed.serialized());
        if (n != null) {
            assertThat(Origin.normalize(n)).isEqualTo(n);
        }
    }

    @Property(tries = TRIES)
    void theScannerRecognisesEveryNormalisedOriginExceptIpv6Ones(@ForAll("text") String s) {
        String n = Origin.normalize(s);
        if (n != null && !Origin.parse(n).host().startsWith("[")) {
            assertThat(OriginSyntax.scan(n)).as("scan(%s)", n).isGreaterThanOrEqualTo(0);
        }
    }

    @Property(tries = TRIES)
    void theScannerAcceptsOnlyCanonicalOriginsAndFindsTheirParts(@ForAll("text") String s) {
        long packed = OriginSyntax.scan(s);
        if (packed >= 0) {
            Origin parsed = parseOrNull(s);
            assertThat(parsed).as("scan accepted %s, which parse rejects", s).isNotNull();
            assertThat(parsed.serialized()).isEqualTo(s);
            assertThat(Origin.normalize(s)).isSameAs(s);
            assertThat(OriginSyntax.schemeEnd(packed)).isEqualTo(parsed.scheme().length());
            assertThat(OriginSyntax.hostEnd(packed)).isEqualTo(parsed.scheme().length() + 3 + parsed.host().length());
            assertThat(OriginSyntax.port(packed)).isEqualTo(parsed.port());
        }
    }

    @Property(tries = TRIES)
    void aValidOriginIsAlsoAnExactPatternForItselfAndNothingElseParsesAsOne(@ForAll("text") String s) {
        String n = Origin.normalize(s);
        OriginPattern p = patternOrNull(s);
        if (n != null) {
            assertThat(p).isNotNull();
            assertThat(p.kind()).isEqualTo(OriginPattern.Kind.EXACT);
            assertThat(p.toString()).isEqualTo(n);
        }
        if (p != null && p.kind() == OriginPattern.Kind.EXACT) {
            assertThat(n).isEqualTo(p.toString());
        }
    }

    @Property(tries = TRIES)
    void decidingAnyOriginHeaderNeverThrowsAndAgreesWithTheAllowedPatterns(@ForAll("originHeaders") String s) {
        for (CorsPolicy policy : POLICIES) {
            boolean admitted = policy.allowedOrigins().stream().anyMatch(p -> p.matches(s));
            String expectedAcao = policy == ANY ? "*" : s;
            assertDecision(policy.actual(s), CorsDecision.Kind.ACTUAL, admitted, expectedAcao);
            assertDecision(policy.preflight(s, "GET", List.of()), CorsDecision.Kind.PREFLIGHT, admitted, expectedAcao);
        }
    }

    @Property(tries = TRIES)
    void anExactPatternMatchesAnotherOriginExactlyWhenBothNormaliseEqual(@ForAll("originPairs") Tuple2<String, String> pair) {
        String o = pair.get1();
        String x = pair.get2();
        boolean same = Origin.normalize(x).equals(Origin.normalize(o));

        assertThat(OriginPattern.parse(o).matches(x)).as("%s matches %s", o, x).isEqualTo(same);
    }

    @Property(tries = TRIES)
    void aPolicyAllowingExactlyOneOriginAllowsAnotherExactlyWhenBothNormaliseEqual(@ForAll("originPairs") Tuple2<String, String> pair) {
        String o = pair.get1();
        String x = pair.get2();
        boolean same = Origin.normalize(x).equals(Origin.normalize(o));
        CorsPolicy policy = CorsPolicy.builder().allowOrigins(o).build();

        assertDecision(policy.actual(x), CorsDecision.Kind.ACTUAL, same, x);
        assertDecision(policy.preflight(x, "GET", List.of()), CorsDecision.Kind.PREFLIGHT, same, x);
    }

    @Property(tries = TRIES)
    void aSubdomainPatternMatchesExactlyTheOriginsStrictlyUnderItsDomain(@ForAll("subdomainPairs") Tuple2<String, String> pair) {
        OriginPattern p = OriginPattern.parse(pair.get1());
        String x = pair.get2();
        Origin o = Origin.parse(x);
        boolean expected = o.scheme().equals(p.scheme())
                && (p.anyPort() || o.port() == p.port())
                && o.host().endsWith("." + p.host());

        assertThat(p.matches(x)).as("%s matches %s", p, x).isEqualTo(expected);
    }

    private static void assertDecision(CorsDecision d, CorsDecision.Kind kind, boolean allowed, String acao) {
        assertThat(d.kind()).isEqualTo(kind);
        assertThat(d.allowed()).as("allowed: %s", d).isEqualTo(allowed);
        if (allowed) {
            assertThat(d.reasonCode()).isNull();
            assertThat(d.header("Access-Control-Allow-Origin")).isEqualTo(acao);
        } else {
            assertThat(d.reasonCode()).startsWith("cors.origin_");
            assertThat(d.header("Access-Control-Allow-Origin")).isNull();
            assertThat(d.header("Access-Control-Allow-Credentials")).isNull();
            assertThat(d.message()).isNotBlank();
            assertThat(d.fix()).isNotBlank();
        }
    }

    private static Origin parseOrNull(String s) {
        try {
            return Origin.parse(s);
        } catch (OriginParseException e) {
            return null;
        }
    }

    private static OriginPattern patternOrNull(String s) {
        try {
            return OriginPattern.parse(s);
        } catch (OriginParseException e) {
            return null;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Random text

    private static final String[] PREFIXES = {"", "", "http://", "https://", "HTTPS://", "ws://", "wss://", "tauri://", "file://", "//", "http:/"};

    private static final String[] FRAGMENTS = {
            "http", "https", "HTTP", "ws", "file", "null", "://", ":", "//", "/", "\\",
            "a", "B", "app", "example", "com", "localhost", "target", "evil", "xn--", "xn--bcher-kva", "bücher", "ß", "ς",
            "ａ", "\u0661", "\u0301", "\u200d", "\u00ad", "\u3002", "\uff0e", ".", ".", "..", "-", "_",
            "0", "1", "9", "00", "12", "80", "443", "8080", "65535", "65536", "99999999999", "0x", "0x7f",
            "127.0.0.1", "256", "[", "]", "::", ":1", "ffff", "FFFF", "1.2.3.4", "%", "%2e", "%60", "@", "*", "*.", ":*",
            "?", "#", " ", "\t", "\n", "\u00a0", "\u3000", "^", "$", "(", "|", "{", "\ud800", "\udc00", "\ud83d\ude00",
    };

    private static final char[] MUTATION_CHARS = (":/.[]%@*?#_-0 9aZ\t\u00a0\u3002\uff0e\u200d\u0661\u00df\\$\u0000\u007f\ud800").toCharArray();

    @Provide
    Arbitrary<String> text() {
        return Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.strings().all().ofMaxLength(48)),
                Tuple.of(4, fragments()),
                Tuple.of(3, mutatedOrigins()),
                Tuple.of(3, validOrigins()));
    }

    private Arbitrary<String> fragments() {
        return Combinators.combine(Arbitraries.of(PREFIXES), Arbitraries.of(FRAGMENTS).list().ofMaxSize(12))
                .as((prefix, parts) -> prefix + String.join("", parts));
    }

    private static final String[] NEAR_POLICIES = {
            "https://api.target.com", "https://evil.api.target.com", "https://app7.partner.example", "https://app.example.com",
            "https://a.b.example.com:8443", "http://localhost:5173", "http://localhost", "http://[::1]:8080", "tauri://localhost",
            "https://xn--bcher-kva.example", "null", "file://",
    };

    /** Random text, and origins listed in or admitted by the policies under test, respelled or with one character changed. */
    @Provide
    Arbitrary<String> originHeaders() {
        Arbitrary<String> near = Arbitraries.of(NEAR_POLICIES);
        return Arbitraries.frequencyOf(
                Tuple.of(4, text()),
                Tuple.of(2, near),
                Tuple.of(2, recased(near)),
                Tuple.of(3, mutated(near)));
    }

    private Arbitrary<String> mutatedOrigins() {
        return mutated(validOrigins());
    }

    private static Arbitrary<String> mutated(Arbitrary<String> origins) {
        return Combinators.combine(origins, Arbitraries.integers().between(0, 4096), Arbitraries.of(MUTATION_CHARS),
                        Arbitraries.integers().between(0, 2))
                .as((origin, at, c, kind) -> {
                    int i = at % (origin.length() + 1);
                    StringBuilder b = new StringBuilder(origin);
                    switch (kind) {
                        case 0 -> b.insert(i, c.charValue());
                        case 1 -> {
                            if (i < b.length()) {
                                b.setCharAt(i, c);
                            } else {
                                b.append(c.charValue());
                            }
                        }
                        default -> {
                            if (i < b.length()) {
                                b.deleteCharAt(i);
                            }
                        }
                    }
                    return b.toString();
                });
    }

    // ---------------------------------------------------------------------------------------------
    // Valid origins: spellings from small groups of equivalent forms (so that two random picks are often
    // the same origin), and free-form ones.

    private static final String[][] SCHEMES = {
            {"http", "HTTP", "Http"},
            {"https", "HTTPS", "hTtPs"},
            {"ws", "WS"},
            {"wss", "Wss"},
            {"tauri", "TAURI"},
    };

    private static final String[][] HOSTS = {
            {"app.example.com", "APP.example.com", "App.Example.COM", "\uff41\uff50\uff50.example.com"},
            {"a.app.example.com", "A.App.Example.com"},
            {"example.com", "EXAMPLE.COM"},
            {"evil-example.com"},
            {"app.example.com.evil.com", "APP.EXAMPLE.COM.EVIL.COM"},
            {"xn--bcher-kva.example", "XN--BCHER-KVA.example", "bücher.example", "BÜCHER.example"},
            {"localhost", "LocalHost"},
            {"127.0.0.1"},
            {"[::1]", "[0:0:0:0:0:0:0:1]", "[0::1]", "[::0:1]", "[0000:0000::0001]"},
            {"[2001:db8::1]", "[2001:DB8::1]", "[2001:db8:0:0:0:0:0:1]", "[2001:0db8::0:1]"},
            {"[::ffff:102:304]", "[::ffff:1.2.3.4]", "[0:0:0:0:0:FFFF:102:304]"},
            {"[::]", "[0:0:0:0:0:0:0:0]", "[::0]"},
            {"api.target.com", "API.Target.com", "api.TARGET.COM"},
            {"evil.api.target.com", "Evil.Api.Target.Com"},
            {"api.target.com.evil.com"},
            {"eviltarget.com"},
            {"app7.partner.example", "APP7.Partner.Example"},
    };

    private static final String[][] PORTS = {
            {""},
            {":80", ":080", ":0080"},
            {":443", ":0443"},
            {":3000", ":03000"},
            {":8080"},
            {":65535"},
    };

    @Provide
    Arbitrary<String> validOrigins() {
        return Arbitraries.oneOf(pooledOrigin(), freeOrigin());
    }

    @Provide
    Arbitrary<Tuple2<String, String>> originPairs() {
        // The second origin keeps each part (scheme, host, port) of the first with probability 3/4, in a
        // spelling of its own, so that about half of the pairs are the same origin.
        Arbitrary<Tuple2<String, String>> near = Combinators.combine(groups(), groups(), bits())
                .as((g, other, bits) -> {
                    int[] h = new int[3];
                    for (int i = 0; i < 3; i++) {
                        h[i] = (bits >>> (40 + 2 * i) & 3) != 0 ? g[i] : other[i];
                    }
                    return Tuple.of(spelling(g, bits), spelling(h, bits >>> 20));
                });
        Arbitrary<Tuple2<String, String>> independent = Combinators.combine(validOrigins(), validOrigins()).as(Tuple::of);
        return Arbitraries.frequencyOf(Tuple.of(3, near), Tuple.of(1, independent));
    }

    private static Arbitrary<int[]> groups() {
        return Combinators.combine(
                        Arbitraries.integers().between(0, SCHEMES.length - 1),
                        Arbitraries.integers().between(0, HOSTS.length - 1),
                        Arbitraries.integers().between(0, PORTS.length - 1))
                .as((s, h, p) -> new int[] {s, h, p});
    }

    /** One spelling of the origin made of the groups {@code g}, chosen by {@code bits}. */
    private static String spelling(int[] g, long bits) {
        String[] schemes = SCHEMES[g[0]];
        String[] hosts = HOSTS[g[1]];
        String[] ports = PORTS[g[2]];
        return schemes[(int) ((bits & 0x3f) % schemes.length)] + "://"
                + hosts[(int) ((bits >>> 6 & 0x3f) % hosts.length)]
                + ports[(int) ((bits >>> 12 & 0x3f) % ports.length)];
    }

    private static Arbitrary<String> pooledOrigin() {
        return Combinators.combine(groups(), bits()).as(OriginFuzzTest::spelling);
    }

    private static Arbitrary<String> freeOrigin() {
        Arbitrary<String> scheme = recased(Arbitraries.of("http", "https", "ws", "wss", "tauri", "chrome-extension", "a+b.c"));
        Arbitrary<String> host = Arbitraries.frequencyOf(
                Tuple.of(6, domain()),
                Tuple.of(2, ipv4()),
                Tuple.of(2, ipv6()));
        Arbitrary<String> port = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.just("")),
                Tuple.of(1, Arbitraries.of(":80", ":443", ":0443")),
                Tuple.of(3, Arbitraries.integers().between(1, 65535).map(p -> ":" + p)),
                Tuple.of(1, Arbitraries.integers().between(1, 9999).map(p -> ":0" + p)));
        return Combinators.combine(scheme, host, port).as((s, h, p) -> s + "://" + h + p)
                .filter(o -> Origin.normalize(o) != null);
    }

    private static Arbitrary<String> domain() {
        Arbitrary<String> ascii = Arbitraries.strings().withChars("abcdefghijklmnopqrstuvwxyz0123456789-_").ofMinLength(1).ofMaxLength(10);
        Arbitrary<String> label = Arbitraries.frequencyOf(
                Tuple.of(8, ascii),
                Tuple.of(1, Arbitraries.of("bücher", "ñandú", "日本", "ａｐｐ", "faß", "xn--bcher-kva")));
        return recased(label.list().ofMinSize(1).ofMaxSize(4).map(l -> String.join(".", l)));
    }

    private static Arbitrary<String> ipv4() {
        Arbitrary<Integer> octet = Arbitraries.integers().between(0, 255);
        return Combinators.combine(octet, octet, octet, octet).as((a, b, c, d) -> a + "." + b + "." + c + "." + d);
    }

    private static Arbitrary<String> ipv6() {
        Arbitrary<Integer> piece = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.just(0)),
                Tuple.of(2, Arbitraries.integers().between(0, 0xffff)));
        return Combinators.combine(piece.list().ofSize(8), bits())
                .as((pieces, bits) -> "[" + ipv6Text(pieces, bits) + "]");
    }

    /** Some textual form of the address: hex case, zero padding and the compressed run all vary with {@code bits}. */
    private static String ipv6Text(List<Integer> pieces, long bits) {
        String[] texts = new String[8];
        for (int i = 0; i < 8; i++) {
            String h = Integer.toHexString(pieces.get(i));
            if ((bits >>> i & 1) != 0) {
                h = "0".repeat(4 - h.length()) + h;
            }
            texts[i] = (bits >>> (8 + i) & 1) != 0 ? h.toUpperCase(Locale.ROOT) : h;
        }
        // Compress one run of zero pieces, chosen by the bits, or none.
        List<int[]> runs = new ArrayList<>();
        for (int i = 0; i < 8; ) {
            if (pieces.get(i) == 0) {
                int j = i;
                while (j < 8 && pieces.get(j) == 0) {
                    j++;
                }
                runs.add(new int[] {i, j});
                i = j;
            } else {
                i++;
            }
        }
        int choice = (int) ((bits >>> 16) & 0xff) % (runs.size() + 1);
        if (choice == runs.size()) {
            return String.join(":", texts);
        }
        int[] run = runs.get(choice);
        String head = String.join(":", java.util.Arrays.copyOfRange(texts, 0, run[0]));
        String tail = String.join(":", java.util.Arrays.copyOfRange(texts, run[1], 8));
        return head + "::" + tail;
    }

    /** Uniformly random bits, to pick spellings with (the default distribution favours small numbers). */
    private static Arbitrary<Long> bits() {
        return Arbitraries.longs().withDistribution(RandomDistribution.uniform());
    }

    private static Arbitrary<String> recased(Arbitrary<String> base) {
        return Combinators.combine(base, bits()).as((s, bits) -> bits % 3 == 0 ? s : recase(s, bits));
    }

    private static String recase(String s, long bits) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append((bits >>> (i % 64) & 1) != 0 ? Character.toUpperCase(c) : c);
        }
        return b.toString();
    }

    // ---------------------------------------------------------------------------------------------
    // Subdomain patterns and the origins to try them on

    private static final String[][] SUB_SCHEMES = {{"https", "HTTPS"}, {"http", "Http"}, {"wss"}};
    private static final String[][] DOMAINS = {
            {"example.com", "Example.COM"},
            {"target.com", "TARGET.com"},
            {"b.example.com"},
            {"xn--bcher-kva.example", "bücher.example"},
            {"localhost"},
            {"example.co.uk"},
    };
    private static final String[] PATTERN_PORTS = {"", ":*", ":443", ":8443", ":80"};
    private static final String[] CANDIDATE_PORTS = {"", ":443", ":0443", ":8443", ":80", ":3000"};
    private static final String[] BEFORE = {"a.", "a.", "A.b.", "x-y.c_d.", "", "evil-", "evil", "a.evil-", "."};
    private static final String[] AFTER = {"", "", "", "", "", ".evil.com", "-evil.com", "x"};

    @Provide
    Arbitrary<Tuple2<String, String>> subdomainPairs() {
        Arbitrary<int[]> parts = Combinators.combine(
                        Arbitraries.integers().between(0, SUB_SCHEMES.length - 1),
                        Arbitraries.integers().between(0, DOMAINS.length - 1),
                        Arbitraries.integers().between(0, SUB_SCHEMES.length - 1),
                        Arbitraries.integers().between(0, DOMAINS.length - 1))
                .as((s, d, otherS, otherD) -> new int[] {s, d, otherS, otherD});
        Arbitrary<Tuple2<String, String>> related = Combinators.combine(parts, bits())
                .as((g, bits) -> {
                    String[] schemes = SUB_SCHEMES[g[0]];
                    String[] domains = DOMAINS[g[1]];
                    String patternPort = pick(PATTERN_PORTS, bits >>> 8);
                    String pattern = pick(schemes, bits) + "://*." + pick(domains, bits >>> 4) + patternPort;
                    // the candidate keeps the pattern's scheme and domain with probability 3/4 each
                    String[] cs = (bits >>> 40 & 3) != 0 ? schemes : SUB_SCHEMES[g[2]];
                    String[] cd = (bits >>> 42 & 3) != 0 ? domains : DOMAINS[g[3]];
                    String candidate = pick(cs, bits >>> 12) + "://" + pick(BEFORE, bits >>> 16) + pick(cd, bits >>> 20)
                            + pick(AFTER, bits >>> 24)
                            + ((bits >>> 44 & 1) != 0 && !patternPort.equals(":*") ? patternPort : pick(CANDIDATE_PORTS, bits >>> 28));
                    return Tuple.of(pattern, candidate);
                })
                .filter(t -> Origin.normalize(t.get2()) != null);
        Arbitrary<Tuple2<String, String>> unrelated = Combinators.combine(
                        Combinators.combine(Arbitraries.integers().between(0, SUB_SCHEMES.length - 1),
                                Arbitraries.integers().between(0, DOMAINS.length - 1), bits())
                                .as((si, di, bits) -> pick(SUB_SCHEMES[si], bits) + "://*." + pick(DOMAINS[di], bits >>> 4)
                                        + pick(PATTERN_PORTS, bits >>> 8)),
                        validOrigins())
                .as(Tuple::of);
        return Arbitraries.frequencyOf(Tuple.of(4, related), Tuple.of(1, unrelated));
    }

    private static String pick(String[] choices, long bits) {
        return choices[(int) ((bits & 0xf) % choices.length)];
    }
}
