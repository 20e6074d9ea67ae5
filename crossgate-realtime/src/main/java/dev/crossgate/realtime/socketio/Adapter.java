package dev.crossgate.realtime.socketio;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * What a server shares with the other nodes of a cluster (as socket.io's Adapter: broadcasts, and the requests that
 * act on every node's sockets). Without one, a server is alone. {@link dev.crossgate.realtime.redis.RedisAdapter} is
 * the implementation that speaks @socket.io/redis-adapter's wire format.
 *
 * <p>The server calls {@code broadcast} and the requests after it has applied them locally (or, for requests that
 * gather answers, gives the adapter its local part); the adapter calls {@link Local} for what other nodes ask.
 * Event data travels as Java values: {@code [event, args...]} with null, Boolean, Number, String, byte[], List and
 * Map.
 */
public interface Adapter extends AutoCloseable {
    /** Which sockets: members of {@code rooms} (every socket when empty) minus members of {@code except}. */
    record Target(Set<String> rooms, Set<String> except, Flags flags) {
        public static Target of(Set<String> rooms, Set<String> except) {
            return new Target(rooms, except, Flags.NONE);
        }
    }

    /** socket.io's broadcast flags: {@code volatile} (may be dropped), {@code compress}, {@code local} (this node only). */
    record Flags(boolean isVolatile, boolean compress, boolean local) {
        public static final Flags NONE = new Flags(false, false, false);
    }

    /** A socket as fetchSockets describes it (on this node or another): id, rooms, data and the handshake. */
    record SocketInfo(String id, Set<String> rooms, Map<String, Object> data, Map<String, Object> handshake) {}

    /** A server-side event from another node: {@code ack} is null when the sender waits for none. */
    @FunctionalInterface
    interface ServerSideHandler {
        void handle(List<Object> args, Consumer<Object> ack);
    }

    /** What this node does for the others; implemented by the server. */
    interface Local {
        /** Whether the namespace exists on this node (messages for others are ignored). */
        boolean hasNamespace(String nsp);

        boolean hasRoom(String nsp, String room);

        /**
         * Delivers to this node's sockets; returns how many it reached. {@code offset}: the connection state recovery
         * offset the sending node gave it (null from a node that gives none: this node then gives its own).
         */
        int broadcast(String nsp, Target target, List<Object> data, String offset);

        /** Delivers with an ack per socket: {@code clientCount} once with how many, then {@code ack} with each socket's first ack argument. */
        void broadcastWithAck(String nsp, Target target, List<Object> data, Duration timeout, IntConsumer clientCount, Consumer<Object> ack);

        List<SocketInfo> fetchSockets(String nsp, Target target);

        void socketsJoin(String nsp, Target target, Collection<String> rooms);

        void socketsLeave(String nsp, Target target, Collection<String> rooms);

        void disconnectSockets(String nsp, Target target, boolean close);

        /** One socket by id (the adapter's older per-socket requests); false when it is not on this node. */
        boolean socketJoin(String nsp, String id, String room);

        boolean socketLeave(String nsp, String id, String room);

        boolean socketDisconnect(String nsp, String id, boolean close);

        Set<String> rooms(String nsp);

        /** A server-side emit from another node, {@code [event, args...]}; {@code ack} null when none is awaited. */
        void serverSideEmit(String nsp, List<Object> data, Consumer<Object> ack);
    }

    /** Called once when the server is built: the adapter subscribes and may call {@code local} from then on. */
    void start(Local local);

    /** A namespace now exists on this node (static, or a dynamic one's child): its messages are to be received. */
    void namespaceCreated(String nsp);

    /** A room now has members on this node (the sharded adapter subscribes to its channel). */
    default void roomCreated(String nsp, String room) {}

    /** A room has no member left on this node. */
    default void roomDeleted(String nsp, String room) {}

    /**
     * Sends a broadcast to the other nodes (the server delivers it locally right after). {@code offset}, when recovery
     * is on, travels with it (in the options, which Node.js nodes ignore) so that every Crossgate node delivers it with
     * the same offset.
     */
    void broadcast(String nsp, Target target, List<Object> data, String offset);

    /** Sends a broadcast with acks to the other nodes; their client counts and acks come back through the callbacks. */
    void broadcastWithAck(String nsp, Target target, List<Object> data, Duration timeout, IntConsumer clientCount, Consumer<Object> ack);

    /** The other nodes' sockets matching {@code target}. */
    CompletableFuture<List<SocketInfo>> fetchSockets(String nsp, Target target, Duration timeout);

    void socketsJoin(String nsp, Target target, Collection<String> rooms);

    void socketsLeave(String nsp, Target target, Collection<String> rooms);

    void disconnectSockets(String nsp, Target target, boolean close);

    /** Sends a server-side event to the other nodes. */
    void serverSideEmit(String nsp, List<Object> data);

    /** Sends a server-side event to the other nodes and gathers one answer from each. */
    CompletableFuture<List<Object>> serverSideEmitWithAck(String nsp, List<Object> data, Duration timeout);

    /** How many nodes serve this namespace, this one included (PUBSUB NUMSUB of the request channel). */
    CompletableFuture<Integer> serverCount(String nsp);

    /** The rooms of every node (this one's included by the caller). */
    CompletableFuture<Set<String>> allRooms(String nsp, Duration timeout);

    /** Stops receiving and releases the connections. */
    @Override
    void close();
}
