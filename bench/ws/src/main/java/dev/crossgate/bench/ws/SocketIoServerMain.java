package dev.crossgate.bench.ws;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.SocketIoServer;

/**
 * Crossgate's embedded Socket.IO server with nothing registered but an empty connection handler, as the
 * Node.js peer of {@code bench/socketio-memory.sh}: {@code socketio-server --port N} on 127.0.0.1.
 */
public final class SocketIoServerMain {
    private SocketIoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        int port = new Options(args).integer("port", 0, 0, 65535);
        SocketIoServer io = SocketIoServer.builder().build();
        io.of("/").onConnection(socket -> { });
        RealtimeHttpServer http = io.listen("127.0.0.1", port);
        System.out.println("JVM availableProcessors=" + Runtime.getRuntime().availableProcessors() + " gc="
                + java.lang.management.ManagementFactory.getGarbageCollectorMXBeans().stream()
                        .map(java.lang.management.GarbageCollectorMXBean::getName).collect(java.util.stream.Collectors.joining(", ")));
        System.out.println("READY " + http.port());
        Thread.sleep(30L * 60 * 1000); // bounded: 30 minutes at most
        http.close();
    }
}
