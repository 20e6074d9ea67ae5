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

    private SocketIoServer(EngineOptions options, Duration connectTimeout, Duration recoveryWindow) {
        this.engine = new EngineServer(options);
        this.connectTimeout = connectTimeout;
        this.recovery = recoveryWindow == null ? null : new Recovery(recoveryWindow);
        namespaces.put("/", new Namespace("/", recovery));
        engine.onConnection(s -> s.listener(new SioClient(this, s)));
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The namespace of that name, created on first use. */
    public Namespace of(String name) {
        return namespaces.computeIfAbsent(name, n -> new Namespace(n, recovery));
    }

    /**
     * Dynamic namespaces: a client may connect to any name the pattern matches; each gets its own sockets
     * and rooms, and shares the middleware and handlers registered on the returned namespace.
     */
    public Namespace namespaces(Pattern pattern) {
        Namespace template = new Namespace(pattern.pattern(), recovery);
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
                return namespaces.computeIfAbsent(name, n -> e.getValue().child(n));
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

    /** Serves this server alone on {@code host:port}. */
    public RealtimeHttpServer listen(String host, int port) throws InterruptedException {
        return RealtimeHttpServer.start(host, port, List.of(engine));
    }

    /** Settings; defaults as the reference server (path /socket.io/, ping 25 s / 20 s, 1 MB payloads, connect timeout 45 s). */
    public static final class Builder {
        private EngineOptions options = EngineOptions.defaults("/socket.io/");
        private Duration connectTimeout = Duration.ofSeconds(45);
        private Duration recoveryWindow;

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

        public SocketIoServer build() {
            return new SocketIoServer(options, connectTimeout, recoveryWindow);
        }
    }
}
