package dev.crossgate.realtime.engine;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.util.concurrent.ScheduledFuture;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One Engine.IO session. Its state lives on one event loop (the handshake's): polling requests and
 * WebSocket frames that arrive on other loops are handed to it, so nothing here needs a lock.
 *
 * <p>Transports: HTTP long-polling (one pending GET at a time, packets buffered until a GET takes them)
 * and WebSocket (one frame per packet); the upgrade from the first to the second answers the probe, ends a
 * pending GET with a noop, and switches on the client's upgrade packet. Heartbeat: the server pings every
 * {@code pingInterval} and closes the session when no pong comes within {@code pingTimeout}.
 */
public final class EngineSocket {
    /** What the application hears from a session. */
    public interface Listener {
        void onMessage(EngineSocket socket, EnginePacket message);

        /** The session ended: {@code reason} is "transport close", "ping timeout", "parse error", "transport error" or "server close". */
        void onClose(EngineSocket socket, String reason);
    }

    enum Transport { POLLING, WEBSOCKET }

    private final String id;
    private final EngineServer server;
    private final EventLoop loop;
    /** The handshake's request URI; its query is parsed when asked for (most applications never do). */
    private final String handshakeUri;
    private final HttpHeaders handshakeHeaders;
    private final String remoteAddress;
    private volatile Transport transport;
    /** Packets waiting for a transport (a poll, or the end of an upgrade); small, as it is empty nearly always. */
    private final ArrayDeque<EnginePacket> buffer = new ArrayDeque<>(2);
    /** About how many bytes {@link #buffer} holds (text length or binary size), for the slow-client limit. */
    private long bufferedBytes;
    private ChannelHandlerContext pendingGet;
    private EngineConnection pendingConn;
    private FullHttpRequest pendingGetRequest;
    private Channel ws;
    private Channel probe;
    private boolean closed;
    private ScheduledFuture<?> pingTimer;
    private ScheduledFuture<?> pongDeadline;
    private ScheduledFuture<?> upgradeDeadline;
    /**
     * Set while a polling session the client closed with no GET pending waits for that GET (see {@link #end}):
     * its removal from the server, due when the GET comes or at this deadline.
     */
    private ScheduledFuture<?> closeLinger;
    private Listener listener;
    /** Messages that arrived before the listener was set (created when one does). */
    private List<EnginePacket> early;

    EngineSocket(String id, EngineServer server, EventLoop loop, Transport transport, String handshakeUri,
                 HttpHeaders handshakeHeaders, String remoteAddress) {
        this.id = id;
        this.server = server;
        this.loop = loop;
        this.transport = transport;
        this.handshakeUri = handshakeUri;
        this.handshakeHeaders = handshakeHeaders;
        this.remoteAddress = remoteAddress;
    }

    public String id() {
        return id;
    }

    /** The handshake's query parameters. */
    public Map<String, List<String>> query() {
        return new io.netty.handler.codec.http.QueryStringDecoder(handshakeUri).parameters();
    }

    /** The handshake's request URI (path and query). */
    public String handshakeUri() {
        return handshakeUri;
    }

    /** The handshake's request headers (Origin, Cookie, Authorization, ...). */
    public HttpHeaders handshakeHeaders() {
        return handshakeHeaders;
    }

    public String remoteAddress() {
        return remoteAddress;
    }

    /** "polling" or "websocket". */
    public String transport() {
        return transport == Transport.POLLING ? "polling" : "websocket";
    }

    public EventLoop eventLoop() {
        return loop;
    }

    public boolean isOpen() {
        return !closed;
    }

    /** Sets who hears this session's messages; messages that arrived before are delivered now. */
    public void listener(Listener l) {
        run(() -> {
            listener = l;
            List<EnginePacket> pending = early == null ? List.of() : early;
            early = null;
            for (EnginePacket p : pending) {
                l.onMessage(this, p);
            }
        });
    }

    public void send(String text) {
        sendPacket(EnginePacket.text(EnginePacket.Type.MESSAGE, text));
    }

    public void send(byte[] data) {
        sendPacket(EnginePacket.binaryMessage(data));
    }

    /** Sends several messages in one polling payload or one flush (a Socket.IO packet and its attachments). */
    public void sendAll(List<EnginePacket> messages) {
        run(() -> {
            if (closed) {
                return;
            }
            for (EnginePacket m : messages) {
                queue(m);
            }
            flush();
        });
    }

    /** Closes the session from the server side: the client gets a close packet. */
    public void close() {
        run(() -> {
            if (closed) {
                if (closeLinger != null) { // a closed session waiting for its last GET: a server close ends the wait
                    closeLinger.cancel(false);
                    closeLinger = null;
                    server.removed(this);
                }
                return;
            }
            queue(EnginePacket.of(EnginePacket.Type.CLOSE));
            flush();
            end("server close", false);
        });
    }

    /**
     * A broadcast's message, on this session's loop: the WebSocket to write the shared frame bytes to (past the frame
     * encoder, as the frame is complete) when the session is on WebSocket with nothing queued ahead; else its text is
     * queued as any packet, and null is returned.
     */
    Channel sharedTarget(SharedMessage m) {
        if (closed) {
            return null;
        }
        if (transport == Transport.WEBSOCKET && ws != null && buffer.isEmpty()) {
            return ws;
        }
        queue(EnginePacket.text(EnginePacket.Type.MESSAGE, m.text()));
        flush();
        return null;
    }

    private void queue(EnginePacket p) {
        buffer.add(p);
        bufferedBytes += p.isBinary() ? p.binary().length : p.text() == null ? 1 : p.text().length() + 1;
    }

    /** Bytes written to a channel and not yet sent (the client reads slower than it is sent to). */
    static long unsent(Channel ch) {
        io.netty.channel.ChannelOutboundBuffer ob = ch.unsafe().outboundBuffer();
        return ob == null ? 0 : ob.totalPendingWriteBytes();
    }

    /**
     * Called after writing to this session's WebSocket (on that connection's loop): a client that lets more than
     * maxBuffered bytes wait is cut off rather than growing the server's memory.
     */
    void checkUnsent(Channel ch) {
        if (unsent(ch) > server.options().maxBuffered()) {
            ch.close(); // what waits is dropped with the connection
            run(() -> end("transport error", false));
        }
    }

    void sendPacket(EnginePacket p) {
        run(() -> {
            if (closed) {
                return;
            }
            queue(p);
            flush();
        });
    }

    private void run(Runnable r) {
        if (loop.inEventLoop()) {
            r.run();
        } else {
            loop.execute(r);
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /** Called once the open packet is on its way: the heartbeat starts. */
    void opened() {
        schedulePing();
    }

    private void schedulePing() {
        pingTimer = loop.schedule(() -> {
            if (closed) {
                return;
            }
            sendPacket(EnginePacket.of(EnginePacket.Type.PING));
            pongDeadline = loop.schedule(() -> end("ping timeout", true), server.options().pingTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }, server.options().pingInterval().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Ends the session; {@code endPoll} answers a pending GET (a noop when the client closed, a close packet otherwise). */
    void end(String reason, boolean endPoll) {
        if (closed) {
            return;
        }
        closed = true;
        boolean pollHeld = pendingGet != null;
        cancel(pingTimer);
        cancel(pongDeadline);
        cancel(upgradeDeadline);
        if (pendingGet != null) {
            if (endPoll) {
                respondPoll(reason.equals("transport close") ? "6" : "1");
            }
        }
        if (ws != null && ws.isActive()) {
            ws.writeAndFlush(new CloseWebSocketFrame()).addListener(ChannelFutureListener.CLOSE);
        }
        if (probe != null && probe.isActive()) {
            probe.close();
        }
        if (endPoll && reason.equals("transport close") && transport == Transport.POLLING && !pollHeld) {
            // The client closed over a POST while none of its GETs was held. Its GET may still be on the way: the
            // client sends them concurrently on two connections, and the POST can be read first (the official
            // suites' "forcefully closes the session" does exactly this). Answered 400 "Session ID unknown", that
            // GET would look like an error; the Node.js server's polling transport instead keeps the session until
            // the next GET (Polling#doClose: shouldClose, bounded by closeTimeout) and answers it with a noop.
            // The session stays known for one pingTimeout for that GET, then goes; the application sees the close now.
            closeLinger = loop.schedule(() -> server.removed(this), server.options().pingTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } else {
            server.removed(this);
        }
        if (listener != null) {
            listener.onClose(this, reason);
        }
    }

    private static void cancel(ScheduledFuture<?> f) {
        if (f != null) {
            f.cancel(false);
        }
    }

    // ---------------------------------------------------------------- incoming packets

    void onPacket(EnginePacket p) {
        if (closed) {
            return;
        }
        switch (p.type()) {
            case PONG -> {
                cancel(pongDeadline);
                pongDeadline = null;
                schedulePing();
            }
            case MESSAGE -> {
                if (listener != null) {
                    listener.onMessage(this, p);
                } else {
                    if (early == null) {
                        early = new ArrayList<>(2);
                    }
                    early.add(p);
                }
            }
            case CLOSE -> end("transport close", true);
            default -> {
                // open, ping, upgrade, noop from a client outside an upgrade: nothing to do
            }
        }
    }

    /** Held writes: while above zero, packets are queued and flushed by {@link #uncork()} (on this session's loop only). */
    private int corked;

    /**
     * Holds this session's writes (on its event loop) until {@link #uncork()}: what is sent meanwhile goes out
     * together, in order. Socket.IO's connect uses it so that the CONNECT packet leaves only after the connection
     * handlers ran (their joins take effect before the client can act on CONNECT, as in Node's single tick).
     */
    public void cork() {
        corked++;
    }

    public void uncork() {
        if (corked > 0 && --corked == 0) {
            flush();
        }
    }

    private void flush() {
        if (buffer.isEmpty() || corked > 0) {
            return;
        }
        if (transport == Transport.WEBSOCKET && ws != null) {
            EnginePacket p;
            while ((p = buffer.poll()) != null) {
                ws.write(p.isBinary() ? new BinaryWebSocketFrame(Unpooled.wrappedBuffer(p.binary()))
                        : new TextWebSocketFrame(p.encodeText()));
            }
            bufferedBytes = 0;
            ws.flush();
            Channel c = ws;
            if (c.eventLoop().inEventLoop()) {
                checkUnsent(c);
            } else {
                c.eventLoop().execute(() -> checkUnsent(c));
            }
        } else if (transport == Transport.POLLING && pendingGet != null) {
            List<EnginePacket> out = new ArrayList<>(buffer);
            buffer.clear();
            bufferedBytes = 0;
            respondPoll(EnginePacket.encodePayload(out));
        } else if (bufferedBytes > server.options().maxBuffered()) {
            // Nobody polls (or an upgrade stalls) while packets pile up: the session ends instead of the heap growing.
            buffer.clear();
            bufferedBytes = 0;
            end("transport error", true);
        }
    }

    // ---------------------------------------------------------------- polling

    /** A long-polling GET: answered now when packets wait, else held until some do. */
    void onPollGet(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req) {
        if (closed && closeLinger != null) {
            // The GET that the client's close overtook (see end): answered as if it had been held, with a noop.
            closeLinger.cancel(false);
            closeLinger = null;
            server.removed(this);
            server.respond(conn, ctx, req, 200, "text/plain; charset=UTF-8", "6");
            return;
        }
        if (closed || transport != Transport.POLLING) {
            server.error(conn, ctx, req, 3, "Bad request");
            return;
        }
        if (pendingGet != null) {
            // A second concurrent GET breaks the ordering guarantee: the session ends.
            respondPoll("1");
            server.error(conn, ctx, req, 3, "Bad request");
            end("transport error", false);
            return;
        }
        pendingGet = ctx;
        pendingConn = conn;
        pendingGetRequest = req.retainedDuplicate();
        if (probe != null) {
            respondPoll("6"); // an upgrade is under way: end the poll so the client moves to the WebSocket
            return;
        }
        flush();
    }

    /**
     * The connection of a held GET closed ({@code ctx}: the context its request was handed over with): the
     * client cancelled its poll, and cannot know what it missed, so the session ends.
     */
    public void pollConnectionClosed(ChannelHandlerContext ctx) {
        run(() -> {
            if (pendingGet == ctx) {
                pendingGetRequest.release();
                pendingGet = null;
                pendingConn = null;
                pendingGetRequest = null;
                end("transport close", false);
            }
        });
    }

    /** A long-polling POST: its packets in order, then "ok". */
    void onPollPost(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req) {
        if (closed || transport != Transport.POLLING) {
            server.error(conn, ctx, req, 3, "Bad request");
            return;
        }
        List<EnginePacket> packets = EnginePacket.decodePayload(req.content().toString(StandardCharsets.UTF_8));
        if (packets == null) {
            server.error(conn, ctx, req, 3, "Bad request");
            end("parse error", true);
            return;
        }
        server.respond(conn, ctx, req, 200, "text/html", "ok");
        for (EnginePacket p : packets) {
            onPacket(p);
        }
    }

    private void respondPoll(String payload) {
        ChannelHandlerContext ctx = pendingGet;
        EngineConnection conn = pendingConn;
        FullHttpRequest req = pendingGetRequest;
        pendingGet = null;
        pendingConn = null;
        pendingGetRequest = null;
        server.respond(conn, ctx, req, 200, "text/plain; charset=UTF-8", payload);
        req.release();
    }

    // ---------------------------------------------------------------- WebSocket

    /** A WebSocket-only session's connection. */
    void attachWebSocket(Channel ch) {
        ws = ch;
    }

    /** A WebSocket opened for an upgrade from polling: it answers the probe, then takes over on the upgrade packet. */
    void beginUpgrade(Channel ch) {
        if (closed || transport != Transport.POLLING || probe != null) {
            ch.writeAndFlush(new CloseWebSocketFrame()).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        probe = ch;
        upgradeDeadline = loop.schedule(() -> {
            if (probe == ch && transport == Transport.POLLING) {
                probe = null;
                ch.close();
            }
        }, server.options().upgradeTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    /** A packet on a WebSocket: the session's own, or the probe's during an upgrade. */
    void onWebSocketPacket(Channel ch, EnginePacket p) {
        if (ch == probe) {
            if (p.type() == EnginePacket.Type.PING && "probe".equals(p.text())) {
                ch.writeAndFlush(new TextWebSocketFrame("3probe"));
                if (pendingGet != null) {
                    respondPoll("6");
                }
            } else if (p.type() == EnginePacket.Type.UPGRADE) {
                cancel(upgradeDeadline);
                probe = null;
                ws = ch;
                transport = Transport.WEBSOCKET;
                flush();
            } else {
                end("parse error", true);
            }
            return;
        }
        if (ch == ws) {
            onPacket(p);
        }
    }

    /** A WebSocket of this session closed (or sent garbage). */
    void onWebSocketClosed(Channel ch, String reason) {
        if (ch == probe) {
            probe = null;
            cancel(upgradeDeadline);
        } else if (ch == ws) {
            end(reason, false);
        }
    }
}
