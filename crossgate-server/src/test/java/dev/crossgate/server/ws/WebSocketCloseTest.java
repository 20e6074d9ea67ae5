package dev.crossgate.server.ws;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawWs;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Close frames a client may not send (RFC 6455 §7.4.1, §7.4.2; the IANA registry; Autobahn cases 7.7 and 7.9) or
 * whose reason is not UTF-8 (§5.5.1, §8.1) are answered with a Close of their own — 1002 or 1007 — before the
 * connection ends, never by dropping TCP; valid codes still reach the upstream.
 */
@ExtendWith(LeakCheck.class)
class WebSocketCloseTest {
    @TempDir
    Path dir;

    WsEchoUpstream upstream;
    EdgeServer edge;

    @BeforeEach
    void start() throws Exception {
        upstream = new WsEchoUpstream();
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                hosts: [ws.example.net]
                admin:
                  enabled: false
                websocket:
                  paths: [/ws]
                  missingOrigin: allow
                cors:
                  allowedOrigins: [https://api.target.com]
                """.formatted(upstream.port()));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
        upstream.close();
    }

    private RawWs open() throws Exception {
        RawWs ws = new RawWs(edge.port());
        assertThat(ws.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
        ws.sendText("up?");
        assertThat(ws.read(5000).text()).isEqualTo("up?"); // the tunnel is established end to end
        return ws;
    }

    private static byte[] closePayload(int code, byte[] reason) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(code >>> 8);
        b.write(code);
        b.writeBytes(reason);
        return b.toByteArray();
    }

    /** The next frame is a Close with {@code code}, and the edge then closes the connection (EOF). */
    private static void assertClosedWith(RawWs ws, int code) throws Exception {
        RawWs.Frame f = ws.read(5000);
        assertThat(f).as("a Close frame before the end of the connection").isNotNull();
        assertThat(f.opcode()).isEqualTo(8);
        assertThat(f.closeCode()).isEqualTo(code);
        assertThat(ws.read(5000)).as("EOF after the Close").isNull();
    }

    /** Retries {@code check} until it passes or {@code deadline} is over (Awaitility; then its last failure is thrown). */
    private static void eventually(Duration deadline, Runnable check) {
        org.awaitility.Awaitility.await().atMost(deadline).pollInterval(Duration.ofMillis(20)).untilAsserted(check::run);
    }

    @ParameterizedTest(name = "close code {0}")
    @ValueSource(ints = {0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535})
    void aCloseCodeThatMayNotBeSentIsAnsweredWith1002ThenTheConnectionEnds(int code) throws Exception {
        try (RawWs ws = open()) {
            ws.send(8, closePayload(code, "bye".getBytes(StandardCharsets.UTF_8)), true);
            assertClosedWith(ws, 1002);
        }
        // The upstream is told the client went away, not handed a code that may not be on the wire.
        eventually(Duration.ofSeconds(5), () -> assertThat(upstream.closesReceived).containsExactly("1001 ws.protocol_error"));
    }

    @Test
    void aCloseWithAOneBytePayloadIsAnsweredWith1002() throws Exception {
        try (RawWs ws = open()) {
            ws.send(8, new byte[] {3}, true); // §5.5.1: a body, if any, starts with a two-byte code
            assertClosedWith(ws, 1002);
        }
    }

    @Test
    void aCloseReasonThatIsNotUtf8IsAnsweredWith1007ThenTheConnectionEnds() throws Exception {
        try (RawWs ws = open()) {
            // 0xCE 0xBA is "κ"; 0xED 0xA0 0x80 is an encoded surrogate and 0xF8 never starts a UTF-8 sequence.
            ws.send(8, closePayload(1000, new byte[] {(byte) 0xce, (byte) 0xba, (byte) 0xed, (byte) 0xa0, (byte) 0x80, (byte) 0xf8}), true);
            assertClosedWith(ws, 1007);
        }
        eventually(Duration.ofSeconds(5), () -> assertThat(upstream.closesReceived).containsExactly("1001 ws.protocol_error"));
    }

    @ParameterizedTest(name = "close code {0}")
    @ValueSource(ints = {1000, 1001, 1003, 1007, 1011, 1012, 1014, 3000, 3999, 4000, 4999})
    void aValidCloseIsRelayedToTheUpstreamAndItsAnswerToTheClient(int code) throws Exception {
        try (RawWs ws = open()) {
            ws.send(8, closePayload(code, "bye κ".getBytes(StandardCharsets.UTF_8)), true);
            RawWs.Frame f = ws.read(5000);
            assertThat(f.opcode()).isEqualTo(8);
            assertThat(f.closeCode()).isEqualTo(code); // the upstream's echo of the client's Close
            assertThat(f.closeReason()).isEqualTo("bye κ");
            assertThat(ws.read(5000)).isNull();
        }
        assertThat(upstream.closesReceived).containsExactly(code + " bye κ");
    }

    @Test
    void aCloseWithoutABodyIsRelayed() throws Exception {
        try (RawWs ws = open()) {
            ws.send(8, new byte[0], true);
            RawWs.Frame f = ws.read(5000);
            assertThat(f.opcode()).isEqualTo(8);
            assertThat(ws.read(5000)).isNull();
        }
        // Netty reports a Close without a body as code -1.
        assertThat(upstream.closesReceived).hasSize(1);
    }
}
