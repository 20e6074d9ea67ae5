package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hosted mode and native clients: the official Node socket.io-client sends no Origin header (as mobile apps and
 * Python's client do not); browsers always do (RFC 6455 section 4.1), so a missing Origin is no cross-site request
 * and the WebSocket transport is admitted by default. {@code websocket.missingOrigin: refuse} refuses it with a
 * 403 that names the setting.
 */
@ExtendWith(LeakCheck.class)
class NativeClientOriginTest {
    static final Path NODE_DIR = Path.of("src/test/node").toAbsolutePath();
    static final Path PEERS = Path.of("..", "test-peers", "node_modules").toAbsolutePath().normalize();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    EdgeServer edge;

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
    }

    private void start(String extra) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:9
                admin:
                  enabled: false
                %s
                realtime:
                  namespaces: ["/"]
                """.formatted(extra));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    /** Runs sio-native-client.js against the edge (a process this test starts and always ends) and returns its one JSON line. */
    private JsonNode nodeClient() throws Exception {
        assertThat(PEERS.resolve("socket.io-client").toFile()).as("socket.io-client in test-peers: run scripts/install-test-deps.sh").exists();
        ProcessBuilder pb = new ProcessBuilder(List.of("node", NODE_DIR.resolve("sio-native-client.js").toString(),
                "http://127.0.0.1:" + edge.port())).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("NODE_PATH", PEERS.toString());
        Process p = pb.start();
        try {
            assertThat(p.waitFor(30, TimeUnit.SECONDS)).as("the Node client ends by itself within its 15 s timeout").isTrue();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String line = out.lines().filter(l -> l.startsWith("{")).findFirst().orElseThrow(() -> new AssertionError("no JSON line: " + out));
            return JSON.readTree(line);
        } finally {
            p.destroyForcibly(); // the process this test started, by its handle
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** A WebSocket handshake without Origin, as a native client sends it; the whole answer (head and body). */
    private String handshakeWithoutOrigin() throws Exception {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", edge.port())) {
            s.setSoTimeout(5000);
            OutputStream o = s.getOutputStream();
            o.write(("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                    + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            o.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            int bodyLength = -1;
            int headEnd = -1;
            // Bounded: the head, then Content-Length bytes of body, at most 64 KB in all.
            while (all.size() < 65536 && (headEnd < 0 || all.size() < headEnd + bodyLength)) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                all.write(b);
                String text = all.toString(StandardCharsets.ISO_8859_1);
                if (headEnd < 0 && text.endsWith("\r\n\r\n")) {
                    headEnd = text.length();
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)").matcher(text);
                    bodyLength = m.find() ? Integer.parseInt(m.group(1)) : 0;
                }
            }
            return all.toString(StandardCharsets.UTF_8);
        }
    }

    @Test
    void theNodeClientWithoutOriginConnectsOverWebSocketOnTheDefaults() throws Exception {
        start("");
        JsonNode r = nodeClient();
        assertThat(r.path("ok").asBoolean()).as(r.toString()).isTrue();
        assertThat(r.path("transport").asText()).isEqualTo("websocket");
        assertThat(r.path("id").asText()).isNotBlank();
    }

    @Test
    void withMissingOriginRefuseTheNodeClientIsRefusedAndTheAnswerNamesTheSettingThatAdmitsIt() throws Exception {
        start("websocket:\n  missingOrigin: refuse");
        JsonNode r = nodeClient();
        assertThat(r.path("ok").asBoolean()).as(r.toString()).isFalse();
        assertThat(r.path("error").asText()).isEqualTo("websocket error");
        assertThat(r.path("description").asText()).contains("403");

        String answer = handshakeWithoutOrigin();
        assertThat(answer).startsWith("HTTP/1.1 403 ").containsIgnoringCase("x-crossgate-reason: ws.origin_missing");
        assertThat(answer).contains("\"error\":\"a WebSocket handshake without an Origin header (a native client) is refused here by"
                + " websocket.missingOrigin: refuse; to admit it, set websocket.missingOrigin: allow\"");
    }

    @Test
    void withMissingOriginAuthenticatedAndNoTokenRequiredTheRefusalSaysWhy() throws Exception {
        start("websocket:\n  missingOrigin: authenticated");
        String answer = handshakeWithoutOrigin();
        assertThat(answer).startsWith("HTTP/1.1 403 ").containsIgnoringCase("x-crossgate-reason: ws.origin_missing");
        assertThat(answer).contains("\"error\":\"a WebSocket handshake without an Origin header (a native client) is refused here by"
                + " websocket.missingOrigin: authenticated, and no token is required here; to admit it, set websocket.missingOrigin: allow\"");
    }
}
