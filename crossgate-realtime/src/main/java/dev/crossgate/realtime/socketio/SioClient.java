package dev.crossgate.realtime.socketio;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crossgate.realtime.engine.EnginePacket;
import dev.crossgate.realtime.engine.EngineSocket;
import dev.crossgate.realtime.engine.Ids;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The Socket.IO side of one Engine.IO session: its namespace sockets, the reassembly of binary packets
 * from their attachments, and the connect timeout. Confined to the session's event loop.
 */
final class SioClient implements EngineSocket.Listener {
    private final SocketIoServer server;
    private final EngineSocket engine;
    private final Map<String, SioSocket> sockets = new HashMap<>(2); // one namespace, nearly always
    /** Namespaces whose recovered session is being looked up (in the shared store). */
    private final java.util.Set<String> restoring = new java.util.HashSet<>(1);
    private SioPacket awaiting;
    private List<byte[]> attachments;
    private ScheduledFuture<?> connectTimer;

    SioClient(SocketIoServer server, EngineSocket engine) {
        this.server = server;
        this.engine = engine;
        // A session that joins no namespace in time is closed (the client gave up, or is not Socket.IO).
        connectTimer = engine.eventLoop().schedule(() -> {
            if (sockets.isEmpty()) {
                engine.close();
            }
        }, server.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    EngineSocket engine() {
        return engine;
    }

    void send(SioSocket.Encoded e) {
        if (e.attachments().isEmpty()) {
            engine.send(e.text());
            return;
        }
        List<EnginePacket> packets = new ArrayList<>(1 + e.attachments().size());
        packets.add(EnginePacket.text(EnginePacket.Type.MESSAGE, e.text()));
        for (byte[] b : e.attachments()) {
            packets.add(EnginePacket.binaryMessage(b));
        }
        engine.sendAll(packets);
    }

    void forget(String nsp) {
        engine.eventLoop().execute(() -> sockets.remove(nsp));
    }

    @Override
    public void onMessage(EngineSocket s, EnginePacket m) {
        if (m.isBinary()) {
            if (awaiting == null) {
                protocolError();
                return;
            }
            attachments.add(m.binary());
            if (attachments.size() == awaiting.attachments()) {
                SioPacket p = awaiting;
                List<byte[]> a = attachments;
                awaiting = null;
                attachments = null;
                dispatch(p, a);
            }
            return;
        }
        if (awaiting != null) {
            protocolError(); // text while attachments were still due
            return;
        }
        SioPacket p = SioPacket.decode(m.text());
        if (p == null) {
            protocolError();
            return;
        }
        boolean binary = p.type() == SioPacket.Type.BINARY_EVENT || p.type() == SioPacket.Type.BINARY_ACK;
        if (binary && !SioPacket.placeholdersValid(p.data(), p.attachments())) {
            protocolError();
            return;
        }
        if (binary && p.attachments() > 0) {
            awaiting = p;
            attachments = new ArrayList<>(p.attachments());
            return;
        }
        dispatch(p, List.of());
    }

    private void protocolError() {
        engine.close();
    }

    private void dispatch(SioPacket p, List<byte[]> att) {
        switch (p.type()) {
            case CONNECT -> connect(p);
            case DISCONNECT -> {
                SioSocket s = sockets.remove(p.namespace());
                if (s != null) {
                    s.closed("client namespace disconnect");
                }
            }
            case EVENT, BINARY_EVENT -> {
                SioSocket s = sockets.get(p.namespace());
                if (s != null) {
                    s.onEvent(p, att);
                }
            }
            case ACK, BINARY_ACK -> {
                SioSocket s = sockets.get(p.namespace());
                if (s != null) {
                    s.onAck(p, att);
                }
            }
            case CONNECT_ERROR -> protocolError(); // a server-to-client packet
            default -> protocolError();
        }
    }

    @SuppressWarnings("unchecked")
    private void connect(SioPacket p) {
        String nsp = p.namespace();
        Namespace ns = server.namespace(nsp);
        if (ns == null) {
            sendConnectError(nsp, "Invalid namespace", null);
            return;
        }
        if (sockets.containsKey(nsp) || restoring.contains(nsp)) {
            return; // already connected there (or being recovered)
        }
        Map<String, Object> auth = p.data() == null ? new HashMap<>() : new HashMap<>((Map<String, Object>) SioPacket.fromJson(p.data(), List.of()));
        Object pid = auth.remove("pid");
        Object offset = auth.remove("offset");
        Map<String, Object> payload = auth.isEmpty() ? Map.of() : java.util.Collections.unmodifiableMap(auth);
        Recovery recovery = server.recovery();
        if (recovery != null && pid instanceof String id && offset instanceof String off) {
            // From this node's memory at once, or from the shared store (another node's session) asynchronously; the
            // connect goes on on this session's event loop either way.
            restoring.add(nsp); // a second CONNECT to this namespace meanwhile is ignored
            recovery.session(id, nsp).whenComplete((saved, err) -> engine.eventLoop().execute(() -> {
                if (!engine.isOpen()) {
                    restoring.remove(nsp);
                    return;
                }
                if (err != null || saved == null) {
                    restoring.remove(nsp);
                    fresh(ns, payload, recovery);
                    return;
                }
                // The socket is back in its rooms before the missed packets are read, its deliveries held meanwhile: a
                // broadcast sent while the log is read is then in the log, or held, or both (sent once).
                SioSocket socket = new SioSocket(saved.sid(), ns, this, payload);
                socket.recovery(id, true);
                socket.data().putAll(saved.data());
                socket.holdDeliveries();
                ns.register(socket);
                for (String room : saved.rooms()) {
                    socket.join(room);
                }
                recovery.replay(nsp, off, saved.rooms()).whenComplete((missed, err2) -> engine.eventLoop().execute(() -> {
                    restoring.remove(nsp);
                    List<SioSocket.Held> held = socket.releaseDeliveries();
                    if (!engine.isOpen() || err2 != null || missed == null) {
                        socket.unregister();
                        if (engine.isOpen()) {
                            fresh(ns, payload, recovery);
                        }
                        return;
                    }
                    List<SioSocket.Encoded> out = new ArrayList<>(missed.size() + held.size());
                    java.util.Set<String> replayed = new java.util.HashSet<>();
                    for (Recovery.Replayed r : missed) {
                        out.add(r.packet());
                        replayed.add(r.offset());
                    }
                    for (SioSocket.Held h : held) {
                        if (h.offset() == null || !replayed.contains(h.offset())) {
                            out.add(h.packet());
                        }
                    }
                    admit(ns, socket, out); // middleware is not run again for a recovered session
                }));
            }));
            return;
        }
        fresh(ns, payload, recovery);
    }

    private void fresh(Namespace ns, Map<String, Object> payload, Recovery recovery) {
        SioSocket socket = new SioSocket(Ids.random(), ns, this, payload);
        if (recovery != null) {
            socket.recovery(Ids.random(), false);
        }
        runMiddleware(ns, socket, 0);
    }

    private void runMiddleware(Namespace ns, SioSocket socket, int index) {
        List<Handlers.Middleware> chain = ns.middleware();
        if (index == chain.size()) {
            admit(ns, socket, List.of());
            return;
        }
        boolean[] called = {false};
        chain.get(index).handle(socket, refusal -> engine.eventLoop().execute(() -> {
            if (called[0] || !engine.isOpen()) {
                return;
            }
            called[0] = true;
            if (refusal != null) {
                sendConnectError(ns.name(), refusal.message(), refusal.data());
            } else {
                runMiddleware(ns, socket, index + 1);
            }
        }));
    }

    private void admit(Namespace ns, SioSocket socket, List<SioSocket.Encoded> replay) {
        sockets.put(ns.name(), socket);
        if (connectTimer != null) {
            connectTimer.cancel(false);
            connectTimer = null;
        }
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.put("sid", socket.id());
        if (socket.pid() != null) {
            body.put("pid", socket.pid());
        }
        // CONNECT, the replay and whatever the connection handlers send leave together, after the handlers ran: a
        // client that acts on CONNECT finds its rooms joined (Node runs them in the same tick as the CONNECT write).
        engine.cork();
        try {
            engine.send(new SioPacket(SioPacket.Type.CONNECT, ns.name(), SioPacket.NO_ACK, body, 0).encode());
            for (SioSocket.Encoded missed : replay) {
                send(missed); // what a recovered session missed, in order, binary attachments included
            }
            socket.markConnected();
            ns.connected(socket);
        } finally {
            engine.uncork();
        }
    }

    private void sendConnectError(String nsp, String message, Object data) {
        ObjectNode body = JsonNodeFactory.instance.objectNode();
        body.put("message", message);
        if (data != null) {
            body.set("data", SioPacket.toJson(data, new ArrayList<>()));
        }
        engine.send(new SioPacket(SioPacket.Type.CONNECT_ERROR, nsp, SioPacket.NO_ACK, body, 0).encode());
    }

    @Override
    public void onClose(EngineSocket s, String reason) {
        if (connectTimer != null) {
            connectTimer.cancel(false);
        }
        String why = reason.equals("server close") ? "server shutting down" : reason;
        for (SioSocket socket : new ArrayList<>(sockets.values())) {
            socket.closed(why);
        }
        sockets.clear();
    }
}
