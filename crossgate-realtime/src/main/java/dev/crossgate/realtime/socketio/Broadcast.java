package dev.crossgate.realtime.socketio;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * An emit to many sockets: the members of some rooms (every socket of the namespace when none is named),
 * minus the members of the excepted rooms and, for a broadcast from a socket, that socket. The packet is
 * encoded once. With a cluster adapter the same broadcast reaches the other nodes' sockets (unless {@link #local()}).
 */
public final class Broadcast {
    private final Namespace namespace;
    private final Set<String> rooms;
    private final Set<String> except;
    private final SioSocket from;
    private final Adapter.Flags flags;

    Broadcast(Namespace namespace, Set<String> rooms, Set<String> except, SioSocket from, Adapter.Flags flags) {
        this.namespace = namespace;
        this.rooms = rooms;
        this.except = except;
        this.from = from;
        this.flags = flags;
    }

    public Broadcast to(String room) {
        Set<String> r = new HashSet<>(rooms);
        r.add(room);
        return new Broadcast(namespace, r, except, from, flags);
    }

    public Broadcast except(String room) {
        Set<String> e = new HashSet<>(except);
        e.add(room);
        return new Broadcast(namespace, rooms, e, from, flags);
    }

    /** This node's sockets only (socket.io's {@code local} flag): nothing is sent to the other nodes. */
    public Broadcast local() {
        return new Broadcast(namespace, rooms, except, from, new Adapter.Flags(flags.isVolatile(), flags.compress(), true));
    }

    /** socket.io's {@code volatile} flag: the event may be dropped, and is not kept for connection state recovery. */
    public Broadcast asVolatile() {
        return new Broadcast(namespace, rooms, except, from, new Adapter.Flags(true, flags.compress(), flags.local()));
    }

    /** socket.io's {@code compress} flag, carried to the other nodes. */
    public Broadcast compress(boolean compress) {
        return new Broadcast(namespace, rooms, except, from, new Adapter.Flags(flags.isVolatile(), compress, flags.local()));
    }

    /** The target as the other nodes get it: a broadcast from a socket excepts that socket's private room. */
    Adapter.Target target() {
        Set<String> e = except;
        if (from != null) {
            e = new HashSet<>(except);
            e.add(from.id());
        }
        return new Adapter.Target(rooms, e, flags);
    }

    /** This node's sockets this broadcast reaches now. */
    public List<SioSocket> sockets() {
        if (except.isEmpty() && from == null && rooms.size() <= 1) {
            // One room, or the whole namespace, nobody excepted: no set to build.
            return new ArrayList<>(rooms.isEmpty() ? namespace.sockets() : namespace.members(rooms.iterator().next()));
        }
        Set<SioSocket> targets = new HashSet<>();
        if (rooms.isEmpty()) {
            targets.addAll(namespace.sockets());
        } else {
            for (String r : rooms) {
                targets.addAll(namespace.members(r));
            }
        }
        for (String r : except) {
            targets.removeAll(namespace.members(r));
        }
        if (from != null) {
            targets.remove(from);
        }
        return new ArrayList<>(targets);
    }

    /**
     * Sends the event to the sockets this broadcast reaches now, on this node and (through the adapter) on the others;
     * returns how many this node's were.
     */
    public int emit(String event, Object... args) {
        Recovery recovery = flags.isVolatile() ? null : namespace.recovery();
        String offset = recovery != null ? recovery.newOffset() : null;
        Adapter a = namespace.adapter();
        if (a != null && !flags.local()) {
            // socket.io's RedisAdapter.broadcast: published to the others first, then delivered locally. The offset
            // travels with it, so that every Crossgate node delivers the broadcast with the same one.
            a.broadcast(namespace.name(), target(), Namespace.data(event, args), offset);
        }
        return emitLocally(event, args, offset, true);
    }

    int emitHere(String event, Object... args) {
        Recovery recovery = flags.isVolatile() ? null : namespace.recovery();
        return emitLocally(event, args, recovery != null ? recovery.newOffset() : null, true);
    }

    /**
     * Delivers to this node's sockets. With recovery on ({@code offset} not null) the broadcast carries the offset as its
     * last argument and is kept, for clients that reconnect after missing it; {@code origin}: this node sent it first
     * (a broadcast from another node is kept in this node's memory only).
     */
    int emitLocally(String event, Object[] args, String offset, boolean origin) {
        List<byte[]> attachments = new ArrayList<>();
        com.fasterxml.jackson.databind.node.ArrayNode data = SioSocket.eventData(event, args, attachments);
        Recovery recovery = namespace.recovery();
        // Binary events too: the offset follows the placeholders in the JSON data, and the attachments are kept with the
        // text (the reference's in-memory adapter persists the packet, Buffers included, in persistPacket; the client
        // takes the last string argument as its offset either way). Volatile events are not kept
        // (socket.io-adapter's addOffsetIfNecessary).
        if (recovery == null || flags.isVolatile()) {
            offset = null;
        }
        if (offset != null) {
            Recovery.appendOffset(data, offset);
        }
        SioSocket.Encoded e = SioSocket.encodeEvent(namespace.name(), SioPacket.NO_ACK, data, attachments);
        if (offset != null) {
            Set<String> skip = new HashSet<>(except);
            if (from != null) {
                skip.add(from.id());
            }
            recovery.keep(offset, namespace.name(), rooms, skip, e, origin);
        }
        List<SioSocket> targets = sockets();
        if (!e.attachments().isEmpty()) {
            for (SioSocket s : targets) {
                if (!s.hold(e, offset)) {
                    s.sendEncoded(e);
                }
            }
            return targets.size();
        }
        // Text only (nearly every broadcast): encoded once, one task per event loop.
        List<dev.crossgate.realtime.engine.EngineSocket> sessions = new ArrayList<>(targets.size());
        for (SioSocket s : targets) {
            if (!s.hold(e, offset)) {
                sessions.add(s.session());
            }
        }
        dev.crossgate.realtime.engine.SharedMessage.send(e.text(), sessions);
        return targets.size();
    }

