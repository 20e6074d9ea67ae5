package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawWs;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Live reload of a {@code crossgate serve} process: SIGHUP and {@code crossgate reload} (POST /reload on the admin
 * listener) swap in a new configuration for the next request, keep open WebSockets and in-flight uploads, refuse an
 * invalid file with every problem, name the settings that need a restart, and never stop the process.
 */
class ReloadProcessTest {
    private static final String A = "https://a.example.com";
    private static final String B = "https://b.example.com";

    @TempDir
    Path dir;

    private DemoBackend backend;
    private WsEchoUpstream wsUpstream;
    private Process serve;
    private final List<String> log = new CopyOnWriteArrayList<>();
    /** serve's stderr as written: JSON lines. */
    private final List<String> raw = new CopyOnWriteArrayList<>();
    private int port;
    private int adminPort;
    private Path file;

    @BeforeEach
    void start() throws Exception {
        backend = DemoBackend.start("127.0.0.1", 0);
        wsUpstream = new WsEchoUpstream();
        file = dir.resolve("crossgate.yaml");
        Files.writeString(file, config(List.of(A), "127.0.0.1:0"));
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.crossgate.server.cli.Main", "serve", "--config", file.toString());
        serve = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve("stdout.log").toFile()).start();
        BufferedReader err = new BufferedReader(new InputStreamReader(serve.getErrorStream(), StandardCharsets.UTF_8));
        Thread reader = new Thread(() -> {
            try {
                for (String line; (line = err.readLine()) != null; ) {
                    raw.add(line);
                    log.add(dev.crossgate.server.testing.LogLines.message(line)); // JSON lines: their messages
                }
            } catch (java.io.IOException e) {
                // the process ended
            }
        }, "serve-stderr");
        reader.setDaemon(true);
        reader.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> log.stream().anyMatch(l -> l.contains("listening on")) || !serve.isAlive());
        String line = log.stream().filter(l -> l.contains("listening on")).findFirst().orElseThrow(() -> new AssertionError(String.join("\n", log)));
        Matcher m = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+).*admin on http://127\\.0\\.0\\.1:(\\d+)").matcher(line);
        assertThat(m.find()).as(line).isTrue();
        port = Integer.parseInt(m.group(1));
        adminPort = Integer.parseInt(m.group(2));
    }

    @AfterEach
    void stop() throws Exception {
        if (serve != null) {
            serve.destroy(); // SIGTERM to the process this test started
            if (!serve.waitFor(20, TimeUnit.SECONDS)) {
                serve.destroyForcibly();
            }
        }
        if (wsUpstream != null) {
            wsUpstream.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private String config(List<String> origins, String listen) {
        return """
                profile: prod
                hosts: [api.example.com]
                listen: %s
                admin:
                  listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                routes:
                  - path: /ws
                    upstreams: [http://127.0.0.1:%d]
                websocket:
                  paths: [/ws]
                cors:
                  allowedMethods: [GET, POST, PUT]
                  allowedOrigins: [%s]
                """.formatted(listen, backend.port(), wsUpstream.port(), String.join(", ", origins));
    }

    private RawHttp.Response preflight(String origin) throws Exception {
        try (RawHttp c = new RawHttp(port)) {
            return c.send("OPTIONS /api/echo HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " + origin
                    + "\r\nAccess-Control-Request-Method: PUT\r\nConnection: close\r\n\r\n").read();
        }
    }

    private void hup() throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", String.valueOf(serve.pid())).start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    private long count(String fragment) {
        return log.stream().filter(l -> l.contains(fragment)).count();
    }

    private RawHttp.Response postReload() throws Exception {
        try (RawHttp c = new RawHttp(adminPort)) {
            return c.send("POST /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").read();
        }
    }

    private String metrics() throws Exception {
        try (RawHttp c = new RawHttp(adminPort)) {
            return c.send(RawHttp.get("/metrics", "127.0.0.1")).read().body();
        }
    }

    @Test
    void originsAddedBySighupAnswerTheNextPreflightWithoutDroppingAnOpenWebSocketOrAnInFlightUpload() throws Exception {
        assertThat(preflight(B).status()).isEqualTo(403);
        assertThat(preflight(B).header("access-control-allow-origin")).isNull();
        try (RawWs ws = new RawWs(port); RawHttp upload = new RawHttp(port)) {
            assertThat(ws.request(RawWs.handshake("/ws", "api.example.com", "Origin: " + A))[0]).isEqualTo("101");
            ws.sendText("before");
            assertThat(ws.read(5000).text()).isEqualTo("before");
            // An upload under way: its head and half its body sent before the reload, the rest after.
            int size = 256 * 1024;
            upload.send("POST /api/upload HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " + A + "\r\nContent-Type: application/octet-stream\r\nContent-Length: "
                    + size + "\r\n\r\n");
            upload.send(new byte[size / 2]);

            Files.writeString(file, config(List.of(A, B), "127.0.0.1:0"));
            hup();
            await().atMost(Duration.ofSeconds(20)).until(() -> count("configuration reloaded from " + file) == 1);
            assertThat(log).contains("configuration reloaded from " + file + " (changed live: cors)");

            RawHttp.Response p = preflight(B);
            assertThat(p.status()).isEqualTo(204);
            assertThat(p.header("access-control-allow-origin")).isEqualTo(B);

            upload.send(new byte[size - size / 2]);
            RawHttp.Response u = upload.read();
            assertThat(u.status()).isEqualTo(200);
            assertThat(u.body()).contains("\"bytes\":" + size);
            assertThat(u.header("access-control-allow-origin")).isEqualTo(A);

            ws.sendText("after");
            assertThat(ws.read(5000).text()).isEqualTo("after");
        }
        assertThat(serve.isAlive()).isTrue();
        assertThat(metrics()).contains("crossgate_config_reloads_total{result=\"ok\"} 1.0");
    }

    @Test
    void killHupNeverStopsTheProcessEvenWithAnUnchangedOrBrokenFile() throws Exception {
        for (int i = 1; i <= 3; i++) {
            hup();
            int n = i;
            await().atMost(Duration.ofSeconds(20)).until(() -> count("configuration reloaded") == n);
        }
        Files.writeString(file, "profile: prod\ncors: [not, a, map\n");
        hup();
        await().atMost(Duration.ofSeconds(20)).until(() -> count("reload refused") == 1);
        assertThat(serve.isAlive()).isTrue();
        assertThat(serve.waitFor(500, TimeUnit.MILLISECONDS)).isFalse(); // still running after the last signal was handled
        assertThat(preflight(A).status()).isEqualTo(204);
    }

    @Test
    void anInvalidFileIsRefusedWithEveryProblemAndChangesNothing() throws Exception {
        Files.writeString(file, config(List.of(A, B), "127.0.0.1:0"));
        assertThat(postReload().status()).isEqualTo(200);
        // Two errors: a wildcard with credentials, and a max age that is not a duration.
        Files.writeString(file, config(List.of("\"*\"", B), "127.0.0.1:0") + "  allowCredentials: true\n  maxAge: soon\n");
        RawHttp.Response r = postReload();
        assertThat(r.status()).isEqualTo(422);
        JsonNode answer = new ObjectMapper().readTree(r.body());
        assertThat(answer.get("result").asText()).isEqualTo("invalid");
        List<String> paths = answer.get("problems").findValues("path").stream().map(JsonNode::asText).toList();
        assertThat(paths).contains("cors.allowedOrigins[0]", "cors.maxAge");
        assertThat(answer.get("problems").get(0).get("where").asText()).startsWith(file + ":");
        // Each problem is one line in the log, then the refusal.
        await().atMost(Duration.ofSeconds(10)).until(() -> count("reload refused") == 1);
        assertThat(log).anyMatch(l -> l.startsWith("error: cors.allowedOrigins[0] (" + file + ":") && l.contains("; fix: "));
        assertThat(log).anyMatch(l -> l.startsWith("error: cors.maxAge (" + file + ":"));
        // The process log is JSON lines with levels (Logback, issue 13 Build 4): the problems and the refusal at ERROR, the
        // start and the reload at INFO; nothing else on stderr (no stack trace, no plain-text line).
        assertThat(raw).allSatisfy(l -> {
            JsonNode n = new ObjectMapper().readTree(l);
            assertThat(n.get("time").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z");
            assertThat(n.get("level").asText()).isIn("INFO", "WARN", "ERROR");
            assertThat(n.get("logger").asText()).startsWith("crossgate.");
            assertThat(n.get("message").asText()).isNotBlank().doesNotContain("\n");
        });
        assertThat(raw).anyMatch(l -> l.contains("\"level\":\"ERROR\",\"logger\":\"crossgate.reload\",\"message\":\"error: cors.maxAge"));
        assertThat(raw).anyMatch(l -> l.contains("\"level\":\"ERROR\",\"logger\":\"crossgate.reload\",\"message\":\"reload refused"));
        assertThat(raw).anyMatch(l -> l.contains("\"level\":\"INFO\",\"logger\":\"crossgate.serve\",\"message\":\"profile prod, listening on"));
        // Nothing changed: B (from the last valid reload) still passes, and the wildcard did not take effect.
        assertThat(preflight(B).header("access-control-allow-origin")).isEqualTo(B);
        assertThat(preflight("https://c.example.com").status()).isEqualTo(403);
        // The access log (stdout) has the same shape: time, level, logger, then the exchange's fields.
        await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(dir.resolve("stdout.log")).contains("\"method\":\"OPTIONS\""));
        for (String l : Files.readAllLines(dir.resolve("stdout.log"))) {
            JsonNode n = new ObjectMapper().readTree(l);
            assertThat(java.util.stream.StreamSupport.stream(((Iterable<String>) n::fieldNames).spliterator(), false).limit(4))
                    .containsExactly("time", "level", "logger", "requestId");
            assertThat(n.get("logger").asText()).isEqualTo("crossgate.access");
        }
        String m = metrics();
        assertThat(m).contains("crossgate_config_reloads_total{result=\"ok\"} 1.0").contains("crossgate_config_reloads_total{result=\"invalid\"} 1.0");

        // crossgate reload prints the same problems and exits 1.
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new String[] {"reload", "--admin", "127.0.0.1:" + adminPort}, new PrintWriter(out), new PrintWriter(err),
                new Main.Context(java.util.Map.of(), dir));
        assertThat(status).as(err.toString()).isEqualTo(1);
        assertThat(err.toString()).contains("error: cors.allowedOrigins[0] (" + file + ":", "error: cors.maxAge (" + file + ":",
                "crossgate: reload refused: " + file + " is invalid; the running configuration is unchanged");
    }

    @Test
    void theReloadAnswerNamesTheSettingsThatNeedARestartAndKeepsThem() throws Exception {
        Files.writeString(file, config(List.of(A, B), "127.0.0.1:1"));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new String[] {"reload", "--admin", "127.0.0.1:" + adminPort}, new PrintWriter(out), new PrintWriter(err),
                new Main.Context(java.util.Map.of(), dir));
        assertThat(status).as(err.toString()).isZero();
        assertThat(out.toString()).contains("crossgate: configuration reloaded from " + file)
                .contains("crossgate: restart to apply: listen (the old values stay until then)");
        await().atMost(Duration.ofSeconds(10)).until(() -> count("restart to apply: listen") == 1);
        // The listener stayed where it was; the origins changed.
        assertThat(preflight(B).header("access-control-allow-origin")).isEqualTo(B);

        RawHttp.Response r = postReload();
        JsonNode answer = new ObjectMapper().readTree(r.body());
        assertThat(answer.get("result").asText()).isEqualTo("ok");
        assertThat(answer.get("restartToApply").toString()).isEqualTo("[\"listen\"]");
    }
}
