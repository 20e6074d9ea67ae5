package dev.crossgate.realtime.socketio;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/** One client's membership of one namespace: events, acks, rooms. */
public final class SioSocket {
    private final String id;
    private final Namespace namespace;
    private final SioClient client;
    private final Map<String, Object> auth;
    private final Map<String, Handlers.EventHandler> handlers = new ConcurrentHashMap<>();
    private final List<Handlers.DisconnectHandler> onDisconnect = new CopyOnWriteArrayList<>();
    private volatile Handlers.AnyEventHandler onAny;
    /** The rooms joined besides the private one (created on the first join: most sockets never join one). */
    private volatile Set<String> rooms;
    /** Acks awaited from the client (created on the first emitWithAck). */
    private volatile Map<Long, CompletableFuture<List<Object>>> pendingAcks;
    private final AtomicLong nextAck = new AtomicLong();
    /** Application data (created on first use). */
    private volatile Map<String, Object> data;
    private volatile boolean connected;
    /** The private session id for connection state recovery, or null when it is off. */
    private String pid;
    private boolean recovered;

    SioSocket(String id, Namespace namespace, SioClient client, Map<String, Object> auth) {
        this.id = id;
        this.namespace = namespace;
        this.client = client;
        this.auth = auth;
    }

    public String id() {
        return id;
    }

    public Namespace namespace() {
        return namespace;
    }

    /** The CONNECT packet's auth payload (empty when none). */
    public Map<String, Object> auth() {
        return auth;
    }

    /** The Engine.IO handshake's request headers. */
    public io.netty.handler.codec.http.HttpHeaders handshakeHeaders() {
        return client.engine().handshakeHeaders();
    }

    public Map<String, List<String>> handshakeQuery() {
        return client.engine().query();
    }

    /** The Engine.IO handshake's request URI (path and query). */
    public String handshakeUri() {
        return client.engine().handshakeUri();
    }

    /** The Engine.IO session (the client's connection) this socket belongs to; its sockets in other namespaces share it. */
    public String sessionId() {
        return client.engine().id();
    }

    /** The client's address as the connection saw it. */
    public String remoteAddress() {
        return client.engine().remoteAddress();
    }

    /** The event loop this socket's events and acks run on; work for this socket can be handed to it. */
    public io.netty.channel.EventLoop eventLoop() {
        return client.engine().eventLoop();
    }

    /** The connection's current transport: "polling" or "websocket". */
    public String transport() {
        return client.engine().transport();
    }

    /** Application data attached to this socket (a user id, for example); seen by fetchSockets. */
    public Map<String, Object> data() {
        Map<String, Object> d = data;
        if (d == null) {
            synchronized (this) {
                if (data == null) {
                    data = new ConcurrentHashMap<>();
                }
                d = data;
            }
        }
        return d;
    }

    public boolean connected() {
        return connected;
    }

    /** True when this socket is a recovered session: same id, rooms and data, missed broadcasts replayed. */
    public boolean recovered() {
        return recovered;
    }

    void recovery(String pid, boolean recovered) {
        this.pid = pid;
        this.recovered = recovered;
    }

    String pid() {
        return pid;
    }

    void markConnected() {
        connected = true;
        join(id);
    }

    public SioSocket on(String event, Handlers.EventHandler handler) {
        handlers.put(event, handler);
        return this;
    }

    /** Receives every event that has no handler registered with {@link #on}. */
    public SioSocket onAny(Handlers.AnyEventHandler handler) {
        onAny = handler;
        return this;
    }

    public SioSocket onDisconnect(Handlers.DisconnectHandler handler) {
        onDisconnect.add(handler);
        return this;
    }

    /**
     * Sends an event to this client. With connection state recovery on, the event is a broadcast to this socket's
     * private room, so that it carries an offset and is kept for a reconnection that missed it (as the reference
     * server's Socket#emit does when connectionStateRecovery is set).
     */
    public void emit(String event, Object... args) {
        if (namespace.recovery() != null && connected) {
            // This node's socket: delivered here (kept for recovery), not published to the other nodes.
            new Broadcast(namespace, Set.of(id), Set.of(), null, Adapter.Flags.NONE).emitHere(event, args);
            return;
        }
        client.send(eventPacket(namespace.name(), SioPacket.NO_ACK, event, args));
    }