    /**
     * Sends the event with an ack to every socket this broadcast reaches, on every node, and completes with their
     * answers (each socket's first ack argument) once all have answered; fails with a TimeoutException carrying
     * the answers so far when some did not within {@code timeout} (socket.io's {@code timeout(t).emitWithAck}).
     */
    public CompletableFuture<List<Object>> emitWithAck(Duration timeout, String event, Object... args) {
        AckGather g = new AckGather();
        Adapter a = namespace.adapter();
        if (a != null && !flags.local()) {
            // socket.io's BroadcastOperator.emitWithAck: done when every node (serverCount) has told its client count
            // and that many answers arrived.
            a.serverCount(namespace.name()).whenComplete((nodes, err) -> g.nodes(err == null ? Math.max(1, nodes) : 1));
            a.broadcastWithAck(namespace.name(), target(), Namespace.data(event, args), timeout, g::count, g::answer);
        } else {
            g.nodes(1);
        }
        g.count(localWithAck(timeout, event, args, g::answer));
        io.netty.util.concurrent.GlobalEventExecutor.INSTANCE.schedule(() -> g.expire(timeout), timeout.toMillis(),
                java.util.concurrent.TimeUnit.MILLISECONDS);
        return g.done;
    }

    /** The answers of a broadcast with acks, from this node and the others. */
    private static final class AckGather {
        final CompletableFuture<List<Object>> done = new CompletableFuture<>();
        private final List<Object> answers = new ArrayList<>();
        private int nodes = -1;
        private int counted;
        private int expected;

        synchronized void nodes(int n) {
            nodes = n;
            check();
        }

        synchronized void count(int clients) {
            counted++;
            expected += clients;
            check();
        }

        synchronized void answer(Object v) {
            answers.add(v);
            check();
        }

        synchronized void expire(Duration timeout) {
            if (!done.isDone()) {
                done.completeExceptionally(new AckTimeout(timeout, List.copyOf(answers)));
            }
        }

        private void check() {
            if (nodes >= 0 && counted >= nodes && answers.size() >= expected) {
                done.complete(List.copyOf(answers));
            }
        }
    }

    /** Sends with an ack to this node's targets; returns how many. */
    int localWithAck(Duration timeout, String event, Object[] args, Consumer<Object> ack) {
        List<SioSocket> targets = sockets();
        for (SioSocket s : targets) {
            s.emitWithAck(event, timeout, args).thenAccept(values -> ack.accept(values.isEmpty() ? null : values.get(0)));
        }
        return targets.size();
    }

    /** Not every socket answered in time: {@link #answers()} holds those that did. */
    public static final class AckTimeout extends TimeoutException {
        private final transient List<Object> answers;

        AckTimeout(Duration timeout, List<Object> answers) {
            super("not every client acknowledged within " + timeout.toMillis() + " ms (" + answers.size() + " did)");
            this.answers = answers;
        }

        public List<Object> answers() {
            return answers;
        }
    }

    /** The sockets this broadcast reaches, on every node (this node's first). */
    public CompletableFuture<List<Adapter.SocketInfo>> fetchSockets() {
        List<Adapter.SocketInfo> local = new ArrayList<>();
        for (SioSocket s : sockets()) {
            local.add(s.info());
        }
        Adapter a = namespace.adapter();
        if (a == null || flags.local()) {
            return CompletableFuture.completedFuture(local);
        }
        return a.fetchSockets(namespace.name(), target(), namespace.requestTimeout()).thenApply(remote -> {
            List<Adapter.SocketInfo> all = new ArrayList<>(local);
            all.addAll(remote);
            return all;
        });
    }

    /** The sockets this broadcast reaches, on every node, join {@code room}. */
    public void socketsJoin(String... room) {
        List<String> r = List.of(room);
        for (SioSocket s : sockets()) {
            r.forEach(s::join);
        }
        Adapter a = namespace.adapter();
        if (a != null && !flags.local()) {
            a.socketsJoin(namespace.name(), target(), r);
        }
    }

    public void socketsLeave(String... room) {
        List<String> r = List.of(room);
        for (SioSocket s : sockets()) {
            r.forEach(s::leave);
        }
        Adapter a = namespace.adapter();
        if (a != null && !flags.local()) {
            a.socketsLeave(namespace.name(), target(), r);
        }
    }

    /** The sockets this broadcast reaches, on every node, leave the namespace; {@code close} also closes their connections. */
    public void disconnectSockets(boolean close) {
        for (SioSocket s : sockets()) {
            s.disconnect(close);
        }
        Adapter a = namespace.adapter();
        if (a != null && !flags.local()) {
            a.disconnectSockets(namespace.name(), target(), close);
        }
    }

}
