package dev.crossgate.realtime.socketio;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A Socket.IO namespace: its middleware, connection handlers, sockets and rooms. A namespace created for a
 * dynamic pattern shares its parent's middleware and handlers. With a cluster {@link Adapter}, broadcasts and the
 * socket requests ({@code fetchSockets}, {@code socketsJoin}, {@code disconnectSockets}, server-side events) act on
 * every node's sockets of the namespace of this name.
 */
public final class Namespace {
    /** How long requests to the other nodes wait for their answers by default (as the Node adapter's requestsTimeout). */
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(5);

    private final String name;
    private final SocketIoServer server;
    private final List<Handlers.Middleware> middleware;
    private final List<Handlers.ConnectionHandler> onConnection;
    private final Map<String, Adapter.ServerSideHandler> serverSide;
    private final Map<String, SioSocket> sockets = new ConcurrentHashMap<>();
    private final Map<String, Set<SioSocket>> rooms = new ConcurrentHashMap<>();
    private final Recovery recovery;

    Namespace(SocketIoServer server, String name) {
        this(server, name, new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>(), new ConcurrentHashMap<>());
    }

    private Namespace(SocketIoServer server, String name, List<Handlers.Middleware> middleware, List<Handlers.ConnectionHandler> onConnection,
            Map<String, Adapter.ServerSideHandler> serverSide) {
        this.server = server;
        this.name = name;
        this.middleware = middleware;
        this.onConnection = onConnection;
        this.serverSide = serverSide;
        this.recovery = server.recovery();
    }

    /** A child of a dynamic namespace pattern, sharing this one's middleware and handlers. */
    Namespace child(String childName) {
        return new Namespace(server, childName, middleware, onConnection, serverSide);
    }

    /** Connection state recovery, or null when off. */
    Recovery recovery() {
        return recovery;
    }

    /** The cluster adapter, or null when this server is alone. */
    Adapter adapter() {
        return server.adapter();
    }

    public String name() {
        return name;
    }

    /** Adds a middleware, run in order before a socket joins. */
    public Namespace use(Handlers.Middleware m) {
        middleware.add(m);
        return this;
    }

    public Namespace onConnection(Handlers.ConnectionHandler h) {
        onConnection.add(h);
        return this;
    }

    /**
     * Receives the server-side events other nodes send with {@code serverSideEmit} (Node's
     * {@code io.on("event", (...args, ack) => ...)}); {@code ack} is null when the sender awaits no answer.
     */
    public Namespace onServerSideEmit(String event, Adapter.ServerSideHandler handler) {
        serverSide.put(event, handler);
        return this;
    }

    List<Handlers.Middleware> middleware() {
        return middleware;
    }

    void connected(SioSocket s) {
        sockets.put(s.id(), s);
        for (Handlers.ConnectionHandler h : onConnection) {
            h.connected(s);
        }
    }

    /** A recovered socket is reachable by broadcasts (its deliveries held) before it is connected. */
    void register(SioSocket s) {
        sockets.put(s.id(), s);
    }

    void removed(SioSocket s) {
        sockets.remove(s.id(), s);
    }

    void addToRoom(String room, SioSocket s) {
        if (room.equals(s.id())) {
            return; // a socket's private room is found through the socket itself (no set per socket)
        }
        boolean[] created = {false};
        rooms.computeIfAbsent(room, r -> {
            created[0] = true;
            return ConcurrentHashMap.newKeySet();
        }).add(s);
        Adapter a = adapter();
        if (created[0] && a != null) {
            a.roomCreated(name, room);
        }
    }

    void removeFromRoom(String room, SioSocket s) {
        Set<SioSocket> members = rooms.get(room);
        if (members != null) {
            members.remove(s);
            if (members.isEmpty() && rooms.remove(room, members)) {
                Adapter a = adapter();
                if (a != null) {
                    a.roomDeleted(name, room);
                }
            }
        }
    }

    Collection<SioSocket> sockets() {
        return sockets.values();
    }