    /** Sends an event and waits for the client's ack, failing with TimeoutException after {@code timeout}. */
    public CompletableFuture<List<Object>> emitWithAck(String event, Duration timeout, Object... args) {
        long ackId = nextAck.getAndIncrement();
        CompletableFuture<List<Object>> f = new CompletableFuture<>();
        Map<Long, CompletableFuture<List<Object>>> acks = acks();
        acks.put(ackId, f);
        client.engine().eventLoop().schedule(() -> {
            if (acks.remove(ackId) != null) {
                f.completeExceptionally(new TimeoutException("no ack for " + event + " within " + timeout.toMillis() + " ms"));
            }
        }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        client.send(eventPacket(namespace.name(), ackId, event, args));
        return f;
    }

    private Map<Long, CompletableFuture<List<Object>>> acks() {
        Map<Long, CompletableFuture<List<Object>>> m = pendingAcks;
        if (m == null) {
            synchronized (this) {
                if (pendingAcks == null) {
                    pendingAcks = new ConcurrentHashMap<>();
                }
                m = pendingAcks;
            }
        }
        return m;
    }

    public void join(String room) {
        if (!room.equals(id)) {
            Set<String> r = rooms;
            if (r == null) {
                synchronized (this) {
                    if (rooms == null) {
                        rooms = ConcurrentHashMap.newKeySet();
                    }
                    r = rooms;
                }
            }
            r.add(room);
        }
        namespace.addToRoom(room, this);
    }

    public void leave(String room) {
        Set<String> r = rooms;
        if (r != null) {
            r.remove(room);
        }
        namespace.removeFromRoom(room, this);
    }

    /** The rooms this socket is in, its private room (its id) included. */
    public Set<String> rooms() {
        Set<String> out = new java.util.LinkedHashSet<>();
        out.add(id);
        Set<String> r = rooms;
        if (r != null) {
            out.addAll(r);
        }
        return Collections.unmodifiableSet(out);
    }

    /** Broadcast to a room, from this socket: everyone in it but this socket. */
    public Broadcast to(String room) {
        return new Broadcast(namespace, Set.of(room), Set.of(), this, Adapter.Flags.NONE);
    }

    /** This socket as fetchSockets describes it to any node: id, rooms, data, and the handshake as socket.io's. */
    Adapter.SocketInfo info() {
        Map<String, Object> handshake = new java.util.LinkedHashMap<>();
        Map<String, Object> headers = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, String> h : handshakeHeaders()) {
            headers.putIfAbsent(h.getKey().toLowerCase(java.util.Locale.ROOT), h.getValue());
        }
        handshake.put("headers", headers);
        handshake.put("address", remoteAddress());
        handshake.put("url", handshakeUri());
        Map<String, Object> query = new java.util.LinkedHashMap<>();
        handshakeQuery().forEach((k, v) -> query.put(k, v.isEmpty() ? "" : v.get(0)));
        handshake.put("query", query);
        handshake.put("auth", auth);
        Map<String, Object> d = data;
        return new Adapter.SocketInfo(id, rooms(), d == null ? Map.of() : Map.copyOf(d), handshake);
    }

    /** Leaves the namespace (the client is told); {@code close} also closes the whole connection. */
    public void disconnect(boolean close) {
        disconnect(close, "server namespace disconnect");
    }

    /**
     * Leaves the namespace as {@link #disconnect(boolean)} does, with {@code reason} given to this server's disconnect
     * handlers (such as {@code auth.expired}). The client gets the same DISCONNECT packet either way and sees
     * "io server disconnect" (Socket.IO protocol v5: a DISCONNECT packet carries no reason).
     */
    public void disconnect(boolean close, String reason) {
        if (!connected) {
            return;
        }
        client.send(new Encoded(new SioPacket(SioPacket.Type.DISCONNECT, namespace.name(), SioPacket.NO_ACK, null, 0).encode(), List.of()));
        closed(reason);
        client.forget(namespace.name());
        if (close) {
            client.engine().close();
        }
    }

    void closed(String reason) {
        if (!connected) {
            return;
        }
        connected = false;
        Recovery recovery = namespace.recovery();
        if (recovery != null && pid != null && (reason.equals("transport close") || reason.equals("ping timeout")
                || reason.equals("transport error") || reason.equals("server shutting down"))) {
            // Lost, not left: kept for the recovery window (socket.io's RECOVERABLE_DISCONNECT_REASONS, which include
            // "server shutting down": a node that stops hands its sessions over to the others through the store).
            recovery.save(pid, new Recovery.Saved(id, namespace.name(), rooms(), data == null ? Map.of() : Map.copyOf(data), System.nanoTime()));
        }
        for (String r : rooms()) {
            namespace.removeFromRoom(r, this);
        }
        rooms = null;
        namespace.removed(this);
        Map<Long, CompletableFuture<List<Object>>> acks = pendingAcks;
        if (acks != null) {
            for (CompletableFuture<List<Object>> f : acks.values()) {
                f.completeExceptionally(new IllegalStateException("disconnected: " + reason));
            }
            acks.clear();
        }
        for (Handlers.DisconnectHandler h : onDisconnect) {
            h.disconnected(reason);
        }
    }

