package dev.crossgate.realtime.socketio;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * An emit to many sockets: the members of some rooms (every socket of the namespace when none is named),
 * minus the members of the excepted rooms and, for a broadcast from a socket, that socket. The packet is
 * encoded once.
 */
public final class Broadcast {
    private final Namespace namespace;
    private final Set<String> rooms;
    private final Set<String> except;
    private final SioSocket from;

    Broadcast(Namespace namespace, Set<String> rooms, Set<String> except, SioSocket from) {
        this.namespace = namespace;
        this.rooms = rooms;
        this.except = except;
        this.from = from;
    }

    public Broadcast to(String room) {
        Set<String> r = new HashSet<>(rooms);
        r.add(room);
        return new Broadcast(namespace, r, except, from);
    }

    public Broadcast except(String room) {
        Set<String> e = new HashSet<>(except);
        e.add(room);
        return new Broadcast(namespace, rooms, e, from);
    }

    /** The sockets this broadcast reaches now. */
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

    /** Sends the event to the sockets this broadcast reaches now; returns how many they were. */
    public int emit(String event, Object... args) {
        List<byte[]> attachments = new ArrayList<>();
        com.fasterxml.jackson.databind.node.ArrayNode data = SioSocket.eventData(event, args, attachments);
        Recovery recovery = namespace.recovery();
        // With recovery on, a broadcast carries an offset as its last argument and is kept, for clients that
        // reconnect after missing it. Binary events too: the offset follows the placeholders in the JSON data, and
        // the attachments are kept with the text (the reference's in-memory adapter persists the packet, Buffers
        // included, in persistPacket; the client takes the last string argument as its offset either way).
        String offset = recovery != null ? recovery.appendOffset(data) : null;
        SioSocket.Encoded e = SioSocket.encodeEvent(namespace.name(), SioPacket.NO_ACK, data, attachments);
        if (offset != null) {
            Set<String> skip = new HashSet<>(except);
            if (from != null) {
                skip.add(from.id());
            }
            recovery.keep(offset, namespace.name(), rooms, skip, e);
        }
        List<SioSocket> targets = sockets();
        if (!e.attachments().isEmpty()) {
            for (SioSocket s : targets) {
                s.sendEncoded(e);
            }
            return targets.size();
        }
        // Text only (nearly every broadcast): encoded once, one task per event loop.
        List<dev.crossgate.realtime.engine.EngineSocket> sessions = new ArrayList<>(targets.size());
        for (SioSocket s : targets) {
            sessions.add(s.session());
        }
        dev.crossgate.realtime.engine.SharedMessage.send(e.text(), sessions);
        return targets.size();
    }
}
