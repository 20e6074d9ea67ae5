package dev.crossgate.realtime.socketio;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A Socket.IO namespace: its middleware, connection handlers, sockets and rooms. A namespace created for a
 * dynamic pattern shares its parent's middleware and handlers.
 */
public final class Namespace {
    private final String name;
    private final List<Handlers.Middleware> middleware;
    private final List<Handlers.ConnectionHandler> onConnection;
    private final Map<String, SioSocket> sockets = new ConcurrentHashMap<>();
    private final Map<String, Set<SioSocket>> rooms = new ConcurrentHashMap<>();
    private final Recovery recovery;

    Namespace(String name, Recovery recovery) {
        this(name, new CopyOnWriteArrayList<>(), new CopyOnWriteArrayList<>(), recovery);
    }

    private Namespace(String name, List<Handlers.Middleware> middleware, List<Handlers.ConnectionHandler> onConnection, Recovery recovery) {
        this.name = name;
        this.middleware = middleware;
        this.onConnection = onConnection;
        this.recovery = recovery;
    }

    /** A child of a dynamic namespace pattern, sharing this one's middleware and handlers. */
    Namespace child(String childName) {
        return new Namespace(childName, middleware, onConnection, recovery);
    }

    /** Connection state recovery, or null when off. */
    Recovery recovery() {
        return recovery;
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

    List<Handlers.Middleware> middleware() {
        return middleware;
    }

    void connected(SioSocket s) {
        sockets.put(s.id(), s);
        for (Handlers.ConnectionHandler h : onConnection) {
            h.connected(s);
        }
    }

    void removed(SioSocket s) {
        sockets.remove(s.id(), s);
    }

    void addToRoom(String room, SioSocket s) {
        if (room.equals(s.id())) {
            return; // a socket's private room is found through the socket itself (no set per socket)
        }
        rooms.computeIfAbsent(room, r -> ConcurrentHashMap.newKeySet()).add(s);
    }

    void removeFromRoom(String room, SioSocket s) {
        Set<SioSocket> members = rooms.get(room);
        if (members != null) {
            members.remove(s);
            if (members.isEmpty()) {
                rooms.remove(room, members);
            }
        }
    }

    Collection<SioSocket> sockets() {
        return sockets.values();
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
        return new Broadcast(this, Set.of(room), Set.of(), null);
    }

    /** Broadcast to every socket of this namespace (narrow it with {@link Broadcast#except}). */
    public Broadcast toAll() {
        return new Broadcast(this, Set.of(), Set.of(), null);
    }

    /** Emits to every socket of this namespace. */
    public void emit(String event, Object... args) {
        new Broadcast(this, Set.of(), Set.of(), null).emit(event, args);
    }

    /** The sockets (optionally of some rooms) as they are now. */
    public List<SioSocket> fetchSockets() {
        return new ArrayList<>(sockets.values());
    }

    public void socketsJoin(String room) {
        for (SioSocket s : sockets.values()) {
            s.join(room);
        }
    }

    public void socketsLeave(String room) {
        for (SioSocket s : sockets.values()) {
            s.leave(room);
        }
    }

    public void disconnectSockets(boolean close) {
        for (SioSocket s : new ArrayList<>(sockets.values())) {
            s.disconnect(close);
        }
    }
}
