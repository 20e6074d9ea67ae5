package dev.crossgate.realtime.socketio;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * Where connection state recovery keeps what must outlive a node: the sessions of disconnected sockets and the log of
 * broadcasts, so that a client reconnecting to any node of a cluster (after its node stopped or restarted) gets its id,
 * rooms, data and the packets it missed. Without one, recovery is per node (in memory).
 * {@link dev.crossgate.realtime.redis.RedisAdapter#recoveryStore()} keeps them in Redis, as
 * {@code @socket.io/redis-streams-adapter} does: a stream as the log, a key with a TTL per session.
 */
public interface RecoveryStore {
    /** A broadcast as sent: its offset (unique across nodes), target and packet (text and binary attachments). */
    record Packet(String offset, String namespace, Set<String> rooms, Set<String> except, String text, List<byte[]> attachments) {}

    /** A disconnected socket's state. */
    record Session(String sid, String namespace, Set<String> rooms, Map<String, Object> data) {}

    /** Appends a broadcast to the log (it expires after the window). */
    void append(Packet p, Duration window);

    /** Keeps a session for {@code window}; completes when it is stored (a drain waits for it). */
    CompletableFuture<Void> save(String pid, Session s, Duration window);

    /** Takes (reads and removes) a session; completes with null when there is none or it expired. */
    CompletableFuture<Session> take(String pid);

    /**
     * The packets of {@code namespace} after {@code offset}, in log order; completes with null when the offset is not in
     * the log (expired, or never logged): the client then starts a new session.
     */
    CompletableFuture<List<Packet>> after(String namespace, String offset);
}
