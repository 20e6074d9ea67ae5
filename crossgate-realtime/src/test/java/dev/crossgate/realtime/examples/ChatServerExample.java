package dev.crossgate.realtime.examples;

import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.Handlers;
import dev.crossgate.realtime.socketio.SocketIoServer;
import java.time.Duration;
import java.util.Map;

/**
 * The README's embedding example, runnable:
 * {@code mvn -q -pl crossgate-realtime test-compile exec:java -Dexec.classpathScope=test -Dexec.mainClass=dev.crossgate.realtime.examples.ChatServerExample}
 * then connect any Socket.IO client to http://127.0.0.1:3000 from http://localhost:5173.
 */
public final class ChatServerExample {
    private ChatServerExample() {}

    public static SocketIoServer chat() {
        SocketIoServer io = SocketIoServer.builder()
                .cors(CorsPolicy.builder().allowOrigins("http://localhost:5173").allowCredentials(true)
                        .localDevelopment(true) // a plain-http origin with cookies: for local development only
                        .build())
                .ping(Duration.ofSeconds(25), Duration.ofSeconds(20))
                .build();
        io.of("/").use((socket, next) -> {
            Object user = socket.auth().get("user");
            next.accept(user == null ? new Handlers.ConnectError("who are you?", Map.of("reason", "auth.missing")) : null);
        }).onConnection(socket -> {
            String user = (String) socket.auth().get("user");
            socket.join("lobby");
            socket.to("lobby").emit("joined", user);
            socket.on("say", (args, ack) -> {
                socket.to("lobby").emit("said", user, args.get(0));
                if (ack != null) {
                    ack.send("delivered");
                }
            });
            socket.onDisconnect(reason -> io.to("lobby").emit("left", user, reason));
        });
        return io;
    }

    public static void main(String[] args) throws Exception {
        RealtimeHttpServer http = chat().listen("127.0.0.1", 3000);
        System.out.println("chat on http://127.0.0.1:" + http.port() + "/socket.io/ - Ctrl-C stops");
        Thread.currentThread().join();
    }
}
