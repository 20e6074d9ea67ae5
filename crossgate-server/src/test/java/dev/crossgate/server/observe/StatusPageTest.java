package dev.crossgate.server.observe;

import static dev.crossgate.server.testing.NodePeer.op;
import static dev.crossgate.server.testing.NodePeer.strings;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.testing.NodePeer;
import dev.crossgate.server.testing.RawHttp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, "Must show": the status page in real Chromium (Debian's, through playwright-core), loaded from the admin
 * listener while a load of allowed and refused requests and Socket.IO sessions (polling and WebSocket) runs: it updates
 * live from its event stream and shows the refusal codes, the origins and the transports the load produced. The
 * screenshot is written to target/status-page.png.
 */
@ExtendWith(LeakCheck.class)
class StatusPageTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** admin.token: the page is opened through its sign-in form, as an operator would. */
    private static final String TOKEN = "status-token-7Yq2Lm9Xw4Rt8Nb3Cd";

    @Test
    void theStatusPageShowsRefusalsOriginsAndTransportsWhileALoadRuns() throws Exception {
        assertThat(HARNESS.resolve("node_modules/playwright-core").toFile()).as("run scripts/install-browser-deps.sh").exists();
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", 0); NodePeer clients = NodePeer.clients("clients", Duration.ofSeconds(15))) {
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, """
                    profile: dev
                    listen: 127.0.0.1:0
                    upstream: http://127.0.0.1:%d
                    admin:
                      listen: 127.0.0.1:0
                      token: %s
                    cors:
                      allowedOrigins: ["https://app.example.com"]
                    realtime: {}
                    """.formatted(backend.port(), TOKEN));
            EdgeServer edge = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)),
                    dev.crossgate.server.observe.AccessLog.discarding()).start();
            AtomicBoolean stop = new AtomicBoolean();
            Thread load = new Thread(() -> {
                // Bounded: at most 2,000 requests or until the test ends.
                for (int i = 0; i < 2000 && !stop.get(); i++) {
                    String origin = i % 3 == 0 ? "https://evil.example" : "https://app.example.com";
                    try (RawHttp h = new RawHttp(edge.port())) {
                        h.send(RawHttp.get("/api/hello", "localhost", "Origin: " + origin)).read();
                        Thread.sleep(10); // the load's pace
                    } catch (Exception e) {
                        return;
                    }
                }
            }, "status-load");
            try {
                load.start();
                for (String[] c : List.of(new String[] {"p", "polling"}, new String[] {"w", "websocket"})) {
                    ObjectNode cmd = op("connect").put("client", c[0]).put("url", "http://127.0.0.1:" + edge.port()).put("name", c[0]);
                    cmd.set("rooms", strings());
                    cmd.set("transports", strings(c[1]));
                    clients.call(cmd, Duration.ofSeconds(15));
                }
                // The JSON behind the page, first: what the load produced is there.
                try (RawHttp admin = new RawHttp(edge.adminAddress().getPort())) {
                    JsonNode s = JSON.readTree(admin.send(RawHttp.get("/status.json", "localhost", "Authorization: Bearer " + TOKEN)).read().body());
                    assertThat(s.path("open").path("socketio").path("polling").asInt()).isEqualTo(1);
                    assertThat(s.path("open").path("socketio").path("websocket").asInt()).isEqualTo(1);
                    assertThat(s.path("config").path("settings").toString()).contains("cors.allowedOrigins");
                }
                Path shot = Path.of("target", "status-page.png").toAbsolutePath();
                Process p = new ProcessBuilder("node", "status-page.mjs", "http://127.0.0.1:" + edge.adminAddress().getPort() + "/status",
                        "[\"cors.origin_not_allowed\", \"https://evil.example\", \"https://app.example.com\", \"1 / 1\", \"in rotation\"]",
                        shot.toString(), TOKEN).directory(HARNESS.toFile()).redirectError(dir.resolve("chromium.err").toFile()).start();
                byte[] out = p.getInputStream().readAllBytes();
                assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
                JsonNode r = JSON.readTree(out);
                assertThat(r.path("ok").asBoolean()).as(r + Files.readString(dir.resolve("chromium.err"))).isTrue();
                assertThat(r.path("signedIn").asBoolean()).as("signed in through the form: an HttpOnly, SameSite=Strict cookie").isTrue();
                assertThat(r.path("refusals").asText()).contains("cors.origin_not_allowed");
                assertThat(r.path("origins").asText()).contains("https://evil.example", "https://app.example.com");
                assertThat(r.path("sio").asText()).isEqualTo("1 / 1");
                assertThat(Integer.parseInt(r.path("rps").asText())).as("requests per second shown").isPositive();
                assertThat(shot.toFile()).exists();
            } finally {
                stop.set(true);
                load.join(10_000);
                edge.close();
            }
        }
    }
}
