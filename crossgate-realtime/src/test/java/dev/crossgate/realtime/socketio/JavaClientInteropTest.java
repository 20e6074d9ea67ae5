package dev.crossgate.realtime.socketio;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import io.socket.client.Ack;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.socket.engineio.client.transports.Polling;
import io.socket.engineio.client.transports.WebSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.json.JSONObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The official Java client ({@code io.socket:socket.io-client} 2.1.2) against the embedded server. */
@ExtendWith(LeakCheck.class)
class JavaClientInteropTest {
    SocketIoServer io;
    RealtimeHttpServer http;
    final List<Socket> clients = new ArrayList<>();
    final BlockingQueue<SioSocket> connected = new LinkedBlockingQueue<>();
    final List<String> disconnects = new CopyOnWriteArrayList<>();

    @BeforeEach
    void start() throws Exception {
        io = server();
        http = io.listen("127.0.0.1", 0);
    }

    private SocketIoServer server() {
        SocketIoServer s = SocketIoServer.builder().ping(Duration.ofMillis(500), Duration.ofMillis(500)).build();
        s.of("/").use((socket, next) -> {
            Object token = socket.auth().get("token");
            if ("expired".equals(token)) {
                next.accept(new Handlers.ConnectError("not authorized", Map.of("reason", "auth.expired")));
            } else {
                next.accept(null);
            }
        }).onConnection(socket -> {
            socket.data().put("user", socket.auth().getOrDefault("token", "anonymous"));
            socket.on("echo", (args, ack) -> {
                if (ack != null) {
                    ack.send(args.toArray());
                }
            });
            socket.on("bytes", (args, ack) -> socket.emit("bytes-back", args.get(0)));
            socket.on("join", (args, ack) -> {
                socket.join((String) args.get(0));
                ack.send("joined");
            });
            socket.onDisconnect(disconnects::add);
            connected.add(socket);
        });
        return s;
    }

    @AfterEach
    void stop() {
        for (Socket c : clients) {
            c.close();
        }
        http.close();
    }

    private Socket client(String[] transports, Map<String, String> auth, boolean reconnect) {
        IO.Options o = IO.Options.builder().setTransports(transports).setAuth(auth).setReconnection(reconnect)
                .setReconnectionDelay(200).setReconnectionDelayMax(500).setForceNew(true).build();
        Socket s = IO.socket(URI.create("http://127.0.0.1:" + http.port()), o);
        clients.add(s);
        return s;
    }

    private static CompletableFuture<Object[]> once(Socket s, String event) {
        CompletableFuture<Object[]> f = new CompletableFuture<>();
        s.once(event, f::complete);
        return f;
    }

    private void emitAndAckBothWays(Socket c) throws Exception {
        CompletableFuture<Object[]> connect = once(c, Socket.EVENT_CONNECT);
        c.connect();
        connect.get(5, TimeUnit.SECONDS);
        SioSocket server = connected.poll(5, TimeUnit.SECONDS);
        assertThat(server.auth()).containsEntry("token", "abc");
        CompletableFuture<Object[]> acked = new CompletableFuture<>();
        c.emit("echo", new Object[] {"hello", 42, new JSONObject(Map.of("k", true))}, (Ack) acked::complete);
        Object[] back = acked.get(5, TimeUnit.SECONDS);
        assertThat(back[0]).isEqualTo("hello");
        assertThat(back[1]).isEqualTo(42);
        assertThat(((JSONObject) back[2]).getBoolean("k")).isTrue();
        // And the other way: the server asks, the client acks.
        c.on("question", args -> ((Ack) args[args.length - 1]).call("answer to " + args[0]));
        List<Object> answer = server.emitWithAck("question", Duration.ofSeconds(5), "life").get(5, TimeUnit.SECONDS);
        assertThat(answer).containsExactly("answer to life");
    }

    @Test
    void overWebSocketOnly() throws Exception {
        Socket c = client(new String[] {WebSocket.NAME}, Map.of("token", "abc"), false);
        emitAndAckBothWays(c);
    }

    @Test
    void overPollingOnly() throws Exception {
        Socket c = client(new String[] {Polling.NAME}, Map.of("token", "abc"), false);
        emitAndAckBothWays(c);
    }

