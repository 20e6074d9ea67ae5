package dev.crossgate.realtime.socketio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.conformance.ConformanceApp;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The Socket.IO v5 protocol, case by case as the specification and its test suite state it, against the
 * conformance application ({@code crossgate conformance}), with the JDK's WebSocket and HTTP clients.
 */
@ExtendWith(LeakCheck.class)
class SocketIoProtocolTest {
    static RealtimeHttpServer app;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @BeforeAll
    static void start() throws Exception {
        app = ConformanceApp.start("127.0.0.1", 0);
    }

    @AfterAll
    static void stop() {
        app.close();
    }

    /** A raw Engine.IO WebSocket: text messages as strings, binary ones as byte arrays. */
    static final class Ws implements WebSocket.Listener {
        final BlockingQueue<Object> messages = new LinkedBlockingQueue<>();
        final CompletableFuture<Integer> closed = new CompletableFuture<>();
        WebSocket socket;
        private final StringBuilder text = new StringBuilder();

        @Override
        public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
            text.append(data);
            if (last) {
                messages.add(text.toString());
                text.setLength(0);
            }
            w.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onBinary(WebSocket w, ByteBuffer data, boolean last) {
            byte[] b = new byte[data.remaining()];
            data.get(b);
            messages.add(b);
            w.request(1);
            return null;
        }

        @Override
        public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
            closed.complete(code);
            return null;
        }

        @Override
        public void onError(WebSocket w, Throwable error) {
            closed.complete(-1);
        }

        Object next() throws InterruptedException {
            Object m = messages.poll(5, TimeUnit.SECONDS);
            assertThat(m).as("a message within 5 s").isNotNull();
            return m;
        }

        /** The next message that is not a ping. */
        Object nextNotPing() throws InterruptedException {
            Object m;
            do {
                m = next();
            } while ("2".equals(m));
            return m;
        }

        void send(String s) throws Exception {
            socket.sendText(s, true).get(5, TimeUnit.SECONDS);
        }

