package dev.crossgate.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.crossgate.cors.CorsPolicy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    @TempDir
    Path dir;

    private ConfigLoader.Result load(String yaml, Map<String, String> env, String profile) throws IOException {
        Path file = null;
        if (yaml != null) {
            file = dir.resolve("crossgate.yaml");
            Files.writeString(file, yaml);
        }
        return ConfigLoader.inspect(new ConfigLoader.Options(file, profile, env, dir));
    }

    private ConfigLoader.Result load(String yaml) throws IOException {
        return load(yaml, Map.of(), null);
    }

    private String file() {
        return dir.resolve("crossgate.yaml").toString();
    }

    @Test
    void withNothingConfiguredTheDevProfileAllowsLoopbackAndTheAndroidEmulator() throws IOException {
        ConfigLoader.Result r = load(null);
        assertThat(r.problems()).isEmpty();
        CrossgateConfig c = r.config();
        assertThat(c.profile()).isEqualTo(Profile.DEV);
        assertThat(c.hostAllowed("10.0.2.2", 8080)).isTrue();
        assertThat(c.hostAllowed("localhost", 3000)).isTrue();
        assertThat(c.hostAllowed("[::1]", 80)).isTrue();
        assertThat(c.hostAllowed("api.example.com", 80)).isFalse();
        CorsPolicy p = c.cors().defaultPolicy();
        assertThat(p.allowCredentials()).isTrue();
        for (String origin : new String[] {"http://localhost:3000", "http://127.0.0.1:5173", "http://[::1]:8081", "http://10.0.2.2:8080", "https://localhost"}) {
            assertThat(p.actual(origin).allowed()).as(origin).isTrue();
        }
        assertThat(p.actual("https://evil.example.com").allowed()).isFalse();
        assertThat(p.preflight("http://localhost:3000", "PATCH", java.util.List.of("authorization, x-anything")).allowed()).isTrue();
        assertThat(r.settings()).contains(new Setting("cors.allowCredentials", "true", Source.defaultOf(Profile.DEV)));
    }

    @Test
    void theProdProfileAllowsNothingImplicitlyAndRequiresHosts() throws IOException {
        ConfigLoader.Result r = load(null, Map.of(), "prod");
        assertThat(r.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("hosts");
            assertThat(p.message()).isEqualTo("hosts is empty in the prod profile, so every request would be refused (421 host.not_allowed)");
        });
        ConfigLoader.Result ok = load("profile: prod\nhosts: [api.example.com]\n");
        assertThat(ok.valid()).isTrue();
        assertThat(ok.config().cors().defaultPolicy().allowedOrigins()).isEmpty();
        assertThat(ok.config().cors().defaultPolicy().allowCredentials()).isFalse();
        assertThat(ok.config().hostAllowed("10.0.2.2", 8080)).isFalse();
        assertThat(ok.config().hostAllowed("api.example.com", 8443)).isTrue();
    }

    @Test
    void valuesFromTheFileNameTheirFileAndLine() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts:
                  - api.example.com
                cors:
                  allowedOrigins:
                    - https://app.example.com
                  allowCredentials: true
                  maxAge: 5m
                http:
                  maxBodySize: 10MiB
                """);
        assertThat(r.problems()).isEmpty();
        assertThat(r.settings()).contains(
                new Setting("cors.allowedOrigins", "https://app.example.com", Source.file(file(), 5)),
                new Setting("cors.maxAge", "5m", Source.file(file(), 8)),
                new Setting("http.maxBodySize", "10MiB", Source.file(file(), 10)));
        assertThat(r.config().http().maxBodySize()).isEqualTo(10 * 1024 * 1024);
        assertThat(r.config().cors().defaultPolicy().maxAgeSeconds()).isEqualTo(300);
    }

    @Test
    void environmentVariablesOverrideTheFileIncludingTheNamesTeamsAlreadyUse() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowedOrigins: [https://app.example.com]
                """, Map.of(
                        "CORS_ALLOWED_ORIGINS", "https://a.example.com, https://b.example.com",
                        "CORS_ALLOW_CREDENTIALS", "true",
                        "ALLOWED_HOSTS", "api.example.com,.example.net",
                        "CROSSGATE_CORS_MAX_AGE", "120"), null);
        assertThat(r.problems()).isEmpty();
        CorsPolicy p = r.config().cors().defaultPolicy();
        assertThat(p.actual("https://b.example.com").allowed()).isTrue();
        assertThat(p.actual("https://app.example.com").allowed()).isFalse();
        assertThat(p.allowCredentials()).isTrue();
        assertThat(p.maxAgeSeconds()).isEqualTo(120);
        assertThat(r.config().hostAllowed("www.example.net", 443)).isTrue();
        assertThat(r.config().hostAllowed("example.net", 443)).isTrue();
        assertThat(r.settings()).contains(
                new Setting("cors.allowedOrigins", "https://a.example.com, https://b.example.com", Source.env("CORS_ALLOWED_ORIGINS")),
                new Setting("hosts", "api.example.com, .example.net", Source.env("ALLOWED_HOSTS")),
                new Setting("cors.maxAge", "2m", Source.env("CROSSGATE_CORS_MAX_AGE")));
    }

    @Test
    void theCrossgateNameWinsOverTheCommonAliasAndSaysSo() throws IOException {
        ConfigLoader.Result r = load(null, Map.of("CROSSGATE_HOSTS", "a.example.com", "ALLOWED_HOSTS", "b.example.com"), "prod");
        assertThat(r.config().hostAllowed("a.example.com", 80)).isTrue();
        assertThat(r.config().hostAllowed("b.example.com", 80)).isFalse();
        assertThat(r.problems()).singleElement().extracting(ConfigProblem::message)
                .isEqualTo("ALLOWED_HOSTS is ignored because CROSSGATE_HOSTS is also set");
    }

    @Test
    void theProfileComesFromTheOptionThenTheEnvironmentThenTheFile() throws IOException {
        String yaml = "profile: dev\nhosts: [api.example.com]\n";
        assertThat(load(yaml, Map.of(), null).profile()).isEqualTo(Profile.DEV);
        assertThat(load(yaml, Map.of("CROSSGATE_PROFILE", "prod"), null).profile()).isEqualTo(Profile.PROD);
        assertThat(load(yaml, Map.of("CROSSGATE_PROFILE", "prod"), "dev").profile()).isEqualTo(Profile.DEV);
        ConfigLoader.Result bad = load(yaml, Map.of(), "production");
        assertThat(bad.errors()).singleElement().extracting(ConfigProblem::describe)
                .isEqualTo("error: profile (--profile): profile \"production\" is not a profile (expected: dev or prod)\n"
                        + "    fix: use dev for local development or prod for deployment");
    }

    @Test
    void aFileWithoutAProfileRunsDevAndWarns() throws IOException {
        ConfigLoader.Result r = load("hosts: [api.example.com]\n");
        assertThat(r.valid()).isTrue();
        assertThat(r.problems()).singleElement().extracting(ConfigProblem::message)
                .isEqualTo("no profile is chosen, so the dev profile applies: loopback origins are allowed with credentials");
    }

    @Test
    void unknownKeysWrongTypesBadDurationsAndSizesAreErrorsWithFileAndLine() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowedOrigin: [https://app.example.com]
                  allowCredentials: yes
                  maxAge: 10 minutes
                  allowedMethods: GET
                http:
                  maxBodySize: 5 megs
                  requestHeadTimeout: soon
                tlz: {}
                """);
        assertThat(r.errors()).extracting(ConfigProblem::describe).containsExactlyInAnyOrder(
                "error: cors.allowCredentials (" + file() + ":5): cors.allowCredentials: \"yes\" is not a boolean (expected: true or false)\n"
                        + "    fix: write cors.allowCredentials: true, or false",
                "error: cors.maxAge (" + file() + ":6): cors.maxAge: \"10 minutes\" is not a duration (expected: a whole number with a unit"
                        + " ms, s, m, h or d, such as 30s; a bare number is seconds)\n    fix: write cors.maxAge: 10m",
                "error: cors.allowedMethods (" + file() + ":7): cors.allowedMethods is \"GET\" (expected: a list)\n"
                        + "    fix: write cors.allowedMethods: [GET]",
                "error: http.maxBodySize (" + file() + ":9): http.maxBodySize: \"5 megs\" is not a size (expected: a whole number with a"
                        + " unit B, KB, KiB, MB, MiB, GB or GiB, such as 5MB)\n    fix: write http.maxBodySize: 5MB",
                "error: http.requestHeadTimeout (" + file() + ":10): http.requestHeadTimeout: \"soon\" is not a duration (expected: a whole number"
                        + " with a unit ms, s, m, h or d, such as 30s; a bare number is seconds)\n    fix: write http.requestHeadTimeout: 10s",
                "error: cors.allowedOrigin (" + file() + ":4): unknown key \"allowedOrigin\" in cors\n    fix: did you mean \"allowedOrigins\"?",
                "error: tlz (" + file() + ":11): unknown key \"tlz\"\n    fix: did you mean \"tls\"?");
        assertThatThrownBy(() -> ConfigLoader.load(new ConfigLoader.Options(dir.resolve("crossgate.yaml"), null, Map.of(), dir)))
                .isInstanceOf(InvalidConfigException.class).hasMessageStartingWith("invalid configuration, 7 errors:");
    }

    @Test
    void corsPolicyProblemsPointAtTheLineOfTheOffendingEntry() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowCredentials: true
                  allowedOrigins:
                    - https://app.example.com
                    - "*"
                    - https://*.vercel.app
                  exposedHeaders: [Set-Cookie]
                  allowedMethods: [GET, CONNECT]
                  allowedHeaders: [Content-Type, Host]
                  maxAge: 2d
                """);
        assertThat(r.errors()).extracting(p -> p.path() + " @ " + p.source()).containsExactly(
                "cors.allowedOrigins[1] @ " + file() + ":7",
                "cors.allowedOrigins[2] @ " + file() + ":8",
                "cors.allowedMethods[1] @ " + file() + ":10",
                "cors.allowedHeaders[1] @ " + file() + ":11",
                "cors.exposedHeaders[0] @ " + file() + ":9",
                "cors.maxAge @ " + file() + ":12");
        assertThat(r.config()).isNull();
    }

    @Test
    void routesInheritTheDefaultPolicyAndCanTurnCorsOff() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowedOrigins: [https://app.example.com]
                  allowCredentials: true
                  allowedHeaders: [Authorization]
                  routes:
                    - path: /public
                      allowedOrigins: ["*"]
                      allowCredentials: false
                    - path: /legacy
                      enabled: false
                    - path: /admin
                      allowedOrigins: [https://admin.example.com]
                """);
        assertThat(r.problems()).isEmpty();
        var cors = r.config().cors();
        assertThat(cors.policyFor("/public/feed").actual("https://anyone.example").header("Access-Control-Allow-Origin")).isEqualTo("*");
        assertThat(cors.policyFor("/legacy/x").enabled()).isFalse();
        CorsPolicy admin = cors.policyFor("/admin/users");
        assertThat(admin.allowCredentials()).isTrue();
        assertThat(admin.allowedHeaders()).containsExactly("Authorization");
        assertThat(admin.actual("https://app.example.com").allowed()).isFalse();
        assertThat(admin.actual("https://admin.example.com").allowed()).isTrue();
        assertThat(cors.policyFor("/api").actual("https://app.example.com").allowed()).isTrue();
    }

    @Test
    void aRouteThatInheritsCredentialsCannotAllowEveryOrigin() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowedOrigins: [https://app.example.com]
                  allowCredentials: true
                  routes:
                    - path: /public
                      allowedOrigins: ["*"]
                """);
        assertThat(r.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("cors.routes[0].allowedOrigins[0]");
            assertThat(p.source()).isEqualTo(Source.file(file(), 8));
            assertThat(p.fix()).isEqualTo("list the exact origins that need credentials, or set cors.routes[0].allowCredentials: false");
        });
    }

    @Test
    void aFileWithSixProblemsReportsSix() throws IOException {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: ["https://api.example.com/"]
                listen: localhost
                cors:
                  allowedOrigins: ["null", "http://app.example.com"]
                  allowCredentials: true
                  maxAge: -5
                  unknownThing: 1
                """);
        assertThat(r.errors()).hasSize(6);
        assertThat(r.errors()).extracting(ConfigProblem::path).containsExactlyInAnyOrder(
                "hosts[0]", "listen", "cors.allowedOrigins[0]", "cors.allowedOrigins[1]", "cors.maxAge", "cors.unknownThing");
    }

    @Test
    void yamlSyntaxErrorsAndDuplicateKeysNameTheLine() throws IOException {
        ConfigLoader.Result r = load("profile: prod\ncors:\n  allowCredentials: true\n  allowCredentials: false\n");
        assertThat(r.errors()).first().satisfies(p -> {
            assertThat(p.source()).isEqualTo(Source.file(file(), 4));
            assertThat(p.message()).contains("allowCredentials");
        });
        ConfigLoader.Result broken = load("cors:\n  allowedOrigins: [a, b\n");
        assertThat(broken.errors()).first().satisfies(p -> assertThat(p.source().line()).isGreaterThan(1));
    }

    @Test
    void aMissingFileIsAnError() {
        ConfigLoader.Result r = ConfigLoader.inspect(new ConfigLoader.Options(dir.resolve("nope.yaml"), null, Map.of(), dir));
        assertThat(r.errors()).singleElement().extracting(ConfigProblem::message)
                .isEqualTo("configuration file " + dir.resolve("nope.yaml") + " does not exist or is not a file");
    }

    @Test
    void anUnknownCrossgateVariableIsReportedAsAWarning() throws IOException {
        ConfigLoader.Result r = load(null, Map.of("CROSSGATE_CORS_ALLOWED_ORIGIN", "https://a.example.com"), null);
        assertThat(r.valid()).isTrue();
        assertThat(r.problems()).singleElement().extracting(ConfigProblem::message)
                .isEqualTo("environment variable CROSSGATE_CORS_ALLOWED_ORIGIN names no setting and is ignored");
    }

    @Test
    void theConfigurationFileInTheWorkingDirectoryIsUsedWhenNoneIsNamed() throws IOException {
        Files.writeString(dir.resolve("crossgate.yaml"), "profile: prod\nhosts: [x.example.com]\nhttp:\n  requestHeadTimeout: 1500ms\n");
        ConfigLoader.Result r = ConfigLoader.inspect(new ConfigLoader.Options(null, null, Map.of(), dir));
        assertThat(r.config().http().requestHeadTimeout()).isEqualTo(Duration.ofMillis(1500));
    }

    @Test
    void webSocketPathsComeFromTheFileOrCrossgateWsPathsAndBadLimitsAreAllReported() throws IOException {
        ConfigLoader.Result env = load("profile: prod\nhosts: [api.example.com]\n", Map.of("CROSSGATE_WS_PATHS", "/ws, /socket.io"), null);
        assertThat(env.problems()).isEmpty();
        CrossgateConfig.WebSocket ws = env.config().webSocket();
        assertThat(ws.paths()).containsExactly("/ws", "/socket.io");
        assertThat(ws.covers("/socket.io/")).isTrue();
        assertThat(ws.covers("/wsx")).isFalse();
        assertThat(ws.missingOrigin()).isEqualTo(CrossgateConfig.MissingOrigin.ALLOW); // native clients send no Origin (RFC 6455 section 4.1: browsers always do)
        assertThat(ws.maxFrameSize()).isEqualTo(1 << 20);

        ConfigLoader.Result bad = load("""
                profile: prod
                hosts: [api.example.com]
                websocket:
                  paths: [ws]
                  missingOrigin: sometimes
                  pingInterval: 30s
                  idleTimeout: 10s
                  maxFrameSize: 1MB
                  maxMessageSize: 64KB
                """);
        assertThat(bad.valid()).isFalse();
        assertThat(bad.errors()).extracting(ConfigProblem::path).containsExactlyInAnyOrder(
                "websocket.paths[0]", "websocket.missingOrigin", "websocket.idleTimeout", "websocket.maxMessageSize");
        assertThat(bad.errors()).allSatisfy(p -> assertThat(p.fix()).isNotBlank());
    }

    @Test
    void authNeedsAKeyRefusesNoneAndShortSecretsAndNeverShowsTheSecret() throws IOException {
        ConfigLoader.Result env = load("profile: prod\nhosts: [api.example.com]\n", Map.of("CROSSGATE_AUTH_PATHS", "/api/private",
                "CROSSGATE_JWT_SECRET", "0123456789abcdef0123456789abcdef-long-enough"), null);
        assertThat(env.problems()).isEmpty();
        assertThat(env.config().auth().requiredFor("/api/private/x")).isTrue();
        assertThat(env.config().auth().jwt().algorithms()).containsExactly("HS256", "HS384", "HS512");
        assertThat(env.settings()).filteredOn(s -> s.path().equals("auth.jwt.secret")).singleElement()
                .satisfies(s -> assertThat(s.value()).isEqualTo("(set, 44 bytes, not shown)"));

        ConfigLoader.Result bad = load("""
                profile: prod
                hosts: [api.example.com]
                auth:
                  paths: [/private]
                  tokenFrom: [header, smoke-signal]
                  claimHeaders: [sub=Host, email]
                  jwt:
                    secret: short
                    algorithms: [HS256, none, RS256]
                """);
        assertThat(bad.errors()).extracting(ConfigProblem::path).containsExactlyInAnyOrder("auth.tokenFrom[1]", "auth.claimHeaders[0]",
                "auth.claimHeaders[1]", "auth.jwt.secret", "auth.jwt.algorithms[1]", "auth.jwt.algorithms[2]");
        assertThat(bad.errors()).noneSatisfy(p -> assertThat(String.valueOf(p.value())).contains("short"));

        ConfigLoader.Result keyless = load("profile: prod\nhosts: [api.example.com]\nauth:\n  paths: [/private]\n");
        assertThat(keyless.errors()).singleElement().satisfies(p -> assertThat(p.fix()).contains("CROSSGATE_JWT_SECRET"));
    }

    @Test
    void theRealtimeSectionTurnsHostedModeOnAndEveryProblemInItIsListed() throws IOException {
        ConfigLoader.Result off = load("profile: dev\n");
        assertThat(off.config().realtime().enabled()).isFalse();
        ConfigLoader.Result on = load("""
                profile: dev
                realtime:
                  path: /live
                  hooks:
                    event: http://127.0.0.1:8000/realtime/event
                """);
        assertThat(on.problems()).isEmpty();
        assertThat(on.config().realtime().enabled()).isTrue();
        assertThat(on.config().realtime().path()).isEqualTo("/live/");
        assertThat(on.config().realtime().covers("/live/")).isTrue();
        assertThat(on.config().realtime().covers("/live")).isTrue();
        assertThat(on.config().realtime().covers("/lively")).isFalse();
        assertThat(on.config().realtime().hooks().forwards("chat")).isTrue();

        ConfigLoader.Result bad = load("""
                profile: prod
                hosts: [api.example.com]
                admin:
                  enabled: false
                realtime:
                  path: live
                  namespaces: [chat]
                  pingInterval: 0s
                  maxPayload: 10B
                  stickyCookie: "io session"
                  token: sometimes
                  hooks:
                    connect: ftp://backend/connect
                    maxConcurrent: 0
                  publish:
                    token: short
                """);
        assertThat(bad.errors()).extracting(ConfigProblem::path).containsExactlyInAnyOrder("realtime.path", "realtime.namespaces[0]",
                "realtime.pingInterval", "realtime.maxPayload", "realtime.stickyCookie", "realtime.token", "realtime.hooks.connect",
                "realtime.hooks.maxConcurrent", "realtime.publish.token", "realtime.publish.token");
        assertThat(bad.errors()).noneSatisfy(p -> assertThat(String.valueOf(p.value())).contains("short"));

        ConfigLoader.Result keyless = load("profile: prod\nhosts: [api.example.com]\nrealtime:\n  token: required\n");
        assertThat(keyless.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("realtime.token");
            assertThat(p.fix()).contains("CROSSGATE_JWT_SECRET");
        });
        ConfigLoader.Result open = load("profile: prod\nhosts: [api.example.com]\nrealtime:\n  enabled: true\n");
        assertThat(open.errors()).isEmpty();
        assertThat(open.problems()).singleElement().satisfies(p -> assertThat(p.message()).contains("any page on an allowed origin"));
        ConfigLoader.Result secretWithNewline = load("profile: dev\nrealtime:\n  hooks:\n    secret: \"s3cret-from-a-file\\n\"\n");
        assertThat(secretWithNewline.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("realtime.hooks.secret");
            assertThat(p.message()).contains("line breaks");
            assertThat(String.valueOf(p.value())).doesNotContain("s3cret");
        });
        ConfigLoader.Result overlap = load("profile: dev\nwebsocket:\n  paths: [/socket.io]\nauth:\n  paths: [/socket.io]\n  jwt:\n"
                + "    secret: 0123456789abcdef0123456789abcdef-long-enough\nrealtime:\n  token: required\n");
        assertThat(overlap.errors()).isEmpty();
        assertThat(overlap.problems()).extracting(ConfigProblem::path).containsExactlyInAnyOrder("websocket.paths", "auth.paths");
    }
}
