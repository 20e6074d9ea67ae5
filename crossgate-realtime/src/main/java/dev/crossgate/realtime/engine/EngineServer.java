package dev.crossgate.realtime.engine;

import dev.crossgate.cors.CorsDecision;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketServerHandshakerFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;

/**
 * An Engine.IO v4 server: the handshake, HTTP long-polling, WebSocket and the upgrade between them, on
 * one request path. It is fed by {@link EngineHttpHandler} (in any Netty pipeline that aggregates HTTP
 * requests), so it runs standalone ({@link RealtimeHttpServer}) or inside the Crossgate edge.
 *
 * <p>Errors follow the reference server: HTTP 400 (403 for a refused handshake) with a JSON body
 * {@code {"code":N,"message":...}}: 0 "Transport unknown", 1 "Session ID unknown", 2 "Bad handshake
 * method", 3 "Bad request", 4 "Forbidden", 5 "Unsupported protocol version"; their reason codes (for an
 * {@link EngineConnection} that logs them) are {@code realtime.transport_unknown}, {@code realtime.session_unknown},
 * {@code realtime.handshake_method}, {@code realtime.bad_request}, {@code realtime.forbidden} and
 * {@code realtime.protocol_version}.
 */
public final class EngineServer {
    private final EngineOptions options;
    private final ConcurrentHashMap<String, EngineSocket> sessions = new ConcurrentHashMap<>();
    private volatile Consumer<EngineSocket> onConnection = s -> {};

    public EngineServer(EngineOptions options) {
        this.options = options;
    }

    public EngineOptions options() {
        return options;
    }

    /** Called on the session's event loop for every new session, before any of its messages. */
    public void onConnection(Consumer<EngineSocket> handler) {
        this.onConnection = handler;
    }

    public int sessionCount() {
        return sessions.size();
    }

    /** Open sessions by their transport now: {@code polling} and {@code websocket} (the first question of a status page). */
    public java.util.Map<String, Integer> transportCounts() {
        java.util.Map<String, Integer> out = new java.util.TreeMap<>();
        out.put("polling", 0);
        out.put("websocket", 0);
        for (EngineSocket s : sessions.values()) {
            out.merge(s.transport(), 1, Integer::sum);
        }
        return out;
    }

    /** Closes every session (server close). */
    public void closeAll() {
        for (EngineSocket s : sessions.values()) {
            s.close();
        }
    }

