package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.Handlers;
import dev.crossgate.realtime.socketio.SioSocket;
import dev.crossgate.realtime.socketio.SocketIoServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The official JavaScript client ({@code socket.io-client} from npm, in Node) against the embedded
 * Socket.IO server: auth payload, emit and ack both ways, WebSocket only, polling only, the upgrade,
 * binary, a room broadcast with except, and connect_error with data. The script is
 * {@code src/test/browser/socketio-interop.mjs}; {@code scripts/install-browser-deps.sh} installs its modules.
 * Also connection state recovery ({@code socketio-recovery.mjs}) and the reconnection after a server
 * restart ({@code socketio-restart.mjs}).
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

    /**
     * Issue 12: binary broadcasts carried no recovery offset, so a client that saw only binary messages recovered
     * nothing (35 of 35 lost); and direct emits were not kept. Both now carry an offset and are replayed whole.
     */
    @Test
    void aClientThatLosesItsConnectionRecoversTheBinaryBroadcastsItMissed() throws Exception {
        SocketIoServer io = SocketIoServer.builder().connectionStateRecovery(Duration.ofMinutes(2)).build();
        io.of("/").onConnection(socket -> {
            socket.on("join", (args, ack) -> {
                socket.join((String) args.get(0));
                ack.send("joined");
            });
            socket.on("direct-me", (args, ack) -> {
                socket.emit("direct", 1);
                ack.send("sent");
            });
            socket.on("burst", (args, ack) -> {
                int n = ((Number) args.get(0)).intValue();
                for (int i = 0; i < n; i++) {
                    io.to("ticks").emit("bin", (Object) new byte[] {(byte) i, (byte) 0xff});
                }
                ack.send("sent");
            });
        });
        try (RealtimeHttpServer http = io.listen("127.0.0.1", 0)) {
            Process p = new ProcessBuilder("node", "socketio-recovery-binary.mjs", "http://127.0.0.1:" + http.port(), "35")
                    .directory(HARNESS.toFile()).redirectError(dir.resolve("err.txt").toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
            JsonNode r = JSON.readTree(out);
            assertThat(r.has("error")).as(r.path("error").asText() + Files.readString(dir.resolve("err.txt"))).isFalse();
            assertThat(r.get("offsetAfterDirect").asBoolean()).as("a direct emit carries a recovery offset").isTrue();
            assertThat(r.get("direct").toString()).isEqualTo("[1]");
            StringBuilder expected = new StringBuilder("[");
            for (int i = 0; i < 35; i++) {
                expected.append(i == 0 ? "" : ",").append("[").append(i).append(",255]");
            }
            assertThat(r.get("binary").toString()).isEqualTo(expected.append("]").toString()); // 35 of 35, in order
            assertThat(r.get("recovered").asBoolean()).isTrue();
            assertThat(r.get("sameId").asBoolean()).isTrue();
        }
    }

    /** A server for the restart test: records each connection and each disconnect reason. */
    static SocketIoServer restartServer(BlockingQueue<SioSocket> connected, List<String> disconnects) {
        SocketIoServer io = SocketIoServer.builder().ping(Duration.ofSeconds(2), Duration.ofSeconds(2)).build();
        io.of("/").onConnection(socket -> {
            socket.on("echo", (args, ack) -> ack.send(args.toArray()));
            socket.onDisconnect(disconnects::add);
            connected.add(socket);
            socket.emit("welcome", socket.auth().get("token"), socket.id());
        });
        return io;
    }

    /** The JSON lines of a process's stdout, read on a daemon thread; an {"event":"eof"} line at the end. */
    static BlockingQueue<JsonNode> jsonLines(Process p, List<JsonNode> seen) {
        BlockingQueue<JsonNode> lines = new LinkedBlockingQueue<>();
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    JsonNode n = l.startsWith("{") ? JSON.readTree(l) : JSON.createObjectNode().put("event", "noise").put("line", l);
                    seen.add(n);
                    lines.add(n);
                }
            } catch (IOException e) {
                // the process went away; eof below
            }
            lines.add(JSON.createObjectNode().put("event", "eof"));
        }, "node-stdout");
        t.setDaemon(true);
        t.start();
        return lines;
    }

    /** The next line whose event is {@code event}, skipping the others; fails on error, eof or the timeout. */
    JsonNode await(BlockingQueue<JsonNode> lines, String event, List<JsonNode> seen) throws Exception {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (true) {
            JsonNode n = lines.poll(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(n).as("no \"%s\" from node; saw %s; stderr: %s", event, seen, stderr()).isNotNull();
            String e = n.path("event").asText();
            if (e.equals(event)) {
                return n;
            }
            assertThat(e).as("waiting for \"%s\"; saw %s; stderr: %s", event, seen, stderr()).isNotIn("error", "eof");
        }
    }

    private String stderr() throws IOException {
        Path err = dir.resolve("err.txt");
        return Files.exists(err) ? Files.readString(err) : "";
    }

    private static List<String> events(List<JsonNode> seen) {
        List<String> out = new ArrayList<>();
        seen.forEach(n -> out.add(n.path("event").asText()));
        return out;
    }

    @Test
    void theClientReconnectsOnItsOwnAfterAServerRestart() throws Exception {
        BlockingQueue<SioSocket> firstConnected = new LinkedBlockingQueue<>();
        List<String> firstDisconnects = new CopyOnWriteArrayList<>();
        BlockingQueue<SioSocket> secondConnected = new LinkedBlockingQueue<>();
        List<String> secondDisconnects = new CopyOnWriteArrayList<>();
        RealtimeHttpServer http = restartServer(firstConnected, firstDisconnects).listen("127.0.0.1", 0);
        Process p = null;
        try {
            int port = http.port();
            p = new ProcessBuilder("node", "socketio-restart.mjs", "http://127.0.0.1:" + port)
                    .directory(HARNESS.toFile()).redirectError(dir.resolve("err.txt").toFile()).start();
            List<JsonNode> seen = new CopyOnWriteArrayList<>();
            BlockingQueue<JsonNode> lines = jsonLines(p, seen);

            // The first server: connected, emit+ack, upgraded to WebSocket.
            JsonNode ready = await(lines, "ready", seen);
            String firstId = ready.get("id").asText();
            assertThat(ready.get("transport").asText()).isEqualTo("websocket");
            SioSocket first = firstConnected.poll(5, TimeUnit.SECONDS);
            assertThat(first).isNotNull();
            assertThat(first.id()).isEqualTo(firstId);
            assertThat(first.auth()).containsEntry("token", "abc");
            assertThat(firstConnected).isEmpty();

            // The restart: the old server goes away, a new one with no state takes the same port once the
            // client has seen an attempt fail (so the Manager's retries are exercised, not only its first try).
            http.close();
            assertThat(firstDisconnects).containsExactly("server shutting down");
            assertThat(await(lines, "disconnect", seen).get("reason").asText()).isEqualTo("transport close");
            await(lines, "reconnect_error", seen);
            http = restartServer(secondConnected, secondDisconnects).listen("127.0.0.1", port);
            assertThat(http.port()).isEqualTo(port);

            // The client reconnects by itself and does an emit+ack on the new server.
            JsonNode done = await(lines, "done", seen);
            String secondId = done.get("id").asText();
            assertThat(secondId).isNotEqualTo(firstId);
            SioSocket second = secondConnected.poll(5, TimeUnit.SECONDS);
            assertThat(second).as("the new server saw no connection").isNotNull();
            assertThat(second.id()).isEqualTo(secondId);
            assertThat(second.auth()).as("the auth payload is sent again").containsEntry("token", "abc");
            assertThat(second.recovered()).isFalse();
            assertThat(secondConnected).isEmpty(); // one connection, not two

            // The client's view, in order.
            List<JsonNode> connects = seen.stream().filter(n -> n.path("event").asText().equals("connect")).toList();
            assertThat(connects).hasSize(2);
            assertThat(connects.get(0).get("id").asText()).isEqualTo(firstId);
            assertThat(connects.get(1).get("id").asText()).isEqualTo(secondId);
            assertThat(connects.get(1).get("recovered").asBoolean()).isFalse();
            List<JsonNode> welcomes = seen.stream().filter(n -> n.path("event").asText().equals("welcome")).toList();
            assertThat(welcomes).hasSize(2);
            assertThat(welcomes.get(1).get("token").asText()).isEqualTo("abc");
            assertThat(welcomes.get(1).get("id").asText()).isEqualTo(secondId);
            List<JsonNode> acks = seen.stream().filter(n -> n.path("event").asText().equals("ack")).toList();
            assertThat(acks).hasSize(2);
            assertThat(acks.get(0).get("args").toString()).isEqualTo("[\"before\",{\"n\":6}]");
            assertThat(acks.get(1).get("args").toString()).isEqualTo("[\"after\",{\"n\":5}]");
            assertThat(acks.get(1).get("id").asText()).isEqualTo(secondId);
            JsonNode disconnect = seen.stream().filter(n -> n.path("event").asText().equals("disconnect")).findFirst().orElseThrow();
            assertThat(disconnect.get("reason").asText()).as("%s", seen).isEqualTo("transport close");
            assertThat(disconnect.get("active").asBoolean()).as("the client means to reconnect").isTrue();
            List<String> order = events(seen);
            int disconnectAt = order.indexOf("disconnect");
            int firstAttempt = order.indexOf("reconnect_attempt");
            int reconnectAt = order.indexOf("reconnect");
            assertThat(order.indexOf("ready")).isLessThan(disconnectAt);
            assertThat(firstAttempt).as("%s", order).isGreaterThan(disconnectAt);
            assertThat(reconnectAt).as("%s", order).isGreaterThan(firstAttempt);
            assertThat(order.lastIndexOf("connect")).isGreaterThan(reconnectAt);
            JsonNode reconnect = seen.get(reconnectAt);
            long attempts = order.stream().filter("reconnect_attempt"::equals).count();
            assertThat(reconnect.get("attempt").asLong()).isEqualTo(attempts);
            // Each failed attempt (nothing listens on the port yet) is a reconnect_error on the Manager and a
            // connect_error on the socket; the last attempt succeeds.
            assertThat(attempts).isGreaterThanOrEqualTo(2);
            assertThat(order.stream().filter("reconnect_error"::equals).count()).as("%s", order).isEqualTo(attempts - 1);
            assertThat(order.stream().filter("connect_error"::equals).count()).as("%s", order).isEqualTo(attempts - 1);

            // The client leaves; the new server hears it, and the process ends by itself.
            try (OutputStream in = p.getOutputStream()) {
                in.write("close\n".getBytes(StandardCharsets.UTF_8));
            }
            assertThat(await(lines, "closed", seen).get("why").asText()).isEqualTo("close");
            assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(stderr()).isZero();
            for (int i = 0; i < 50 && secondDisconnects.isEmpty(); i++) {
                Thread.sleep(20);
            }
            assertThat(secondDisconnects).containsExactly("client namespace disconnect");
            assertThat(firstDisconnects).containsExactly("server shutting down");
        } finally {
            if (p != null && p.isAlive()) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
            http.close();
        }
    }
}
