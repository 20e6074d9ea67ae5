package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.management.ManagementFactory;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Combinators;
import net.jqwik.api.Tuple;
import org.junit.jupiter.api.Test;

/**
 * The preflight decisions a policy keeps (issue 14: an allowed preflight's answer depends on a few inputs, so it is
 * found again rather than decided again): a kept decision is the one a fresh policy would make for the same request,
 * whatever requests came before in the same slots, and finding one allocates nothing.
 */
class PreflightCacheTest {
    private static CorsPolicyBuilder builder() {
        return CorsPolicy.builder().allowOrigins("https://app.example.com", "https://*.example.org", "http://localhost:*")
                .localDevelopment(true).allowCredentials(true).allowMethods("GET", "POST", "PUT").allowHeaders("Content-Type", "Authorization", "X-Requested-With");
    }

    private static final CorsPolicy SHARED = builder().build();
    private static final CorsPolicy REFLECTING = CorsPolicy.builder().allowOrigins("https://app.example.com").allowCredentials(true)
            .allowMethods("*").allowHeaders("*").build();

    private static String describe(CorsDecision d) {
        return d.kind() + " " + d.allowed() + " " + d.reasonCode() + " " + d.headers();
    }

    @Provide
    Arbitrary<List<Tuple.Tuple3<String, String, String>>> requests() {
        Arbitrary<String> origins = Arbitraries.of("https://app.example.com", "https://a.example.org", "https://b.example.org", "http://localhost:3000",
                "http://localhost:5173", "https://evil.example", "null", "https://app.example.com.evil");
        Arbitrary<String> methods = Arbitraries.of("GET", "POST", "PUT", "DELETE", "put", "PATCH", "B@D");
        Arbitrary<String> headers = Arbitraries.of(null, "", "content-type", "Content-Type, Authorization", "x-requested-with", "x-other",
                "content-type,authorization", "bad header");
        return Combinators.combine(origins, methods, headers).as(Tuple::of).list().ofMinSize(1).ofMaxSize(40);
    }

    @Property(tries = 300)
    void aKeptDecisionIsTheOneAFreshPolicyMakes(@ForAll("requests") List<Tuple.Tuple3<String, String, String>> requests) {
        for (CorsPolicy kept : List.of(SHARED, REFLECTING)) {
            for (Tuple.Tuple3<String, String, String> r : requests) {
                List<String> lines = r.get3() == null ? null : List.of(r.get3());
                CorsDecision first = kept.preflight(r.get1(), r.get2(), lines);
                CorsDecision again = kept.preflight(r.get1(), r.get2(), lines);
                CorsPolicy fresh = kept == SHARED ? builder().build() : CorsPolicy.builder().allowOrigins("https://app.example.com")
                        .allowCredentials(true).allowMethods("*").allowHeaders("*").build();
                String expected = describe(fresh.preflight(r.get1(), r.get2(), lines));
                assertThat(describe(first)).as(r.toString()).isEqualTo(expected);
                assertThat(describe(again)).as(r.toString()).isEqualTo(expected);
            }
        }
    }

    @Test
    void findingAKeptPreflightDecisionAllocatesNothing() {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        // As the edge passes them: fresh strings from the decoder, the same text each time.
        String origin = new String("https://app.example.com");
        String method = new String("POST");
        List<String> lines = List.of(new String("content-type, x-requested-with"));
        long sink = 0;
        for (int i = 0; i < 20_000; i++) {
            sink += SHARED.preflight(origin, method, lines).headerCount() + REFLECTING.preflight(origin, method, lines).headerCount();
        }
        long allocated = Long.MAX_VALUE;
        for (int attempt = 0; attempt < 3; attempt++) {
            long before = mx.getThreadAllocatedBytes(Thread.currentThread().getId());
            for (int i = 0; i < 100_000; i++) {
                sink += SHARED.preflight(origin, method, lines).headerCount() + REFLECTING.preflight(origin, method, lines).headerCount();
            }
            allocated = Math.min(allocated, mx.getThreadAllocatedBytes(Thread.currentThread().getId()) - before);
        }
        assertThat(sink).isPositive();
        assertThat(SHARED.preflight(origin, method, lines).allowed()).isTrue();
        assertThat(REFLECTING.preflight(origin, method, lines).header("Access-Control-Allow-Headers")).isEqualTo("content-type, x-requested-with");
        // 200,000 decisions: anything but a few bytes of measurement noise would be per-call allocation.
        assertThat(allocated).isLessThan(4096);
    }
}
