package dev.crossgate.realtime.socketio;

import com.fasterxml.jackson.databind.node.ArrayNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Connection state recovery: a socket that loses its connection keeps its id, rooms and data for
 * {@code window}; broadcast events carry an offset as their last argument and are kept as long, so that a
 * client reconnecting with its private id and last offset gets back its identity and every broadcast it
 * missed. Binary events are kept with their attachments and replayed whole; events with acks are not kept (as in the
 * reference server, where an emit with an ack bypasses the adapter's persistPacket).
 */
final class Recovery {
    /** A disconnected socket's state. */
    record Saved(String sid, String namespace, Set<String> rooms, Map<String, Object> data, long disconnectedAtNanos) {}

    /** A broadcast as sent: its offset, target and encoded packet (text and binary attachments). */
    record Logged(String offset, String namespace, Set<String> rooms, Set<String> except, SioSocket.Encoded packet, long atNanos) {}

    private final long windowNanos;
    private final Map<String, Saved> sessions = new ConcurrentHashMap<>();
    private final ConcurrentLinkedDeque<Logged> log = new ConcurrentLinkedDeque<>();
    private final AtomicLong counter = new AtomicLong();

    Recovery(Duration window) {
        this.windowNanos = window.toNanos();
    }

    /** Appends a new offset to a broadcast's data as its last argument; returns the offset. */
    String appendOffset(ArrayNode data) {
        String offset = Long.toString(counter.incrementAndGet(), 36) + "-" + Long.toString(System.nanoTime() & 0xffffff, 36);
        data.add(offset);
        return offset;
    }

    /** Keeps a broadcast as sent (its data ends with {@code offset}), for the recovery window. */
    void keep(String offset, String namespace, Set<String> rooms, Set<String> except, SioSocket.Encoded packet) {
        long now = System.nanoTime();
        log.add(new Logged(offset, namespace, rooms, except, packet, now));
        trim(now);
    }

    void save(String pid, Saved s) {
        sessions.put(pid, s);
        trim(System.nanoTime());
    }

    /** The saved state of {@code pid}, removed, when it is still within the window; else null. */
    Saved take(String pid) {
        Saved s = sessions.remove(pid);
        return s != null && System.nanoTime() - s.disconnectedAtNanos() <= windowNanos ? s : null;
    }

    /** The packets of the broadcasts after {@code offset} that reached a socket in {@code rooms}; null when the offset is unknown. */
    List<SioSocket.Encoded> missed(String namespace, String offset, Set<String> rooms) {
        List<SioSocket.Encoded> out = new ArrayList<>();
        boolean after = false;
        for (Logged l : log) {
            if (after && l.namespace().equals(namespace) && targets(l, rooms)) {
                out.add(l.packet());
            }
            if (l.offset().equals(offset)) {
                after = true;
            }
        }
        return after ? out : null;
    }

    private static boolean targets(Logged l, Set<String> rooms) {
        boolean in = l.rooms().isEmpty() || l.rooms().stream().anyMatch(rooms::contains);
        return in && l.except().stream().noneMatch(rooms::contains);
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
