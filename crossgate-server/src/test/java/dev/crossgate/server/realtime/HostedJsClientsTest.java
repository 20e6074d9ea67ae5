package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: hosted mode ({@code crossgate serve} with {@code realtime:}) driven by the official JavaScript client,
 * in Node and in real Chromium (a page on another origin, so polling goes through the edge's CORS and the WebSocket
 * through its Origin check), over polling only, WebSocket only and the upgrade between them: connect, an emit with
 * an ack answered by the event hook, an event whose hook calls the publish API, that broadcast received, and the
 * disconnect the disconnect hook is told of. Scripts: {@code src/test/browser/hosted-clients.mjs} and
 * {@code hosted-session.mjs}; {@code scripts/install-browser-deps.sh} installs Chromium and the modules.
 */
@ExtendWith(LeakCheck.class)
class HostedJsClientsTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PUBLISH_TOKEN = "publish-0123456789abcdef-token";
    static final List<String> MODES = List.of("polling", "websocket", "upgrade");

    @TempDir
    Path dir;

    @Test
    void theOfficialJavaScriptClientInNodeAndInChromiumUsesHostedModeOverEveryTransport() throws Exception {
        assertThat(HARNESS.resolve("node_modules/socket.io-client").toFile()).as("run scripts/install-browser-deps.sh").exists();
        assertThat(Path.of("/usr/bin/chromium")).as("run scripts/install-browser-deps.sh").exists();
        BlockingQueue<JsonNode> disconnects = new LinkedBlockingQueue<>();
        int[] adminPort = {0};
        HttpClient http = HttpClient.newHttpClient();
        ExecutorService threads = Executors.newFixedThreadPool(8);
        HttpServer backend = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        backend.setExecutor(threads);
        backend.createContext("/hooks/connect", ex -> {
            JsonNode call = JSON.readTree(ex.getRequestBody().readAllBytes());
            answer(ex, "{\"user\":" + JSON.writeValueAsString(call.path("auth").path("name").asText()) + "}");
        });
        backend.createContext("/hooks/event", ex -> {
            JsonNode call = JSON.readTree(ex.getRequestBody().readAllBytes());
            String arg = JSON.writeValueAsString(call.path("args").path(0).asText());
            switch (call.path("event").asText()) {
                case "echo" -> answer(ex, "{\"ack\":" + JSON.writeValueAsString("echo " + call.path("args").path(0).asText()) + "}");
                case "publish-me" -> {
                    // As a backend would: the publish API on the admin listener, to this user.
                    String body = "{\"event\":\"news\",\"args\":[" + arg + "],\"users\":[" + JSON.writeValueAsString(call.path("user").asText()) + "]}";
                    try {
                        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort[0] + "/realtime/publish"))
                                .header("Authorization", "Bearer " + PUBLISH_TOKEN).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                                HttpResponse.BodyHandlers.ofString());
                        answer(ex, "{\"ack\":" + JSON.readTree(r.body()).path("sockets").asInt(-1) + "}");
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        answer(ex, "{\"ack\":-2}");
                    }
                }
                default -> answer(ex, "{}");
            }
        });
        backend.createContext("/hooks/disconnect", ex -> {
            disconnects.add(JSON.readTree(ex.getRequestBody().readAllBytes()));
            answer(ex, "{}");
        });
        backend.start();
        byte[] bundle = Files.readAllBytes(HARNESS.resolve("node_modules/socket.io-client/dist/socket.io.min.js"));
        HttpServer pages = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        pages.createContext("/socket.io.min.js", ex -> {
            ex.getResponseHeaders().add("Content-Type", "text/javascript");
            ex.sendResponseHeaders(200, bundle.length);
            ex.getResponseBody().write(bundle);
            ex.close();
        });
        pages.createContext("/", ex -> {
            byte[] html = "<!doctype html><title>hosted</title><script src=\"/socket.io.min.js\"></script>".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "text/html");
            ex.sendResponseHeaders(200, html.length);
            ex.getResponseBody().write(html);
            ex.close();
        });
        pages.start();
        String pageOrigin = "http://localhost:" + pages.getAddress().getPort();
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                admin:
                  listen: 127.0.0.1:0
                cors:
                  allowedOrigins: ["%s"]
                  allowCredentials: true
                websocket:
                  missingOrigin: allow
                realtime:
                  hooks:
                    connect: /hooks/connect
                    event: /hooks/event
                    disconnect: /hooks/disconnect
                  publish:
                    token: %s
                """.formatted(backend.getAddress().getPort(), pageOrigin, PUBLISH_TOKEN));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        EdgeServer edge = new EdgeServer(c, AccessLog.discarding()).start();
        try {
            adminPort[0] = edge.adminAddress().getPort();
            Path config = dir.resolve("clients.json");
            JSON.writeValue(config.toFile(), Map.of("server", "http://localhost:" + edge.port(), "page", pageOrigin + "/"));
            Process p = new ProcessBuilder("node", "hosted-clients.mjs", config.toString()).directory(HARNESS.toFile())
                    .redirectError(dir.resolve("err.txt").toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
            JsonNode r = JSON.readTree(out);
            assertThat(r.has("error")).as(r.path("error").asText() + Files.readString(dir.resolve("err.txt"))).isFalse();
            for (String client : List.of("node", "chromium")) {
                for (String mode : MODES) {
                    JsonNode s = r.path(client).path(mode);
                    String name = client + "-" + mode;
                    assertThat(s.path("error").isMissingNode()).as(name + ": " + s).isTrue();
                    assertThat(s.path("connected").asBoolean()).as(name).isTrue();
                    assertThat(s.path("firstTransport").asText()).as(name).isEqualTo(mode.equals("websocket") ? "websocket" : "polling");
                    assertThat(s.path("transport").asText()).as(name).isEqualTo(mode.equals("polling") ? "polling" : "websocket");
                    assertThat(s.path("ack").asText()).as(name).isEqualTo("echo hello " + name);
                    assertThat(s.path("reached").asInt()).as(name + ": sockets the publish API reached").isEqualTo(1);
                    assertThat(s.path("news").asText()).as(name).isEqualTo("news for " + name);
                }
            }
            // Every session's disconnect reached the disconnect hook, as a client disconnect.
            java.util.Set<String> users = new java.util.HashSet<>();
            for (int i = 0; i < 6; i++) {
                JsonNode d = disconnects.poll(10, TimeUnit.SECONDS);
                assertThat(d).as("disconnect hook call %d of 6", i + 1).isNotNull();
                assertThat(d.path("reason").asText()).isEqualTo("client namespace disconnect");
                users.add(d.path("user").asText());
            }
            assertThat(users).containsExactlyInAnyOrder("node-polling", "node-websocket", "node-upgrade",
                    "chromium-polling", "chromium-websocket", "chromium-upgrade");
        } finally {
            edge.close();
            backend.stop(0);
            pages.stop(0);
            threads.shutdownNow();
        }
    }

    private static void answer(HttpExchange ex, String body) throws java.io.IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(200, b.length);
        ex.getResponseBody().write(b);
        ex.close();
    }
}
