package dev.crossgate.realtime.socketio;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.socket.engineio.client.transports.WebSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.json.JSONObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The embedding API's server-side operations, observed through the official Java client. */
@ExtendWith(LeakCheck.class)
class ServerApiTest {
    SocketIoServer io;
    RealtimeHttpServer http;
    final List<Socket> clients = new ArrayList<>();
    final BlockingQueue<SioSocket> connected = new LinkedBlockingQueue<>();

    @BeforeEach
    void start() throws Exception {
        io = SocketIoServer.builder().build();
        io.of("/").onConnection(connected::add);
        io.namespaces(Pattern.compile("/tenant-\\d+")).onConnection(connected::add);
        io.of("/admin").use((socket, next) -> next.accept("root".equals(socket.auth().get("user")) ? null
                : new Handlers.ConnectError("admins only", Map.of("reason", "auth.invalid")))).onConnection(connected::add);
        http = io.listen("127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        clients.forEach(Socket::close);
        http.close();
    }

    private Socket client(String nsp, Map<String, String> auth) {
        Socket s = IO.socket(URI.create("http://127.0.0.1:" + http.port() + nsp), IO.Options.builder()
                .setTransports(new String[] {WebSocket.NAME}).setAuth(auth).setReconnection(false).setForceNew(true).build());
        clients.add(s);
        return s;
    }

    private static Object[] connect(Socket s) throws Exception {
        CompletableFuture<Object[]> f = new CompletableFuture<>();
        s.once(Socket.EVENT_CONNECT, f::complete);
        s.once(Socket.EVENT_CONNECT_ERROR, args -> f.complete(new Object[] {"error", args[0]}));
        s.connect();
        return f.get(5, TimeUnit.SECONDS);
    }

    @Test
    void dynamicNamespacesByPatternAndPerNamespaceMiddleware() throws Exception {
        assertThat(connect(client("/tenant-7", Map.of()))).isEmpty();
        SioSocket t7 = connected.poll(5, TimeUnit.SECONDS);
        assertThat(t7.namespace().name()).isEqualTo("/tenant-7");
        Object[] unknown = connect(client("/tenant-x", Map.of()));
        assertThat(((JSONObject) unknown[1]).getString("message")).isEqualTo("Invalid namespace");
        Object[] refused = connect(client("/admin", Map.of("user", "guest")));
        assertThat(((JSONObject) refused[1]).getJSONObject("data").getString("reason")).isEqualTo("auth.invalid");
        assertThat(connect(client("/admin", Map.of("user", "root")))).isEmpty();
        assertThat(connected.poll(5, TimeUnit.SECONDS).namespace().name()).isEqualTo("/admin");
    }

    @Test
    void fetchSocketsJoinLeaveAndDisconnectSockets() throws Exception {
        List<BlockingQueue<Object>> news = new ArrayList<>();
        List<CompletableFuture<Object[]>> disconnects = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Socket c = client("/", Map.of());
            BlockingQueue<Object> q = new LinkedBlockingQueue<>();
            c.on("news", args -> q.add(args[0]));
            CompletableFuture<Object[]> d = new CompletableFuture<>();
            c.on(Socket.EVENT_DISCONNECT, d::complete);
            connect(c);
            news.add(q);
            disconnects.add(d);
        }
        for (int i = 0; i < 3; i++) {
            connected.poll(5, TimeUnit.SECONDS);
        }
        Namespace main = io.of("/");
        assertThat(main.fetchSockets()).hasSize(3);
        main.socketsJoin("everyone");
        io.to("everyone").emit("news", "to all");
        for (BlockingQueue<Object> q : news) {
            assertThat(q.poll(5, TimeUnit.SECONDS)).isEqualTo("to all");
        }
        main.socketsLeave("everyone");
        assertThat(io.to("everyone").sockets()).isEmpty();
        main.disconnectSockets(false);
        for (CompletableFuture<Object[]> d : disconnects) {
            assertThat(d.get(5, TimeUnit.SECONDS)[0]).isEqualTo("io server disconnect");
        }
        assertThat(main.fetchSockets()).isEmpty();
    }

    @Test
    void anAckTheClientNeverSendsTimesOut() throws Exception {
        connect(client("/", Map.of()));
        SioSocket s = connected.poll(5, TimeUnit.SECONDS);
        CompletableFuture<List<Object>> f = s.emitWithAck("no-one-answers", Duration.ofMillis(300), "?");
        assertThatThrownBy(() -> f.get(5, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class).hasCauseInstanceOf(TimeoutException.class);
    }
}
