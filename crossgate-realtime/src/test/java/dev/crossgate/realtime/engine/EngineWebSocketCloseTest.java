package dev.crossgate.realtime.engine;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The closing handshake of an Engine.IO WebSocket, byte by byte: a client's Close is answered with a Close
 * (RFC 6455 §5.5.1) before the connection ends; a Close whose code may not be sent (§7.4.1, §7.4.2) or whose
 * reason is not UTF-8 (§8.1) is answered with 1002 or 1007 — never a silent drop of TCP. Each ends the session.
 */
@org.junit.jupiter.api.extension.ExtendWith(dev.crossgate.realtime.testing.LeakCheck.class)
class EngineWebSocketCloseTest {
    RealtimeHttpServer http;
    final BlockingQueue<String> sessionsClosed = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        EngineServer engine = new EngineServer(EngineOptions.defaults("/engine.io/").withPing(Duration.ofSeconds(5), Duration.ofSeconds(5)));
        engine.onConnection(s -> s.listener(new EngineSocket.Listener() {
            @Override
            public void onMessage(EngineSocket socket, EnginePacket m) {
                socket.send(m.text());
            }

            @Override
            public void onClose(EngineSocket socket, String reason) {
                sessionsClosed.add(reason);
            }
        }));
        http = RealtimeHttpServer.start("127.0.0.1", 0, List.of(engine));
    }

    @AfterEach
    void stop() {
        http.close();
    }

    /** A byte-level client: masked frames out, frames in (a server never masks). */
    static final class Raw implements AutoCloseable {
        final Socket socket;
        final DataInputStream in;
        final OutputStream out;

        Raw(int port) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(5_000);
            in = new DataInputStream(socket.getInputStream());
            out = socket.getOutputStream();
            byte[] key = new byte[16];
            ThreadLocalRandom.current().nextBytes(key);
            out.write(("GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: " + Base64.getEncoder().encodeToString(key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("closed before the 101: " + head);
                }
                head.append((char) b);
            }
            assertThat(head.toString()).startsWith("HTTP/1.1 101");
        }

        void send(int opcode, byte[] payload) throws IOException {
            ByteArrayOutputStream f = new ByteArrayOutputStream();
            f.write(0x80 | opcode);
            f.write(0x80 | payload.length); // control frames and the tests' messages are under 126 bytes
            byte[] mask = new byte[4];
            ThreadLocalRandom.current().nextBytes(mask);
            f.writeBytes(mask);
            for (int i = 0; i < payload.length; i++) {
                f.write(payload[i] ^ mask[i % 4]);
            }
            out.write(f.toByteArray());
            out.flush();
        }

        /** The next frame as {opcode, payload...}, or null at EOF. */
        byte[][] read() throws IOException {
            int b0 = in.read();
            if (b0 < 0) {
                return null;
            }
            int n = in.readUnsignedByte() & 0x7f;
            if (n == 126) {
                n = in.readUnsignedShort();
            } else if (n == 127) {
                n = (int) in.readLong();
            }
            byte[] payload = new byte[n];
            in.readFully(payload);
            return new byte[][] {{(byte) (b0 & 0x0f)}, payload};
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private Raw open() throws Exception {
        Raw ws = new Raw(http.port());
        assertThat(new String(ws.read()[1], StandardCharsets.UTF_8)).startsWith("0{\"sid\":");
        ws.send(1, "4hi".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(ws.read()[1], StandardCharsets.UTF_8)).isEqualTo("4hi");
        return ws;
    }

    private static byte[] closePayload(int code, byte[] reason) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(code >>> 8);
        b.write(code);
        b.writeBytes(reason);
        return b.toByteArray();
    }

    /** The next frame is a Close with {@code code} (-1: no body), then EOF; the session has ended. */
    private void assertClosedWith(Raw ws, int code) throws Exception {
        byte[][] f = ws.read();
        assertThat(f).as("a Close frame before the end of the connection").isNotNull();
        assertThat(f[0][0]).isEqualTo((byte) 8);
        int got = f[1].length >= 2 ? ((f[1][0] & 0xff) << 8) | (f[1][1] & 0xff) : -1;
        assertThat(got).isEqualTo(code);
        assertThat(ws.read()).as("EOF after the Close").isNull();
        assertThat(sessionsClosed.poll(5, TimeUnit.SECONDS)).isNotNull();
    }

    @ParameterizedTest(name = "close code {0}")
    @ValueSource(ints = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535})
    void aCloseCodeThatMayNotBeSentIsAnsweredWith1002ThenTheConnectionEnds(int code) throws Exception {
        try (Raw ws = open()) {
            ws.send(8, closePayload(code, "bye".getBytes(StandardCharsets.UTF_8)));
            assertClosedWith(ws, 1002);
        }
    }

    @Test
    void aCloseReasonThatIsNotUtf8IsAnsweredWith1007ThenTheConnectionEnds() throws Exception {
        try (Raw ws = open()) {
            ws.send(8, closePayload(1000, new byte[] {(byte) 0xce, (byte) 0xba, (byte) 0xed, (byte) 0xa0, (byte) 0x80}));
            assertClosedWith(ws, 1007);
        }
    }

    @ParameterizedTest(name = "close code {0}")
    @ValueSource(ints = {1000, 1001, 3000, 4999})
    void aValidCloseIsAnsweredWithTheSameCodeThenTheConnectionEnds(int code) throws Exception {
        try (Raw ws = open()) {
            ws.send(8, closePayload(code, "bye".getBytes(StandardCharsets.UTF_8)));
            assertClosedWith(ws, code);
        }
    }

    @Test
    void aCloseWithoutABodyIsAnsweredWithoutOne() throws Exception {
        try (Raw ws = open()) {
            ws.send(8, new byte[0]);
            assertClosedWith(ws, -1);
        }
    }
}
