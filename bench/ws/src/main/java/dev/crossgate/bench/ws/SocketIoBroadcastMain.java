package dev.crossgate.bench.ws;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.Namespace;
import dev.crossgate.realtime.socketio.SocketIoServer;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;

/**
 * Crossgate's embedded Socket.IO server as the Node.js peer of {@code bench/socketio-broadcast.sh} (the same
 * protocol as {@code bench/socketio/broadcast-server.mjs}): receivers connect to the main namespace "/" and do
 * nothing; the driver connects to "/driver" and emits {@code burst {n, size}}, and the server broadcasts
 * {@code n} events {@code m} with a string of {@code size} characters to every socket of "/"
 * ({@link Namespace#emit}, one after the other in the driver's handler). {@code socketio-broadcast-server
 * --port N} on 127.0.0.1.
 */
public final class SocketIoBroadcastMain {
    private SocketIoBroadcastMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new Options(args);
        int port = options.integer("port", 0, 0, 65535);
        options.noOthers();
        SocketIoServer io = SocketIoServer.builder().build();
        Namespace receivers = io.of("/").onConnection(socket -> { });
        Map<Integer, String> payloads = new ConcurrentHashMap<>();
        io.of("/driver").onConnection(driver -> driver.on("burst", (a, ack) -> {
            int n = a.isEmpty() || !(a.get(0) instanceof Map<?, ?> m) ? -1 : whole(m.get("n"));
            int size = a.isEmpty() || !(a.get(0) instanceof Map<?, ?> m) ? -1 : whole(m.get("size"));
            if (n < 1 || n > 10_000 || size < 0 || size > 1_000_000) {
                driver.disconnect(true); // a harness bug: the harness sees the disconnect and fails
                return;
            }
            String payload = payloads.computeIfAbsent(size, "x"::repeat);
            for (int i = 0; i < n; i++) {
                receivers.emit("m", payload);
            }
        }));
        RealtimeHttpServer http = io.listen("127.0.0.1", port);
        String gcs = ManagementFactory.getGarbageCollectorMXBeans().stream().map(GarbageCollectorMXBean::getName)
                .collect(Collectors.joining(", "));
        System.out.println("JVM availableProcessors=" + Runtime.getRuntime().availableProcessors() + " maxHeap="
                + Runtime.getRuntime().maxMemory() / (1024 * 1024) + "MiB gc=" + gcs);
        System.out.println("READY " + http.port());
        Thread.sleep(30L * 60 * 1000); // bounded: 30 minutes at most
        http.close();
    }

    private static int whole(Object o) {
        return o instanceof Integer i ? i : -1;
    }
}
