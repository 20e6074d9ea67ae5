package dev.crossgate.realtime.socketio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A client that stops reading (WebSocket) or stops polling is cut off once maxBuffered bytes wait for it,
 * with the reason "transport error", instead of the server holding every broadcast for it.
 */
@ExtendWith(LeakCheck.class)
class SlowClientTest {
    static final long LIMIT = 256 * 1024;
    SocketIoServer io;
    RealtimeHttpServer http;
    final BlockingQueue<String> reasons = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        io = SocketIoServer.builder().maxPayload(100_000).maxBuffered(LIMIT).build();
        io.of("/").onConnection(s -> s.onDisconnect(reasons::add));
        http = io.listen("127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        if (http != null) {
            http.close();
        }
    }

    private static String readFrame(InputStream in) throws Exception {
        int b0 = in.read();
        int len = in.read() & 0x7f;
        if (len == 126) {
            len = (in.read() << 8) | in.read();
        }
        assertThat(b0 & 0x0f).isEqualTo(1);
        return new String(in.readNBytes(len), StandardCharsets.UTF_8);
    }

    private static void sendText(OutputStream out, String text) throws Exception {
        byte[] p = text.getBytes(StandardCharsets.UTF_8);
        out.write(new byte[] {(byte) 0x81, (byte) (0x80 | p.length), 0, 0, 0, 0}); // mask key 0: the payload as it is
        out.write(p);
        out.flush();
    }

    @Test
    void aWebSocketClientThatStopsReadingIsCutOff() throws Exception {
        try (Socket raw = new Socket("127.0.0.1", http.port())) {
            raw.setReceiveBufferSize(64 * 1024);
            OutputStream out = raw.getOutputStream();
            InputStream in = raw.getInputStream();
            out.write(("GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            StringBuilder head = new StringBuilder();
            while (!head.toString().endsWith("\r\n\r\n")) {
                head.append((char) in.read());
            }
            assertThat(head.toString()).startsWith("HTTP/1.1 101");
            assertThat(readFrame(in)).startsWith("0{\"sid\"");
            sendText(out, "40");
            assertThat(readFrame(in)).startsWith("40{\"sid\"");
            // From here on the client reads nothing. 40 MB of broadcasts, far beyond the limit and the kernel's buffers.
            String chunk = "x".repeat(10_000);
            for (int i = 0; i < 4000 && reasons.isEmpty(); i++) {
                io.of("/").emit("m", chunk);
                if (i % 100 == 0) {
                    Thread.sleep(5);
                }
            }
            assertThat(reasons.poll(10, TimeUnit.SECONDS)).isEqualTo("transport error");
            assertThat(io.of("/").fetchSockets()).isEmpty();
        }
    }

    @Test
    void aPollingClientThatStopsPollingIsCutOff() throws Exception {
        HttpClient c = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + http.port() + "/socket.io/?EIO=4&transport=polling";
        String open = c.send(HttpRequest.newBuilder(URI.create(base)).build(), HttpResponse.BodyHandlers.ofString()).body();
        String sid = open.substring(open.indexOf("\"sid\":\"") + 7, open.indexOf('"', open.indexOf("\"sid\":\"") + 7));
        String q = base + "&sid=" + sid;
        c.send(HttpRequest.newBuilder(URI.create(q)).POST(HttpRequest.BodyPublishers.ofString("40")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(c.send(HttpRequest.newBuilder(URI.create(q)).build(), HttpResponse.BodyHandlers.ofString()).body()).startsWith("40{");
        // No poll from now on: what is sent piles up until the limit.
        String chunk = "y".repeat(10_000);
        for (int i = 0; i < 40 && reasons.isEmpty(); i++) {
            io.of("/").emit("m", chunk);
        }
        assertThat(reasons.poll(5, TimeUnit.SECONDS)).isEqualTo("transport error");
        String after = c.send(HttpRequest.newBuilder(URI.create(q)).build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(after).contains("Session ID unknown");
    }
}
