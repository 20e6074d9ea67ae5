package dev.crossgate.server.ws;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.testing.RawWs;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** WebSocket tunnels through the edge to a real WebSocket server, with the JDK's client and a byte-level one. */
@ExtendWith(LeakCheck.class)
class WebSocketProxyTest {
    static final String SITE = "https://api.target.com";

    @TempDir
    Path dir;

    WsEchoUpstream upstream;
    EdgeServer edge;

    @BeforeEach
    void startUpstream() throws Exception {
        upstream = new WsEchoUpstream();
    }

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
        upstream.close();
    }

    /** {@code missingOrigin} null: the setting left out (its default). */
    private void start(String missingOrigin) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                hosts: [ws.example.net, 127.0.0.1]
                admin:
                  enabled: false
                websocket:
                  paths: [/ws, /refuse, /badaccept]
                  %s
                  pingInterval: 200ms
                  idleTimeout: 1s
                  maxFrameSize: 16KB
                  maxMessageSize: 64KB
                cors:
                  allowedOrigins: [%s]
                  allowCredentials: true
                """.formatted(upstream.port(), missingOrigin == null ? "" : "missingOrigin: " + missingOrigin, SITE));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    /** A JDK WebSocket client whose received messages and close land in queues. */
    static final class Client implements WebSocket.Listener {
        final BlockingQueue<String> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<String> closed = new CompletableFuture<>();
        final StringBuilder partial = new StringBuilder();
        volatile int pings;

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            partial.append(data);
            if (last) {
                messages.add(partial.toString());
                partial.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onPing(WebSocket ws, ByteBuffer message) {
            pings++;
            ws.request(1);
            return null; // the JDK answers with a Pong
        }

        @Override
        public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
            closed.complete(code + " " + reason);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            closed.complete("error " + error);
        }
    }

    private WebSocket connect(Client listener, String origin, String... protocols) throws Exception {
        WebSocket.Builder b = HttpClient.newHttpClient().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
        if (origin != null) {
            b.header("Origin", origin);
        }
        if (protocols.length > 0) {
            b.subprotocols(protocols[0], java.util.Arrays.copyOfRange(protocols, 1, protocols.length));
        }
        return b.buildAsync(URI.create("ws://127.0.0.1:" + edge.port() + "/ws/chat"), listener).get(10, TimeUnit.SECONDS);
    }

    @Test
    void anAllowedOriginGets101AndAnEchoThroughTheUpstreamWithTheSubprotocolNegotiatedEndToEnd() throws Exception {
        start("refuse");
        Client c = new Client();
        WebSocket ws = connect(c, SITE, "chat");
        assertThat(ws.getSubprotocol()).isEqualTo("chat");
        ws.sendText("hello through the edge", true).get(5, TimeUnit.SECONDS);
        assertThat(c.messages.poll(5, TimeUnit.SECONDS)).isEqualTo("hello through the edge");
        ws.sendText("headers", true).get(5, TimeUnit.SECONDS);
        String seen = c.messages.poll(5, TimeUnit.SECONDS);
        assertThat(seen).contains("origin: " + SITE).contains("sec-websocket-protocol: chat").contains("x-forwarded-for: 127.0.0.1")
                .contains("x-forwarded-proto: http").contains("x-request-id: ");
        ws.sendClose(WebSocket.NORMAL_CLOSURE, "done").get(5, TimeUnit.SECONDS);
        assertThat(c.closed.get(5, TimeUnit.SECONDS)).isEqualTo("1000 done");
    }

    @Test
    void theOriginWithItsDefaultPortWrittenOutIsTheSameOrigin() throws Exception {
        start("refuse");
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/ws", "ws.example.net", "Origin: https://api.target.com:443"));
            assertThat(r[0]).isEqualTo("101");
            ws.sendText("ok?");
            assertThat(ws.read(5000).text()).isEqualTo("ok?");
        }
    }

    static Stream<String> hostileOrigins() {
        return Stream.of("https://evil.com", "https://api.target.com.evil.com", "https://eviltarget.com", "null", "https://arget.com",
                "https://api.targetacom", "https://evil.api.target.com", "http://api.target.com", "https://api.target.com_.evil.com",
                "https://api.target.com%60.evil.com", "https://api.target.com:444", "file://");
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("hostileOrigins")
    void aHostileOriginGets403AndNeverA101(String origin) throws Exception {
        start("allow");
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/ws", "ws.example.net", "Origin: " + origin));
            assertThat(r[0]).isEqualTo("403");
            assertThat(r[1]).containsIgnoringCase("x-crossgate-reason: ws.origin_rejected");
        }
        assertThat(upstream.sockets).isEmpty();
    }

    @Test
    void aHandshakeWithoutOriginPassesByDefaultAndIsRefusedOnlyByTheOptionWithAMessageNamingIt() throws Exception {
        // Browsers always send Origin on a WebSocket handshake (RFC 6455 section 4.1), so none is a native client.
        start(null);
        Client c = new Client();
        WebSocket ws = connect(c, null);
        ws.sendText("native app", true).get(5, TimeUnit.SECONDS);
        assertThat(c.messages.poll(5, TimeUnit.SECONDS)).isEqualTo("native app");
        ws.sendText("headers", true).get(5, TimeUnit.SECONDS);
        assertThat(c.messages.poll(5, TimeUnit.SECONDS)).doesNotContain("origin:"); // none is made up on the way
        ws.abort();
        edge.close();

        start("allow");
        try (RawWs raw = new RawWs(edge.port())) {
            assertThat(raw.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
        }
        edge.close();

        start("refuse");
        assertThat(refusalWithoutOrigin()).contains("\"error\":\"a WebSocket handshake without an Origin header (a native client) is refused"
                + " here by websocket.missingOrigin: refuse; to admit it, set websocket.missingOrigin: allow\"");
        edge.close();

        start("authenticated"); // no route requires authentication here, so refused
        assertThat(refusalWithoutOrigin()).contains("\"error\":\"a WebSocket handshake without an Origin header (a native client) is refused"
                + " here by websocket.missingOrigin: authenticated, and no token is required here; to admit it, set websocket.missingOrigin: allow\"");
        assertThat(upstream.sockets).hasSize(2); // the two admitted above, and no refused one
    }

    /** A handshake without Origin that must be refused: its 403 head and JSON body. */
    private String refusalWithoutOrigin() throws Exception {
        try (java.net.Socket s = new java.net.Socket("127.0.0.1", edge.port())) {
            s.setSoTimeout(5000);
            s.getOutputStream().write(RawWs.handshake("/ws", "ws.example.net").getBytes(StandardCharsets.ISO_8859_1));
            s.getOutputStream().flush();
            java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
            java.io.InputStream in = s.getInputStream();
            int need = -1;
            // Bounded: the head, then its Content-Length of body, 64 KB at most.
            while (all.size() < 65536 && (need < 0 || all.size() < need)) {
                int b = in.read();
                if (b < 0) {
                    break;
                }
                all.write(b);
                String text = all.toString(StandardCharsets.ISO_8859_1);
                if (need < 0 && text.endsWith("\r\n\r\n")) {
                    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)").matcher(text);
                    need = text.length() + (m.find() ? Integer.parseInt(m.group(1)) : 0);
                }
            }
            String answer = all.toString(StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 403 ").containsIgnoringCase("x-crossgate-reason: ws.origin_missing");
            return answer;
        }
    }

    @Test
    void closesAreRelayedWithTheirCodesAndReasonsBothWays() throws Exception {
        start("refuse");
        Client c = new Client();
        WebSocket ws = connect(c, SITE);
        ws.sendClose(4001, "client says bye").get(5, TimeUnit.SECONDS);
        assertThat(c.closed.get(5, TimeUnit.SECONDS)).isEqualTo("4001 client says bye");
        assertThat(upstream.closesReceived).containsExactly("4001 client says bye");

        Client c2 = new Client();
        WebSocket ws2 = connect(c2, SITE);
        ws2.sendText("close:4002:server says bye", true).get(5, TimeUnit.SECONDS);
        assertThat(c2.closed.get(5, TimeUnit.SECONDS)).isEqualTo("4002 server says bye");
    }

    @Test
    void anUpstreamAnswerOtherThan101IsRelayedWithTheEdgesCorsHeaders() throws Exception {
        start("refuse");
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/refuse", "ws.example.net", "Origin: " + SITE));
            assertThat(r[0]).isEqualTo("403");
            assertThat(r[1]).containsIgnoringCase("access-control-allow-origin: " + SITE).doesNotContain("allow-origin: *");
        }
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/badaccept", "ws.example.net", "Origin: " + SITE));
            assertThat(r[0]).isEqualTo("502");
            assertThat(r[1]).containsIgnoringCase("x-crossgate-reason: upstream.ws_handshake_invalid");
        }
    }

    @Test
    void invalidHandshakesAreRefusedWithTheirReasons() throws Exception {
        start("allow");
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/ws", "ws.example.net", "Content-Length: 5").replace("\r\n\r\n", "\r\n\r\nhello"));
            assertThat(r[0]).isEqualTo("400");
            assertThat(r[1]).containsIgnoringCase("x-crossgate-reason: ws.body_not_allowed");
        }
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/ws", "ws.example.net").replace("Version: 13", "Version: 8"));
            assertThat(r[0]).isEqualTo("426");
            assertThat(r[1]).containsIgnoringCase("sec-websocket-version: 13").containsIgnoringCase("ws.version_unsupported");
        }
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/ws", "ws.example.net").replaceAll("Sec-WebSocket-Key: [^\r]+", "Sec-WebSocket-Key: short"));
            assertThat(r[0]).isEqualTo("400");
            assertThat(r[1]).containsIgnoringCase("x-crossgate-reason: ws.handshake_invalid");
        }
        assertThat(upstream.sockets).isEmpty();
    }

    @Test
    void aSilentClientIsPingedThenClosedAtTheIdleTimeoutWhileAnAnsweringClientStays() throws Exception {
        start("allow");
        Client answering = new Client();
        WebSocket ws = connect(answering, SITE);
        try (RawWs silent = new RawWs(edge.port())) {
            assertThat(silent.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
            RawWs.Frame f = silent.read(3000);
            assertThat(f.opcode()).isEqualTo(9); // the edge's Ping
            while (f != null && f.opcode() == 9) {
                f = silent.read(3000);
            }
            assertThat(f).isNotNull();
            assertThat(f.closeCode()).isEqualTo(1001);
            assertThat(f.closeReason()).isEqualTo("ws.idle_timeout");
            assertThat(silent.closedByServer(7000)).isTrue();
        }
        assertThat(upstream.closesReceived).contains("1001 ws.idle_timeout");
        Thread.sleep(300);
        ws.sendText("still here", true).get(5, TimeUnit.SECONDS);
        assertThat(answering.messages.poll(5, TimeUnit.SECONDS)).isEqualTo("still here");
        assertThat(answering.pings).isGreaterThan(2);
        assertThat(answering.closed).isNotDone();
    }

    @Test
    void aFrameOrAMessageOverTheLimitClosesWith1009() throws Exception {
        start("allow");
        try (RawWs ws = new RawWs(edge.port())) {
            assertThat(ws.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
            ws.send(2, new byte[20 * 1024], true);
            RawWs.Frame f = ws.read(5000);
            assertThat(f.closeCode()).isEqualTo(1009);
        }
        try (RawWs ws = new RawWs(edge.port())) {
            assertThat(ws.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
            ws.send(2, new byte[15 * 1024], false);
            for (int i = 0; i < 4; i++) {
                ws.send(0, new byte[15 * 1024], i == 3);
            }
            RawWs.Frame f = ws.read(5000);
            while (f.opcode() != 8) {
                f = ws.read(5000); // the upstream echoes the fragments that were within the limit
            }
            assertThat(f.closeCode()).isEqualTo(1009);
            assertThat(f.closeReason()).isEqualTo("ws.message_too_large");
        }
        Thread.sleep(200);
        assertThat(upstream.closesReceived).contains("1001 ws.message_too_large");
    }

    @Test
    void aClientThatDoesNotReadStopsTheEdgeReadingTheUpstreamAndLosesNothing() throws Exception {
        start("allow");
        try (RawWs ws = new RawWs(edge.port())) {
            assertThat(ws.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
            int messages = 8000; // 64 MB of 8 KiB messages
            ws.sendText("flood:" + messages);
            for (int i = 0; i < 8; i++) {
                Thread.sleep(250);
                ws.send(9, new byte[] {1}, true); // not idle (idleTimeout 1s), and not reading
            }
            // Without backpressure the edge would have taken all of it; with it, the upstream could send at
            // most what the socket buffers on the way hold (a few MB), and the rest waits there.
            assertThat(upstream.floodLeft.get()).isGreaterThan(messages / 2);
            long received = 0;
            int frames = 0;
            while (frames < messages) {
                RawWs.Frame f = ws.read(10_000);
                assertThat(f).as("frame %d of %d (%d bytes so far)", frames, messages, received).isNotNull();
                assertThat(f.opcode()).as("frame %d: close %d %s", frames, f.closeCode(), f.closeReason()).isNotEqualTo(8);
                if (f.opcode() == 9) {
                    ws.send(10, f.payload(), true); // answer the edge's keep-alive
                    continue;
                }
                if (f.opcode() == 10) {
                    continue; // the upstream's answers to this client's pings
                }
                received += f.payload().length;
                frames++;
            }
            assertThat(received).isEqualTo(messages * 8L * 1024);
            assertThat(upstream.floodLeft.get()).isZero();
        }
    }

    @Test
    void frameTextSurvivesTheTunnelByteForByte() throws Exception {
        start("allow");
        Client c = new Client();
        WebSocket ws = connect(c, null);
        String unicode = "héllo 👋 мир " + "x".repeat(5000);
        ws.sendText(unicode.substring(0, 6), false).get(5, TimeUnit.SECONDS);
        ws.sendText(unicode.substring(6), true).get(5, TimeUnit.SECONDS);
        assertThat(c.messages.poll(5, TimeUnit.SECONDS)).isEqualTo(unicode);
        assertThat(unicode.getBytes(StandardCharsets.UTF_8).length).isLessThan(64 * 1024);
        ws.abort();
    }

    @Test
    void drainingClosesOpenWebSocketsWith1001BothWays() throws Exception {
        start("allow");
        Client c = new Client();
        WebSocket ws = connect(c, SITE);
        ws.sendText("before the drain", true).get(5, TimeUnit.SECONDS);
        assertThat(c.messages.poll(5, TimeUnit.SECONDS)).isEqualTo("before the drain");
        CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> edge.drain(Duration.ofSeconds(5)));
        assertThat(c.closed.get(5, TimeUnit.SECONDS)).isEqualTo("1001 server.draining");
        drained.get(10, TimeUnit.SECONDS); // the JDK client answered the Close itself, as browsers do
        assertThat(upstream.closesReceived).contains("1001 server.draining");
        edge = null;
    }

    @Test
    void permessageDeflateIsNegotiatedEndToEndAndCompressedFramesPassThrough() throws Exception {
        start("allow");
        try (RawWs ws = new RawWs(edge.port())) {
            String[] r = ws.request(RawWs.handshake("/ws", "ws.example.net", "Sec-WebSocket-Extensions: permessage-deflate"));
            assertThat(r[0]).isEqualTo("101");
            assertThat(r[1]).containsIgnoringCase("sec-websocket-extensions: permessage-deflate");
            String text = "compressible ".repeat(200);
            ws.send(1, deflate(text.getBytes(StandardCharsets.UTF_8)), true, 4);
            RawWs.Frame echo = ws.read(5000);
            assertThat(echo.rsv()).isEqualTo(4); // the upstream compressed its answer; the edge passed RSV1 on
            assertThat(echo.payload().length).isLessThan(text.length() / 4);
            assertThat(new String(inflate(echo.payload()), StandardCharsets.UTF_8)).isEqualTo(text);
        }
        try (RawWs ws = new RawWs(edge.port())) {
            // Without the extension negotiated, RSV1 is a protocol error the edge answers itself.
            assertThat(ws.request(RawWs.handshake("/ws", "ws.example.net"))[0]).isEqualTo("101");
            ws.send(1, deflate("x".getBytes(StandardCharsets.UTF_8)), true, 4);
            assertThat(ws.read(5000).closeCode()).isEqualTo(1002);
        }
    }

    /** RFC 7692: raw DEFLATE, sync-flushed, without the final 00 00 ff ff. */
    private static byte[] deflate(byte[] in) {
        java.util.zip.Deflater d = new java.util.zip.Deflater(java.util.zip.Deflater.DEFAULT_COMPRESSION, true);
        d.setInput(in);
        byte[] buf = new byte[in.length + 64];
        int n = d.deflate(buf, 0, buf.length, java.util.zip.Deflater.SYNC_FLUSH);
        d.end();
        return java.util.Arrays.copyOf(buf, n - 4);
    }

    private static byte[] inflate(byte[] in) throws Exception {
        java.util.zip.Inflater i = new java.util.zip.Inflater(true);
        byte[] withTail = java.util.Arrays.copyOf(in, in.length + 4);
        withTail[in.length + 2] = (byte) 0xff;
        withTail[in.length + 3] = (byte) 0xff;
        i.setInput(withTail);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (!i.needsInput()) {
            int n = i.inflate(buf);
            if (n == 0 && i.needsInput()) {
                break;
            }
            out.write(buf, 0, n);
        }
        i.end();
        return out.toByteArray();
    }
}
