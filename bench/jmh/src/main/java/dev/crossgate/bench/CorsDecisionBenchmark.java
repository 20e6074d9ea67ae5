package dev.crossgate.bench;

import dev.crossgate.cors.CorsDecision;
import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.cors.CorsReason;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.web.cors.CorsConfiguration;

/**
 * One CORS decision, Crossgate's {@link CorsPolicy} against Spring's {@link CorsConfiguration} configured
 * the same way (same origins, credentials on, methods GET, POST, PUT, DELETE, headers Content-Type,
 * Authorization, X-Requested-With, exposed X-Request-Id, max age 600 s).
 *
 * <p>Each case has a {@code _crossgate} and a {@code _spring} variant; the Spring variant makes the checks
 * Spring's {@code DefaultCorsProcessor} makes for the same request, in the same order, and stops at the
 * first refusal as it does:
 * <ul>
 *   <li>actual request: {@code checkOrigin(origin)} then {@code checkHttpMethod(GET)};</li>
 *   <li>preflight: {@code checkOrigin(origin)}, {@code checkHttpMethod(HttpMethod.valueOf(acrm))} (the
 *       processor gets the method from {@code HttpHeaders.getAccessControlRequestMethod()}, which is that
 *       {@code valueOf}), then {@code checkHeaders(headers.getAccessControlRequestHeaders())}: the split of
 *       Access-Control-Request-Headers is Spring's own and is measured; the {@link HttpHeaders} holding the
 *       request's header is built once, as the request's header map would already exist. Crossgate is given
 *       the header's lines as a prebuilt list for the same reason.</li>
 * </ul>
 * Both variants return their result, which JMH consumes. Neither writes response headers: Crossgate's
 * decision carries them ready-made, Spring would still have to build them.
 *
 * <p>{@link #check()} verifies once per trial that both variants reach the same verdict for every case.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Benchmark)
public class CorsDecisionBenchmark {
    static final String ORIGIN = "https://app.example.com";
    static final String EVIL = "https://evil.example.net";
    static final List<String> METHODS = List.of("GET", "POST", "PUT", "DELETE");
    static final List<String> HEADERS = List.of("Content-Type", "Authorization", "X-Requested-With");
    static final List<String> EXPOSED = List.of("X-Request-Id");
    static final long MAX_AGE = 600;
    static final int MANY = 1000;
    static final String ACRH = "content-type, authorization, x-requested-with";
    static final int HUGE_ACRH_BYTES = 100 * 1024;

    // Fields, not constants, so that the JIT cannot fold the inputs; and copies, not the instances the
    // configurations hold, as a request's headers would be (String.equals and equalsIgnoreCase return at
    // once on the same instance).
    String origin;
    String evil;
    /**
     * The origin looked up among the 1000: the last one listed. Spring scans its list in order, so this is
     * Spring's worst case; Crossgate's lookup (a hash map past 8 origins) does not depend on the position.
     */
    String lastOfMany;
    byte[] lastOfManyBytes;
    String put;
    List<String> acrhLines;
    List<String> hugeAcrhLines;
    HttpHeaders acrhHeaders;
    HttpHeaders hugeAcrhHeaders;

    CorsPolicy crossgateOne;
    CorsPolicy crossgateMany;
    CorsConfiguration springOne;
    CorsConfiguration springMany;

    @Setup(Level.Trial)
    public void setUp() {
        origin = copy(ORIGIN);
        evil = copy(EVIL);
        List<String> many = new ArrayList<>(MANY);
        for (int i = 0; i < MANY; i++) {
            many.add(String.format(Locale.ROOT, "https://app%04d.example.com", i));
        }
        lastOfMany = copy(many.get(MANY - 1));
        lastOfManyBytes = lastOfMany.getBytes(StandardCharsets.ISO_8859_1);
        put = copy("PUT");

        acrhLines = List.of(ACRH);
        acrhHeaders = new HttpHeaders();
        acrhHeaders.add(HttpHeaders.ACCESS_CONTROL_REQUEST_HEADERS, ACRH);

        StringBuilder huge = new StringBuilder(HUGE_ACRH_BYTES + 16);
        for (int i = 0; huge.length() < HUGE_ACRH_BYTES; i++) {
            if (i > 0) {
                huge.append(", ");
            }
            huge.append("x-h").append(i);
        }
        String hugeAcrh = huge.toString();
        hugeAcrhLines = List.of(hugeAcrh);
        hugeAcrhHeaders = new HttpHeaders();
        hugeAcrhHeaders.add(HttpHeaders.ACCESS_CONTROL_REQUEST_HEADERS, hugeAcrh);

        crossgateOne = crossgate(List.of(ORIGIN));
        crossgateMany = crossgate(many);
        springOne = spring(List.of(ORIGIN));
        springMany = spring(many);
        check();
    }

    private static String copy(String s) {
        return new String(s.toCharArray());
    }

    static CorsPolicy crossgate(List<String> origins) {
        return CorsPolicy.builder()
                .allowOrigins(origins)
                .allowCredentials(true)
                .allowMethods(METHODS)
                .allowHeaders(HEADERS)
                .exposeHeaders(EXPOSED)
                .maxAgeSeconds(MAX_AGE)
                .build();
    }

    static CorsConfiguration spring(List<String> origins) {
        CorsConfiguration c = new CorsConfiguration();
        c.setAllowedOrigins(new ArrayList<>(origins));
        c.setAllowCredentials(true);
        c.setAllowedMethods(new ArrayList<>(METHODS));
        c.setAllowedHeaders(new ArrayList<>(HEADERS));
        c.setExposedHeaders(new ArrayList<>(EXPOSED));
        c.setMaxAge(MAX_AGE);
        return c;
    }

    /** Both engines reach the same verdict in every case (and each the expected one). */
    void check() {
        expect("1 crossgate", actualOneOrigin_crossgate().allowed(), true);
        expect("1 spring", actualOneOrigin_spring() != null, true);
        expect("2 crossgate", actualThousandOrigins_crossgate().allowed(), true);
        expect("2 spring", actualThousandOrigins_spring() != null, true);
        expect("3 crossgate", actualThousandOriginsFreshString_crossgate().allowed(), true);
        expect("3 spring", actualThousandOriginsFreshString_spring() != null, true);
        CorsDecision d = preflightAllowed_crossgate();
        expect("4 crossgate", d.allowed(), true);
        expect("4 crossgate ACAH", d.header("Access-Control-Allow-Headers") != null, true);
        List<String> allowHeaders = preflightAllowed_spring();
        expect("4 spring", allowHeaders != null && allowHeaders.size() == 3, true);
        d = preflightRefused_crossgate();
        expect("5 crossgate", d.reason() == CorsReason.ORIGIN_NOT_ALLOWED, true);
        expect("5 spring", preflightRefused_spring() == null, true);
        // A 100 KB Access-Control-Request-Headers: Crossgate refuses it on its length (default limit
        // 4096 bytes) without reading the names; Spring splits all of it and checks every name, none of
        // which (x-h0, x-h1, ...) is allowed, so it refuses too.
        d = preflightHugeRequestHeaders_crossgate();
        expect("6 crossgate", d.reason() == CorsReason.PREFLIGHT_TOO_LARGE, true);
        expect("6 spring", preflightHugeRequestHeaders_spring() == null, true);
    }

    private static void expect(String what, boolean actual, boolean expected) {
        if (actual != expected) {
            throw new IllegalStateException("benchmark case " + what + ": expected " + expected + ", got " + actual);
        }
    }

    // 1. Allowed actual request, one allowed origin.

    @Benchmark
    public CorsDecision actualOneOrigin_crossgate() {
        return crossgateOne.actual(origin);
    }

    @Benchmark
    public String actualOneOrigin_spring() {
        return springActual(springOne, origin);
    }

    // 2. Allowed actual request, 1000 allowed origins, the request's origin the last one listed.

    @Benchmark
    public CorsDecision actualThousandOrigins_crossgate() {
        return crossgateMany.actual(lastOfMany);
    }

    @Benchmark
    public String actualThousandOrigins_spring() {
        return springActual(springMany, lastOfMany);
    }

    // 3. As 2, with the origin decoded afresh each time (as a server decodes each request's header), so
    //    that String's cached hash cannot help; both variants pay the same allocation.

    @Benchmark
    public CorsDecision actualThousandOriginsFreshString_crossgate() {
        return crossgateMany.actual(new String(lastOfManyBytes, StandardCharsets.ISO_8859_1));
    }

    @Benchmark
    public String actualThousandOriginsFreshString_spring() {
        return springActual(springMany, new String(lastOfManyBytes, StandardCharsets.ISO_8859_1));
    }

    // 4. Allowed preflight: PUT with content-type, authorization, x-requested-with.

    @Benchmark
    public CorsDecision preflightAllowed_crossgate() {
        return crossgateOne.preflight(origin, put, acrhLines);
    }

    @Benchmark
    public List<String> preflightAllowed_spring() {
        return springPreflight(springOne, origin, put, acrhHeaders);
    }

    // 5. Refused preflight: the origin is not allowed.

    @Benchmark
    public CorsDecision preflightRefused_crossgate() {
        return crossgateOne.preflight(evil, put, acrhLines);
    }

    @Benchmark
    public List<String> preflightRefused_spring() {
        return springPreflight(springOne, evil, put, acrhHeaders);
    }

    // 6. Preflight from an allowed origin for an allowed method with a 100 KB Access-Control-Request-Headers.

    @Benchmark
    public CorsDecision preflightHugeRequestHeaders_crossgate() {
        return crossgateOne.preflight(origin, put, hugeAcrhLines);
    }

    @Benchmark
    public List<String> preflightHugeRequestHeaders_spring() {
        return springPreflight(springOne, origin, put, hugeAcrhHeaders);
    }

    /** DefaultCorsProcessor on an actual GET: the allowed origin to send back, or null when refused. */
    private static String springActual(CorsConfiguration config, String origin) {
        String allowOrigin = config.checkOrigin(origin);
        if (allowOrigin == null) {
            return null;
        }
        List<HttpMethod> allowMethods = config.checkHttpMethod(HttpMethod.GET);
        if (allowMethods == null) {
            return null;
        }
        return allowOrigin;
    }

    /** DefaultCorsProcessor on a preflight: the allowed headers to send back, or null when refused. */
    private static List<String> springPreflight(CorsConfiguration config, String origin, String method, HttpHeaders request) {
        String allowOrigin = config.checkOrigin(origin);
        if (allowOrigin == null) {
            return null;
        }
        List<HttpMethod> allowMethods = config.checkHttpMethod(HttpMethod.valueOf(method));
        if (allowMethods == null) {
            return null;
        }
        return config.checkHeaders(request.getAccessControlRequestHeaders());
    }
}
