package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Decisions and the exact headers they add, following the Fetch standard's CORS protocol. */
class CorsDecisionTest {
    static final String APP = "https://app.example.com";

    static final CorsPolicy CREDENTIALED = CorsPolicy.builder()
            .allowOrigins(APP, "https://*.example.org", "http://localhost:*")
            .localDevelopment(true)
            .allowCredentials(true)
            .allowMethods("GET", "POST", "PUT", "DELETE")
            .allowHeaders("Content-Type", "Authorization", "X-Requested-With")
            .exposeHeaders("X-Request-Id")
            .maxAgeSeconds(600)
            .build();

    static final CorsPolicy PUBLIC = CorsPolicy.builder()
            .allowOrigins("*")
            .allowMethods("*")
            .allowHeaders("*")
            .exposeHeaders("*")
            .build();

    static final CorsPolicy PUBLIC_WITH_AUTH = CorsPolicy.builder()
            .allowOrigins("*").allowMethods("GET", "PUT").allowHeaders("*", "Authorization").build();

    static final CorsPolicy REFLECTING = CorsPolicy.builder()
            .allowOrigins(APP).allowCredentials(true).allowMethods("*").allowHeaders("*", "Authorization").build();

    private static Map<String, String> headers(CorsDecision d) {
        return d.headers().stream().collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, java.util.LinkedHashMap::new));
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                // name, policy, method, origin, ACRM, ACRH lines, kind, reason (null = allowed), exact headers
                c("listed origin, actual request", CREDENTIALED, "GET", APP, null, null, CorsDecision.Kind.ACTUAL, null,
                        "Access-Control-Allow-Origin", APP, "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Expose-Headers", "X-Request-Id", "Vary", "Origin"),
                c("subdomain pattern, actual request", CREDENTIALED, "POST", "https://a.b.example.org", null, null, CorsDecision.Kind.ACTUAL, null,
                        "Access-Control-Allow-Origin", "https://a.b.example.org", "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Expose-Headers", "X-Request-Id", "Vary", "Origin"),
                c("non-canonical spelling of a listed origin is echoed as sent", CREDENTIALED, "GET", "https://APP.example.com:443", null, null,
                        CorsDecision.Kind.ACTUAL, null,
                        "Access-Control-Allow-Origin", "https://APP.example.com:443", "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Expose-Headers", "X-Request-Id", "Vary", "Origin"),
                c("no Origin: not CORS, but the answer still varies on Origin", CREDENTIALED, "GET", null, null, null,
                        CorsDecision.Kind.NOT_CORS, null, "Vary", "Origin"),
                c("refused origin gets only Vary", CREDENTIALED, "GET", "https://evil.example.com", null, null,
                        CorsDecision.Kind.ACTUAL, CorsReason.ORIGIN_NOT_ALLOWED, "Vary", "Origin"),
                c("malformed origin", CREDENTIALED, "GET", "https://app.example.com/path", null, null,
                        CorsDecision.Kind.ACTUAL, CorsReason.ORIGIN_MALFORMED, "Vary", "Origin"),
                c("OPTIONS without Access-Control-Request-Method is an actual request", CREDENTIALED, "OPTIONS", APP, null, null,
                        CorsDecision.Kind.ACTUAL, null, "Access-Control-Allow-Origin", APP, "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Expose-Headers", "X-Request-Id", "Vary", "Origin"),
                c("allowed preflight", CREDENTIALED, "OPTIONS", APP, "PUT", List.of("content-type,authorization"),
                        CorsDecision.Kind.PREFLIGHT, null,
                        "Access-Control-Allow-Origin", APP, "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE",
                        "Access-Control-Allow-Headers", "Content-Type, Authorization, X-Requested-With",
                        "Access-Control-Max-Age", "600",
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("Access-Control-Request-Headers split over several lines", CREDENTIALED, "OPTIONS", APP, "DELETE",
                        List.of("Content-Type", " x-requested-with ,  Authorization"), CorsDecision.Kind.PREFLIGHT, null,
                        "Access-Control-Allow-Origin", APP, "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE",
                        "Access-Control-Allow-Headers", "Content-Type, Authorization, X-Requested-With",
                        "Access-Control-Max-Age", "600",
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("a refused header on the second line", CREDENTIALED, "OPTIONS", APP, "PUT", List.of("content-type", "x-secret"),
                        CorsDecision.Kind.PREFLIGHT, CorsReason.HEADER_NOT_ALLOWED,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("refused method", CREDENTIALED, "OPTIONS", APP, "PATCH", null, CorsDecision.Kind.PREFLIGHT, CorsReason.METHOD_NOT_ALLOWED,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("refused preflight origin", CREDENTIALED, "OPTIONS", "https://evil.example.com", "PUT", null,
                        CorsDecision.Kind.PREFLIGHT, CorsReason.ORIGIN_NOT_ALLOWED,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("safelisted methods pass a preflight whatever the list says", PUBLIC_WITH_AUTH, "OPTIONS", APP, "POST", List.of("x-custom"),
                        CorsDecision.Kind.PREFLIGHT, null,
                        "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "GET, PUT",
                        "Access-Control-Allow-Headers", "*, Authorization", "Access-Control-Max-Age", null,
                        "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("malformed header list", CREDENTIALED, "OPTIONS", APP, "PUT", List.of("content-type, x bad"),
                        CorsDecision.Kind.PREFLIGHT, CorsReason.PREFLIGHT_MALFORMED,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("malformed method", CREDENTIALED, "OPTIONS", APP, "P UT", null,
                        CorsDecision.Kind.PREFLIGHT, CorsReason.PREFLIGHT_MALFORMED,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("fixed * on an actual request: no Vary", PUBLIC, "GET", "https://anything.example", null, null, CorsDecision.Kind.ACTUAL, null,
                        "Access-Control-Allow-Origin", "*", "Access-Control-Expose-Headers", "*"),
                c("fixed * on a non-CORS request: the same headers, no Vary", PUBLIC, "GET", null, null, null, CorsDecision.Kind.NOT_CORS, null,
                        "Access-Control-Allow-Origin", "*", "Access-Control-Expose-Headers", "*"),
                c("fixed * preflight answers * literally", PUBLIC, "OPTIONS", "https://anything.example", "PATCH", List.of("x-a, x-b"),
                        CorsDecision.Kind.PREFLIGHT, null,
                        "Access-Control-Allow-Origin", "*", "Access-Control-Allow-Methods", "*", "Access-Control-Allow-Headers", "*",
                        "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("a header * never covers Authorization", PUBLIC, "OPTIONS", "https://anything.example", "GET", List.of("authorization"),
                        CorsDecision.Kind.PREFLIGHT, CorsReason.HEADER_NOT_ALLOWED,
                        "Vary", "Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("with credentials, * methods and headers are answered by echoing the request", REFLECTING, "OPTIONS", APP, "PATCH",
                        List.of("X-Trace-Id, Authorization"), CorsDecision.Kind.PREFLIGHT, null,
                        "Access-Control-Allow-Origin", APP, "Access-Control-Allow-Credentials", "true",
                        "Access-Control-Allow-Methods", "PATCH", "Access-Control-Allow-Headers", "x-trace-id, authorization",
                        "Access-Control-Max-Age", null,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("with credentials, * methods still refuse forbidden methods", REFLECTING, "OPTIONS", APP, "TRACE", null,
                        CorsDecision.Kind.PREFLIGHT, CorsReason.METHOD_NOT_ALLOWED,
                        "Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
                c("a disabled policy adds nothing", CorsPolicy.DISABLED, "OPTIONS", APP, "PUT", null, CorsDecision.Kind.DISABLED, null));
    }

    private static Arguments c(String name, CorsPolicy policy, String method, String origin, String acrm, List<String> acrh,
                               CorsDecision.Kind kind, CorsReason reason, String... expected) {
        return Arguments.of(name, policy, method, origin, acrm, acrh, kind, reason, expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decisionHasTheExactHeaders(String name, CorsPolicy policy, String method, String origin, String acrm, List<String> acrh,
                                    CorsDecision.Kind kind, CorsReason reason, String[] expected) {
        CorsDecision d = policy.decide(method, origin, acrm, acrh);
        assertThat(d.kind()).isEqualTo(kind);
        assertThat(d.reason()).isEqualTo(reason);
        assertThat(d.allowed()).isEqualTo(reason == null);
        java.util.LinkedHashMap<String, String> want = new java.util.LinkedHashMap<>();
        for (int i = 0; i < expected.length; i += 2) {
            if (expected[i + 1] != null) {
                want.put(expected[i], expected[i + 1]);
            }
        }
        assertThat(headers(d)).containsExactlyEntriesOf(want);
    }

    @Test
    void refusalsCarryASentenceNamingTheValueAndAFix() {
        CorsDecision d = CREDENTIALED.preflight(APP, "PATCH", List.of());
        assertThat(d.message()).isEqualTo("method \"PATCH\" is not allowed by the CORS policy (Access-Control-Request-Method)");
        assertThat(d.fix()).isEqualTo("add \"PATCH\" to allowedMethods");
        assertThat(d.preflightStatus()).isEqualTo(403);

        CorsDecision h = PUBLIC.preflight("https://x.example", "GET", List.of("Authorization"));
        assertThat(h.message()).isEqualTo("request header \"authorization\" is not allowed by the CORS policy (Access-Control-Request-Headers);"
                + " a \"*\" never covers Authorization");
        assertThat(h.fix()).isEqualTo("add \"Authorization\" to allowedHeaders explicitly (the \"*\" does not cover it, per the Fetch standard)");
    }

    @Test
    void anOriginThatDiffersOnlyBySchemeOrPortIsNamedAsSuch() {
        assertThat(CREDENTIALED.actual("http://app.example.com").message())
                .isEqualTo("origin \"http://app.example.com\" is not allowed by the CORS policy (https://app.example.com is allowed: the scheme differs)");
        assertThat(CREDENTIALED.actual("https://app.example.com:8443").message())
                .isEqualTo("origin \"https://app.example.com:8443\" is not allowed by the CORS policy (https://app.example.com is allowed: the port differs)");
        assertThat(CREDENTIALED.actual("http://app.example.com").fix()).startsWith("do not allow it as it is: with allowCredentials: true, plain-http origins are refused");
    }

    @Test
    void theNullOriginIsRefusedWithAnExplanation() {
        CorsDecision d = CREDENTIALED.actual("null");
        assertThat(d.reasonCode()).isEqualTo("cors.origin_not_allowed");
        assertThat(d.message()).isEqualTo("origin \"null\" (a sandboxed iframe, a file:// page or a redirect) is not allowed by the CORS policy");
        assertThat(d.fix()).startsWith("do not allow it:");
    }

    @Test
    void aHugeRequestHeadersListIsRefusedBeforeAnyNameIsExamined() {
        String huge = IntStream.range(0, 12_000).mapToObj(i -> "x-h" + i).collect(Collectors.joining(", "));
        assertThat(huge.length()).isGreaterThan(100_000);
        CorsDecision d = REFLECTING.preflight(APP, "PUT", List.of(huge));
        assertThat(d.reason()).isEqualTo(CorsReason.PREFLIGHT_TOO_LARGE);
        assertThat(d.message()).isEqualTo("Access-Control-Request-Headers of " + huge.length() + " bytes is too long (expected: at most 4096)");
        // Many short lines add up the same way.
        List<String> lines = IntStream.range(0, 5_000).mapToObj(i -> "x-h" + i).collect(Collectors.toList());
        assertThat(REFLECTING.preflight(APP, "PUT", lines).reason()).isEqualTo(CorsReason.PREFLIGHT_TOO_LARGE);
    }

    @Test
    void aRequestHeadersListAtTheLimitIsStillDecided() {
        StringBuilder b = new StringBuilder("x-a");
        while (b.length() < 4090) {
            b.append(",x-a");
        }
        assertThat(REFLECTING.preflight(APP, "PUT", List.of(b.toString())).allowed()).isTrue();
    }

    @Test
    void nullLinesInTheRequestHeadersListAreSkippedNotThrown() {
        assertThat(CREDENTIALED.preflight(APP, "PUT", java.util.Arrays.asList("content-type", null)).allowed()).isTrue();
        assertThat(CREDENTIALED.preflight(APP, "PUT", java.util.Arrays.asList(null, "x-evil")).reason()).isEqualTo(CorsReason.HEADER_NOT_ALLOWED);
    }

    @Test
    void aCredentialedRequestIsRefusedWhenThePolicyDoesNotAllowCredentials() {
        CorsDecision d = PUBLIC.forCredentialedRequest(APP, PUBLIC.actual(APP));
        assertThat(d.reason()).isEqualTo(CorsReason.CREDENTIALS_NOT_ALLOWED);
        assertThat(d.fix()).isEqualTo("list the exact origins instead of \"*\" in allowedOrigins and set allowCredentials: true");
        assertThat(CREDENTIALED.forCredentialedRequest(APP, CREDENTIALED.actual(APP)).allowed()).isTrue();
    }

    @Test
    void manyListedOriginsAreFoundThroughTheTable() {
        List<String> origins = IntStream.range(0, 1000).mapToObj(i -> String.format("https://app%04d.example.com", i)).toList();
        CorsPolicy p = CorsPolicy.builder().allowOrigins(origins).allowCredentials(true).build();
        for (String o : origins) {
            assertThat(p.actual(o).header("Access-Control-Allow-Origin")).isEqualTo(o);
        }
        assertThat(p.actual("https://app1000.example.com").allowed()).isFalse();
        assertThat(p.actual("https://APP0999.example.com").header("Access-Control-Allow-Origin")).isEqualTo("https://APP0999.example.com");
    }

    @Test
    void routesChooseTheFirstMatchingPrefixOnSegmentBoundaries() {
        CorsRoutes routes = CorsRoutes.builder(CorsPolicy.builder().allowOrigins(APP))
                .route("/public", CorsPolicy.builder().allowOrigins("*"))
                .route("/internal", null)
                .route("/", CorsPolicy.builder())
                .build();
        assertThat(routes.policyFor("/public/x").allowedOrigins()).extracting(OriginPattern::toString).containsExactly("*");
        assertThat(routes.policyFor("/public").allowedOrigins()).extracting(OriginPattern::toString).containsExactly("*");
        assertThat(routes.policyFor("/publication").allowedOrigins()).isEmpty();
        assertThat(routes.policyFor("/internal/metrics").enabled()).isFalse();
        assertThat(CorsRoutes.builder(CorsPolicy.builder().allowOrigins(APP)).build().policyFor("/x").allowedOrigins())
                .extracting(OriginPattern::toString).containsExactly(APP);
    }

    @Test
    void decidingAnAllowedActualRequestAllocatesNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        List<String> many = IntStream.range(0, 1000).mapToObj(i -> String.format("https://app%04d.example.com", i)).toList();
        CorsPolicy big = CorsPolicy.builder().allowOrigins(many).allowCredentials(true).build();
        CorsPolicy dev = CorsPolicy.builder().allowOrigins("http://localhost:*").localDevelopment(true).allowCredentials(true).build();
        String o1 = APP;
        String o2 = "https://app0999.example.com";
        String o3 = "http://localhost:3000";
        long sink = 0;
        for (int i = 0; i < 20_000; i++) {
            sink += CREDENTIALED.actual(o1).headerCount() + big.actual(o2).headerCount() + dev.actual(o3).headerCount();
        }
        // The least of three measurements: a one-off allocation around a JIT recompilation shows in one of
        // them, allocation per call (at least 16 bytes x 300,000 = 4.8 MB) in all three.
        long allocated = Long.MAX_VALUE;
        for (int attempt = 0; attempt < 3; attempt++) {
            long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            for (int i = 0; i < 100_000; i++) {
                sink += CREDENTIALED.actual(o1).headerCount() + big.actual(o2).headerCount() + dev.actual(o3).headerCount();
            }
            allocated = Math.min(allocated, mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before);
        }
        assertThat(sink).isPositive();
        // 300,000 decisions: anything but a few bytes of measurement noise would be per-call allocation.
        assertThat(allocated).isLessThan(4096);
    }
}
