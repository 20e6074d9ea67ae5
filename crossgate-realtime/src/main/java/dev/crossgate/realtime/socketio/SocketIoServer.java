package dev.crossgate.realtime.socketio;

import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.realtime.engine.EngineOptions;
import dev.crossgate.realtime.engine.EngineServer;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.regex.Pattern;

/**
 * A Socket.IO v5 server on Engine.IO v4, embeddable in any JVM application:
 *
 * <pre>{@code
 * SocketIoServer io = SocketIoServer.builder().cors(policy).build();
 * io.of("/").onConnection(socket -> {
 *     socket.join("lobby");
 *     socket.on("chat", (args, ack) -> {
 *         socket.to("lobby").emit("chat", args.get(0));
 *         if (ack != null) ack.send("delivered");
 *     });
 * });
 * RealtimeHttpServer http = io.listen("127.0.0.1", 3000);
 * }</pre>
 */
public final class SocketIoServer {
    private final EngineServer engine;
    private final Duration connectTimeout;
    private final Map<String, Namespace> namespaces = new ConcurrentHashMap<>();
    private final List<Map.Entry<Pattern, Namespace>> dynamic = new CopyOnWriteArrayList<>();
    private final Recovery recovery;
    private final Adapter adapter;
    private final Duration requestTimeout;

