package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.Handlers;
import dev.crossgate.realtime.socketio.SocketIoServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official JavaScript client ({@code socket.io-client} from npm, in Node) against the embedded
 * Socket.IO server: auth payload, emit and ack both ways, WebSocket only, polling only, the upgrade,
 * binary, a room broadcast with except, and connect_error with data. The script is
 * {@code src/test/browser/socketio-interop.mjs}; {@code scripts/install-browser-deps.sh} installs its modules.
 */
@ExtendWith(LeakCheck.class)
class JsClientInteropTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    static SocketIoServer server() {
        SocketIoServer io = SocketIoServer.builder().ping(Duration.ofSeconds(2), Duration.ofSeconds(2)).build();
        io.of("/").use((socket, next) -> next.accept("expired".equals(socket.auth().get("token"))
                ? new Handlers.ConnectError("not authorized", Map.of("reason", "auth.expired")) : null))
                .onConnection(socket -> {
                    socket.emit("welcome", socket.auth().get("token"), socket.transport());
                    socket.on("echo", (args, ack) -> ack.send(args.toArray()));
                    socket.on("ask-me", (args, ack) -> socket.emitWithAck("question", Duration.ofSeconds(5), args.get(0))
                            .thenAccept(answer -> ack.send(answer.get(0))));
                    socket.on("bytes", (args, ack) -> socket.emit("bytes-back", args.get(0)));
                    socket.on("join", (args, ack) -> {
                        socket.join((String) args.get(0));
                        ack.send("joined");
                    });
                    socket.on("broadcast-except-me", (args, ack) -> {
                        socket.namespace().to((String) args.get(0)).except(socket.id()).emit("news", args.get(1));
                        ack.send("sent");
                    });
                });
        return io;
    }

    @Test
    void theOfficialJavaScriptClientWorksOverEveryTransport() throws Exception {
        assertThat(HARNESS.resolve("node_modules/socket.io-client").toFile()).as("socket.io-client: run scripts/install-browser-deps.sh").exists();
        try (RealtimeHttpServer http = server().listen("127.0.0.1", 0)) {
            Process p = new ProcessBuilder("node", "socketio-interop.mjs", "http://127.0.0.1:" + http.port())
                    .directory(HARNESS.toFile()).redirectError(dir.resolve("err.txt").toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
            assertThat(p.exitValue()).as(Files.readString(dir.resolve("err.txt"))).isZero();
            JsonNode r = JSON.readTree(out);
            assertThat(r.has("error")).as(r.path("error").asText()).isFalse();
            for (String t : List.of("websocket", "polling", "upgrade")) {
                JsonNode s = r.get(t);
                assertThat(s.get("welcome").asText()).as(t).isEqualTo("abc");
                assertThat(s.get("echoed").toString()).as(t).isEqualTo("[\"hello\",42,{\"k\":true}]");
                assertThat(s.get("answer").asText()).as(t).isEqualTo("answer to life");
            }
            assertThat(r.get("websocket").get("transport").asText()).isEqualTo("websocket");
            assertThat(r.get("polling").get("transport").asText()).isEqualTo("polling");
            assertThat(r.get("upgrade").get("transport").asText()).isEqualTo("websocket"); // upgraded from polling
            assertThat(r.get("binary").toString()).isEqualTo("[1,2,3,255]");
            assertThat(r.get("roomExcept").toString()).isEqualTo("[[],[\"hi room\"],[]]");
            assertThat(r.get("connectError").get("message").asText()).isEqualTo("not authorized");
            assertThat(r.get("connectError").get("data").get("reason").asText()).isEqualTo("auth.expired");
        }
    }

    @Test
    void aClientThatLosesItsConnectionRecoversItsSessionAndTheBroadcastsItMissed() throws Exception {
        SocketIoServer io = SocketIoServer.builder().connectionStateRecovery(Duration.ofMinutes(2)).build();
        io.of("/").onConnection(socket -> {
            socket.on("join", (args, ack) -> {
                socket.join((String) args.get(0));
                ack.send("joined");
            });
            socket.on("tick", (args, ack) -> {
                io.to("ticks").emit("tick", args.get(0));
                ack.send("sent");
            });
        });
        try (RealtimeHttpServer http = io.listen("127.0.0.1", 0)) {
            Process p = new ProcessBuilder("node", "socketio-recovery.mjs", "http://127.0.0.1:" + http.port())
                    .directory(HARNESS.toFile()).redirectError(dir.resolve("err.txt").toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
            JsonNode r = JSON.readTree(out);
            assertThat(r.has("error")).as(r.path("error").asText() + Files.readString(dir.resolve("err.txt"))).isFalse();
            assertThat(r.get("got").toString()).isEqualTo("[1,2]"); // 2 was broadcast while it was away
            assertThat(r.get("recovered").asBoolean()).isTrue();
            assertThat(r.get("sameId").asBoolean()).isTrue();
        }
    }
}
