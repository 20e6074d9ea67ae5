package dev.crossgate.cors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.crossgate.cors.CorsProblem.Severity;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every validation rule, each with a configuration that breaks it and the exact problem reported. */
class CorsPolicyValidationTest {

    static Stream<Arguments> invalidPolicies() {
        return Stream.of(
                bad("wildcard origin with credentials",
                        b -> b.allowOrigins("*").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"*\" cannot be used with allowCredentials: true: browsers refuse a wildcard origin on"
                                + " credentialed requests, and reflecting every origin instead would let any site read your users' data",
                        "list the exact origins that need credentials, or set cors.allowCredentials: false"),
                bad("null origin",
                        b -> b.allowOrigins("null"),
                        "cors.allowedOrigins[0]", "\"null\" is the opaque origin of sandboxed iframes, file:// pages, data: URLs and some redirects;"
                                + " any site can send it",
                        "serve the page from a real origin such as http://localhost:3000; if you accept the risk, set cors.dangerouslyAllowNullOrigin: true"),
                bad("file origin",
                        b -> b.allowOrigins("file://"),
                        "cors.allowedOrigins[0]", "\"file://\" is the origin of pages opened from the local file system; any local HTML file could call your API",
                        "serve the page from a real origin such as http://localhost:3000; if you accept the risk, set cors.dangerouslyAllowNullOrigin: true"),
                bad("plain-http origin with credentials",
                        b -> b.allowOrigins("http://app.example.com").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"http://app.example.com\" is a plain-http origin with allowCredentials: true: a network attacker can"
                                + " inject script into an http page and act with your users' credentials",
                        "write \"https://app.example.com\""),
                bad("loopback http origin with credentials outside the dev profile",
                        b -> b.allowOrigins("http://localhost:3000").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"http://localhost:3000\" is a plain-http origin, which is allowed with credentials only in the dev profile",
                        "use the dev profile for local development, or an https origin"),
                bad("emulator http origin with credentials outside the dev profile",
                        b -> b.allowOrigins("http://10.0.2.2:*").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"http://10.0.2.2:*\" is a plain-http origin, which is allowed with credentials only in the dev profile",
                        "use the dev profile for local development, or an https origin"),
                bad("public suffix wildcard vercel.app with credentials",
                        b -> b.allowOrigins("https://*.vercel.app").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"https://*.vercel.app\" admits every site under vercel.app, a public suffix (Public Suffix List) where"
                                + " anyone can register or deploy a site, and with allowCredentials: true any of them could read your users' data",
                        "list your own sites exactly, such as \"https://myapp.vercel.app\""),
                bad("public suffix wildcard github.io with credentials",
                        b -> b.allowOrigins("https://*.github.io").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"https://*.github.io\" admits every site under github.io, a public suffix (Public Suffix List) where"
                                + " anyone can register or deploy a site, and with allowCredentials: true any of them could read your users' data",
                        "list your own sites exactly, such as \"https://myapp.github.io\""),
                bad("public suffix wildcard co.uk with credentials",
                        b -> b.allowOrigins("https://*.co.uk").allowCredentials(true),
                        "cors.allowedOrigins[0]", "\"https://*.co.uk\" admits every site under co.uk, a public suffix (Public Suffix List) where"
                                + " anyone can register or deploy a site, and with allowCredentials: true any of them could read your users' data",
                        "list your own sites exactly, such as \"https://myapp.co.uk\""),
                bad("port out of range",
                        b -> b.allowOrigins("https://app.example.com:70000"),
                        "cors.allowedOrigins[0]", "\"https://app.example.com:70000\" has port 70000, which is out of range (expected: 1-65535)",
                        "use a port from 1 to 65535, or \"https://app.example.com:*\" for any port"),
                bad("port zero",
                        b -> b.allowOrigins("https://app.example.com:0"),
                        "cors.allowedOrigins[0]", "\"https://app.example.com:0\" has port 0, which is out of range (expected: 1-65535)",
                        "use a port from 1 to 65535, or \"https://app.example.com:*\" for any port"),
                bad("path in an origin",
                        b -> b.allowOrigins("https://app.example.com/api"),
                        "cors.allowedOrigins[0]", "\"https://app.example.com/api\" has a path \"/api\", and an origin is only scheme://host[:port]",
                        "write \"https://app.example.com\""),
                bad("query in an origin",
                        b -> b.allowOrigins("https://app.example.com?x=1"),
                        "cors.allowedOrigins[0]", "\"https://app.example.com?x=1\" has a query, and an origin is only scheme://host[:port]",
                        "write \"https://app.example.com\""),
                bad("trailing slash in an origin",
                        b -> b.allowOrigins("https://app.example.com/"),
                        "cors.allowedOrigins[0]", "\"https://app.example.com/\" ends with a slash, and an origin has no path",
                        "write \"https://app.example.com\""),
                bad("regular expression instead of an origin",
                        b -> b.allowOrigins("/\\.vercel\\.app$/"),
                        "cors.allowedOrigins[0]", "\"/\\.vercel\\.app$/\" looks like a regular expression, and origins are not regular expressions",
                        "list exact origins, use http://host:* for any port or https://*.example.com for subdomains"),
                bad("invalid method name",
                        b -> b.allowMethods("GET POST"),
                        "cors.allowedMethods[0]", "\"GET POST\" is not a valid method name (expected: an HTTP token such as PATCH)",
                        "list one method per entry, such as \"PATCH\""),
                bad("forbidden method CONNECT",
                        b -> b.allowMethods("CONNECT"),
                        "cors.allowedMethods[0]", "\"CONNECT\" is a forbidden method (Fetch standard): browsers never send it, and allowing it"
                                + " only widens what a cross-site page could try", "remove it"),
                bad("forbidden method TRACE",
                        b -> b.allowMethods("GET", "TRACE"),
                        "cors.allowedMethods[1]", "\"TRACE\" is a forbidden method (Fetch standard): browsers never send it, and allowing it"
                                + " only widens what a cross-site page could try", "remove it"),
                bad("forbidden method TRACK",
                        b -> b.allowMethods("track"),
                        "cors.allowedMethods[0]", "\"track\" is a forbidden method (Fetch standard): browsers never send it, and allowing it"
                                + " only widens what a cross-site page could try", "remove it"),
                bad("invalid header name",
                        b -> b.allowHeaders("X Bad"),
                        "cors.allowedHeaders[0]", "\"X Bad\" is not a valid header name (expected: an HTTP token such as X-Api-Key)",
                        "list one header name per entry"),
                bad("forbidden request header Cookie",
                        b -> b.allowHeaders("Cookie"),
                        "cors.allowedHeaders[0]", "\"Cookie\" is a forbidden request header (Fetch standard): browsers set it themselves and never"
                                + " ask for it in a preflight", "remove it; cookies are sent when allowCredentials is true"),
                bad("forbidden request header prefix Sec-",
                        b -> b.allowHeaders("Sec-Fetch-Mode"),
                        "cors.allowedHeaders[0]", "\"Sec-Fetch-Mode\" is a forbidden request header (Fetch standard): browsers set it themselves and"
                                + " never ask for it in a preflight", "remove it"),
                bad("forbidden request header prefix Proxy-",
                        b -> b.allowHeaders("Proxy-Authorization"),
                        "cors.allowedHeaders[0]", "\"Proxy-Authorization\" is a forbidden request header (Fetch standard): browsers set it themselves and"
                                + " never ask for it in a preflight", "remove it"),
                bad("Access-Control header as a request header",
                        b -> b.allowHeaders("Access-Control-Allow-Origin"),
                        "cors.allowedHeaders[0]", "\"Access-Control-Allow-Origin\" is a CORS protocol header, never a header a page asks to send;"
                                + " listing it here is a common mistake that does nothing",
                        "remove it; Crossgate sets the Access-Control-* response headers itself"),
                bad("exposing Set-Cookie",
                        b -> b.exposeHeaders("Set-Cookie"),
                        "cors.exposedHeaders[0]", "\"Set-Cookie\" can never be exposed to scripts (Fetch standard, forbidden response header name)",
                        "remove it; the browser stores cookies itself, and HttpOnly cookies exist so that scripts cannot read them"),
                bad("exposing * with credentials",
                        b -> b.allowOrigins("https://app.example.com").allowCredentials(true).exposeHeaders("*"),
                        "cors.exposedHeaders[0]", "\"*\" in exposedHeaders is taken literally on credentialed requests (allowCredentials: true),"
                                + " so no header would be exposed", "list the headers to expose, such as \"X-Request-Id\""),
                bad("negative max age",
                        b -> b.maxAgeSeconds(-1),
                        "cors.maxAge", "maxAge: -1 s (expected: 0 or more)", "use 600 s, or 0 to disable preflight caching"),
                bad("max age beyond every browser",
                        b -> b.maxAgeSeconds(100_000),
                        "cors.maxAge", "maxAge: 100000 s is out of range (expected: at most 86400 s, Firefox's cap; no browser honours more)",
                        "use 7200 s (Chromium's cap) or less"),
                bad("preflight header limit out of range",
                        b -> b.preflightRequestHeadersLimit(10),
                        "cors.preflightRequestHeadersLimit", "preflightRequestHeadersLimit: 10 (expected: 256 to 65536 bytes)", "use 4096"));
    }

