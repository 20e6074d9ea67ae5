package dev.crossgate.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crossgate.realtime.engine.EngineServer;
import dev.crossgate.realtime.socketio.Broadcast;
import dev.crossgate.realtime.socketio.Handlers;
import dev.crossgate.realtime.socketio.Namespace;
import dev.crossgate.realtime.socketio.SioSocket;
import dev.crossgate.realtime.socketio.SocketIoServer;
import dev.crossgate.server.auth.Authenticator;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.limits.Limits;
import dev.crossgate.server.observe.Metrics;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Hosted mode: the Socket.IO server {@code crossgate serve} answers itself, with the edge's rules applied
 * at CONNECT and the backend taking part over HTTP.
 *
 * <p>A CONNECT passes, in order: the token ({@code realtime.token}: the auth payload's {@code token}, else the
 * handshake's token sources; refused with reason {@code auth.missing} / {@code auth.invalid} / {@code auth.expired}),
 * the connect hook (accept with a user, data and rooms; refuse with a message and data), and the per-user quota
 * ({@code limits.connectionsPerSubject}, reason {@code limit.connections}). A refusal is the client's
 * {@code connect_error}, its {@code data.reason} the reason code. A socket of user U is in room {@code user:U}.
 *
 * <p>Client events go to the event hook, in order per socket; the hook's answer is the ack and may emit,
 * join, leave or disconnect. A hook that fails reaches the client: the ack carries
 * {@code {"error": {"reason", "message"}}}, or, without an ack, the event {@code crossgate:error} does.
 */
public final class Hub {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("crossgate.realtime");
    /** The event a client gets when something it sent failed without an ack to say so, or its token expired. */
    public static final String ERROR_EVENT = "crossgate:error";
    /** Events the Socket.IO client reserves: never emitted from the backend. */
    static final Set<String> RESERVED = Set.of("connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener");
    /** Events of one socket waiting for the event hook; more is refused with realtime.hook_overloaded. */
    static final int MAX_QUEUED_PER_SOCKET = 64;
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private final CrossgateConfig.Realtime config;
    private final SocketIoServer io;
    /** The cluster adapter ({@code realtime.redis}), or null when this node is alone. */
    private final dev.crossgate.realtime.redis.RedisAdapter redis;
    private final Authenticator auth;
    private final Limits limits;
    private final Metrics metrics;
    private final HookClient hooks;
    private final Map<SioSocket, Member> members = new ConcurrentHashMap<>();
    /**
     * Per-user slots (limits.connectionsPerSubject) by connection and user: the quota counts connections, so the
     * sockets one connection opens in several namespaces share one slot. Touched on the connection's event loop only.
     */
    private final Map<String, SessionSlot> slots = new ConcurrentHashMap<>();
    /** The configured namespace patterns, compiled once, with the names as configured (for metrics). */
    private final List<Map.Entry<String, Pattern>> patterns = new ArrayList<>();

    private static final class SessionSlot {
        final Limits.SubjectSlot slot;
        int sockets;

        SessionSlot(Limits.SubjectSlot slot) {
            this.slot = slot;
        }
    }
    private final AtomicInteger connected = new AtomicInteger();

    /** What the hub knows of one socket: who it is, what it holds, its events waiting for the hook. */
    private static final class Member {
        volatile String user;
        Map<String, Object> claims;
        long expiresAtMillis;
        JsonNode data;
        List<String> rooms = List.of();
        /** The per-user slot this socket shares with the other sockets of its connection, or null. */
        String slotKey;
        boolean released;
        boolean admitted;
        ScheduledFuture<?> expiry;
        final ArrayDeque<Runnable> events = new ArrayDeque<>();
        boolean hookBusy;
    }

    public Hub(CrossgateConfig config, Authenticator auth, Limits limits, Metrics metrics) {
        this.config = config.realtime();
        this.auth = auth;
        this.limits = limits;
        this.metrics = metrics;
        this.hooks = new HookClient(this.config.hooks(), config.upstream(), metrics);
        SocketIoServer.Builder b = SocketIoServer.builder().path(this.config.path())
                .ping(this.config.pingInterval(), this.config.pingTimeout())
                .maxPayload(this.config.maxPayload())
                .maxBuffered(this.config.maxBuffered())
                .connectTimeout(this.config.connectTimeout());
        // No CORS policy here: the edge applies its own decision to every realtime response, and checks
        // the Origin of WebSocket handshakes before they reach this server.
        if (this.config.stickyCookie() != null) {
            b.cookie(this.config.stickyCookie());
        }
        if (!this.config.recovery().isZero()) {
            b.connectionStateRecovery(this.config.recovery());
        }
        this.redis = this.config.redis() == null ? null : joinCluster(this.config.redis(), metrics);
        if (redis != null) {
            // One cluster with every node on this Redis, Crossgate or Node.js (@socket.io/redis-adapter's wire format),
            // and with backends using a Socket.IO Redis emitter; recovery kept there, so sessions survive a node.
            b.adapter(redis).requestTimeout(this.config.redis().requestTimeout());
            if (!this.config.recovery().isZero()) {
                b.recoveryStore(redis.recoveryStore());
            }
        }
        this.io = b.build();
        boolean main = false;
        for (String name : this.config.namespaces()) {
            Pattern pattern = name.contains("*") ? glob(name) : Pattern.compile(Pattern.quote(name));
            patterns.add(Map.entry(name, pattern));
            Namespace ns = name.contains("*") ? io.namespaces(pattern) : io.of(name);
            ns.use(this::admit);
            ns.onConnection(this::connected);
            main |= pattern.matcher("/").matches();
        }
        if (!main) {
            // The main namespace always exists in Socket.IO; here it is closed unless configured.
            io.of("/").use((s, next) -> next.accept(new Handlers.ConnectError("Invalid namespace", null)));
        }
        metrics.gauge("crossgate.realtime.sessions", "Engine.IO sessions open (hosted mode)", () -> io.engine().sessionCount());
        metrics.gauge("crossgate.realtime.sockets", "Socket.IO sockets connected, over all namespaces (hosted mode)", connected::get);
    }

    /**
     * The Redis adapter for {@code realtime.redis}: it starts even while Redis is down (this node then serves its own
     * clients, and joins the cluster when Redis is back); every change of state is one log line, and the metrics say
     * what was published, received and lost.
     */
    private static dev.crossgate.realtime.redis.RedisAdapter joinCluster(CrossgateConfig.RealtimeRedis r, Metrics metrics) {
        var mode = r.sharded() ? dev.crossgate.realtime.redis.RedisAdapter.Mode.SHARDED : dev.crossgate.realtime.redis.RedisAdapter.Mode.CLASSIC;
        var adapter = r.cluster() ? dev.crossgate.realtime.redis.RedisAdapter.connectCluster(r.url(), mode, r.key(), r.requestTimeout())
                : dev.crossgate.realtime.redis.RedisAdapter.connect(r.url(), mode, r.key(), r.requestTimeout());
        adapter.onStateChange((up, detail) -> LOG.atLevel(up ? org.slf4j.event.Level.INFO : org.slf4j.event.Level.WARN).log("realtime.redis: " + detail
                + (up ? "" : " (this node's clients are still served; publishes to other nodes are counted in crossgate_realtime_cluster_lost_total)")));
        if (!adapter.stats().connected()) {
            LOG.warn("realtime.redis: cannot reach " + adapter.address() + " (" + adapter.lastError()
                    + "); serving this node's clients alone and retrying");
        } else {
            LOG.info("realtime.redis: joined the cluster on " + adapter.address() + " (" + mode.name().toLowerCase(java.util.Locale.ROOT)
                    + " adapter, key " + r.key() + ")");
        }
        metrics.gauge("crossgate.realtime.cluster.connected", "1 while the realtime Redis adapter is connected", () -> adapter.stats().connected() ? 1 : 0);
        // The adapter itself is the counters' source: the hub keeps it (Micrometer holds it weakly).
        metrics.functionCounter("crossgate.realtime.cluster.published", "Messages published to the other nodes through Redis", adapter, x -> x.stats().published());
        metrics.functionCounter("crossgate.realtime.cluster.received", "Messages received from the other nodes through Redis", adapter, x -> x.stats().received());
        metrics.functionCounter("crossgate.realtime.cluster.lost",
                "Messages for the other nodes (and recovery records) that could not be written to Redis (down or refusing)", adapter, x -> x.stats().lost());
        metrics.functionCounter("crossgate.realtime.cluster.request.timeouts",
                "Cluster requests (fetchSockets, serverSideEmit with acks) some node did not answer in time", adapter, x -> x.stats().requestTimeouts());
        return adapter;
    }


    /** The cluster adapter's state for /readyz: null without one. */
    public dev.crossgate.realtime.redis.RedisAdapter cluster() {
        return redis;
    }

    /** {@code /rooms-*} becomes a pattern where * matches any characters. */
    static Pattern glob(String name) {
        StringBuilder re = new StringBuilder();
        for (String part : name.split("\\*", -1)) {
            if (re.length() > 0) {
                re.append(".+");
            }
            re.append(Pattern.quote(part));
        }
        return Pattern.compile(re.toString());
    }

    public EngineServer engine() {
        return io.engine();
    }

    public SocketIoServer server() {
        return io;
    }

    /**
     * Ends every session (a drain), waiting up to 2 s for them to end as a server close before connections go. With
     * recovery kept in Redis, the sessions are handed over: each is saved there (up to 2 s more) before this node
     * leaves the cluster, so its clients recover their id, rooms and missed messages on another node.
     */
    public void close() {
        io.engine().closeAll(java.time.Duration.ofSeconds(2));
        if (redis != null) {
            io.flushRecovery(java.time.Duration.ofSeconds(2));
            io.closeAdapter();
        }
    }

    // ---------------------------------------------------------------- CONNECT

    private void admit(SioSocket s, Consumer<Handlers.ConnectError> next) {
        Member m = new Member();
        token(s).whenComplete((o, err) -> s.eventLoop().execute(() -> {
            if (err != null) {
                refuse(next, "auth.invalid", "the token could not be verified", null);
                return;
            }
            if (o != null && !o.ok()) {
                refuse(next, o.reason(), o.message(), null);
                return;
            }
            if (o != null) {
                m.user = o.subject();
                m.claims = o.claims().getClaims();
                m.expiresAtMillis = o.expiresAtMillis();
            }
            if (config.hooks().connect() == null) {
                admitWithin(s, m, next);
                return;
            }
            ObjectNode call = base("connect", s, m);
            ObjectNode authPayload = NODES.objectNode();
            for (Map.Entry<String, Object> e : s.auth().entrySet()) {
                if (!e.getKey().equals("token")) {
                    authPayload.set(e.getKey(), Payloads.toJson(e.getValue()));
                }
            }
            call.set("auth", authPayload);
            call.set("handshake", handshake(s));
            hooks.post("connect", config.hooks().connect(), call).whenComplete((r, e2) -> s.eventLoop().execute(() -> connectAnswer(s, m, r, next)));
        }));
    }

    /** The token check of {@code realtime.token}: null when none applies (off, or optional and absent). */
    private CompletableFuture<Authenticator.Outcome> token(SioSocket s) {
        if (config.token() == CrossgateConfig.TokenMode.OFF) {
            return CompletableFuture.completedFuture(null);
        }
        String token = s.auth().get("token") instanceof String t && !t.isBlank() ? t.trim() : null;
        if (token != null && token.regionMatches(true, 0, "Bearer ", 0, 7)) {
            token = token.substring(7).trim();
        }
        if (token == null) {
            Authenticator.Found found = auth.find(s.handshakeHeaders(), s.handshakeUri());
            token = found == null ? null : found.token();
        }
        if (token == null) {
            return CompletableFuture.completedFuture(config.token() == CrossgateConfig.TokenMode.REQUIRED
                    ? new Authenticator.Outcome("auth.missing", "this server requires a token: send it as auth: { token } in the client's"
                            + " options, or on the handshake (" + auth.sources() + ")", null, null)
                    : null);
        }
        return auth.verify(token);
    }

    private void connectAnswer(SioSocket s, Member m, HookClient.Result r, Consumer<Handlers.ConnectError> next) {
        if (!r.answered()) {
            refuse(next, r.failure(), "the connect hook failed: " + r.detail(), null);
            return;
        }
        JsonNode body = r.body();
        if (r.status() / 100 != 2 || body.path("allow").isBoolean() && !body.path("allow").asBoolean()) {
            boolean refusedByBackend = r.status() / 100 == 2 || r.status() / 100 == 4;
            String reason = refusedByBackend ? "realtime.hook_refused" : "realtime.hook_failed";
            String message = body.path("message").isTextual() ? body.path("message").asText()
                    : refusedByBackend ? "the connect hook refused this connection (" + r.status() + ")"
                    : "the connect hook failed: it answered " + r.status();
            refuse(next, reason, message, body.get("data"));
            return;
        }
        if (body.path("user").isTextual() || body.path("user").isNumber()) {
            m.user = body.path("user").asText();
        }
        if (body.has("data")) {
            m.data = body.get("data");
        }
        List<String> rooms = new ArrayList<>();
        for (JsonNode room : body.path("rooms")) {
            if (room.isTextual()) {
                rooms.add(room.asText());
            }
        }
        m.rooms = rooms;
        admitWithin(s, m, next);
    }

    /**
     * The last step: the per-user quota, then the socket is admitted. With {@code limits.store: redis} the quota's
     * answer comes from Redis; the admission then goes on on the socket's event loop.
     */
    private void admitWithin(SioSocket s, Member m, Consumer<Handlers.ConnectError> next) {
        if (m.user == null || !limits.subjectLimited()) {
            admitted(s, m, next);
            return;
        }
        holdSlot(s, m, held -> {
            if (!held) {
                refuse(next, "limit.connections", limits.subjectRefusal(m.user).message(), null);
                return;
            }
            admitted(s, m, next);
        });
    }

    private void admitted(SioSocket s, Member m, Consumer<Handlers.ConnectError> next) {
        members.put(s, m);
        next.accept(null);
        // The admission runs next on this loop; if the client left meanwhile, what was reserved is given back.
        s.eventLoop().execute(() -> {
            if (!m.admitted) {
                release(m);
                members.remove(s, m);
            }
        });
    }

    private void refuse(Consumer<Handlers.ConnectError> next, String reason, String message, JsonNode extra) {
        metrics.count("crossgate.realtime.connects", "Socket.IO CONNECTs by result and reason code", "result", "refused", "reason", reason);
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("reason", reason);
        if (extra != null && extra.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = extra.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                if (!e.getKey().equals("reason")) {
                    data.put(e.getKey(), Payloads.fromJson(e.getValue()));
                }
            }
        } else if (extra != null && !extra.isNull()) {
            data.put("detail", Payloads.fromJson(extra));
        }
        next.accept(new Handlers.ConnectError(message, data));
    }

    private void connected(SioSocket s) {
        Member found = members.get(s);
        Member m = found != null ? found : recovered(s);
        m.admitted = true;
        connected.incrementAndGet();
        metrics.count("crossgate.realtime.connects", "Socket.IO CONNECTs by result and reason code", "result", "accepted", "reason", "");
        if (m.user != null) {
            s.data().put("user", m.user);
            s.join("user:" + m.user);
        }
        if (m.expiresAtMillis > 0) {
            s.data().put("tokenExpires", m.expiresAtMillis);
            // A socket does not outlive its token: told why, then disconnected; the client refreshes and reconnects.
            m.expiry = s.eventLoop().schedule(() -> {
                s.emit(ERROR_EVENT, Map.of("reason", "auth.expired", "message", "the token expired; connect again with a fresh one"));
                s.disconnect(false, "auth.expired"); // the disconnect hook and metrics get why (issue 12)
            }, Math.max(0, m.expiresAtMillis - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
        }
        if (m.data != null) {
            s.data().put("data", Payloads.fromJson(m.data));
        }
        for (String room : m.rooms) {
            s.join(room);
        }
        s.onAny((event, args, ack) -> event(s, m, event, args, ack));
        s.onDisconnect(reason -> disconnected(s, m, reason));
    }

    /** A socket restored by connection state recovery (no middleware ran): who it was comes from its data. */
    private Member recovered(SioSocket s) {
        Member m = new Member();
        m.user = s.data().get("user") instanceof String u ? u : null;
        m.expiresAtMillis = s.data().get("tokenExpires") instanceof Long l ? l : 0;
        members.put(s, m);
        if (m.user != null && limits.subjectLimited()) {
            // Cannot be refused any more: counted when there is room; given back if the socket left while Redis answered.
            holdSlot(s, m, held -> {
                if (held && !members.containsKey(s)) {
                    release(m);
                }
            });
        }
        return m;
    }

    private void disconnected(SioSocket s, Member m, String reason) {
        connected.decrementAndGet();
        members.remove(s, m);
        release(m);
        m.events.clear(); // events still waiting for the hook are not sent for a socket that left
        if (m.expiry != null) {
            m.expiry.cancel(false);
        }
        metrics.count("crossgate.realtime.disconnects", "Socket.IO sockets that left, by reason", "reason", reason);
        if (config.hooks().disconnect() != null) {
            ObjectNode call = base("disconnect", s, m);
            call.put("reason", reason);
            hooks.post("disconnect", config.hooks().disconnect(), call);
        }
    }

    /**
     * Takes (or shares) the slot of this socket's connection and user, then tells {@code done} on the socket's event
     * loop: false when the user is at the quota. A slot that arrives after another socket of the same connection took
     * one meanwhile is given back, and the socket shares that one.
     */
    private void holdSlot(SioSocket s, Member m, Consumer<Boolean> done) {
        String key = s.sessionId() + "\u0000" + m.user;
        if (share(key, m)) {
            done.accept(true);
            return;
        }
        CompletableFuture<Limits.SubjectSlot> f = limits.reserveSubject(m.user);
        if (f.isDone()) {
            done.accept(took(key, m, f.getNow(null)));
            return;
        }
        f.whenComplete((slot, err) -> {
            try {
                s.eventLoop().execute(() -> done.accept(took(key, m, slot)));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                limits.release(slot); // the server is closing
            }
        });
    }

    private boolean share(String key, Member m) {
        SessionSlot h = slots.get(key);
        if (h == null) {
            return false;
        }
        h.sockets++;
        m.slotKey = key;
        return true;
    }

    private boolean took(String key, Member m, Limits.SubjectSlot slot) {
        if (share(key, m)) {
            limits.release(slot);
            return true;
        }
        if (slot == null) {
            return false;
        }
        slots.put(key, new SessionSlot(slot));
        return share(key, m);
    }

    private void release(Member m) {
        if (m.slotKey != null && !m.released) {
            m.released = true;
            SessionSlot h = slots.get(m.slotKey);
            if (h != null && --h.sockets == 0) {
                slots.remove(m.slotKey);
                limits.release(h.slot);
            }
        }
    }

    // ---------------------------------------------------------------- events

    private void event(SioSocket s, Member m, String event, List<Object> args, Handlers.Ack ack) {
        boolean forwarded = config.hooks().forwards(event);
        metrics.count("crossgate.realtime.events", "Client events received (hosted mode)", "forwarded", Boolean.toString(forwarded));
        if (!forwarded) {
            if (ack != null) {
                ack.send(error("realtime.event_not_handled", "no hook receives the event " + event + " (realtime.hooks.event, realtime.hooks.events)"));
            }
            return;
        }
        if (m.events.size() >= MAX_QUEUED_PER_SOCKET) {
            fail(s, event, ack, "realtime.hook_overloaded", MAX_QUEUED_PER_SOCKET + " events of this socket already wait for the event hook");
            return;
        }
        m.events.add(() -> {
            ObjectNode call = base("event", s, m);
            call.put("event", event);
            call.set("args", Payloads.toJson(args));
            call.put("ack", ack != null);
            hooks.post("event", config.hooks().event(), call).whenComplete((r, e) -> s.eventLoop().execute(() -> {
                eventAnswer(s, event, ack, r);
                m.hookBusy = false;
                pump(m);
            }));
        });
        pump(m);
    }

    /** One event of a socket at the hook at a time, so the backend sees them in the order they were sent. */
    private static void pump(Member m) {
        if (!m.hookBusy && !m.events.isEmpty()) {
            m.hookBusy = true;
            m.events.poll().run();
        }
    }

    private void eventAnswer(SioSocket s, String event, Handlers.Ack ack, HookClient.Result r) {
        if (!r.answered()) {
            fail(s, event, ack, r.failure(), "the event hook failed: " + r.detail());
            return;
        }
        JsonNode body = r.body();
        if (r.status() / 100 != 2) {
            boolean refused = r.status() / 100 == 4;
            String message = body.path("message").isTextual() ? body.path("message").asText()
                    : "the event hook answered " + r.status();
            fail(s, event, ack, refused ? "realtime.hook_refused" : "realtime.hook_failed", message);
            return;
        }
        for (JsonNode room : body.path("leave")) {
            if (room.isTextual()) {
                s.leave(room.asText());
            }
        }
        for (JsonNode room : body.path("join")) {
            if (room.isTextual()) {
                s.join(room.asText());
            }
        }
        for (JsonNode e : body.path("emit")) {
            String problem = emit(s.namespace().name(), e);
            if (problem != null) {
                fail(s, event, null, "realtime.hook_invalid", "the event hook's emit was not sent: " + problem);
            }
        }
        if (ack != null) {
            JsonNode a = body.get("ack");
            if (a == null || a.isNull()) {
                ack.send();
            } else if (a.isArray()) {
                List<Object> values = new ArrayList<>();
                for (JsonNode v : a) {
                    values.add(Payloads.fromJson(v));
                }
                ack.send(values.toArray());
            } else {
                ack.send(Payloads.fromJson(a));
            }
        }
        if (body.path("disconnect").asBoolean(false)) {
            s.disconnect(false);
        }
    }

    private void fail(SioSocket s, String event, Handlers.Ack ack, String reason, String message) {
        metrics.count("crossgate.realtime.event.failures", "Client events that could not be delivered to the backend, by reason code", "reason", reason);
        if (ack != null) {
            ack.send(error(reason, message));
        } else {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("reason", reason);
            e.put("message", message);
            e.put("event", event);
            s.emit(ERROR_EVENT, e);
        }
    }

    private static Map<String, Object> error(String reason, String message) {
        Map<String, Object> inner = new LinkedHashMap<>();
        inner.put("reason", reason);
        inner.put("message", message);
        return Map.of("error", inner);
    }

    // ---------------------------------------------------------------- emit (hook answers and the publish API)

    /** What {@link #emit} did: sockets reached on this node, or why nothing was sent. */
    record Emitted(int sockets, String problem, int status) {}

    /**
     * Emits {@code {"event", "args", "rooms", "users", "sockets", "except", "namespace"}} ({@code defaultNamespace}
     * when it names none); every socket of the namespace when it names no target. Returns a problem, or null.
     */
    String emit(String defaultNamespace, JsonNode e) {
        return publish(defaultNamespace, e).problem();
    }

    Emitted publish(String defaultNamespace, JsonNode e) {
        if (e == null || !e.isObject()) {
            return new Emitted(0, "an emit is a JSON object such as {\"event\": \"news\", \"args\": [...], \"rooms\": [\"r1\"]}", 400);
        }
        String event = e.path("event").isTextual() ? e.path("event").asText() : null;
        if (event == null || event.isEmpty()) {
            return new Emitted(0, "\"event\" is missing (the event name clients listen to)", 400);
        }
        if (RESERVED.contains(event)) {
            return new Emitted(0, "\"" + event + "\" is reserved by the Socket.IO client and cannot be emitted", 400);
        }
        String name = e.path("namespace").isTextual() ? e.path("namespace").asText() : defaultNamespace;
        Namespace ns = namespaceFor(name);
        if (ns == null) {
            return new Emitted(0, "no namespace " + name + " (realtime.namespaces)", 404);
        }
        JsonNode args = e.get("args");
        Object[] values;
        if (args == null || args.isNull()) {
            values = new Object[0];
        } else if (args.isArray()) {
            values = new Object[args.size()];
            for (int i = 0; i < args.size(); i++) {
                values[i] = Payloads.fromJson(args.get(i));
            }
        } else {
            return new Emitted(0, "\"args\" is not an array", 400);
        }
        List<String> targets = new ArrayList<>();
        for (String field : List.of("rooms", "users", "sockets")) {
            JsonNode list = e.path(field);
            if (!list.isMissingNode() && !list.isArray()) {
                return new Emitted(0, "\"" + field + "\" is not an array of strings", 400);
            }
            for (JsonNode t : list) {
                targets.add(field.equals("users") ? "user:" + t.asText() : t.asText());
            }
        }
        Broadcast b = null;
        for (String t : targets) {
            b = b == null ? ns.to(t) : b.to(t);
        }
        if (b == null) {
            if (!e.path("rooms").isMissingNode() || !e.path("users").isMissingNode() || !e.path("sockets").isMissingNode()) {
                return new Emitted(0, null, 200); // targets named, all empty: nobody
            }
            b = ns.toAll();
        }
        for (JsonNode x : e.path("except")) {
            b = b.except(x.asText());
        }
        int reached = b.emit(event, values);
        metrics.count("crossgate.realtime.emits", "Events emitted by the backend (hook answers and the publish API)", "namespace", configuredName(name));
        return new Emitted(reached, null, 200);
    }

    private Namespace namespaceFor(String name) {
        return configuredName(name) == null ? null : io.namespace(name);
    }

    /** The configured namespace (a name, or a pattern such as /rooms-*) that {@code name} falls under, or null. */
    private String configuredName(String name) {
        for (Map.Entry<String, Pattern> e : patterns) {
            if (e.getValue().matcher(name).matches()) {
                return e.getKey();
            }
        }
        return null;
    }

    /**
     * The sockets of a namespace (of one room when {@code room} is not null), as the publish API lists them: this
     * node's, and with {@code realtime.redis} every other node's (fetchSockets through the adapter; a node that does not
     * answer in time leaves the list marked {@code "complete": false}). Null when the namespace is unknown.
     */
    CompletableFuture<ObjectNode> list(String namespace, String room) {
        Namespace ns = namespaceFor(namespace);
        if (ns == null) {
            return CompletableFuture.completedFuture(null);
        }
        List<SioSocket> sockets = room == null ? ns.fetchSockets() : ns.to(room).sockets();
        ObjectNode out = NODES.objectNode();
        out.put("namespace", ns.name());
        if (room != null) {
            out.put("room", room);
        }
        ArrayNode list = out.putArray("sockets");
        for (SioSocket s : sockets) {
            ObjectNode o = list.addObject();
            o.put("id", s.id());
            Member m = members.get(s);
            if (m != null && m.user != null) {
                o.put("user", m.user);
            } else {
                o.putNull("user");
            }
            ArrayNode rooms = o.putArray("rooms");
            for (String r : s.rooms()) {
                rooms.add(r);
            }
            o.put("transport", s.transport());
            o.put("address", s.remoteAddress());
            if (s.data().get("data") != null) {
                o.set("data", Payloads.toJson(s.data().get("data")));
            }
            if (redis != null) {
                o.put("node", "this");
            }
        }
        if (redis == null) {
            out.put("count", list.size());
            return CompletableFuture.completedFuture(out);
        }
        var target = dev.crossgate.realtime.socketio.Adapter.Target.of(room == null ? Set.of() : Set.of(room), Set.of());
        return redis.fetchSockets(ns.name(), target, config.redis().requestTimeout()).handle((remote, err) -> {
            if (err != null) {
                out.put("complete", false);
                out.put("problem", "another node did not answer in time: " + String.valueOf(err.getMessage()).lines().findFirst().orElse(""));
            } else {
                out.put("complete", true);
                for (dev.crossgate.realtime.socketio.Adapter.SocketInfo r : remote) {
                    ObjectNode o = list.addObject();
                    o.put("id", r.id());
                    if (r.data().get("user") instanceof String u) {
                        o.put("user", u);
                    } else {
                        o.putNull("user");
                    }
                    ArrayNode rooms = o.putArray("rooms");
                    r.rooms().forEach(rooms::add);
                    o.putNull("transport");
                    o.put("address", String.valueOf(r.handshake().getOrDefault("address", "")));
                    if (r.data().get("data") != null) {
                        o.set("data", Payloads.toJson(r.data().get("data")));
                    }
                    o.put("node", "other");
                }
            }
            out.put("count", list.size());
            return out;
        });
    }

    // ---------------------------------------------------------------- hook bodies

    private ObjectNode base(String type, SioSocket s, Member m) {
        ObjectNode o = NODES.objectNode();
        o.put("type", type);
        o.put("namespace", s.namespace().name());
        o.put("socketId", s.id());
        if (m.user != null) {
            o.put("user", m.user);
        } else {
            o.putNull("user");
        }
        if (m.claims != null) {
            o.set("claims", Payloads.toJson(m.claims));
        }
        if (s.data().get("data") != null) {
            o.set("data", Payloads.toJson(s.data().get("data")));
        } else if (m.data != null) {
            o.set("data", m.data);
        }
        return o;
    }

    /** What the backend may want of the handshake: address, Origin, query, and the headers an application reads (cookies included). */
    private static ObjectNode handshake(SioSocket s) {
        ObjectNode h = NODES.objectNode();
        h.put("address", s.remoteAddress());
        h.put("transport", s.transport());
        ObjectNode query = h.putObject("query");
        for (Map.Entry<String, List<String>> e : s.handshakeQuery().entrySet()) {
            if (!e.getKey().equals("EIO") && !e.getKey().equals("transport") && !e.getKey().equals("t") && !e.getValue().isEmpty()) {
                query.put(e.getKey(), e.getValue().get(0));
            }
        }
        ObjectNode headers = h.putObject("headers");
        for (Map.Entry<String, String> e : s.handshakeHeaders()) {
            String name = e.getKey().toLowerCase(java.util.Locale.ROOT);
            headers.put(name, headers.has(name) ? headers.get(name).asText() + ", " + e.getValue() : e.getValue());
        }
        return h;
    }
}