    /**
     * Closes every session and waits, up to {@code wait}, until all have ended, so that they end as a server close
     * (clients get a close packet, sockets the reason "server shutting down") before their connections go. Not on an
     * event loop: it blocks.
     */
    public void closeAll(java.time.Duration wait) {
        closeAll();
        long deadline = System.nanoTime() + wait.toNanos();
        while (!sessions.isEmpty() && System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    void removed(EngineSocket s) {
        sessions.remove(s.id(), s);
    }

    /** Whether a request path is this server's. */
    public boolean covers(String path) {
        return path.startsWith(options.path()) || path.equals(options.path().substring(0, options.path().length() - 1));
    }

    /**
     * Handles one aggregated request on this server's path, on the event loop of {@code ctx}'s channel; the
     * caller releases {@code req} afterwards. {@code conn} is how answers leave that connection.
     */
    public void handle(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req) {
        QueryStringDecoder q = new QueryStringDecoder(req.uri());
        Map<String, List<String>> query = q.parameters();
        if (req.method().equals(HttpMethod.OPTIONS)) {
            preflight(conn, ctx, req);
            return;
        }
        String eio = first(query, "EIO");
        if (!"4".equals(eio)) {
            error(conn, ctx, req, 5, "Unsupported protocol version");
            return;
        }
        String transport = first(query, "transport");
        if (!"polling".equals(transport) && !"websocket".equals(transport)) {
            error(conn, ctx, req, 0, "Transport unknown");
            return;
        }
        boolean upgrade = "websocket".equalsIgnoreCase(req.headers().get(HttpHeaderNames.UPGRADE));
        if ("websocket".equals(transport) && !upgrade) {
            error(conn, ctx, req, 3, "Bad request");
            return;
        }
        String sid = first(query, "sid");
        if (sid == null) {
            handshake(conn, ctx, req, transport);
            return;
        }
        EngineSocket s = sessions.get(sid);
        if (s == null) {
            error(conn, ctx, req, 1, "Session ID unknown");
            return;
        }
        if (upgrade) {
            if (!originAllowed(conn, ctx, req)) {
                return;
            }
            WebSocketServerHandshaker hs = handshaker(req);
            if (hs == null) {
                WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
                return;
            }
            addFrameHandlers(ctx, s);
            hs.handshake(ctx.channel(), req).addListener(f -> {
                if (f.isSuccess()) {
                    conn.upgraded(ctx, s);
                    s.eventLoop().execute(() -> s.beginUpgrade(ctx.channel()));
                } else {
                    ctx.close();
                }
            });
            return;
        }
        FullHttpRequest held = req.retainedDuplicate();
        if (req.method().equals(HttpMethod.GET)) {
            conn.polling(s);
            s.eventLoop().execute(() -> {
                try {
                    s.onPollGet(conn, ctx, held);
                } finally {
                    held.release();
                }
            });
        } else if (req.method().equals(HttpMethod.POST)) {
            s.eventLoop().execute(() -> {
                try {
                    s.onPollPost(conn, ctx, held);
                } finally {
                    held.release();
                }
            });
        } else {
            held.release();
            error(conn, ctx, req, 3, "Bad request");
        }
    }

    private void handshake(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req, String transport) {
        if (!req.method().equals(HttpMethod.GET)) {
            error(conn, ctx, req, 2, "Bad handshake method");
            return;
        }
        String remote = ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress().getHostAddress() : "";
        if (options.allowRequest() != null) {
            String refusal = options.allowRequest().check(req, remote);
            if (refusal != null) {
                error(conn, ctx, req, 4, refusal);
                return;
            }
        }
        String sid = Ids.random();
        EventLoop loop = ctx.channel().eventLoop();
        if ("websocket".equals(transport)) {
            if (!originAllowed(conn, ctx, req)) {
                return;
            }
            WebSocketServerHandshaker hs = handshaker(req);
            if (hs == null) {
                WebSocketServerHandshakerFactory.sendUnsupportedVersionResponse(ctx.channel());
                return;
            }
            EngineSocket s = new EngineSocket(sid, this, loop, EngineSocket.Transport.WEBSOCKET, req.uri(), kept(req), remote);
            addFrameHandlers(ctx, s);
            hs.handshake(ctx.channel(), req).addListener(f -> {
                if (!f.isSuccess()) {
                    ctx.close();
                    return;
                }
                s.attachWebSocket(ctx.channel());
                sessions.put(sid, s);
                conn.upgraded(ctx, s);
                ctx.channel().writeAndFlush(new TextWebSocketFrame("0" + openPayload(sid, false)));
                s.opened();
                onConnection.accept(s);
            });
            return;
        }
        EngineSocket s = new EngineSocket(sid, this, loop, EngineSocket.Transport.POLLING, req.uri(), kept(req), remote);
        sessions.put(sid, s);
        FullHttpResponse res = response(req, 200, "text/plain; charset=UTF-8", "0" + openPayload(sid, true));
        if (options.cookie() != null) {
            res.headers().add(HttpHeaderNames.SET_COOKIE, options.cookie() + "=" + sid + "; Path=/; HttpOnly; SameSite=Lax");
        }
        conn.respond(ctx, HttpUtil.isKeepAlive(req), res, null);
        s.opened();
        onConnection.accept(s);
    }

    private String openPayload(String sid, boolean canUpgrade) {
        return "{\"sid\":\"" + sid + "\",\"upgrades\":" + (canUpgrade ? "[\"websocket\"]" : "[]") + ",\"pingInterval\":"
                + options.pingInterval().toMillis() + ",\"pingTimeout\":" + options.pingTimeout().toMillis() + ",\"maxPayload\":"
                + options.maxPayload() + "}";
    }

    /** Handshake headers a session keeps (the ones an application reads): not the transport's own. */
    private static final java.util.Set<String> TRANSPORT_HEADERS = java.util.Set.of("host", "connection", "upgrade", "sec-websocket-key",
            "sec-websocket-version", "sec-websocket-extensions", "accept-encoding", "cache-control", "pragma", "content-length",
            "transfer-encoding", "accept");

    private static io.netty.handler.codec.http.HttpHeaders kept(FullHttpRequest req) {
        io.netty.handler.codec.http.HttpHeaders h = null;
        for (Map.Entry<String, String> e : req.headers()) {
            if (!TRANSPORT_HEADERS.contains(e.getKey().toLowerCase(java.util.Locale.ROOT))) {
                if (h == null) {
                    h = io.netty.handler.codec.http.DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
                }
                h.add(e.getKey(), e.getValue());
            }
        }
        return h == null ? io.netty.handler.codec.http.EmptyHttpHeaders.INSTANCE : h;
    }

    private WebSocketServerHandshaker handshaker(FullHttpRequest req) {
        String url = "ws://" + req.headers().get(HttpHeaderNames.HOST, "localhost") + req.uri();
        // "*": the first subprotocol the client offers is chosen, as the reference server's ws does; a browser that sends
        // its token as a subprotocol (["access_token", token]) requires one of its offers back.
        // closeOnProtocolViolation off: after a Close opcode with a bad body Netty would drop TCP without a Close;
        // EngineFrameHandler answers every violation with a Close first (RFC 6455 §7.1.7).
        return new WebSocketServerHandshakerFactory(url, "*", io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig.newBuilder()
                .allowExtensions(true).maxFramePayloadLength(options.maxPayload()).closeOnProtocolViolation(false).build()).newHandshaker(req);
    }

    /**
     * The handler of a session's WebSocket (which also reassembles fragmented messages: an Engine.IO packet is
     * one message), placed before the HTTP handler ahead of the handshake, so that every frame after the 101
     * finds it.
     */
    private void addFrameHandlers(ChannelHandlerContext ctx, EngineSocket s) {
        ctx.pipeline().addBefore(ctx.name(), "engine-ws", new EngineFrameHandler(s, options.maxPayload()));
    }

    /** The WebSocket Origin check, from the same policy as CORS; answers 403 and returns false when refused. */
    private boolean originAllowed(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req) {
        String origin = req.headers().get(HttpHeaderNames.ORIGIN);
        if (options.cors() == null || origin == null || options.cors().actual(origin).allowed()) {
            return true;
        }
        error(conn, ctx, req, 4, "Forbidden");
        return false;
    }

    private void preflight(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req) {
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
        if (options.cors() != null) {
            CorsDecision d = options.cors().decide("OPTIONS", req.headers().get(HttpHeaderNames.ORIGIN),
                    req.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD),
                    req.headers().getAll(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS));
            res.setStatus(HttpResponseStatus.valueOf(d.isPreflight() ? d.preflightStatus() : 204));
            for (int i = 0; i < d.headerCount(); i++) {
                res.headers().set(d.headerName(i), d.headerValue(i));
            }
        }
        conn.respond(ctx, HttpUtil.isKeepAlive(req), res, null);
    }

    /** The reason code of each protocol error, as the edge logs and counts it. */
    private static final String[] REASONS = {"realtime.transport_unknown", "realtime.session_unknown", "realtime.handshake_method",
            "realtime.bad_request", "realtime.forbidden", "realtime.protocol_version"};

    /** A 400 (403 for code 4) with the protocol's JSON error. */
    void error(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req, int code, String message) {
        // Jackson escapes every character JSON requires (an allowRequest refusal is the application's own text).
        String body = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode().put("code", code).put("message", message).toString();
        conn.respond(ctx, HttpUtil.isKeepAlive(req), response(req, code == 4 ? 403 : 400, "application/json", body), REASONS[code]);
    }

    void respond(EngineConnection conn, ChannelHandlerContext ctx, FullHttpRequest req, int status, String contentType, String body) {
        conn.respond(ctx, HttpUtil.isKeepAlive(req), response(req, status, contentType, body), null);
    }

    private FullHttpResponse response(FullHttpRequest req, int status, String contentType, String body) {
        ByteBuf content = Unpooled.copiedBuffer(body, StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), content);
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
        res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        if (options.cors() != null) {
            CorsDecision d = options.cors().actual(req.headers().get(HttpHeaderNames.ORIGIN));
            for (int i = 0; i < d.headerCount(); i++) {
                res.headers().set(d.headerName(i), d.headerValue(i));
            }
        }
        return res;
    }


    private static String first(Map<String, List<String>> q, String name) {
        List<String> v = q.get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }
}