    @Test
    void pollingFirstThenTheUpgradeToWebSocket() throws Exception {
        Socket c = client(new String[] {Polling.NAME, WebSocket.NAME}, Map.of("token", "abc"), false);
        emitAndAckBothWays(c);
        SioSocket server = io.of("/").fetchSockets().get(0);
        for (int i = 0; i < 50 && !server.transport().equals("websocket"); i++) {
            Thread.sleep(100);
        }
        assertThat(server.transport()).isEqualTo("websocket");
        CompletableFuture<Object[]> acked = new CompletableFuture<>();
        c.emit("echo", new Object[] {"after the upgrade"}, (Ack) acked::complete);
        assertThat(acked.get(5, TimeUnit.SECONDS)[0]).isEqualTo("after the upgrade");
    }

    @Test
    void binaryTravelsBothWays() throws Exception {
        Socket c = client(new String[] {WebSocket.NAME}, Map.of("token", "abc"), false);
        CompletableFuture<Object[]> back = once(c, "bytes-back");
        CompletableFuture<Object[]> connect = once(c, Socket.EVENT_CONNECT);
        c.connect();
        connect.get(5, TimeUnit.SECONDS);
        c.emit("bytes", (Object) new byte[] {1, 2, 3, (byte) 255});
        assertThat((byte[]) back.get(5, TimeUnit.SECONDS)[0]).containsExactly(1, 2, 3, (byte) 255);
    }

    @Test
    void aRoomBroadcastWithExceptReachesOnlyTheOthers() throws Exception {
        List<Socket> cs = new ArrayList<>();
        List<BlockingQueue<Object>> got = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Socket c = client(new String[] {WebSocket.NAME}, Map.of("token", "u" + i), false);
            BlockingQueue<Object> q = new LinkedBlockingQueue<>();
            c.on("news", args -> q.add(args[0]));
            CompletableFuture<Object[]> connect = once(c, Socket.EVENT_CONNECT);
            c.connect();
            connect.get(5, TimeUnit.SECONDS);
            cs.add(c);
            got.add(q);
        }
        List<SioSocket> servers = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            servers.add(connected.poll(5, TimeUnit.SECONDS));
        }
        for (int i = 0; i < 2; i++) {
            CompletableFuture<Object[]> joined = new CompletableFuture<>();
            cs.get(i).emit("join", new Object[] {"room-a"}, (Ack) joined::complete);
            joined.get(5, TimeUnit.SECONDS);
        }
        SioSocket first = servers.stream().filter(s -> s.data().get("user").equals("u0")).findFirst().orElseThrow();
        io.to("room-a").except(first.id()).emit("news", "for room-a but not u0");
        assertThat(got.get(1).poll(5, TimeUnit.SECONDS)).isEqualTo("for room-a but not u0");
        assertThat(got.get(0).poll(300, TimeUnit.MILLISECONDS)).isNull();
        assertThat(got.get(2).poll(300, TimeUnit.MILLISECONDS)).isNull();
        assertThat(io.to("room-a").sockets()).hasSize(2);
    }

    @Test
    void aMiddlewareRefusalReachesConnectErrorWithItsData() throws Exception {
        Socket c = client(new String[] {WebSocket.NAME}, Map.of("token", "expired"), false);
        CompletableFuture<Object[]> error = once(c, Socket.EVENT_CONNECT_ERROR);
        c.connect();
        JSONObject e = (JSONObject) error.get(5, TimeUnit.SECONDS)[0];
        assertThat(e.getString("message")).isEqualTo("not authorized");
        assertThat(e.getJSONObject("data").getString("reason")).isEqualTo("auth.expired");
        assertThat(connected).isEmpty();
    }

    @Test
    void theClientReconnectsAfterAServerRestart() throws Exception {
        Socket c = client(new String[] {WebSocket.NAME}, Map.of("token", "abc"), true);
        BlockingQueue<Object> connects = new LinkedBlockingQueue<>();
        c.on(Socket.EVENT_CONNECT, args -> connects.add("connect"));
        c.connect();
        assertThat(connects.poll(5, TimeUnit.SECONDS)).isNotNull();
        int port = http.port();
        http.close();
        assertThat(disconnects).containsExactly("server shutting down");
        io = server();
        http = RealtimeHttpServer.start("127.0.0.1", port, List.of(io.engine()));
        assertThat(connects.poll(10, TimeUnit.SECONDS)).isNotNull();
        CompletableFuture<Object[]> acked = new CompletableFuture<>();
        c.emit("echo", new Object[] {"again"}, (Ack) acked::complete);
        assertThat(acked.get(5, TimeUnit.SECONDS)[0]).isEqualTo("again");
    }
}