    private SocketIoServer(EngineOptions options, Duration connectTimeout, Duration recoveryWindow, RecoveryStore recoveryStore, Adapter adapter,
            Duration requestTimeout) {
        this.engine = new EngineServer(options);
        this.connectTimeout = connectTimeout;
        this.recovery = recoveryWindow == null ? null : new Recovery(recoveryWindow, recoveryStore);
        this.adapter = adapter;
        this.requestTimeout = requestTimeout;
        namespaces.put("/", new Namespace(this, "/"));
        if (adapter != null) {
            adapter.start(new LocalNode());
            adapter.namespaceCreated("/");
        }
        engine.onConnection(s -> s.listener(new SioClient(this, s)));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The namespace of that name, created on first use. */
    public Namespace of(String name) {
        Namespace ns = namespaces.get(name);
        return ns != null ? ns : created(namespaces.computeIfAbsent(name, n -> new Namespace(this, n)));
    }

    /** Tells the adapter about a namespace that now exists here (it ignores one it already knows). */
    private Namespace created(Namespace ns) {
        if (adapter != null) {
            adapter.namespaceCreated(ns.name());
        }
        return ns;
    }

    /**
     * Dynamic namespaces: a client may connect to any name the pattern matches; each gets its own sockets
     * and rooms, and shares the middleware and handlers registered on the returned namespace.
     */
    public Namespace namespaces(Pattern pattern) {
        Namespace template = new Namespace(this, pattern.pattern());
        dynamic.add(Map.entry(pattern, template));
        return template;
    }

    /**
     * The namespace a client connecting to {@code name} joins: a static one, or the child of a dynamic
     * pattern that matches (created on first use); null when no namespace has that name.
     */
    public Namespace namespace(String name) {
        Namespace ns = namespaces.get(name);
        if (ns != null) {
            return ns;
        }
        for (Map.Entry<Pattern, Namespace> e : dynamic) {
            if (e.getKey().matcher(name).matches()) {
                return created(namespaces.computeIfAbsent(name, n -> e.getValue().child(n)));
            }
        }
        return null;
    }

    /** Broadcast to a room of the main namespace. */
    public Broadcast to(String room) {
        return of("/").to(room);
    }

    /** The Engine.IO server underneath, to mount in a Netty pipeline with {@code EngineHttpHandler}. */
    public EngineServer engine() {
        return engine;
    }

    Duration connectTimeout() {
        return connectTimeout;
    }

    Recovery recovery() {
        return recovery;
    }

    /** The cluster adapter, or null when this server is alone. */
    public Adapter adapter() {
        return adapter;
    }

    Duration requestTimeout() {
        return requestTimeout;
    }

    /**
     * Waits, up to {@code wait}, until the sessions that ended (for a drain: every session, ended as "server shutting
     * down", which recovery keeps) are written to the recovery store, so that another node can take them over.
     */
    public void flushRecovery(Duration wait) {
        if (recovery != null) {
            recovery.flush(wait);
        }
    }

    /** Stops sharing with the other nodes (the adapter's subscriptions and connections). */
    public void closeAdapter() {
        if (adapter != null) {
            adapter.close();
        }
    }

    /** What this node does when another node asks: only namespaces that exist here are acted on. */
    private final class LocalNode implements Adapter.Local {
        private Broadcast select(Namespace ns, Adapter.Target t) {
            Broadcast b = ns.toAll().local();
            for (String r : t.rooms()) {
                b = b.to(r);
            }
            for (String r : t.except()) {
                b = b.except(r);
            }
            return t.flags().isVolatile() ? b.asVolatile() : b;
        }

        @Override
        public boolean hasNamespace(String nsp) {
            return namespaces.containsKey(nsp);
        }

        @Override
        public boolean hasRoom(String nsp, String room) {
            Namespace ns = namespaces.get(nsp);
            return ns != null && ns.hasRoom(room);
        }

        @Override
        public int broadcast(String nsp, Adapter.Target t, List<Object> data, String offset) {
            Namespace ns = namespaces.get(nsp);
            if (ns == null || data.isEmpty() || !(data.get(0) instanceof String event)) {
                return 0;
            }
            Recovery r = ns.recovery();
            String o = r == null ? null : offset != null ? offset : r.newOffset();
            return select(ns, t).emitLocally(event, data.subList(1, data.size()).toArray(), o, false);
        }

        @Override
        public void broadcastWithAck(String nsp, Adapter.Target t, List<Object> data, Duration timeout,
                java.util.function.IntConsumer clientCount, java.util.function.Consumer<Object> ack) {
            Namespace ns = namespaces.get(nsp);
            if (ns == null || data.isEmpty() || !(data.get(0) instanceof String event)) {
                clientCount.accept(0);
                return;
            }
            clientCount.accept(select(ns, t).localWithAck(timeout, event, data.subList(1, data.size()).toArray(), ack));
        }

        @Override
        public List<Adapter.SocketInfo> fetchSockets(String nsp, Adapter.Target t) {
            Namespace ns = namespaces.get(nsp);
            if (ns == null) {
                return List.of();
            }
            List<Adapter.SocketInfo> out = new java.util.ArrayList<>();
            for (SioSocket s : select(ns, t).sockets()) {
                out.add(s.info());
            }
            return out;
        }

        @Override
        public void socketsJoin(String nsp, Adapter.Target t, java.util.Collection<String> rooms) {
            Namespace ns = namespaces.get(nsp);
            if (ns != null) {
                select(ns, t).socketsJoin(rooms.toArray(String[]::new));
            }
        }

        @Override
        public void socketsLeave(String nsp, Adapter.Target t, java.util.Collection<String> rooms) {
            Namespace ns = namespaces.get(nsp);
            if (ns != null) {
                select(ns, t).socketsLeave(rooms.toArray(String[]::new));
            }
        }

        @Override
        public void disconnectSockets(String nsp, Adapter.Target t, boolean close) {
            Namespace ns = namespaces.get(nsp);
            if (ns != null) {
                select(ns, t).disconnectSockets(close);
            }
        }

        @Override
        public boolean socketJoin(String nsp, String id, String room) {
            SioSocket s = socket(nsp, id);
            if (s != null) {
                s.join(room);
            }
            return s != null;
        }

        @Override
        public boolean socketLeave(String nsp, String id, String room) {
            SioSocket s = socket(nsp, id);
            if (s != null) {
                s.leave(room);
            }
            return s != null;
        }

        @Override
        public boolean socketDisconnect(String nsp, String id, boolean close) {
            SioSocket s = socket(nsp, id);
            if (s != null) {
                s.disconnect(close);
            }
            return s != null;
        }

        private SioSocket socket(String nsp, String id) {
            Namespace ns = namespaces.get(nsp);
            return ns == null || id == null ? null : ns.socket(id);
        }

        @Override
        public java.util.Set<String> rooms(String nsp) {
            Namespace ns = namespaces.get(nsp);
            return ns == null ? java.util.Set.of() : ns.localRooms();
        }

        @Override
        public void serverSideEmit(String nsp, List<Object> data, java.util.function.Consumer<Object> ack) {
            Namespace ns = namespaces.get(nsp);
            if (ns != null) {
                ns.onServerSideEmit(data, ack);
            }
        }
    }

    /** Serves this server alone on {@code host:port}. */
    public RealtimeHttpServer listen(String host, int port) throws InterruptedException {
        return RealtimeHttpServer.start(host, port, List.of(engine));
    }

    /** Settings; defaults as the reference server (path /socket.io/, ping 25 s / 20 s, 1 MB payloads, connect timeout 45 s). */
    public static final class Builder {
        private EngineOptions options = EngineOptions.defaults("/socket.io/");
        private Duration connectTimeout = Duration.ofSeconds(45);
        private Duration recoveryWindow;
        private Adapter adapter;
        private RecoveryStore recoveryStore;
        private Duration requestTimeout = Namespace.DEFAULT_REQUEST_TIMEOUT;

        public Builder path(String path) {
            options = new EngineOptions(path, options.pingInterval(), options.pingTimeout(), options.maxPayload(), options.upgradeTimeout(),
                    options.cors(), options.allowRequest(), options.cookie(), options.maxBuffered());
            return this;
        }

        public Builder ping(Duration interval, Duration timeout) {
            options = options.withPing(interval, timeout);
            return this;
        }

        public Builder maxPayload(int bytes) {
            options = options.withMaxPayload(bytes);
            return this;
        }

        /** Bytes that may wait for one slow client before its session ends ("transport error"); 16 MiB by default. */
        public Builder maxBuffered(long bytes) {
            options = options.withMaxBuffered(bytes);
            return this;
        }

        public Builder connectTimeout(Duration d) {
            connectTimeout = d;
            return this;
        }

        /** CORS on the polling requests and the WebSocket Origin check; without it every origin may connect. */
        public Builder cors(CorsPolicy policy) {
            options = options.withCors(policy);
            return this;
        }

        public Builder allowRequest(EngineOptions.AllowRequest hook) {
            options = options.withAllowRequest(hook);
            return this;
        }

        public Builder cookie(String name) {
            options = options.withCookie(name);
            return this;
        }

        /**
         * Connection state recovery: a client that reconnects within {@code window} after losing its connection
         * gets its socket id, rooms and data back, and the broadcasts it missed ({@code socket.recovered} is true).
         */
        public Builder connectionStateRecovery(Duration window) {
            recoveryWindow = window;
            return this;
        }

        /**
         * Joins a cluster: broadcasts and socket requests reach every node sharing the adapter's channels, Crossgate or
         * Node.js ({@link dev.crossgate.realtime.redis.RedisAdapter} speaks @socket.io/redis-adapter's format).
         */
        public Builder adapter(Adapter a) {
            adapter = a;
            return this;
        }

        /**
         * Keeps connection state recovery's sessions and broadcast log where every node finds them (with
         * {@link #connectionStateRecovery}), so that a client recovers its session on any node, after its own stopped:
         * {@code RedisAdapter.recoveryStore()}.
         */
        public Builder recoveryStore(RecoveryStore store) {
            recoveryStore = store;
            return this;
        }

        /** How long requests to the other nodes (fetchSockets, allRooms, serverSideEmit with acks) wait; 5 s by default. */
        public Builder requestTimeout(Duration d) {
            requestTimeout = d;
            return this;
        }

        public SocketIoServer build() {
            return new SocketIoServer(options, connectTimeout, recoveryWindow, recoveryStore, adapter, requestTimeout);
        }
    }
}
