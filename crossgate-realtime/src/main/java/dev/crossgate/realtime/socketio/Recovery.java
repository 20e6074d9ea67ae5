package dev.crossgate.realtime.socketio;

import com.fasterxml.jackson.databind.node.ArrayNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Connection state recovery: a socket that loses its connection keeps its id, rooms and data for
 * {@code window}; broadcast events carry an offset as their last argument and are kept as long, so that a
 * client reconnecting with its private id and last offset gets back its identity and every broadcast it
 * missed. Binary events are kept with their attachments and replayed whole; events with acks are not kept (as in the
 * reference server, where an emit with an ack bypasses the adapter's persistPacket).
 *
 * <p>Kept in this node's memory, and with a {@link RecoveryStore} also there (the broadcasts this node originated, every
 * session that ends here), so that the session can be recovered on any node: this node's memory is asked first, the
 * store when it does not know the session or the offset.
 */
final class Recovery {
    /** A disconnected socket's state. */
    record Saved(String sid, String namespace, Set<String> rooms, Map<String, Object> data, long disconnectedAtNanos) {}

    /** A broadcast as sent: its offset, target and encoded packet (text and binary attachments). */
    record Logged(String offset, String namespace, Set<String> rooms, Set<String> except, SioSocket.Encoded packet, long atNanos) {}

    private final Duration window;
    private final long windowNanos;
    private final RecoveryStore store;
    private final Map<String, Saved> sessions = new ConcurrentHashMap<>();
    private final ConcurrentLinkedDeque<Logged> log = new ConcurrentLinkedDeque<>();
    private final AtomicLong counter = new AtomicLong();
    /** Offsets are unique across nodes: this node's random prefix, then a counter. */
    private final String node = dev.crossgate.realtime.engine.Ids.random().substring(0, 8);
    private final Set<CompletableFuture<Void>> saving = ConcurrentHashMap.newKeySet();

    Recovery(Duration window, RecoveryStore store) {
        this.window = window;
        this.windowNanos = window.toNanos();
        this.store = store;
    }

    /** A new offset, unique across the nodes sharing a store. */
    String newOffset() {
        return node + "-" + Long.toString(counter.incrementAndGet(), 36);
    }

    /** Appends {@code offset} to a broadcast's data as its last argument. */
    static void appendOffset(ArrayNode data, String offset) {
        data.add(offset);
    }

    /**
     * Keeps a broadcast as sent (its data ends with {@code offset}), for the recovery window; {@code origin}: this node
     * sent it first, so it goes to the shared store too (the other nodes deliver it with the same offset and keep it
     * in memory only).
     */
    void keep(String offset, String namespace, Set<String> rooms, Set<String> except, SioSocket.Encoded packet, boolean origin) {
        long now = System.nanoTime();
        log.add(new Logged(offset, namespace, rooms, except, packet, now));
        trim(now);
        if (origin && store != null) {
            store.append(new RecoveryStore.Packet(offset, namespace, rooms, except, packet.text(), packet.attachments()), window);
        }
    }

    void save(String pid, Saved s) {
        sessions.put(pid, s);
        trim(System.nanoTime());
        if (store != null) {
            CompletableFuture<Void> f = store.save(pid, new RecoveryStore.Session(s.sid(), s.namespace(), s.rooms(), s.data()), window);
            saving.add(f);
            f.whenComplete((v, err) -> saving.remove(f));
        }
    }

    /** Waits, up to {@code wait}, for the sessions being written to the store (a drain hands them over). */
    void flush(Duration wait) {
        CompletableFuture<?>[] pending = saving.toArray(CompletableFuture[]::new);
        try {
            CompletableFuture.allOf(pending).get(wait.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // what could not be written in time is lost for recovery; the clients start new sessions
        }
    }

    /** A packet to replay, with its offset (to leave out what was also delivered live while the replay was read). */
    record Replayed(String offset, SioSocket.Encoded packet) {}

    /**
     * The saved session of {@code pid} in {@code namespace}: from this node's memory, else taken from the store
     * (another node's); null when there is none (the client then gets a new session).
     */
    CompletableFuture<Saved> session(String pid, String namespace) {
        Saved local = take(pid);
        if (local != null) {
            if (store != null) {
                store.take(pid); // the shared copy is spent too
            }
            return CompletableFuture.completedFuture(local.namespace().equals(namespace) ? local : null);
        }
        if (store == null) {
            return CompletableFuture.completedFuture(null);
        }
        return store.take(pid).thenApply(s -> s == null || !s.namespace().equals(namespace) ? null
                : new Saved(s.sid(), s.namespace(), s.rooms(), s.data(), System.nanoTime()));
    }

    /**
     * The broadcasts after {@code offset} that reached a socket in {@code rooms}, in order: from this node's memory when
     * it holds that offset, else from the store; null when the offset is known to neither.
     */
    CompletableFuture<List<Replayed>> replay(String namespace, String offset, Set<String> rooms) {
        List<Replayed> local = missed(namespace, offset, rooms);
        if (local != null || store == null) {
            return CompletableFuture.completedFuture(local);
        }
        return store.after(namespace, offset).thenApply(packets -> {
            if (packets == null) {
                return null;
            }
            List<Replayed> out = new ArrayList<>();
            for (RecoveryStore.Packet p : packets) {
                if (targets(p.rooms(), p.except(), rooms)) {
                    out.add(new Replayed(p.offset(), new SioSocket.Encoded(p.text(), p.attachments())));
                }
            }
            return out;
        });
    }

    /** The saved state of {@code pid}, removed, when it is still within the window; else null. */
    Saved take(String pid) {
        Saved s = sessions.remove(pid);
        return s != null && System.nanoTime() - s.disconnectedAtNanos() <= windowNanos ? s : null;
    }

    /** The packets of the broadcasts after {@code offset} that reached a socket in {@code rooms}; null when the offset is unknown. */
    List<Replayed> missed(String namespace, String offset, Set<String> rooms) {
        List<Replayed> out = new ArrayList<>();
        boolean after = false;
        for (Logged l : log) {
            if (after && l.namespace().equals(namespace) && targets(l.rooms(), l.except(), rooms)) {
                out.add(new Replayed(l.offset(), l.packet()));
            }
            if (l.offset().equals(offset)) {
                after = true;
            }
        }
        return after ? out : null;
    }

    private static boolean targets(Set<String> to, Set<String> except, Set<String> rooms) {
        boolean in = to.isEmpty() || to.stream().anyMatch(rooms::contains);
        return in && except.stream().noneMatch(rooms::contains);
    }

    private void trim(long now) {
        for (Iterator<Logged> it = log.iterator(); it.hasNext(); ) {
            if (now - it.next().atNanos() > windowNanos) {
                it.remove();
            } else {
                break;
            }
        }
        sessions.values().removeIf(s -> now - s.disconnectedAtNanos() > windowNanos);
    }
}