    private static Arguments bad(String name, UnaryOperator<CorsPolicyBuilder> config, String path, String message, String fix) {
        return Arguments.of(name, config, path, message, fix);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidPolicies")
    void eachRuleRefusesToBuildWithItsPathMessageAndFix(String name, UnaryOperator<CorsPolicyBuilder> config, String path,
                                                        String message, String fix) {
        CorsPolicyBuilder builder = config.apply(CorsPolicy.builder().configPath("cors"));
        assertThatThrownBy(builder::build)
                .isInstanceOfSatisfying(InvalidCorsPolicyException.class, e -> {
                    assertThat(e.errors()).hasSize(1);
                    CorsProblem p = e.errors().get(0);
                    assertThat(p.path()).isEqualTo(path);
                    assertThat(p.message()).isEqualTo(message);
                    assertThat(p.fix()).isEqualTo(fix);
                    assertThat(e.getMessage()).contains(path + ": " + message + " (fix: " + fix + ")");
                });
    }

    @Test
    void aPolicyWithSixProblemsReportsAllSix() {
        CorsPolicyBuilder b = CorsPolicy.builder().configPath("cors")
                .allowOrigins("*", "https://app.example.com/", "null", "http://partner.example.org")
                .allowCredentials(true)
                .allowMethods("GET", "TRACE")
                .exposeHeaders("Set-Cookie");
        assertThatThrownBy(b::build).isInstanceOfSatisfying(InvalidCorsPolicyException.class, e -> {
            assertThat(e.errors()).extracting(CorsProblem::path).containsExactly(
                    "cors.allowedOrigins[0]", "cors.allowedOrigins[1]", "cors.allowedOrigins[2]", "cors.allowedOrigins[3]",
                    "cors.allowedMethods[1]", "cors.exposedHeaders[0]");
            assertThat(e.getMessage()).startsWith("invalid CORS policy, 6 errors:");
        });
    }

    @Test
    void loopbackAndEmulatorHttpOriginsWithCredentialsAreAcceptedInLocalDevelopment() {
        CorsPolicy p = CorsPolicy.builder().localDevelopment(true).allowCredentials(true)
                .allowOrigins("http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*", "http://10.0.2.2:*").build();
        assertThat(p.warnings()).isEmpty();
        assertThat(p.actual("http://10.0.2.2:3000").allowed()).isTrue();
        assertThat(p.actual("http://[::1]:5173").allowed()).isTrue();
    }

    @Test
    void localDevelopmentStillRefusesPlainHttpOriginsThatAreNotLocal() {
        assertThat(CorsPolicy.builder().localDevelopment(true).allowCredentials(true).allowOrigins("http://192.168.1.20:3000").problems())
                .extracting(CorsProblem::severity).containsExactly(Severity.ERROR);
    }

    @Test
    void publicSuffixWildcardWithoutCredentialsIsAWarningNotAnError() {
        CorsPolicy p = CorsPolicy.builder().allowOrigins("https://*.vercel.app").build();
        assertThat(p.warnings()).singleElement().satisfies(w -> {
            assertThat(w.severity()).isEqualTo(Severity.WARNING);
            assertThat(w.message()).isEqualTo("\"https://*.vercel.app\" admits every site under vercel.app, a public suffix (Public Suffix List)"
                    + " where anyone can register or deploy a site, and any of them can read your responses");
        });
    }

    @Test
    void aWildcardUnderARegistrableDomainIsAccepted() {
        assertThat(CorsPolicy.builder().allowCredentials(true).allowOrigins("https://*.myapp.vercel.app", "https://*.example.co.uk").problems()).isEmpty();
    }

    @Test
    void nullOriginIsAcceptedOnlyWithTheDangerousOptionAndStillWarns() {
        CorsPolicy p = CorsPolicy.builder().allowOrigins("null").dangerouslyAllowNullOrigin(true).build();
        assertThat(p.warnings()).singleElement().extracting(CorsProblem::message).asString().endsWith("(allowed by dangerouslyAllowNullOrigin)");
        assertThat(p.actual("null").allowed()).isTrue();
        assertThat(p.actual("null").header("Access-Control-Allow-Origin")).isEqualTo("null");
    }

    @Test
    void maxAgeAboveBrowserCapsWarnsNamingTheBrowsers() {
        assertThat(CorsPolicy.builder().maxAgeSeconds(3600).build().warnings()).singleElement().extracting(CorsProblem::message)
                .isEqualTo("maxAge: 3600 s is above what Safari honours (600 s); Safari will preflight again after 600 s");
        assertThat(CorsPolicy.builder().maxAgeSeconds(10_000).build().warnings()).singleElement().extracting(CorsProblem::message)
                .isEqualTo("maxAge: 10000 s is above what Chromium (7200 s) and Safari (600 s) honour; only Firefox caches that long");
        assertThat(CorsPolicy.builder().maxAgeSeconds(600).build().warnings()).isEmpty();
    }

    @Test
    void wildcardOriginWithOtherEntriesWarnsThatTheyHaveNoEffect() {
        assertThat(CorsPolicy.builder().allowOrigins("*", "https://a.example.com").build().warnings())
                .extracting(CorsProblem::path).containsExactly("allowedOrigins[0]");
    }

    @Test
    void aRepeatedOriginIsReportedWithItsNormalisedForm() {
        assertThat(CorsPolicy.builder().allowOrigins("https://a.example.com", "https://A.example.com:443").build().warnings())
                .singleElement().extracting(CorsProblem::message)
                .isEqualTo("\"https://A.example.com:443\" is listed twice (as https://a.example.com)");
    }

    @Test
    void routePathsAreValidatedAndShadowedRoutesWarn() {
        CorsRoutes.Builder b = CorsRoutes.builder(CorsPolicy.builder().configPath("cors"))
                .route("api", CorsPolicy.builder(), "cors.routes[0].path")
                .route("/public", null, "cors.routes[1].path")
                .route("/public/assets", null, "cors.routes[2].path");
        List<CorsProblem> problems = b.problems();
        assertThat(problems).extracting(CorsProblem::toString).containsExactly(
                "error: cors.routes[0].path: route path \"api\" does not start with '/' (fix: write \"/api\")",
                "warning: cors.routes[2].path: route path \"/public/assets\" is never chosen: the earlier route \"/public\" matches first"
                        + " (fix: move it before \"/public\" or remove it)");
        assertThatThrownBy(b::build).isInstanceOf(InvalidCorsPolicyException.class);
    }

    @Test
    void builderValuesAreCopiedSoLaterChangesDoNotLeakIntoABuiltPolicy() {
        List<String> origins = new java.util.ArrayList<>(List.of("https://a.example.com"));
        CorsPolicyBuilder b = CorsPolicy.builder().allowOrigins(origins);
        CorsPolicy p = b.build();
        origins.add("https://evil.example.com");
        b.allowOrigins("https://other.example.com");
        assertThat(p.allowedOrigins()).extracting(OriginPattern::toString).containsExactly("https://a.example.com");
        assertThat(p.actual("https://other.example.com").allowed()).isFalse();
    }
}
