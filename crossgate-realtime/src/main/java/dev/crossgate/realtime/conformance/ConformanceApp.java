package dev.crossgate.realtime.conformance;

import dev.crossgate.realtime.engine.EngineOptions;
import dev.crossgate.realtime.engine.EnginePacket;
import dev.crossgate.realtime.engine.EngineServer;
import dev.crossgate.realtime.engine.EngineSocket;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.Namespace;
import dev.crossgate.realtime.socketio.SioSocket;
import dev.crossgate.realtime.socketio.SocketIoServer;
import java.time.Duration;
import java.util.List;

/**
 * The application the official Engine.IO v4 and Socket.IO v5 protocol suites expect on one port: at
 * {@code /engine.io/} a raw Engine.IO server that echoes every message, at {@code /socket.io/} a Socket.IO
 * server where {@code /} and {@code /custom} emit {@code auth} with the CONNECT payload, answer
 * {@code message} with {@code message-back} and ack {@code message-with-ack} with its arguments. Both ping
 * every 300 ms with a 200 ms timeout, accept 1,000,000-byte payloads and every origin; the Socket.IO connect
 * timeout is 1 s.
 */
public final class ConformanceApp {
    private ConformanceApp() {}

    public static RealtimeHttpServer start(String host, int port) throws InterruptedException {
        Duration interval = Duration.ofMillis(300);
        Duration timeout = Duration.ofMillis(200);
        EngineServer echo = new EngineServer(EngineOptions.defaults("/engine.io/").withPing(interval, timeout));
        echo.onConnection(s -> s.listener(new EngineSocket.Listener() {
            @Override
            public void onMessage(EngineSocket socket, EnginePacket m) {
                if (m.isBinary()) {
                    socket.send(m.binary());
                } else {
                    socket.send(m.text());
                }
            }

            @Override
            public void onClose(EngineSocket socket, String reason) {
            }
        }));
        SocketIoServer io = SocketIoServer.builder().ping(interval, timeout).maxPayload(1_000_000)
                .connectTimeout(Duration.ofSeconds(1)).build();
        for (String name : List.of("/", "/custom")) {
            Namespace ns = io.of(name);
            ns.onConnection(ConformanceApp::onConnection);
        }
        return RealtimeHttpServer.start(host, port, List.of(echo, io.engine()));
    }

    private static void onConnection(SioSocket socket) {
        socket.emit("auth", socket.auth());
        socket.on("message", (args, ack) -> socket.emit("message-back", args.toArray()));
        socket.on("message-with-ack", (args, ack) -> {
            if (ack != null) {
                ack.send(args.toArray());
            }
        });
    }
}
