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

    public void emit(String event, Object... args) {
        SioSocket.Encoded e = SioSocket.eventPacket(namespace.name(), SioPacket.NO_ACK, event, args);
        Recovery recovery = namespace.recovery();
        if (recovery != null && e.attachments().isEmpty()) {
            // Kept with an offset as the last argument, for clients that reconnect after missing it.
            com.fasterxml.jackson.databind.node.ArrayNode data = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.arrayNode();
            data.add(event);
            for (Object o : args) {
                data.add(SioPacket.toJson(o, new java.util.ArrayList<>()));
            }
            Set<String> skip = new HashSet<>(except);
            if (from != null) {
                skip.add(from.id());
            }
            recovery.record(namespace.name(), rooms, skip, data);
            e = new SioSocket.Encoded(new SioPacket(SioPacket.Type.EVENT, namespace.name(), SioPacket.NO_ACK, data, 0).encode(), List.of());
        }
        for (SioSocket s : sockets()) {
            s.sendEncoded(e);
        }
    }
}
