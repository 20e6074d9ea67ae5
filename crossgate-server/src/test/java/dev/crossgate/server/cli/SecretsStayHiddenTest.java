package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.crossgate.realtime.testing.RedisServer;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.testing.RawHttp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No secret (auth.jwt.secret, realtime.hooks.secret, realtime.publish.token, admin.token, the password in
 * realtime.redis.url) appears in what {@code crossgate check} prints, in {@code crossgate serve}'s stderr and access log,
 * or on the admin listener's status page (its HTML, JSON and events, opened with the admin token), {@code /metrics},
 * {@code /readyz} and POST /reload's answer, whether the secrets come from the file or from the environment (issue 13,
 * Must show). {@code check} has no JSON mode.
 */
class SecretsStayHiddenTest {
    // Distinctive values: any of them showing up anywhere, whole or as a 12-character piece, is a leak.
    static final String JWT = "jwtS3cret-q7Hk2LmZp9Xw4RtYv8Nb6Cd1FgJe5Sa";
    static final String HOOK = "hookS3cret-Vb3Nm8Qw2Er6Ty1Ui9Op4As";
    static final String PUBLISH = "pubT0ken-Zx5Cv7Bn2Mq9Wl4Ek8Rj3Ht6";
    static final String REDIS_PASSWORD = "redisPa55-Kd8Fs2Gh6Jl1Pz4";
    static final String ADMIN = "admT0ken-Gy7Ux2Pk9Lm4Wq8Zr3Sd5";
    static final List<String> SECRETS = List.of(JWT, HOOK, PUBLISH, REDIS_PASSWORD, ADMIN);

    static RedisServer redis;

    @TempDir
    Path dir;

