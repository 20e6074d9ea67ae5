package dev.crossgate.bench.ws;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.redis.RedisAdapter;
import dev.crossgate.realtime.socketio.Namespace;
import dev.crossgate.realtime.socketio.SocketIoServer;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.time.Duration;
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
 *
 * <p>{@code --redis redis://127.0.0.1:PORT} makes it a cluster node for {@code bench/socketio-cluster.sh} (the peer of
 * {@code broadcast-server.mjs PORT REDIS_URL}): the server gets {@link RedisAdapter} in the classic mode with the Node
 * adapter's default key "socket.io", so a broadcast on one node also reaches the receivers of the others through
 * Redis. At exit it prints the adapter's counters ({@code ADAPTER published=... received=... lost=...}), which show
 * that the traffic crossed Redis and that none was counted lost.
 */
public final class SocketIoBroadcastMain {
    private SocketIoBroadcastMain() {
    }

    public static void main(String[] args) throws Exception {
        Options options = new Options(args);
        int port = options.integer("port", 0, 0, 65535);
        String redis = options.string("redis", "");
        options.noOthers();
        if (!redis.isEmpty() && !redis.startsWith("redis://127.0.0.1:")) {
            throw new IllegalArgumentException("--redis " + redis + " (expected: redis://127.0.0.1:PORT, loopback only)");
        }
        SocketIoServer.Builder builder = SocketIoServer.builder();
        RedisAdapter adapter = null;
        if (!redis.isEmpty()) {
            // As the Node peer's createAdapter(pub, sub) with its defaults: key "socket.io", requestsTimeout 5 s.
            adapter = RedisAdapter.connect(redis, RedisAdapter.Mode.CLASSIC, "socket.io", Duration.ofSeconds(5));
            builder.adapter(adapter);
            RedisAdapter a = adapter;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                RedisAdapter.Stats st = a.stats();
                System.out.println("ADAPTER connected=" + st.connected() + " published=" + st.published() + " received="
                        + st.received() + " lost=" + st.lost() + " requestTimeouts=" + st.requestTimeouts());
                System.out.flush();
            }, "adapter-stats"));
        }
        SocketIoServer io = builder.build();
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