    /** An EVENT (or BINARY_EVENT, attachments in place) from the client. */
    void onEvent(SioPacket p, List<byte[]> attachments) {
        String event = p.data().get(0).asText();
        List<Object> args = new ArrayList<>(p.data().size() - 1);
        for (int i = 1; i < p.data().size(); i++) {
            args.add(SioPacket.fromJson(p.data().get(i), attachments));
        }
        Handlers.EventHandler h = handlers.get(event);
        Handlers.AnyEventHandler any = h == null ? onAny : null;
        if (h == null && any == null) {
            return;
        }
        Handlers.Ack ack = null;
        if (p.ackId() != SioPacket.NO_ACK) {
            long ackId = p.ackId();
            boolean[] sent = {false};
            ack = values -> {
                synchronized (sent) {
                    if (sent[0]) {
                        return; // one ack per event
                    }
                    sent[0] = true;
                }
                client.send(ackPacket(namespace.name(), ackId, values));
            };
        }
        if (h != null) {
            h.handle(Collections.unmodifiableList(args), ack);
        } else {
            any.handle(event, Collections.unmodifiableList(args), ack);
        }
    }

    /** An ACK from the client for one of this socket's emitWithAck. */
    void onAck(SioPacket p, List<byte[]> attachments) {
        Map<Long, CompletableFuture<List<Object>>> acks = pendingAcks;
        CompletableFuture<List<Object>> f = acks == null ? null : acks.remove(p.ackId());
        if (f == null) {
            return;
        }
        List<Object> args = new ArrayList<>();
        for (JsonNode n : p.data()) {
            args.add(SioPacket.fromJson(n, attachments));
        }
        f.complete(Collections.unmodifiableList(args));
    }

    // ---------------------------------------------------------------- encoding

    /** A packet ready to send: its text and its attachments. */
    record Encoded(String text, List<byte[]> attachments) {}

    static Encoded eventPacket(String nsp, long ackId, String event, Object[] args) {
        List<byte[]> attachments = new ArrayList<>();
        return encodeEvent(nsp, ackId, eventData(event, args, attachments), attachments);
    }

    /** An event's JSON array, {@code [event, args...]}, its byte arrays collected as attachments. */
    static ArrayNode eventData(String event, Object[] args, List<byte[]> attachments) {
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        a.add(event);
        for (Object o : args) {
            a.add(SioPacket.toJson(o, attachments));
        }
        return a;
    }

    static Encoded encodeEvent(String nsp, long ackId, ArrayNode data, List<byte[]> attachments) {
        SioPacket.Type t = attachments.isEmpty() ? SioPacket.Type.EVENT : SioPacket.Type.BINARY_EVENT;
        return new Encoded(new SioPacket(t, nsp, ackId, data, attachments.size()).encode(), attachments);
    }

    static Encoded ackPacket(String nsp, long ackId, Object[] args) {
        List<byte[]> attachments = new ArrayList<>();
        ArrayNode a = JsonNodeFactory.instance.arrayNode();
        for (Object o : args) {
            a.add(SioPacket.toJson(o, attachments));
        }
        SioPacket.Type t = attachments.isEmpty() ? SioPacket.Type.ACK : SioPacket.Type.BINARY_ACK;
        return new Encoded(new SioPacket(t, nsp, ackId, a, attachments.size()).encode(), attachments);
    }

    /** A delivery held while a recovered session's missed packets are read: the packet and its offset. */
    record Held(Encoded packet, String offset) {}

    /** Deliveries held (not null) while this recovered socket's replay is read. */
    private volatile List<Held> held;

    void holdDeliveries() {
        held = new ArrayList<>();
    }

    /** Holds a delivery when this socket is being recovered; false when it is to be sent now. */
    boolean hold(Encoded e, String offset) {
        List<Held> h = held;
        if (h == null) {
            return false;
        }
        synchronized (h) {
            if (held == null) {
                return false; // released meanwhile: sent as usual (after the CONNECT, on this session's loop)
            }
            h.add(new Held(e, offset));
            return true;
        }
    }

    /** Ends holding; returns what was held, in order. */
    List<Held> releaseDeliveries() {
        List<Held> h = held;
        if (h == null) {
            return List.of();
        }
        synchronized (h) {
            held = null;
            return new ArrayList<>(h);
        }
    }

    /** A recovered socket that could not be restored after all leaves its rooms and the namespace. */
    void unregister() {
        for (String r : rooms()) {
            namespace.removeFromRoom(r, this);
        }
        rooms = null;
        namespace.removed(this);
    }

    /** The Engine.IO session under this socket. */
    dev.crossgate.realtime.engine.EngineSocket session() {
        return client.engine();
    }

    void sendEncoded(Encoded e) {
        client.send(e);
    }
}
