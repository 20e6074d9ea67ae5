package dev.crossgate.realtime.redis;

import dev.crossgate.realtime.socketio.Adapter;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.pubsub.RedisPubSubAdapter;
import io.lettuce.core.pubsub.StatefulRedisPubSubConnection;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * A cluster adapter through Redis Pub/Sub, wire-compatible with the Node.js {@code @socket.io/redis-adapter} 8.x, so
 * Crossgate nodes, Node.js nodes and {@code @socket.io/redis-emitter} backends on one Redis form one cluster:
 * <ul>
 * <li>{@link Mode#CLASSIC} ({@code createAdapter}): broadcasts are MessagePack {@code [uid, packet, opts]} on
 * {@code <key>#<nsp>#} (one room: {@code <key>#<nsp>#<room>#}), received by pattern; requests are JSON (a broadcast
 * with acks MessagePack) on {@code <key>-request#<nsp>#}, answers on {@code <key>-response#<nsp>#}; the number of nodes
 * is PUBSUB NUMSUB of the request channel.</li>
 * <li>{@link Mode#SHARDED} ({@code createShardedAdapter}, Redis 7): socket.io-adapter's ClusterAdapter messages
 * {@code {uid, nsp, type, data}} (JSON, MessagePack when they carry binary) by SPUBLISH on {@code <key>#<nsp>#}, a
 * public room's broadcasts on {@code <key>#<nsp>#<room>#} (subscribed while the room has members here: the "dynamic"
 * subscription mode), answers on {@code <key>#<nsp>#<uid>#}; nodes counted by PUBSUB SHARDNUMSUB.</li>
 * </ul>
 * When Redis is unreachable, local delivery goes on (the server delivers before it publishes), every message that could
 * not be published is counted in {@link Stats#lost()}, requests to other nodes answer with this node's part only, and
 * Lettuce reconnects with backoff (and subscribes again). {@link #stats()} and the state listener say so.
 */
public final class RedisAdapter implements Adapter {
    /** The wire variant. */
    public enum Mode { CLASSIC, SHARDED }

    /** Counters and state, for metrics and readiness. */
    public record Stats(boolean connected, long published, long received, long lost, long requestTimeouts) {}

    /** Told when the connection to Redis is lost or back (one line for the log: never the URL's password). */
    @FunctionalInterface
    public interface StateListener {
        void changed(boolean connected, String detail);
    }

    // @socket.io/redis-adapter's RequestType (classic)
    static final int SOCKETS = 0, ALL_ROOMS = 1, REMOTE_JOIN = 2, REMOTE_LEAVE = 3, REMOTE_DISCONNECT = 4, REMOTE_FETCH = 5,
            SERVER_SIDE_EMIT = 6, BROADCAST = 7, BROADCAST_CLIENT_COUNT = 8, BROADCAST_ACK = 9;
    // socket.io-adapter's MessageType (ClusterAdapter, the sharded variant)
    static final int C_BROADCAST = 3, C_SOCKETS_JOIN = 4, C_SOCKETS_LEAVE = 5, C_DISCONNECT_SOCKETS = 6, C_FETCH_SOCKETS = 7,
            C_FETCH_SOCKETS_RESPONSE = 8, C_SERVER_SIDE_EMIT = 9, C_SERVER_SIDE_EMIT_RESPONSE = 10, C_BROADCAST_CLIENT_COUNT = 11,
            C_BROADCAST_ACK = 12;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private final Mode mode;
    private final String key;
    private final Duration requestTimeout;
    private final String uid;
    private final io.lettuce.core.resource.ClientResources resources;
    /** A RedisClient (one server, or Sentinel), or a RedisClusterClient (Redis Cluster seed nodes). */
    private final io.lettuce.core.AbstractRedisClient client;
    private final boolean cluster;
    private final RedisURI uri;
    /** The connections, null until Redis was first reached (a node may start while Redis is down). */
    private volatile io.lettuce.core.api.StatefulConnection<byte[], byte[]> pub;
    private volatile StatefulRedisPubSubConnection<byte[], byte[]> sub;
    /** The commands of {@code pub}: a single server's and a cluster's share this interface. */
    private volatile io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands<byte[], byte[]> cmd;
    /** What this node subscribes to, so that a connection made later (or again) subscribes to all of it. */
    private final Set<String> patterns = ConcurrentHashMap.newKeySet();
    private final Set<String> plain = ConcurrentHashMap.newKeySet();
    private final Set<String> shards = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private volatile String lastError;
    private int attempts;
    /** Incoming messages are handled in arrival order, off Lettuce's I/O thread (handlers may be slow). */
    private final ExecutorService inbox;
    private final ScheduledExecutorService timers;
    private final Map<String, Pending> requests = new ConcurrentHashMap<>();
    private final Map<String, AckRequest> ackRequests = new ConcurrentHashMap<>();
    /** Subscribed channel -> namespace (request/response channels of the classic variant, every channel of the sharded one). */
    private final Map<String, String> channels = new ConcurrentHashMap<>();
    private final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean connected = new AtomicBoolean();
    /** The connections (of the two) that are connected now, as Lettuce's connection events tell. */
    private final Set<Object> up = ConcurrentHashMap.newKeySet();
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong lost = new AtomicLong();
    private final AtomicLong requestTimeouts = new AtomicLong();
    private volatile StateListener stateListener = (up, detail) -> { };
    private volatile Local local;

    /** A request awaiting {@code expected} answers. */
    private static final class Pending {
        final int type;
        final int expected;
        final List<Object> answers = new ArrayList<>();
        final CompletableFuture<List<Object>> done = new CompletableFuture<>();
        int count;

        Pending(int type, int expected) {
            this.type = type;
            this.expected = expected;
        }
    }

    private record AckRequest(IntConsumer clientCount, Consumer<Object> ack) {}

    private RedisAdapter(Mode mode, List<RedisURI> uris, boolean cluster, String key, Duration requestTimeout) {
        this.mode = mode;
        this.uri = uris.get(0);
        this.cluster = cluster;
        this.key = key;
        this.requestTimeout = requestTimeout;
        this.uid = randomId(mode == Mode.CLASSIC ? 6 : 16);
        this.inbox = Executors.newSingleThreadExecutor(r -> daemon(r, "crossgate-redis-adapter"));
        this.timers = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "crossgate-redis-adapter-timer"));
        // Reconnect backoff: 100 ms doubling to at most 5 s (Lettuce's default climbs to 30 s, too long for a realtime hub).
        this.resources = io.lettuce.core.resource.DefaultClientResources.builder().ioThreadPoolSize(2).computationThreadPoolSize(2)
                .reconnectDelay(io.lettuce.core.resource.Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(5), 2, TimeUnit.MILLISECONDS))
                .build();
        // Commands are refused at once while disconnected (not queued without bound): a publish that cannot go out is
        // counted as lost; Lettuce reconnects with backoff and re-subscribes the Pub/Sub connection.
        if (cluster) {
            var c = io.lettuce.core.cluster.RedisClusterClient.create(resources, uris);
            // A cluster opens its node connections as commands need them: commands wait for a node connection being
            // made (bounded: 10,000 queued, each failing after the request timeout, then counted as lost).
            c.setOptions(io.lettuce.core.cluster.ClusterClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS).requestQueueSize(10_000)
                    .timeoutOptions(io.lettuce.core.TimeoutOptions.enabled(requestTimeout))
                    .topologyRefreshOptions(io.lettuce.core.cluster.ClusterTopologyRefreshOptions.builder().enableAllAdaptiveRefreshTriggers().build())
                    .build());
            this.client = c;
        } else {
            var c = RedisClient.create(resources, uri);
            c.setOptions(ClientOptions.builder().autoReconnect(true).disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                    .timeoutOptions(io.lettuce.core.TimeoutOptions.enabled(requestTimeout)).build());
            this.client = c;
        }
        client.addListener(new RedisConnectionStateListener() {
            @Override
            public void onRedisConnected(io.lettuce.core.RedisChannelHandler<?, ?> h, SocketAddress a) {
                up.add(h);
                stateChanged();
            }

            @Override
            public void onRedisDisconnected(io.lettuce.core.RedisChannelHandler<?, ?> h) {
                up.remove(h);
                stateChanged();
            }
        });
        if (cluster) {
            // A cluster's connections are many (one per node, opened as needed): its state is what a PING says, every second.
            timers.scheduleWithFixedDelay(this::probeCluster, 1, 1, TimeUnit.SECONDS);
        }
        connectOrRetry();
    }

    private final RedisPubSubAdapter<byte[], byte[]> listener = new RedisPubSubAdapter<>() {
        @Override
        public void message(byte[] channel, byte[] message) {
            receive(channel, message);
        }

        @Override
        public void message(byte[] pattern, byte[] channel, byte[] message) {
            receive(channel, message);
        }

        @Override
        public void smessage(byte[] channel, byte[] message) {
            receive(channel, message);
        }
    };

    /**
     * Opens the two connections (publish, subscribe); when Redis cannot be reached, tries again with backoff (100 ms
     * doubling to 5 s) until it can: a node starts while Redis is down, alone, and joins the cluster when Redis is back.
     * Once connected, Lettuce reconnects by itself.
     */
    private void connectOrRetry() {
        if (closed || pub != null) {
            return;
        }
        io.lettuce.core.api.StatefulConnection<byte[], byte[]> p = null;
        try {
            StatefulRedisPubSubConnection<byte[], byte[]> s;
            if (client instanceof io.lettuce.core.cluster.RedisClusterClient c) {
                var cp = c.connect(ByteArrayCodec.INSTANCE);
                p = cp;
                cmd = cp.async();
                var cs = c.connectPubSub(ByteArrayCodec.INSTANCE);
                cs.addListener(new io.lettuce.core.cluster.pubsub.RedisClusterPubSubAdapter<byte[], byte[]>() {
                    @Override
                    public void message(io.lettuce.core.cluster.models.partitions.RedisClusterNode node, byte[] channel, byte[] message) {
                        receive(channel, message);
                    }

                    @Override
                    public void message(io.lettuce.core.cluster.models.partitions.RedisClusterNode node, byte[] pattern, byte[] channel, byte[] message) {
                        receive(channel, message);
                    }

                    @Override
                    public void smessage(io.lettuce.core.cluster.models.partitions.RedisClusterNode node, byte[] channel, byte[] message) {
                        receive(channel, message);
                    }
                });
                cs.setNodeMessagePropagation(true);
                s = cs;
            } else {
                var sp = ((RedisClient) client).connect(ByteArrayCodec.INSTANCE);
                p = sp;
                cmd = sp.async();
                s = ((RedisClient) client).connectPubSub(ByteArrayCodec.INSTANCE);
                s.addListener(listener);
            }
            sub = s;
            pub = p;
            for (String ch : patterns) {
                s.async().psubscribe(bytes(ch));
            }
            for (String ch : plain) {
                s.async().subscribe(bytes(ch));
            }
            for (String ch : shards) {
                s.async().ssubscribe(bytes(ch));
            }
            lastError = null;
            stateChanged();
        } catch (RuntimeException e) {
            if (p != null) {
                p.closeAsync();
            }
            lastError = String.valueOf(e.getMessage()).lines().findFirst().orElse("unreachable");
            if (attempts++ == 0) {
                stateListener.changed(false, "cannot reach " + address() + " (" + lastError + "); retrying");
            }
            long delay = Math.min(5_000, 100L << Math.min(attempts, 6));
            timers.schedule(this::connectOrRetry, delay, TimeUnit.MILLISECONDS);
        }
    }

    private volatile boolean clusterUp = true;

    /** A cluster's link state, by PING (every second). */
    private void probeCluster() {
        var c = cmd;
        if (c == null || closed) {
            return;
        }
        try {
            c.ping().get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
            clusterUp = true;
        } catch (Exception e) {
            clusterUp = false;
            lastError = String.valueOf(e.getMessage()).lines().findFirst().orElse("no answer");
        }
        stateChanged();
    }

    /** Why Redis is not reachable now (one line), or null. */
    public String lastError() {
        return connected.get() ? null : lastError;
    }

    /**
     * Connects to Redis ({@code redis://}, {@code rediss://}, {@code redis-sentinel://} in Lettuce's URI syntax). When
     * Redis cannot be reached now, the adapter starts anyway (local delivery works, publishes are counted as lost) and
     * connects as soon as it can; {@link #stats()} and the state listener tell.
     *
     * @param key the channel prefix, "socket.io" as the Node adapter's default ({@code key} / {@code channelPrefix})
     */
    public static RedisAdapter connect(String url, Mode mode, String key, Duration requestTimeout) {
        return new RedisAdapter(mode, List.of(RedisURI.create(url)), false, key, requestTimeout);
    }

    /**
     * Connects to a Redis Cluster through its seed nodes ({@code redis://h1:6379,h2:6379} or several URLs); the
     * topology is learned from them and followed as it changes.
     */
    public static RedisAdapter connectCluster(String seeds, Mode mode, String key, Duration requestTimeout) {
        List<RedisURI> uris = new ArrayList<>();
        for (String part : seeds.split(",")) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue;
            }
            if (!p.contains("://")) {
                String scheme = seeds.substring(0, Math.max(0, seeds.indexOf("://") + 3));
                String creds = seeds.contains("@") && seeds.indexOf('@') < seeds.indexOf(part) ? seeds.substring(scheme.length(), seeds.indexOf('@') + 1) : "";
                p = scheme + creds + p;
            }
            uris.add(RedisURI.create(p));
        }
        return new RedisAdapter(mode, uris, true, key, requestTimeout);
    }

    public static RedisAdapter connect(String url) {
        return connect(url, Mode.CLASSIC, "socket.io", Duration.ofSeconds(5));
    }

    public void onStateChange(StateListener l) {
        stateListener = l;
    }

    public Stats stats() {
        return new Stats(connected.get(), published.get(), received.get(), lost.get(), requestTimeouts.get());
    }

    public Mode mode() {
        return mode;
    }

    /** This node's id in the cluster's messages. */
    public String uid() {
        return uid;
    }

    /** The Redis address without credentials, for logs. */
    public String address() {
        StringBuilder b = new StringBuilder(uri.isSsl() ? "rediss://" : "redis://");
        if (uri.getSentinels() != null && !uri.getSentinels().isEmpty()) {
            b = new StringBuilder("redis-sentinel://");
            for (int i = 0; i < uri.getSentinels().size(); i++) {
                RedisURI s = uri.getSentinels().get(i);
                b.append(i == 0 ? "" : ",").append(s.getHost()).append(':').append(s.getPort());
            }
            return b.append('#').append(uri.getSentinelMasterId()).toString();
        }
        return b.append(uri.getHost()).append(':').append(uri.getPort()).toString();
    }

    /** Connected when both connections (publish, subscribe) are: a connection's isOpen stays true while it reconnects. */
    private void stateChanged() {
        boolean now = pub != null && sub != null && (cluster ? clusterUp : up.contains(pub) && up.contains(sub));
        if (connected.getAndSet(now) != now && pub != null && sub != null) {
            stateListener.changed(now, now ? "connected to " + address() : "lost the connection to " + address() + "; reconnecting");
        }
    }

    // ---------------------------------------------------------------- subscriptions

    @Override
    public void start(Local local) {
        this.local = local;
    }

    @Override
    public void namespaceCreated(String nsp) {
        if (!namespaces.add(nsp)) {
            return;
        }
        if (mode == Mode.CLASSIC) {
            String request = key + "-request#" + nsp + "#";
            String response = key + "-response#" + nsp + "#";
            channels.put(request, nsp);
            channels.put(response, nsp);
            channels.put(response + uid + "#", nsp);
            channels.put(broadcastChannel(nsp), nsp);
            subscribe(patterns, broadcastChannel(nsp) + "*");
            subscribe(plain, request);
            subscribe(plain, response);
            subscribe(plain, response + uid + "#");
        } else {
            String main = key + "#" + nsp + "#";
            String response = main + uid + "#";
            channels.put(main, nsp);
            channels.put(response, nsp);
            subscribe(shards, main);
            subscribe(shards, response);
        }
    }

    @Override
    public void roomCreated(String nsp, String room) {
        // The sharded adapter's "dynamic" mode: a public room's broadcasts have their own shard channel.
        if (mode == Mode.SHARDED && !looksLikeASocketId(room)) {
            String ch = key + "#" + nsp + "#" + room + "#";
            channels.put(ch, nsp);
            subscribe(shards, ch);
        }
    }

    @Override
    public void roomDeleted(String nsp, String room) {
        if (mode == Mode.SHARDED && !looksLikeASocketId(room)) {
            String ch = key + "#" + nsp + "#" + room + "#";
            channels.remove(ch);
            shards.remove(ch);
            StatefulRedisPubSubConnection<byte[], byte[]> c = sub;
            if (c != null) {
                c.async().sunsubscribe(bytes(ch));
            }
        }
    }

    private String broadcastChannel(String nsp) {
        return key + "#" + nsp + "#";
    }

    /** @socket.io/redis-adapter sharded-adapter.ts looksLikeASocketId: a 20-character room is a socket's own. */
    static boolean looksLikeASocketId(String room) {
        return room.length() == 20;
    }

    /**
     * Records a subscription and makes it now when connected. Off an event loop (a server being built) it waits for
     * Redis's confirmation, bounded, so that what is sent next is seen; on an event loop (a room created by a join, a
     * dynamic namespace) it does not wait, as the Node adapter does not.
     */
    private void subscribe(Set<String> kind, String channel) {
        kind.add(channel);
        StatefulRedisPubSubConnection<byte[], byte[]> c = sub;
        if (c == null) {
            return;
        }
        byte[] ch = bytes(channel);
        var f = kind == patterns ? c.async().psubscribe(ch) : kind == plain ? c.async().subscribe(ch) : c.async().ssubscribe(ch);
        if (!(Thread.currentThread() instanceof io.netty.util.concurrent.FastThreadLocalThread)) {
            await(f);
        }
    }

    private void await(io.lettuce.core.RedisFuture<?> f) {
        try {
            f.get(requestTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // Not subscribed now (Redis down): Lettuce subscribes again when it reconnects.
        }
    }

    // ---------------------------------------------------------------- outgoing

    @Override
    public void broadcast(String nsp, Target target, List<Object> data, String offset) {
        Map<String, Object> packet = packet(nsp, data);
        Map<String, Object> opts = opts(target, true);
        if (offset != null) {
            opts.put("offset", offset); // Crossgate's recovery offset; Node.js nodes read rooms, except and flags only
        }
        if (mode == Mode.CLASSIC) {
            // RedisAdapter.broadcast: [uid, packet, {rooms, except, flags}] on the namespace's channel, or the room's.
            byte[] msg = Wire.pack(List.of(uid, packet, opts));
            String channel = broadcastChannel(nsp);
            if (target.rooms().size() == 1) {
                channel += target.rooms().iterator().next() + "#";
            }
            publish(channel, msg);
        } else {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("packet", packet);
            d.put("opts", opts);
            String channel = key + "#" + nsp + "#";
            if (target.rooms().size() == 1 && !looksLikeASocketId(target.rooms().iterator().next())) {
                channel += target.rooms().iterator().next() + "#"; // sharded-adapter.ts computeChannel (dynamic)
            }
            publish(channel, cluster(C_BROADCAST, nsp, d));
        }
    }

    @Override
    public void broadcastWithAck(String nsp, Target target, List<Object> data, Duration timeout, IntConsumer clientCount, Consumer<Object> ack) {
        String requestId = randomId(mode == Mode.CLASSIC ? 6 : 16);
        ackRequests.put(requestId, new AckRequest(clientCount, ack));
        timers.schedule(() -> ackRequests.remove(requestId), timeout.toMillis(), TimeUnit.MILLISECONDS);
        Map<String, Object> opts = opts(target, true);
        @SuppressWarnings("unchecked")
        Map<String, Object> flags = (Map<String, Object>) opts.get("flags");
        flags.put("timeout", timeout.toMillis());
        if (mode == Mode.CLASSIC) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("uid", uid);
            r.put("requestId", requestId);
            r.put("type", BROADCAST);
            r.put("packet", packet(nsp, data));
            r.put("opts", opts);
            publish(key + "-request#" + nsp + "#", Wire.pack(r));
        } else {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("packet", packet(nsp, data));
            d.put("requestId", requestId);
            d.put("opts", opts);
            publish(key + "#" + nsp + "#", cluster(C_BROADCAST, nsp, d));
        }
    }

    @Override
    public CompletableFuture<List<SocketInfo>> fetchSockets(String nsp, Target target, Duration timeout) {
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("opts", opts(target, false));
        return request(nsp, mode == Mode.CLASSIC ? REMOTE_FETCH : C_FETCH_SOCKETS, req, timeout).thenApply(answers -> {
            List<SocketInfo> out = new ArrayList<>();
            for (Object a : answers) {
                if (a instanceof Map<?, ?> m) {
                    out.add(socketInfo(m));
                }
            }
            return out;
        });
    }

    @SuppressWarnings("unchecked")
    private static SocketInfo socketInfo(Map<?, ?> m) {
        Set<String> rooms = new LinkedHashSet<>();
        if (m.get("rooms") instanceof List<?> l) {
            l.forEach(r -> rooms.add(String.valueOf(r)));
        }
        Map<String, Object> data = m.get("data") instanceof Map<?, ?> d ? (Map<String, Object>) d : Map.of();
        Map<String, Object> handshake = m.get("handshake") instanceof Map<?, ?> h ? (Map<String, Object>) h : Map.of();
        return new SocketInfo(String.valueOf(m.get("id")), rooms, data, handshake);
    }

    @Override
    public void socketsJoin(String nsp, Target target, Collection<String> rooms) {
        selectorRequest(nsp, mode == Mode.CLASSIC ? REMOTE_JOIN : C_SOCKETS_JOIN, target, "rooms", new ArrayList<>(rooms));
    }

    @Override
    public void socketsLeave(String nsp, Target target, Collection<String> rooms) {
        selectorRequest(nsp, mode == Mode.CLASSIC ? REMOTE_LEAVE : C_SOCKETS_LEAVE, target, "rooms", new ArrayList<>(rooms));
    }

    @Override
    public void disconnectSockets(String nsp, Target target, boolean close) {
        selectorRequest(nsp, mode == Mode.CLASSIC ? REMOTE_DISCONNECT : C_DISCONNECT_SOCKETS, target, "close", close);
    }

    private void selectorRequest(String nsp, int type, Target target, String field, Object value) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("opts", opts(target, false));
        d.put(field, value);
        if (mode == Mode.CLASSIC) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("uid", uid);
            r.put("type", type);
            r.putAll(d);
            publish(key + "-request#" + nsp + "#", Wire.json(r));
        } else {
            publish(key + "#" + nsp + "#", cluster(type, nsp, d));
        }
    }

    @Override
    public void serverSideEmit(String nsp, List<Object> data) {
        if (mode == Mode.CLASSIC) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("uid", uid);
            r.put("type", SERVER_SIDE_EMIT);
            r.put("data", data);
            publish(key + "-request#" + nsp + "#", Wire.json(r));
        } else {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("packet", data);
            publish(key + "#" + nsp + "#", cluster(C_SERVER_SIDE_EMIT, nsp, d));
        }
    }

    @Override
    public CompletableFuture<List<Object>> serverSideEmitWithAck(String nsp, List<Object> data, Duration timeout) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put(mode == Mode.CLASSIC ? "data" : "packet", data);
        return request(nsp, mode == Mode.CLASSIC ? SERVER_SIDE_EMIT : C_SERVER_SIDE_EMIT, d, timeout);
    }

    @Override
    public CompletableFuture<Set<String>> allRooms(String nsp, Duration timeout) {
        if (mode == Mode.SHARDED) {
            // socket.io-adapter's ClusterAdapter has no allRooms request: the Node sharded adapter answers with its own rooms.
            return CompletableFuture.completedFuture(Set.of());
        }
        return request(nsp, ALL_ROOMS, new LinkedHashMap<>(), timeout).thenApply(answers -> {
            Set<String> rooms = new LinkedHashSet<>();
            for (Object a : answers) {
                if (a instanceof List<?> l) {
                    l.forEach(r -> rooms.add(String.valueOf(r)));
                }
            }
            return rooms;
        });
    }

    @Override
    public CompletableFuture<Integer> serverCount(String nsp) {
        CompletableFuture<Integer> f = new CompletableFuture<>();
        if (!connected.get()) {
            f.complete(1);
            return f;
        }
        if (cluster && pub instanceof io.lettuce.core.cluster.api.StatefulRedisClusterConnection<byte[], byte[]> cc) {
            return clusterCount(cc, nsp);
        }
        var count = mode == Mode.CLASSIC
                ? cmd.pubsubNumsub(bytes(key + "-request#" + nsp + "#"))
                : cmd.pubsubShardNumsub(bytes(key + "#" + nsp + "#"));
        count.whenComplete((m, err) -> {
            long n = 0;
            if (err == null && m != null) {
                for (Long v : m.values()) {
                    n += v == null ? 0 : v;
                }
            }
            f.complete((int) Math.max(1, n));
        });
        return f;
    }

    /**
     * The nodes of a namespace in a Redis Cluster: Pub/Sub subscriptions live on each cluster node, so NUMSUB is summed over
     * the masters (as @socket.io/redis-adapter's PUBSUB helper does for a cluster client); SHARDNUMSUB is asked of the
     * master that owns the channel's slot.
     */
    private CompletableFuture<Integer> clusterCount(io.lettuce.core.cluster.api.StatefulRedisClusterConnection<byte[], byte[]> cc, String nsp) {
        List<CompletableFuture<Long>> parts = new ArrayList<>();
        if (mode == Mode.CLASSIC) {
            byte[] ch = bytes(key + "-request#" + nsp + "#");
            for (var node : cc.getPartitions()) {
                if (node.is(io.lettuce.core.cluster.models.partitions.RedisClusterNode.NodeFlag.UPSTREAM)) {
                    parts.add(cc.getConnectionAsync(node.getNodeId()).thenCompose(conn -> conn.async().pubsubNumsub(ch).toCompletableFuture())
                            .thenApply(m -> m.values().stream().mapToLong(v -> v == null ? 0 : v).sum()));
                }
            }
        } else {
            byte[] ch = bytes(key + "#" + nsp + "#");
            var owner = cc.getPartitions().getMasterBySlot(io.lettuce.core.cluster.SlotHash.getSlot(ch));
            if (owner != null) {
                parts.add(cc.getConnectionAsync(owner.getNodeId()).thenCompose(conn -> conn.async().pubsubShardNumsub(ch).toCompletableFuture())
                        .thenApply(m -> m.values().stream().mapToLong(v -> v == null ? 0 : v).sum()));
            }
        }
        return CompletableFuture.allOf(parts.toArray(CompletableFuture[]::new)).handle((v, err) -> {
            long n = 0;
            for (CompletableFuture<Long> f : parts) {
                n += f.isDone() && !f.isCompletedExceptionally() ? f.join() : 0;
            }
            return (int) Math.max(1, n);
        });
    }

    /**
     * Sends a request that every other node answers ({@code serverCount - 1} answers), and completes with the answers'
     * payloads; with Redis down, or alone, at once with none; after {@code timeout} fails with a TimeoutException
     * (as the Node adapter's "timeout reached while waiting for ... response").
     */
    private CompletableFuture<List<Object>> request(String nsp, int type, Map<String, Object> fields, Duration timeout) {
        return serverCount(nsp).thenCompose(nodes -> {
            int expected = nodes - 1;
            if (expected <= 0) {
                return CompletableFuture.completedFuture(List.of());
            }
            String requestId = randomId(mode == Mode.CLASSIC ? 6 : 16);
            Pending p = new Pending(type, expected);
            requests.put(requestId, p);
            timers.schedule(() -> {
                if (requests.remove(requestId, p)) {
                    requestTimeouts.incrementAndGet();
                    synchronized (p) {
                        p.done.completeExceptionally(new TimeoutException("timeout reached: only " + p.count + " responses received out of "
                                + p.expected + " (request type " + type + " in " + nsp + ")"));
                    }
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (mode == Mode.CLASSIC) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("uid", uid);
                r.put("requestId", requestId);
                r.put("type", type);
                r.putAll(fields);
                publish(key + "-request#" + nsp + "#", Wire.hasBinary(r) ? Wire.pack(r) : Wire.json(r));
            } else {
                Map<String, Object> d = new LinkedHashMap<>(fields);
                d.put("requestId", requestId);
                publish(key + "#" + nsp + "#", cluster(type, nsp, d));
            }
            return p.done;
        });
    }

    private void publish(String channel, byte[] message) {
        if (!connected.get()) {
            lost.incrementAndGet(); // never silently: counted, and the metric and /readyz say why
            return;
        }
        var f = mode == Mode.SHARDED ? cmd.spublish(bytes(channel), message) : cmd.publish(bytes(channel), message);
        f.whenComplete((n, err) -> {
            if (err != null) {
                lost.incrementAndGet();
            } else {
                published.incrementAndGet();
            }
        });
    }

    /** A socket.io-parser EVENT packet object: {type: 2, data, nsp}. */
    private static Map<String, Object> packet(String nsp, List<Object> data) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("type", 2);
        p.put("data", data);
        p.put("nsp", nsp);
        return p;
    }

    private static Map<String, Object> opts(Target t, boolean withFlags) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("rooms", new ArrayList<>(t.rooms()));
        o.put("except", new ArrayList<>(t.except()));
        if (withFlags) {
            Map<String, Object> f = new LinkedHashMap<>();
            if (t.flags().isVolatile()) {
                f.put("volatile", true);
            }
            if (t.flags().compress()) {
                f.put("compress", true);
            }
            o.put("flags", f);
        }
        return o;
    }

    /** A ClusterAdapter message {uid, nsp, type, data}: MessagePack when it carries binary (sharded-adapter.ts encode). */
    private byte[] cluster(int type, String nsp, Map<String, Object> data) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("uid", uid);
        m.put("nsp", nsp);
        m.put("type", type);
        m.put("data", data);
        boolean mayContainBinary = type == C_BROADCAST || type == C_BROADCAST_ACK || type == C_FETCH_SOCKETS_RESPONSE
                || type == C_SERVER_SIDE_EMIT || type == C_SERVER_SIDE_EMIT_RESPONSE;
        return mayContainBinary && Wire.hasBinary(data) ? Wire.pack(m) : Wire.json(m);
    }

    // ---------------------------------------------------------------- recovery across nodes

    /**
     * Connection state recovery kept in this Redis (pass it to {@code SocketIoServer.builder().recoveryStore(...)}), as
     * {@code @socket.io/redis-streams-adapter} keeps it: the broadcasts in a stream ({@code <key>-recovery}, trimmed to
     * the window by MINID), each session in a key with the window as its TTL ({@code <key>-recovery-session:<pid>},
     * taken with GETDEL so that only one node recovers it). MessagePack values.
     */
    public dev.crossgate.realtime.socketio.RecoveryStore recoveryStore() {
        return recoveryStore;
    }

    /** How many stream entries a recovery reads at most (the window's broadcasts; a longer log is not replayed). */
    static final int MAX_REPLAY_SCAN = 100_000;

    private final dev.crossgate.realtime.socketio.RecoveryStore recoveryStore = new dev.crossgate.realtime.socketio.RecoveryStore() {
        private byte[] stream() {
            return bytes(key + "-recovery");
        }

        private byte[] sessionKey(String pid) {
            return bytes(key + "-recovery-session:" + pid);
        }

        @Override
        public void append(Packet p, Duration window) {
            if (!connected.get()) {
                lost.incrementAndGet();
                return;
            }
            long minId = Math.max(0, System.currentTimeMillis() - window.toMillis());
            byte[] entry = Wire.pack(List.of(p.offset(), p.namespace(), new ArrayList<>(p.rooms()), new ArrayList<>(p.except()), p.text(),
                    new ArrayList<Object>(p.attachments())));
            cmd.xadd(stream(), new io.lettuce.core.XAddArgs().minId(Long.toString(minId)).approximateTrimming(), Map.of(bytes("m"), entry))
                    .whenComplete((id, err) -> {
                        if (err != null) {
                            lost.incrementAndGet();
                        }
                    });
        }

        @Override
        public CompletableFuture<Void> save(String pid, Session session, Duration window) {
            if (!connected.get()) {
                lost.incrementAndGet();
                return CompletableFuture.completedFuture(null);
            }
            byte[] value = Wire.pack(List.of(session.sid(), session.namespace(), new ArrayList<>(session.rooms()), session.data()));
            return cmd.set(sessionKey(pid), value, io.lettuce.core.SetArgs.Builder.px(Math.max(1, window.toMillis())))
                    .toCompletableFuture().handle((ok, err) -> {
                        if (err != null) {
                            lost.incrementAndGet();
                        }
                        return null;
                    });
        }

        @Override
        @SuppressWarnings("unchecked")
        public CompletableFuture<Session> take(String pid) {
            if (!connected.get()) {
                return CompletableFuture.completedFuture(null);
            }
            return cmd.getdel(sessionKey(pid)).toCompletableFuture().thenApply(v -> {
                try {
                    if (v != null && Wire.unpack(v) instanceof List<?> l && l.size() >= 4) {
                        Map<String, Object> data = l.get(3) instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
                        return new Session(String.valueOf(l.get(0)), String.valueOf(l.get(1)), stringSet(l.get(2)), data);
                    }
                } catch (java.io.IOException malformed) {
                    // not ours: no session
                }
                return null;
            });
        }

        @Override
        public CompletableFuture<List<Packet>> after(String namespace, String offset) {
            if (!connected.get()) {
                return CompletableFuture.completedFuture(null);
            }
            return cmd.xrange(stream(), io.lettuce.core.Range.create("-", "+"), io.lettuce.core.Limit.from(MAX_REPLAY_SCAN))
                    .toCompletableFuture().thenApply(entries -> {
                        List<Packet> out = new ArrayList<>();
                        boolean found = false;
                        for (io.lettuce.core.StreamMessage<byte[], byte[]> e : entries) {
                            Packet p = packetOf(e);
                            if (p == null) {
                                continue;
                            }
                            if (found && p.namespace().equals(namespace)) {
                                out.add(p);
                            }
                            if (p.offset().equals(offset)) {
                                found = true;
                            }
                        }
                        return found ? out : null;
                    });
        }

        private Packet packetOf(io.lettuce.core.StreamMessage<byte[], byte[]> e) {
            for (Map.Entry<byte[], byte[]> f : e.getBody().entrySet()) {
                try {
                    if (Wire.unpack(f.getValue()) instanceof List<?> l && l.size() >= 6) {
                        List<byte[]> attachments = new ArrayList<>();
                        if (l.get(5) instanceof List<?> a) {
                            for (Object b : a) {
                                if (b instanceof byte[] bytes) {
                                    attachments.add(bytes);
                                }
                            }
                        }
                        return new Packet(String.valueOf(l.get(0)), String.valueOf(l.get(1)), stringSet(l.get(2)), stringSet(l.get(3)),
                                String.valueOf(l.get(4)), attachments);
                    }
                } catch (java.io.IOException malformed) {
                    return null;
                }
            }
            return null;
        }
    };

    // ---------------------------------------------------------------- incoming

    private void receive(byte[] channelBytes, byte[] message) {
        received.incrementAndGet();
        inbox.execute(() -> {
            try {
                String channel = new String(channelBytes, StandardCharsets.UTF_8);
                if (mode == Mode.CLASSIC) {
                    classic(channel, message);
                } else {
                    sharded(channel, message);
                }
            } catch (Exception malformed) {
                // A message this node cannot read (another version, garbage): ignored, as the Node adapter does.
            }
        });
    }

    private void classic(String channel, byte[] message) throws java.io.IOException {
        Local l = local;
        if (l == null) {
            return;
        }
        String nsp = channels.get(channel);
        if (nsp != null && channel.startsWith(key + "-response#")) {
            classicResponse(Wire.decode(message));
            return;
        }
        if (nsp != null && channel.startsWith(key + "-request#")) {
            classicRequest(l, nsp, Wire.decode(message));
            return;
        }
        // A broadcast: <key>#<nsp>#[<room>#]; the namespace is the packet's.
        if (!channel.startsWith(key + "#")) {
            return;
        }
        if (!(Wire.unpack(message) instanceof List<?> msg) || msg.size() < 3) {
            return;
        }
        if (uid.equals(msg.get(0)) || !(msg.get(1) instanceof Map<?, ?> packet) || !(msg.get(2) instanceof Map<?, ?> opts)) {
            return;
        }
        String packetNsp = packet.get("nsp") == null ? "/" : String.valueOf(packet.get("nsp"));
        String prefix = broadcastChannel(packetNsp);
        if (!channel.startsWith(prefix) || !namespaces.contains(packetNsp)) {
            return;
        }
        String room = channel.length() > prefix.length() ? channel.substring(prefix.length(), channel.length() - 1) : "";
        if (!room.isEmpty() && !l.hasRoom(packetNsp, room)) {
            return; // RedisAdapter.onmessage: "ignore unknown room"
        }
        if (packet.get("data") instanceof List<?> data) {
            l.broadcast(packetNsp, target(opts), listOf(data), offset(opts));
        }
    }

    @SuppressWarnings("unchecked")
    private void classicRequest(Local l, String nsp, Object decoded) {
        if (!(decoded instanceof Map<?, ?> raw)) {
            return;
        }
        Map<String, Object> r = (Map<String, Object>) raw;
        int type = r.get("type") instanceof Number n ? n.intValue() : -1;
        String requestId = r.get("requestId") == null ? null : String.valueOf(r.get("requestId"));
        boolean mine = uid.equals(r.get("uid"));
        switch (type) {
            case SOCKETS -> {
                if (mine || requests.containsKey(requestId)) {
                    return;
                }
                Set<String> rooms = stringSet(r.get("rooms"));
                List<String> ids = new ArrayList<>();
                for (SocketInfo s : l.fetchSockets(nsp, Target.of(rooms, Set.of()))) {
                    ids.add(s.id());
                }
                respondClassic(nsp, Map.of("requestId", requestId, "sockets", ids));
            }
            case ALL_ROOMS -> {
                if (mine || requests.containsKey(requestId)) {
                    return;
                }
                respondClassic(nsp, Map.of("requestId", requestId, "rooms", new ArrayList<>(l.rooms(nsp))));
            }
            case REMOTE_JOIN, REMOTE_LEAVE -> {
                if (r.get("opts") instanceof Map<?, ?> opts) {
                    if (!mine) {
                        List<String> rooms = new ArrayList<>(stringSet(r.get("rooms")));
                        if (type == REMOTE_JOIN) {
                            l.socketsJoin(nsp, target(opts), rooms);
                        } else {
                            l.socketsLeave(nsp, target(opts), rooms);
                        }
                    }
                    return;
                }
                String sid = String.valueOf(r.get("sid"));
                String room = String.valueOf(r.get("room"));
                boolean here = type == REMOTE_JOIN ? l.socketJoin(nsp, sid, room) : l.socketLeave(nsp, sid, room);
                if (here) {
                    respondClassic(nsp, Map.of("requestId", String.valueOf(requestId)));
                }
            }
            case REMOTE_DISCONNECT -> {
                boolean close = Boolean.TRUE.equals(r.get("close"));
                if (r.get("opts") instanceof Map<?, ?> opts) {
                    if (!mine) {
                        l.disconnectSockets(nsp, target(opts), close);
                    }
                    return;
                }
                if (l.socketDisconnect(nsp, String.valueOf(r.get("sid")), close)) {
                    respondClassic(nsp, Map.of("requestId", String.valueOf(requestId)));
                }
            }
            case REMOTE_FETCH -> {
                if (mine || requests.containsKey(requestId) || !(r.get("opts") instanceof Map<?, ?> opts)) {
                    return;
                }
                List<Object> sockets = new ArrayList<>();
                for (SocketInfo s : l.fetchSockets(nsp, target(opts))) {
                    sockets.add(describe(s));
                }
                Map<String, Object> resp = new LinkedHashMap<>();
                resp.put("requestId", requestId);
                resp.put("sockets", sockets);
                respondClassic(nsp, resp);
            }
            case SERVER_SIDE_EMIT -> {
                if (mine || !(r.get("data") instanceof List<?> data)) {
                    return;
                }
                if (requestId == null) {
                    l.serverSideEmit(nsp, listOf(data), null);
                    return;
                }
                AtomicBoolean called = new AtomicBoolean();
                l.serverSideEmit(nsp, listOf(data), arg -> {
                    if (called.compareAndSet(false, true)) { // only one argument is expected
                        Map<String, Object> resp = new LinkedHashMap<>();
                        resp.put("type", SERVER_SIDE_EMIT);
                        resp.put("requestId", requestId);
                        resp.put("data", arg);
                        respondClassic(nsp, resp);
                    }
                });
            }
            case BROADCAST -> {
                if (mine || ackRequests.containsKey(requestId) || !(r.get("packet") instanceof Map<?, ?> packet)
                        || !(r.get("opts") instanceof Map<?, ?> opts) || !(packet.get("data") instanceof List<?> data)) {
                    return;
                }
                l.broadcastWithAck(nsp, target(opts), listOf(data), ackTimeout(opts), count -> {
                    Map<String, Object> resp = new LinkedHashMap<>();
                    resp.put("type", BROADCAST_CLIENT_COUNT);
                    resp.put("requestId", requestId);
                    resp.put("clientCount", count);
                    respondClassic(nsp, resp);
                }, arg -> {
                    Map<String, Object> resp = new LinkedHashMap<>();
                    resp.put("type", BROADCAST_ACK);
                    resp.put("requestId", requestId);
                    resp.put("packet", arg);
                    publish(key + "-response#" + nsp + "#", Wire.pack(resp));
                });
            }
            default -> {
                // an unknown request type (a newer adapter): ignored, as the Node adapter does
            }
        }
    }

    private Duration ackTimeout(Map<?, ?> opts) {
        if (opts.get("flags") instanceof Map<?, ?> f && f.get("timeout") instanceof Number n && n.longValue() > 0) {
            return Duration.ofMillis(Math.min(n.longValue(), Duration.ofMinutes(10).toMillis()));
        }
        return requestTimeout;
    }

    /** Answers on the namespace's response channel, which every node (Node's publishOnSpecificResponseChannel too) reads. */
    private void respondClassic(String nsp, Map<String, Object> response) {
        publish(key + "-response#" + nsp + "#", Wire.hasBinary(response) ? Wire.pack(response) : Wire.json(response));
    }

    private void classicResponse(Object decoded) {
        if (!(decoded instanceof Map<?, ?> r)) {
            return;
        }
        String requestId = r.get("requestId") == null ? null : String.valueOf(r.get("requestId"));
        AckRequest ackRequest = requestId == null ? null : ackRequests.get(requestId);
        int type = r.get("type") instanceof Number n ? n.intValue() : -1;
        if (ackRequest != null) {
            if (type == BROADCAST_CLIENT_COUNT && r.get("clientCount") instanceof Number c) {
                ackRequest.clientCount().accept(c.intValue());
            } else if (type == BROADCAST_ACK) {
                ackRequest.ack().accept(r.get("packet"));
            }
            return;
        }
        Pending p = requestId == null ? null : requests.get(requestId);
        if (p == null) {
            return;
        }
        Object payload = switch (p.type) {
            case REMOTE_FETCH, SOCKETS -> r.get("sockets") instanceof List<?> l ? l : null;
            case ALL_ROOMS -> r.get("rooms") instanceof List<?> l ? l : null;
            case SERVER_SIDE_EMIT -> r.containsKey("data") ? new Holder(r.get("data")) : null;
            default -> null;
        };
        if (payload == null) {
            return;
        }
        answer(requestId, p, payload);
    }

    /** A single answer (serverSideEmit's), told apart from a list of answers. */
    private record Holder(Object value) {}

    private void answer(String requestId, Pending p, Object payload) {
        synchronized (p) {
            if (p.done.isDone()) {
                return;
            }
            p.count++;
            if (payload instanceof Holder h) {
                p.answers.add(h.value());
            } else if (payload instanceof List<?> l && p.type != ALL_ROOMS) {
                p.answers.addAll(l);
            } else {
                p.answers.add(payload);
            }
            if (p.count >= p.expected) {
                requests.remove(requestId, p);
                p.done.complete(List.copyOf(p.answers));
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void sharded(String channel, byte[] message) throws java.io.IOException {
        Local l = local;
        if (l == null || !(Wire.decode(message) instanceof Map<?, ?> raw)) {
            return;
        }
        Map<String, Object> m = (Map<String, Object>) raw;
        String from = String.valueOf(m.get("uid"));
        String nsp = String.valueOf(m.get("nsp"));
        int type = m.get("type") instanceof Number n ? n.intValue() : -1;
        if (uid.equals(from) || !namespaces.contains(nsp) || !(m.get("data") instanceof Map<?, ?> d)) {
            return; // ClusterAdapter.onMessage: ignore self, another namespace; heartbeats (1, 2) and ADAPTER_CLOSE (13) carry no data
        }
        String requestId = d.get("requestId") == null ? null : String.valueOf(d.get("requestId"));
        switch (type) {
            case C_BROADCAST -> {
                if (!(d.get("packet") instanceof Map<?, ?> packet) || !(packet.get("data") instanceof List<?> data)
                        || !(d.get("opts") instanceof Map<?, ?> opts)) {
                    return;
                }
                if (requestId == null) {
                    l.broadcast(nsp, target(opts), listOf(data), offset(opts));
                    return;
                }
                l.broadcastWithAck(nsp, target(opts), listOf(data), ackTimeout(opts),
                        count -> respondSharded(nsp, from, C_BROADCAST_CLIENT_COUNT, Map.of("requestId", requestId, "clientCount", count)),
                        arg -> {
                            Map<String, Object> resp = new LinkedHashMap<>();
                            resp.put("requestId", requestId);
                            resp.put("packet", arg);
                            respondSharded(nsp, from, C_BROADCAST_ACK, resp);
                        });
            }
            case C_SOCKETS_JOIN, C_SOCKETS_LEAVE -> {
                if (d.get("opts") instanceof Map<?, ?> opts) {
                    List<String> rooms = new ArrayList<>(stringSet(d.get("rooms")));
                    if (type == C_SOCKETS_JOIN) {
                        l.socketsJoin(nsp, target(opts), rooms);
                    } else {
                        l.socketsLeave(nsp, target(opts), rooms);
                    }
                }
            }
            case C_DISCONNECT_SOCKETS -> {
                if (d.get("opts") instanceof Map<?, ?> opts) {
                    l.disconnectSockets(nsp, target(opts), Boolean.TRUE.equals(d.get("close")));
                }
            }
            case C_FETCH_SOCKETS -> {
                if (!(d.get("opts") instanceof Map<?, ?> opts)) {
                    return;
                }
                List<Object> sockets = new ArrayList<>();
                for (SocketInfo s : l.fetchSockets(nsp, target(opts))) {
                    sockets.add(describe(s));
                }
                Map<String, Object> resp = new LinkedHashMap<>();
                resp.put("requestId", requestId);
                resp.put("sockets", sockets);
                respondSharded(nsp, from, C_FETCH_SOCKETS_RESPONSE, resp);
            }
            case C_SERVER_SIDE_EMIT -> {
                if (!(d.get("packet") instanceof List<?> packet)) {
                    return;
                }
                if (requestId == null) {
                    l.serverSideEmit(nsp, listOf(packet), null);
                    return;
                }
                AtomicBoolean called = new AtomicBoolean();
                l.serverSideEmit(nsp, listOf(packet), arg -> {
                    if (called.compareAndSet(false, true)) {
                        Map<String, Object> resp = new LinkedHashMap<>();
                        resp.put("requestId", requestId);
                        resp.put("packet", arg);
                        respondSharded(nsp, from, C_SERVER_SIDE_EMIT_RESPONSE, resp);
                    }
                });
            }
            case C_BROADCAST_CLIENT_COUNT, C_BROADCAST_ACK -> {
                AckRequest a = requestId == null ? null : ackRequests.get(requestId);
                if (a == null) {
                    return;
                }
                if (type == C_BROADCAST_CLIENT_COUNT && d.get("clientCount") instanceof Number c) {
                    a.clientCount().accept(c.intValue());
                } else if (type == C_BROADCAST_ACK) {
                    a.ack().accept(d.get("packet"));
                }
            }
            case C_FETCH_SOCKETS_RESPONSE, C_SERVER_SIDE_EMIT_RESPONSE -> {
                Pending p = requestId == null ? null : requests.get(requestId);
                if (p == null) {
                    return;
                }
                if (type == C_FETCH_SOCKETS_RESPONSE && d.get("sockets") instanceof List<?> s) {
                    answer(requestId, p, s);
                } else if (type == C_SERVER_SIDE_EMIT_RESPONSE) {
                    answer(requestId, p, new Holder(d.get("packet")));
                }
            }
            default -> {
                // heartbeats and unknown types
            }
        }
    }

    private void respondSharded(String nsp, String requester, int type, Map<String, Object> data) {
        publish(key + "#" + nsp + "#" + requester + "#", cluster(type, nsp, data));
    }

    private static Map<String, Object> describe(SocketInfo s) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("id", s.id());
        o.put("handshake", s.handshake());
        o.put("rooms", new ArrayList<>(s.rooms()));
        o.put("data", s.data());
        return o;
    }

    private static String offset(Map<?, ?> opts) {
        return opts.get("offset") instanceof String o && !o.isEmpty() && o.length() <= 64 ? o : null;
    }

    private static Target target(Map<?, ?> opts) {
        boolean isVolatile = false;
        boolean compress = false;
        if (opts.get("flags") instanceof Map<?, ?> f) {
            isVolatile = Boolean.TRUE.equals(f.get("volatile"));
            compress = Boolean.TRUE.equals(f.get("compress"));
        }
        return new Target(stringSet(opts.get("rooms")), stringSet(opts.get("except")), new Flags(isVolatile, compress, true));
    }

    private static Set<String> stringSet(Object v) {
        Set<String> out = new LinkedHashSet<>();
        if (v instanceof List<?> l) {
            for (Object o : l) {
                if (o != null) {
                    // numbers as rooms: the Node adapter's hasRoom accepts a numeric room name as its string form
                    out.add(o instanceof Double d && d == Math.rint(d) ? Long.toString(d.longValue()) : String.valueOf(o));
                }
            }
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static List<Object> listOf(List<?> l) {
        return (List<Object>) l;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String randomId(int n) {
        StringBuilder b = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            b.append(ALNUM.charAt(RANDOM.nextInt(ALNUM.length())));
        }
        return b.toString();
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    @Override
    public void close() {
        closed = true;
        for (Pending p : requests.values()) {
            p.done.completeExceptionally(new IllegalStateException("the adapter closed"));
        }
        requests.clear();
        try {
            if (sub != null) {
                sub.close();
            }
            if (pub != null) {
                pub.close();
            }
        } finally {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            resources.shutdown(0, 2, TimeUnit.SECONDS);
            inbox.shutdownNow();
            timers.shutdownNow();
        }
    }
}