    SioSocket socket(String id) {
        return sockets.get(id);
    }

    boolean hasRoom(String room) {
        return rooms.containsKey(room) || sockets.containsKey(room);
    }

    /** The rooms with members on this node, private rooms (socket ids) included, as the Node adapter's {@code rooms}. */
    Set<String> localRooms() {
        Set<String> out = new LinkedHashSet<>(rooms.keySet());
        out.addAll(sockets.keySet());
        return out;
    }

    Set<SioSocket> members(String room) {
        Set<SioSocket> m = rooms.get(room);
        if (m != null) {
            return m;
        }
        SioSocket own = sockets.get(room); // the private room of a socket
        return own == null ? Set.of() : Set.of(own);
    }

    /** Broadcast to everyone in a room (combine with {@link Broadcast#to}, {@link Broadcast#except}). */
    public Broadcast to(String room) {
        return new Broadcast(this, Set.of(room), Set.of(), null, Adapter.Flags.NONE);
    }

    /** Same as {@link #to}. */
    public Broadcast in(String room) {
        return to(room);
    }

    /** Broadcast to every socket of this namespace (narrow it with {@link Broadcast#except}). */
    public Broadcast toAll() {
        return new Broadcast(this, Set.of(), Set.of(), null, Adapter.Flags.NONE);
    }

    /** Emits to every socket of this namespace (on every node). */
    public void emit(String event, Object... args) {
        toAll().emit(event, args);
    }

    /** This node's sockets, as they are now. */
    public List<SioSocket> fetchSockets() {
        return new ArrayList<>(sockets.values());
    }

    /** Every node's sockets (this node's first); fails when a node does not answer within the request timeout. */
    public CompletableFuture<List<Adapter.SocketInfo>> fetchAllSockets() {
        return toAll().fetchSockets();
    }

    /** Every socket of the namespace, on every node, joins {@code room}. */
    public void socketsJoin(String room) {
        toAll().socketsJoin(room);
    }

    public void socketsLeave(String room) {
        toAll().socketsLeave(room);
    }

    public void disconnectSockets(boolean close) {
        toAll().disconnectSockets(close);
    }

    /** The rooms of every node (private rooms included, as Node's {@code adapter.allRooms()}). */
    public CompletableFuture<Set<String>> allRooms() {
        Adapter a = adapter();
        Set<String> local = localRooms();
        if (a == null) {
            return CompletableFuture.completedFuture(local);
        }
        return a.allRooms(name, server.requestTimeout()).thenApply(remote -> {
            Set<String> all = new LinkedHashSet<>(local);
            all.addAll(remote);
            return all;
        });
    }

    /** Sends a server-side event to the other nodes' handlers of this namespace (not to clients, not to this node). */
    public void serverSideEmit(String event, Object... args) {
        Adapter a = adapter();
        if (a != null) {
            a.serverSideEmit(name, data(event, args));
        }
    }

    /** Sends a server-side event to the other nodes and gathers one answer from each (an empty list when alone). */
    public CompletableFuture<List<Object>> serverSideEmitWithAck(String event, Duration timeout, Object... args) {
        Adapter a = adapter();
        if (a == null) {
            return CompletableFuture.completedFuture(List.of());
        }
        return a.serverSideEmitWithAck(name, data(event, args), timeout);
    }

    /** A server-side event from another node reaches this namespace's handler. */
    void onServerSideEmit(List<Object> data, Consumer<Object> ack) {
        if (data.isEmpty() || !(data.get(0) instanceof String event)) {
            return;
        }
        Adapter.ServerSideHandler h = serverSide.get(event);
        if (h != null) {
            h.handle(java.util.Collections.unmodifiableList(new ArrayList<>(data.subList(1, data.size()))), ack);
        }
    }

    static List<Object> data(String event, Object[] args) {
        List<Object> d = new ArrayList<>(args.length + 1);
        d.add(event);
        java.util.Collections.addAll(d, args);
        return d;
    }

    Duration requestTimeout() {
        return server.requestTimeout();
    }
}