    @BeforeAll
    static void redisWithAPassword() throws Exception {
        redis = RedisServer.start();
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), redis.port())) {
            s.getOutputStream().write(("CONFIG SET requirepass " + REDIS_PASSWORD + "\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine()).isEqualTo("+OK");
        }
    }

    @AfterAll
    static void stopRedis() throws InterruptedException {
        if (redis != null) {
            redis.close();
        }
    }

    private static void assertNoSecretIn(String where, String text) {
        for (String secret : SECRETS) {
            for (int i = 0; i + 12 <= secret.length(); i += 6) {
                assertThat(text).as(where + " shows a piece of a secret").doesNotContain(secret.substring(i, i + 12));
            }
        }
    }

    private String redisUrl() {
        return "redis://:" + REDIS_PASSWORD + "@127.0.0.1:" + redis.port();
    }

    private String fileWithSecrets(int upstreamPort) {
        return "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n  token: \"" + ADMIN + "\"\nupstream: http://127.0.0.1:" + upstreamPort + "\n"
                + "auth:\n  jwt:\n    secret: \"" + JWT + "\"\n"
                + "realtime:\n  enabled: true\n  token: required\n  hooks:\n    secret: \"" + HOOK + "\"\n  publish:\n    token: \"" + PUBLISH + "\"\n"
                + "  redis:\n    url: \"" + redisUrl() + "\"\n";
    }

    private static final String FILE_WITHOUT_SECRETS = "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
            + "realtime:\n  enabled: true\n  token: required\n";

    private Map<String, String> envWithSecrets() {
        return Map.of("CROSSGATE_AUTH_JWT_SECRET", JWT, "CROSSGATE_REALTIME_HOOKS_SECRET", HOOK,
                "CROSSGATE_REALTIME_PUBLISH_TOKEN", PUBLISH, "CROSSGATE_REALTIME_REDIS_URL", redisUrl(), "CROSSGATE_ADMIN_TOKEN", ADMIN);
    }

    private String check(Path config, Map<String, String> env) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new String[] {"check", "--config", config.toString()}, new PrintWriter(out), new PrintWriter(err), new Main.Context(env, dir));
        String all = out + "\n" + err;
        assertThat(status).as(all).isIn(0, 2);
        return all;
    }

    @Test
    void checkShowsThatSecretsAreSetButNeverTheirValues() throws Exception {
        Path file = dir.resolve("file.yaml");
        Files.writeString(file, fileWithSecrets(8000));
        String fromFile = check(file, Map.of());
        assertThat(fromFile).contains("auth.jwt.secret", "(set, " + JWT.length() + " bytes, not shown)", "realtime.publish.token",
                "redis://(not shown)@127.0.0.1:" + redis.port());
        assertNoSecretIn("check (file)", fromFile);

        Path bare = dir.resolve("bare.yaml");
        Files.writeString(bare, FILE_WITHOUT_SECRETS);
        String fromEnv = check(bare, envWithSecrets());
        assertThat(fromEnv).contains("env CROSSGATE_AUTH_JWT_SECRET", "env CROSSGATE_REALTIME_PUBLISH_TOKEN", "env CROSSGATE_REALTIME_REDIS_URL",
                "env CROSSGATE_ADMIN_TOKEN");
        assertNoSecretIn("check (environment)", fromEnv);
    }

    @Test
    void problemsWithSecretsNameTheSettingNotTheValue() throws Exception {
        // Each secret is wrong in its own way, so that each is quoted by a problem if problems quote values.
        Path bare = dir.resolve("bare.yaml");
        Files.writeString(bare, FILE_WITHOUT_SECRETS);
        Map<String, String> env = new HashMap<>();
        env.put("CROSSGATE_AUTH_JWT_SECRET", JWT.substring(0, 20)); // too short for HS256
        env.put("CROSSGATE_REALTIME_HOOKS_SECRET", HOOK + "\n"); // a header value cannot carry it
        env.put("CROSSGATE_REALTIME_PUBLISH_TOKEN", PUBLISH.substring(0, 14)); // too short
        env.put("CROSSGATE_REALTIME_REDIS_URL", "redis://:" + REDIS_PASSWORD + "@127.0.0.1:notaport");
        env.put("CROSSGATE_REALTIME_PUBLISH_TOKN", PUBLISH); // a misspelt name: a warning, and still no value
        env.put("CROSSGATE_ADMIN_TOKEN", ADMIN.substring(0, 15) + " " + ADMIN.substring(15)); // too short (two halves), a space
        String out = check(bare, env);
        assertThat(out).contains("error: auth.jwt.secret", "error: realtime.publish.token", "CROSSGATE_REALTIME_PUBLISH_TOKN", "error: admin.token");
        assertNoSecretIn("check with invalid secrets", out);
    }

    @Test
    void serveLogsAndAdminEndpointsNeverShowASecretFromTheFile() throws Exception {
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", 0)) {
            Path file = dir.resolve("file.yaml");
            Files.writeString(file, fileWithSecrets(backend.port()));
            serveAndLook(file, Map.of());
        }
    }

    @Test
    void serveLogsAndAdminEndpointsNeverShowASecretFromTheEnvironment() throws Exception {
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", 0)) {
            Path bare = dir.resolve("bare.yaml");
            Files.writeString(bare, FILE_WITHOUT_SECRETS + "upstream: http://127.0.0.1:" + backend.port() + "\n");
            serveAndLook(bare, envWithSecrets());
        }
    }

    private void serveAndLook(Path config, Map<String, String> env) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.crossgate.server.cli.Main", "serve", "--config", config.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectOutput(dir.resolve("stdout.log").toFile()).redirectError(dir.resolve("stderr.log").toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        try {
            Pattern banner = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+).*admin on http://127\\.0\\.0\\.1:(\\d+)");
            Matcher[] m = new Matcher[1];
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                m[0] = banner.matcher(Files.readString(dir.resolve("stderr.log")));
                return m[0].find() || !p.isAlive();
            });
            assertThat(p.isAlive()).as(Files.readString(dir.resolve("stderr.log"))).isTrue();
            int port = Integer.parseInt(m[0].group(1));
            int admin = Integer.parseInt(m[0].group(2));
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
            StringBuilder seen = new StringBuilder();
            // Through the edge (an access-log line), a Socket.IO handshake without a token, and the publish API with a wrong token and the right one.
            try (RawHttp edge = new RawHttp(port)) {
                RawHttp.Response hello = edge.send(RawHttp.get("/api/hello", "api.example.com", "Authorization: Bearer " + JWT)).read();
                assertThat(hello.status()).isEqualTo(200);
                RawHttp.Response handshake = edge.send(RawHttp.get("/socket.io/?EIO=4&transport=polling", "api.example.com")).read();
                assertThat(handshake.status()).isEqualTo(200); // Engine.IO opens; the token is asked at CONNECT
                seen.append(hello).append(handshake);
            }
            seen.append(send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/realtime/publish"))
                    .header("Authorization", "Bearer wrong-" + PUBLISH.substring(0, 5)).POST(HttpRequest.BodyPublishers.ofString("{\"event\":\"x\"}"))));
            seen.append(send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/realtime/publish"))
                    .header("Authorization", "Bearer " + PUBLISH).POST(HttpRequest.BodyPublishers.ofString("{\"event\":\"x\",\"args\":[1]}"))));
            String metrics = send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics")));
            assertThat(metrics).contains("crossgate_");
            seen.append(metrics);
            // The status page: without the token a form (401), with it (header, or the cookie the form's POST sets) the
            // page, its JSON and its events, which show the configuration's secrets as set, never their values.
            assertThat(send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/status")))).startsWith("401 ").contains("name=\"token\"");
            assertThat(send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/status.json")))).startsWith("401 ");
            HttpResponse<String> login = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/status/login"))
                    .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString("token=" + ADMIN)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(login.statusCode()).isEqualTo(303);
            String cookie = login.headers().firstValue("set-cookie").orElseThrow().split(";", 2)[0];
            seen.append(login.headers().map()).append(login.body());
            String page = send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/status")).header("Cookie", cookie));
            assertThat(page).startsWith("200 ").contains("Crossgate status");
            String json = send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/status.json")).header("Authorization", "Bearer " + ADMIN));
            assertThat(json).startsWith("200 ").contains("admin.token", "auth.jwt.secret", "realtime.publish.token");
            seen.append(page).append(json);
            try (java.io.InputStream events = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/status/events"))
                    .header("Cookie", cookie).build(), HttpResponse.BodyHandlers.ofInputStream()).body()) {
                BufferedReader r = new BufferedReader(new InputStreamReader(events, StandardCharsets.UTF_8));
                String first = r.readLine();
                assertThat(first).startsWith("data: {");
                seen.append(first);
            }
            seen.append(send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/reload")).header("Authorization", "Bearer " + ADMIN)
                    .POST(HttpRequest.BodyPublishers.noBody())));
            String ready = send(http, HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/readyz")));
            assertThat(ready).contains("\"redis\":\"connected\""); // the password was taken: Redis answers only with it
            seen.append(ready);
            assertNoSecretIn("answers and /metrics", seen.toString());
            p.destroy(); // SIGTERM: drains and says so
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
            String stderr = Files.readString(dir.resolve("stderr.log"));
            String stdout = Files.readString(dir.resolve("stdout.log"));
            assertThat(stderr).contains("\"message\":\"stopped\"");
            assertThat(stdout).contains("\"path\":\"/api/hello\"", "\"path\":\"/socket.io/\""); // the admin listener keeps no access log
            assertNoSecretIn("serve's stderr", stderr);
            assertNoSecretIn("the access log", stdout);
        } finally {
            p.destroyForcibly();
        }
    }

    private static String send(HttpClient http, HttpRequest.Builder b) throws Exception {
        HttpResponse<String> r = http.send(b.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.headers().map() + " " + r.body() + "\n";
    }
}