        void send(byte[] b) throws Exception {
            socket.sendBinary(ByteBuffer.wrap(b), true).get(5, TimeUnit.SECONDS);
        }
    }

    static Ws open() throws Exception {
        Ws l = new Ws();
        l.socket = HTTP.newWebSocketBuilder().buildAsync(URI.create("ws://127.0.0.1:" + app.port() + "/socket.io/?EIO=4&transport=websocket"), l)
                .get(5, TimeUnit.SECONDS);
        assertThat((String) l.next()).startsWith("0{\"sid\":"); // Engine.IO handshake
        return l;
    }

    /** Connected to the main namespace, past its handshake and "auth" packet. */
    static Ws connected() throws Exception {
        Ws l = open();
        l.send("40");
        assertThat((String) l.nextNotPing()).startsWith("40{\"sid\":");
        assertThat(l.nextNotPing()).isEqualTo("42[\"auth\",{}]");
        return l;
    }

    @Test
    void connectsToTheMainNamespaceWithAndWithoutAPayload() throws Exception {
        Ws l = open();
        l.send("40");
        String hs = (String) l.next();
        assertThat(hs).matches("40\\{\"sid\":\"[A-Za-z0-9_-]+\"}");
        assertThat(l.next()).isEqualTo("42[\"auth\",{}]");
        l.socket.abort();

        Ws p = open();
        p.send("40{\"token\":\"123\"}");
        assertThat((String) p.next()).startsWith("40{\"sid\":");
        assertThat(p.next()).isEqualTo("42[\"auth\",{\"token\":\"123\"}]");
        p.socket.abort();
    }

    @Test
    void connectsToACustomNamespaceWithAndWithoutAPayload() throws Exception {
        Ws l = open();
        l.send("40/custom,");
        assertThat((String) l.next()).matches("40/custom,\\{\"sid\":\"[A-Za-z0-9_-]+\"}");
        assertThat(l.next()).isEqualTo("42/custom,[\"auth\",{}]");
        l.socket.abort();

        Ws p = open();
        p.send("40/custom,{\"token\":\"abc\"}");
        assertThat((String) p.next()).startsWith("40/custom,{\"sid\":");
        assertThat(p.next()).isEqualTo("42/custom,[\"auth\",{\"token\":\"abc\"}]");
        p.socket.abort();
    }

    @Test
    void anUnknownNamespaceIsAnsweredInvalidNamespace() throws Exception {
        Ws l = open();
        l.send("40/random");
        assertThat(l.next()).isEqualTo("44/random,{\"message\":\"Invalid namespace\"}");
        l.socket.abort();
    }

    @Test
    void anInvalidHandshakeOrNoHandshakeClosesTheConnection() throws Exception {
        Ws l = open();
        l.send("4abc");
        assertThat(l.closed.get(5, TimeUnit.SECONDS)).isNotNull();
        Ws silent = open();
        assertThat(silent.closed.get(3, TimeUnit.SECONDS)).isNotNull(); // connect timeout 1 s
    }

    @Test
    void disconnectingFromTheMainNamespaceKeepsTheConnection() throws Exception {
        Ws l = connected();
        l.send("41");
        assertThat(l.next()).isEqualTo("2"); // the next thing is the heartbeat, not a close
        l.socket.abort();
    }

    @Test
    void connectsThenDisconnectsFromACustomNamespaceWhileTheMainOneStays() throws Exception {
        Ws l = connected();
        l.send("40/custom");
        assertThat((String) l.nextNotPing()).startsWith("40/custom,{\"sid\":");
        assertThat(l.nextNotPing()).isEqualTo("42/custom,[\"auth\",{}]");
        l.send("41/custom");
        l.send("42[\"message\",\"message to main namespace\"]");
        assertThat(l.nextNotPing()).isEqualTo("42[\"message-back\",\"message to main namespace\"]");
        l.send("42/custom,[\"message\",\"lost\"]");
        l.send("42[\"message\",\"still here\"]");
        assertThat(l.nextNotPing()).isEqualTo("42[\"message-back\",\"still here\"]"); // /custom no longer answers
        l.socket.abort();
    }

    @Test
    void plainTextEventsAndAcks() throws Exception {
        Ws l = connected();
        l.send("42[\"message\",1,\"2\",{\"3\":[true]}]");
        assertThat(l.nextNotPing()).isEqualTo("42[\"message-back\",1,\"2\",{\"3\":[true]}]");
        l.send("42456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]");
        assertThat(l.nextNotPing()).isEqualTo("43456[1,\"2\",{\"3\":[false]}]");
        l.socket.abort();
    }

    @Test
    void binaryEventsAndAcksCarryTheirAttachments() throws Exception {
        Ws l = connected();
        l.send("452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
        l.send(new byte[] {1, 2, 3});
        l.send(new byte[] {4, 5, 6});
        List<Object> got = new ArrayList<>(List.of(l.nextNotPing(), l.nextNotPing(), l.nextNotPing()));
        assertThat(got.get(0)).isEqualTo("452-[\"message-back\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
        assertThat((byte[]) got.get(1)).containsExactly(1, 2, 3);
        assertThat((byte[]) got.get(2)).containsExactly(4, 5, 6);

        l.send("452-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
        l.send(new byte[] {1, 2, 3});
        l.send(new byte[] {4, 5, 6});
        assertThat(l.nextNotPing()).isEqualTo("462-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]");
        assertThat((byte[]) l.nextNotPing()).containsExactly(1, 2, 3);
        assertThat((byte[]) l.nextNotPing()).containsExactly(4, 5, 6);
        l.socket.abort();
    }

    @Test
    void invalidPacketsCloseTheConnection() throws Exception {
        for (String bad : List.of("4abc", "42{}", "42abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", "9", "452-[\"x\",{\"_placeholder\":true,\"num\":5}]")) {
            Ws l = connected();
            l.send(bad);
            assertThat(l.closed.get(5, TimeUnit.SECONDS)).as(bad).isNotNull();
        }
    }

    @Test
    void theEngineIoSideOfTheSocketIoPathFollowsItsProtocol() throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + "/socket.io/?EIO=4&transport=polling"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"pingInterval\":300,\"pingTimeout\":200,\"maxPayload\":1000000");
        HttpResponse<String> bad = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + "/socket.io/?EIO=3&transport=polling"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(bad.statusCode()).isEqualTo(400); // netty-socketio answered 200 here
        HttpResponse<String> echo = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + app.port() + "/engine.io/?EIO=4&transport=polling"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertThat(echo.body()).startsWith("0{");
    }
}
