package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Origins an attacker controls or can make a browser send, against a credentialed policy for
 * {@code https://api.target.com}: each is refused with an origin reason and no Access-Control-Allow-Origin,
 * for actual requests and preflights, whether the policy looks origins up linearly (one exact origin),
 * in a hash map (twenty), or through a subdomain pattern.
 */
class HostileOriginsTest {
    private static final String TARGET = "https://api.target.com";
    private static final String NOT_ALLOWED = "cors.origin_not_allowed";
    private static final String MALFORMED = "cors.origin_malformed";
    private static final String VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

    private static final CorsPolicy ONE_EXACT = CorsPolicy.builder()
            .allowOrigins(TARGET)
            .allowCredentials(true)
            .build();

    private static final CorsPolicy TWENTY_EXACT = CorsPolicy.builder()
            .allowOrigins(twentyOrigins())
            .allowCredentials(true)
            .build();

    private static final CorsPolicy SUBDOMAINS = CorsPolicy.builder()
            .allowOrigins("https://*.target.com")
            .allowCredentials(true)
            .build();

    private static List<String> twentyOrigins() {
        List<String> origins = new ArrayList<>();
        for (int i = 1; i <= 19; i++) {
            origins.add("https://app" + i + ".partner.example");
        }
        origins.add(10, TARGET);
        return origins;
    }

    /** The hostile origin and the reason it is refused for. */
    static Stream<Arguments> hostileOrigins() {
        return Stream.of(
                Arguments.of("https://evil.com", NOT_ALLOWED),
                Arguments.of("https://api.target.com.evil.com", NOT_ALLOWED),
                Arguments.of("https://eviltarget.com", NOT_ALLOWED),
                Arguments.of("null", NOT_ALLOWED),
                Arguments.of("https://arget.com", NOT_ALLOWED),
                Arguments.of("https://api.targetacom", NOT_ALLOWED),
                Arguments.of("https://evil.api.target.com", NOT_ALLOWED),
                Arguments.of("http://api.target.com", NOT_ALLOWED),
                Arguments.of("https://api.target.com_.evil.com", NOT_ALLOWED),
                Arguments.of("https://api.target.com%60.evil.com", MALFORMED));
    }

    /** The hostile origins that are not subdomains of target.com, which a subdomain pattern must still refuse. */
    static Stream<Arguments> hostileOriginsOutsideTheSubdomains() {
        return hostileOrigins().filter(a -> !a.get()[0].equals("https://evil.api.target.com"));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOrigins")
    void aHostileOriginIsRefusedOnActualRequestsByAPolicyWithOneExactOrigin(String origin, String reason) {
        assertActualRefused(ONE_EXACT.actual(origin), origin, reason);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOrigins")
    void aHostileOriginIsRefusedOnPreflightsByAPolicyWithOneExactOrigin(String origin, String reason) {
        assertPreflightRefused(ONE_EXACT.preflight(origin, "GET", List.of()), origin, reason);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOrigins")
    void aHostileOriginIsRefusedOnActualRequestsByAPolicyWithTwentyExactOrigins(String origin, String reason) {
        assertActualRefused(TWENTY_EXACT.actual(origin), origin, reason);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOrigins")
    void aHostileOriginIsRefusedOnPreflightsByAPolicyWithTwentyExactOrigins(String origin, String reason) {
        assertPreflightRefused(TWENTY_EXACT.preflight(origin, "GET", List.of()), origin, reason);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOriginsOutsideTheSubdomains")
    void aHostileOriginOutsideTheSubdomainsIsRefusedOnActualRequestsByASubdomainPolicy(String origin, String reason) {
        assertActualRefused(SUBDOMAINS.actual(origin), origin, reason);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOriginsOutsideTheSubdomains")
    void aHostileOriginOutsideTheSubdomainsIsRefusedOnPreflightsByASubdomainPolicy(String origin, String reason) {
        assertPreflightRefused(SUBDOMAINS.preflight(origin, "GET", List.of()), origin, reason);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOrigins")
    void aHostileOriginIsRefusedWhateverTheRequestDecidedThroughDecide(String origin, String reason) {
        assertActualRefused(ONE_EXACT.decide("POST", origin, null, null), origin, reason);
        assertPreflightRefused(ONE_EXACT.decide("OPTIONS", origin, "PUT", List.of("content-type")), origin, reason);
    }

    static Stream<Arguments> policies() {
        return Stream.of(
                Arguments.of("one exact origin", ONE_EXACT),
                Arguments.of("twenty exact origins", TWENTY_EXACT),
                Arguments.of("https://*.target.com", SUBDOMAINS));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("policies")
    void theTargetOriginIsAllowedOnActualRequestsWithItsOriginEchoed(String name, CorsPolicy policy) {
        CorsDecision d = policy.actual(TARGET);

        assertThat(d.allowed()).isTrue();
        assertThat(d.kind()).isEqualTo(CorsDecision.Kind.ACTUAL);
        assertThat(d.reasonCode()).isNull();
        assertThat(d.headers()).containsExactly(
                Map.entry("Access-Control-Allow-Origin", TARGET),
                Map.entry("Access-Control-Allow-Credentials", "true"),
                Map.entry("Vary", "Origin"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("policies")
    void theTargetOriginIsAllowedOnPreflightsWithItsOriginEchoed(String name, CorsPolicy policy) {
        CorsDecision d = policy.preflight(TARGET, "GET", List.of());

        assertThat(d.allowed()).isTrue();
        assertThat(d.kind()).isEqualTo(CorsDecision.Kind.PREFLIGHT);
        assertThat(d.preflightStatus()).isEqualTo(204);
        assertThat(d.headers()).containsExactly(
                Map.entry("Access-Control-Allow-Origin", TARGET),
                Map.entry("Access-Control-Allow-Credentials", "true"),
                Map.entry("Access-Control-Allow-Methods", "GET, HEAD, POST"),
                Map.entry("Vary", VARY_PREFLIGHT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("policies")
    void aNonCanonicalSpellingOfTheTargetIsAllowedWithTheSpellingSentEchoed(String name, CorsPolicy policy) {
        String spelling = "https://API.target.com:443";
        CorsDecision d = policy.actual(spelling);

        assertThat(d.allowed()).isTrue();
        assertThat(d.header("Access-Control-Allow-Origin")).isEqualTo(spelling);
        assertThat(policy.preflight(spelling, "GET", List.of()).header("Access-Control-Allow-Origin")).isEqualTo(spelling);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOriginsOutsideTheSubdomains")
    void theSubdomainPolicyAllowsASubdomainOfTheTargetButNoHostileLookAlike(String origin, String reason) {
        CorsDecision d = SUBDOMAINS.actual("https://evil.api.target.com");

        assertThat(d.allowed()).isTrue();
        assertThat(d.header("Access-Control-Allow-Origin")).isEqualTo("https://evil.api.target.com");
        assertThat(d.header("Access-Control-Allow-Credentials")).isEqualTo("true");
        assertThat(SUBDOMAINS.preflight("https://evil.api.target.com", "GET", List.of()).allowed()).isTrue();
        assertThat(SUBDOMAINS.actual(origin).allowed()).isFalse();
    }

    private static void assertActualRefused(CorsDecision d, String origin, String reason) {
        assertThat(d.allowed()).isFalse();
        assertThat(d.kind()).isEqualTo(CorsDecision.Kind.ACTUAL);
        assertThat(d.reasonCode()).startsWith("cors.origin_").isEqualTo(reason);
        assertThat(d.refusedValue()).isEqualTo(origin);
        assertThat(d.header("Access-Control-Allow-Origin")).isNull();
        assertThat(d.header("Access-Control-Allow-Credentials")).isNull();
        assertThat(d.headers()).containsExactly(Map.entry("Vary", "Origin"));
        assertThat(d.message()).contains(origin);
        assertThat(d.fix()).isNotBlank();
    }

    private static void assertPreflightRefused(CorsDecision d, String origin, String reason) {
        assertThat(d.allowed()).isFalse();
        assertThat(d.kind()).isEqualTo(CorsDecision.Kind.PREFLIGHT);
        assertThat(d.preflightStatus()).isEqualTo(403);
        assertThat(d.reasonCode()).startsWith("cors.origin_").isEqualTo(reason);
        assertThat(d.refusedValue()).isEqualTo(origin);
        assertThat(d.header("Access-Control-Allow-Origin")).isNull();
        assertThat(d.header("Access-Control-Allow-Credentials")).isNull();
        assertThat(d.headers()).containsExactly(Map.entry("Vary", VARY_PREFLIGHT));
        assertThat(d.message()).contains(origin);
        assertThat(d.fix()).isNotBlank();
    }
}
