package dev.crossgate.realtime.socketio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.socket.engineio.client.transports.Polling;
import io.socket.engineio.client.transports.WebSocket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Broadcasts reach every client promptly whatever its transport, in particular clients that upgraded from
 * polling, whose WebSocket connection may live on another event loop than their session. The ping interval is
 * the default 25 s, so a frame left unflushed would wait for the next ping and the test would time out.
 */
@ExtendWith(LeakCheck.class)
class BroadcastDeliveryTest {
    static final int CLIENTS = 12;
    RealtimeHttpServer http;
    final List<Socket> clients = new ArrayList<>();

    @AfterEach
    void stop() {
        for (Socket c : clients) {
            c.close();
        }
        if (http != null) {
            http.close();
        }
    }

    @Test
    void everyClientGetsEveryBroadcastWithinSecondsOverPollingWebSocketAndAfterTheUpgrade() throws Exception {
        SocketIoServer io = SocketIoServer.builder().build();
        io.of("/").onConnection(s -> { });
        http = io.listen("127.0.0.1", 0);
        List<AtomicInteger> received = new ArrayList<>();
        CountDownLatch connected = new CountDownLatch(CLIENTS);
        for (int i = 0; i < CLIENTS; i++) {
            // A third polling only, a third WebSocket only, a third polling then the upgrade.
            String[] transports = i % 3 == 0 ? new String[] {Polling.NAME} : i % 3 == 1 ? new String[] {WebSocket.NAME}
                    : new String[] {Polling.NAME, WebSocket.NAME};
            Socket c = IO.socket(URI.create("http://127.0.0.1:" + http.port()),
                    IO.Options.builder().setTransports(transports).setReconnection(false).setForceNew(true).build());
            AtomicInteger n = new AtomicInteger();
            received.add(n);
            c.on("news", args -> n.incrementAndGet());
            c.once(Socket.EVENT_CONNECT, args -> connected.countDown());
            clients.add(c);
            c.connect();
        }
        assertThat(connected.await(10, TimeUnit.SECONDS)).isTrue();
        for (int i = 0; i < 100 && io.of("/").fetchSockets().stream().filter(s -> s.transport().equals("websocket")).count() < 8; i++) {
            Thread.sleep(50);
        }
        assertThat(io.of("/").fetchSockets().stream().filter(s -> s.transport().equals("websocket")).count()).isEqualTo(8);
        for (int round = 1; round <= 3; round++) {
            io.of("/").emit("news", round);
            int expected = round;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            while (received.stream().anyMatch(n -> n.get() < expected) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(received).as("round %d", round).allSatisfy(n -> assertThat(n.get()).isEqualTo(expected));
        }
    }
}
