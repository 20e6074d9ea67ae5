package dev.crossgate.server.edge;

import dev.crossgate.cors.CorsDecision;
import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.cors.Origin;
import dev.crossgate.server.auth.Authenticator;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.limits.Limits;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.proxy.Hop;
import dev.crossgate.server.proxy.ProxyCall;
import dev.crossgate.server.proxy.Upstream;
import dev.crossgate.server.ws.WsHandshake;
import dev.crossgate.server.ws.WsProxy;
import dev.crossgate.server.ws.WsTunnel;
import dev.crossgate.realtime.engine.EngineConnection;
import dev.crossgate.realtime.engine.EngineSocket;
import io.netty.buffer.CompositeByteBuf;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One client connection. Requests are handled one at a time in arrival order (pipelined requests wait
 * in {@link #queue}); reading is explicit ({@code autoRead} off) so that a request body flows only as
 * fast as the upstream takes it. The request path is {@link #begin}, read top to bottom.
 */
final class EdgeHandler extends ChannelDuplexHandler implements ProxyCall.Frontend, WsProxy.Frontend, EngineConnection {
    private final EdgeServer.Shared shared;
    private final CrossgateConfig config;
    private final ArrayDeque<HttpObject> queue = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Exchange current;
    private ProxyCall call;
    /** A WebSocket handshake waiting for the upstream's answer, or null. */
    private WsProxy wsProxy;
    /** Set once this connection became a WebSocket tunnel: the HTTP stages here are over. */
    private WsTunnel tunnel;
    private Upstream upstream;
    private boolean bodyPending;
    private long bodyBytes;
    private ScheduledFuture<?> headTimer;
    private boolean closing;
    /** A realtime request whose body is being collected, or null. */
    private FullHttpRequest realtimeRequest;
    /** The realtime session holding a poll on this connection, or null. */
    private EngineSocket pollingSession;
    /** Set once this connection carries a realtime session's WebSocket: the HTTP stages here are over. */
    private boolean realtimeUpgraded;

    EdgeHandler(EdgeServer.Shared shared) {
        this.shared = shared;
        this.config = shared.config;
    }

    private ByteActivity activity;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    private ByteActivity activity() {
        if (activity == null) {
            activity = ctx.pipeline().get(ByteActivity.class);
        }
        return activity;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        shared.connections.add(ctx.channel());
        shared.metrics.openConnections().incrementAndGet();
        if (shared.draining.get()) {
            ctx.close();
            return;
        }
        // Per-address limits: a connection over one is answered on its first request (429 with CORS), then closed;
        // it may wait Limits.REFUSED_GRACE for that request, not the idle timeout. (The global limit was applied at accept.)
        Limits.Address[] slot = new Limits.Address[1];
        connectionRefusal = shared.limits.connect(clientAddress(), peerTrusted(), slot);
        admitted = connectionRefusal == null;
        limitSlot = slot[0];
        awaitRequest();
        ctx.channel().config().setAutoRead(true);
        ctx.fireChannelActive();
    }

    /** Why this connection is refused by a limit, or null. */
    private Limits.Refusal connectionRefusal;
    /** Counted by the limits (released when it closes). */
    private boolean admitted;
    private Limits.Address limitSlot;
    /** The authenticated subject's WebSocket slot this connection holds, or null. */
    private java.util.concurrent.atomic.AtomicInteger subjectSlot;

    private void refuse(Exchange ex, Limits.Refusal r) {
        shared.metrics.limitRefusal(r.reason());
        ex.extraHeaders = new String[] {"retry-after", Long.toString(r.retryAfterSeconds())};
        local(ex, r.status(), r.reason(), r.message());
    }

    // ---------------------------------------------------------------- reading

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (lingering) {
            linger(msg);
            return;
        }
        if (!(msg instanceof HttpObject) || closing) {
            ReferenceCountUtil.release(msg);
            return;
        }
        queue.add((HttpObject) msg);
        process();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        updateReading();
    }

    /** Messages (request heads or body chunks of at most 64 KiB) read ahead before reading pauses. */
    private static final int READ_AHEAD = 4;

    /**
     * Reading stays on (no per-request epoll changes) while the queue is short; it pauses when
     * pipelined requests or body chunks pile up — a request body then flows only as fast as the
     * upstream takes it — and resumes when they are consumed.
     */
    private void updateReading() {
        if (tunnel != null || realtimeUpgraded) {
            return; // the tunnel drives reading (backpressure between the two sides); a realtime WebSocket always reads
        }
        boolean want = lingering || (!closing && queue.size() < READ_AHEAD);
        io.netty.channel.ChannelConfig c = ctx.channel().config();
        if (c.isAutoRead() != want) {
            c.setAutoRead(want);
        }
    }

    /** Hands queued messages to the stage that can take them now, then decides whether to keep reading. */
    private void process() {
        processQueue();
        if (ctx.channel().isActive()) {
            updateReading();
        }
    }

    private void processQueue() {
        while (!queue.isEmpty() && !closing) {
            HttpObject m = queue.peek();
            if (m instanceof HttpRequest) {
                if (current != null) {
                    return; // pipelined: answered after the current exchange, in order
                }
                queue.poll();
                begin((HttpRequest) m);
                continue;
            }
            HttpContent content = (HttpContent) m;
            if (current == null || !bodyPending) {
                queue.poll();
                content.release();
                continue;
            }
            if (content.decoderResult().isFailure()) {
                // The body failed to decode after the head was forwarded: abort the upstream exchange,
                // never pool that connection, and answer 400 if nothing was sent yet.
                queue.poll();
                content.release();
                bodyPending = false;
                if (call != null) {
                    call.abort();
                }
                current.closeAfter = true;
                if (!current.responseStarted) {
                    local(current, Reason.HTTP_MALFORMED);
                } else {
                    finish(true);
                }
                return;
            }
            if (realtimeRequest != null) {
                queue.poll();
                collectRealtimeBody(content);
                continue;
            }
            if (call == null || !call.canTakeBody()) {
                return; // wait for readyForBody()
            }
            queue.poll();
            bodyBytes += content.content().readableBytes();
            if (bodyBytes > config.http().maxBodySize()) {
                content.release();
                bodyPending = false;
                call.abort();
                current.closeAfter = true;
                current.linger = !(content instanceof LastHttpContent);
                if (!current.responseStarted) {
                    local(current, Reason.BODY_TOO_LARGE);
                } else {
                    finish(true);
                }
                return;
            }
            if (content instanceof LastHttpContent) {
                bodyPending = false;
            }
            call.sendBody(content);
        }
    }

    // ---------------------------------------------------------------- the request path

    /**
     * The stages of one request, in order: decoding, Host, framing and size limits (and a connection
     * over a connection limit), WebSocket handshakes (then Origin, rate, token, per-user limit, upstream),
     * CORS (preflights and refusals answered here), the route's request rate, the token where the route
     * requires one, then the upstream.
     */
    private void begin(HttpRequest req) {
        ByteActivity activity = activity();
        if (activity != null) {
            activity.firstByte = 0;
        }
        HttpHeaders h = req.headers();
        boolean hasBody = HttpUtil.isTransferEncodingChunked(req) || HttpUtil.getContentLength(req, 0L) > 0;
        // Who the client is, and over which scheme it came: from X-Forwarded-* / Forwarded only when the
        // direct peer is a trusted proxy (so HTTPS behind a platform proxy is seen, and cannot be spoofed).
        String peer = clientAddress();
        boolean trusted = peerTrusted();
        String client = peer;
        String scheme = scheme();
        if (trusted) {
            client = forwardedClient(h, peer);
            String proto = lastToken(h.getAll("x-forwarded-proto"));
            if (proto == null) {
                proto = forwardedParam(h, "proto");
            }
            if ("https".equalsIgnoreCase(proto) || "http".equalsIgnoreCase(proto)) {
                scheme = proto.toLowerCase(java.util.Locale.ROOT);
            }
        }
        Exchange ex = new Exchange(requestId(h), req.method(), pathOf(req.uri()), h.get(HttpHeaderNames.HOST),
                h.get(HttpHeaderNames.ORIGIN), client, HttpUtil.isKeepAlive(req) && !shared.draining.get());
        ex.scheme = scheme;
        ex.peer = peer;
        ex.trustedPeer = trusted;
        current = ex;
        ex.hsts = "https".equals(scheme) ? shared.hsts : null;
        bodyPending = hasBody;
        bodyBytes = 0;
        boolean head = req.method().equals(HttpMethod.HEAD);

        // 1. The decoder's verdict: the framing is in doubt, so the connection closes after the answer.
        if (req.decoderResult().isFailure()) {
            Throwable cause = req.decoderResult().cause();
            ex.closeAfter = true;
            bodyPending = false;
            Reason r = cause instanceof TooLongHttpLineException ? Reason.URI_TOO_LONG
                    : cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException ? Reason.HEADERS_TOO_LARGE
                    : Reason.HTTP_MALFORMED;
            local(ex, r);
            return;
        }
        if (hasBody) {
            ex.closeAfter = true; // reset below once the body is known to be forwarded in full
        }
        // 2. Host: exactly one, well-formed, and served here (421 otherwise).
        List<String> hosts = h.getAll(HttpHeaderNames.HOST);
        if (hosts.isEmpty() && req.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
            local(ex, Reason.HOST_MISSING);
            return;
        }
        if (hosts.size() > 1) {
            local(ex, Reason.HOST_DUPLICATE);
            return;
        }
        String[] hostPort = hosts.isEmpty() ? new String[] {"", ""} : splitHostCached(hosts.get(0));
        if (hostPort == null) {
            local(ex, Reason.HOST_INVALID);
            return;
        }
        int port = hostPort[1].isEmpty() ? defaultPort() : Integer.parseInt(hostPort[1]);
        if (!hosts.isEmpty() && !config.hostAllowed(hostPort[0], port)) {
            // Decide CORS first so that a browser can read the refusal when its origin is allowed.
            ex.cors = corsDecision(req, ex, hostPort);
            local(ex, Reason.HOST_NOT_ALLOWED);
            return;
        }
        // 3. Framing and size: only chunked is understood; Content-Length beyond the limit is refused unread.
        String te = h.get(HttpHeaderNames.TRANSFER_ENCODING);
        ex.cors = corsDecision(req, ex, hostPort);
        if (config.http().redirectHttps() && "http".equals(ex.scheme) && !ex.cors.isPreflight()) {
            redirectToHttps(ex, req, hosts.isEmpty() ? null : hosts.get(0));
            return;
        }
        if (te != null && !te.trim().equalsIgnoreCase("chunked")) {
            ex.closeAfter = true;
            local(ex, Reason.TRANSFER_CODING_UNSUPPORTED);
            return;
        }
        if (HttpUtil.getContentLength(req, 0L) > config.http().maxBodySize()) {
            ex.closeAfter = true;
            local(ex, Reason.BODY_TOO_LARGE);
            return;
        }
        // A connection over a connection limit answers its first request 429 (503 at the global limit) and closes.
        if (connectionRefusal != null) {
            ex.closeAfter = true;
            refuse(ex, connectionRefusal);
            return;
        }
        // 4. Realtime (hosted mode): the Socket.IO path is answered here, by the hub.
        if (shared.hub != null && config.realtime().covers(ex.path)) {
            realtime(req, ex, hostPort, hasBody);
            return;
        }
        // 5. WebSocket: an upgrade on a WebSocket path is checked (handshake, Origin) and tunnelled.
        if (WsHandshake.isUpgrade(req) && config.webSocket().covers(ex.path)) {
            webSocket(req, ex, hostPort, hasBody);
            return;
        }
        // 6. CORS: preflights are answered here; refused cross-origin requests never reach the upstream.
        if (corsAnswered(ex)) {
            return;
        }
        // 7. The route's request rate per client address (429 with Retry-After); 8. authentication where the
        // route requires it (401 with CORS, so browser code can read why); 9. the upstream.
        Limits.Refusal rate = shared.limits.request(ex.path, ex.clientAddress);
        if (rate != null) {
            refuse(ex, rate);
            return;
        }
        authenticated(req, ex, () -> forward(req, ex, hasBody));
    }

    /** Answers a preflight, or refuses a cross-origin request the policy does not allow; false when the request goes on. */
    private boolean corsAnswered(Exchange ex) {
        CorsDecision cors = ex.cors;
        if (cors.isPreflight()) {
            if (cors.allowed()) {
                local(ex, 204, null, null);
            } else {
                local(ex, 403, cors.reasonCode(), cors.message());
            }
            return true;
        }
        if (!cors.allowed()) {
            local(ex, 403, cors.reasonCode(), cors.message());
            return true;
        }
        return false;
    }

    // ---------------------------------------------------------------- realtime (hosted mode)

    /**
     * A request on the Socket.IO path: a WebSocket handshake has its Origin checked as any other (the same
     * policy; a handshake without Origin is allowed where {@code websocket.missingOrigin} allows it, and under
     * {@code authenticated} when {@code realtime.token} is required, because the token is then checked at
     * CONNECT); polling requests get CORS as any other. A new session (no {@code sid}) counts against the
     * route's request rate; polls of a session do not. The body is collected (up to {@code realtime.maxPayload})
     * and the request handed to the hub, whose answer leaves through {@link #respond}.
     */
    private void realtime(HttpRequest req, Exchange ex, String[] hostPort, boolean hasBody) {
        ex.upstream = "realtime";
        if (WsHandshake.isUpgrade(req)) {
            if (webSocketRefused(req, ex, hostPort, hasBody, config.realtime().token() == CrossgateConfig.TokenMode.REQUIRED)) {
                return;
            }
        } else if (corsAnswered(ex)) {
            return;
        }
        if (!new io.netty.handler.codec.http.QueryStringDecoder(req.uri()).parameters().containsKey("sid")) { // as the engine parses it
            Limits.Refusal rate = shared.limits.request(ex.path, ex.clientAddress);
            if (rate != null) {
                refuse(ex, rate);
                return;
            }
        }
        if (HttpUtil.getContentLength(req, 0L) > config.realtime().maxPayload()) {
            ex.closeAfter = true;
            local(ex, Reason.BODY_TOO_LARGE.status(), Reason.BODY_TOO_LARGE.code(),
                    "the body is larger than realtime.maxPayload (" + config.realtime().maxPayload() + " bytes)");
            return;
        }
        FullHttpRequest full = new DefaultFullHttpRequest(req.protocolVersion(), req.method(), req.uri(),
                hasBody ? ctx.alloc().compositeBuffer() : Unpooled.EMPTY_BUFFER, req.headers(), EmptyHttpHeaders.INSTANCE);
        if (hasBody) {
            realtimeRequest = full; // completed by the body chunks, in processQueue
            return;
        }
        toHub(full);
    }

    private void collectRealtimeBody(HttpContent content) {
        FullHttpRequest full = realtimeRequest; // decoder failures never get here: processQueue answers them first
        CompositeByteBuf body = (CompositeByteBuf) full.content();
        if (body.readableBytes() + content.content().readableBytes() > config.realtime().maxPayload()) {
            content.release();
            realtimeRequest = null;
            full.release();
            current.closeAfter = true;
            local(current, Reason.BODY_TOO_LARGE.status(), Reason.BODY_TOO_LARGE.code(),
                    "the body is larger than realtime.maxPayload (" + config.realtime().maxPayload() + " bytes)");
            return;
        }
        body.addComponent(true, content.content().retain());
        boolean last = content instanceof LastHttpContent;
        content.release();
        if (last) {
            bodyPending = false;
            realtimeRequest = null;
            current.closeAfter = !current.keepAlive || shared.draining.get();
            toHub(full);
        }
    }

    private void toHub(FullHttpRequest full) {
        try {
            shared.hub.engine().handle(this, ctx, full);
        } finally {
            full.release();
        }
    }

    @Override
    public void respond(ChannelHandlerContext c, boolean keepAlive, FullHttpResponse res, String reason) {
        if (!ctx.executor().inEventLoop()) {
            ctx.executor().execute(() -> respond(c, keepAlive, res, reason)); // a session answering a poll from its own loop
            return;
        }
        Exchange ex = current;
        if (ex == null || closing || !ctx.channel().isActive()) {
            res.release();
            return;
        }
        pollingSession = null;
        ex.reason = reason;
        if (shared.draining.get()) {
            ex.closeAfter = true;
        }
        ResponseWriter.prepare(ex, res, false);
        ex.bytesOut += res.content().readableBytes();
        ctx.writeAndFlush(res);
        finish(ex.closeAfter);
    }

    @Override
    public void polling(EngineSocket s) {
        pollingSession = s;
    }

    @Override
    public void upgraded(ChannelHandlerContext c, EngineSocket s) {
        realtimeUpgraded = true;
        pollingSession = null;
        Exchange ex = current;
        if (ex != null) {
            ex.status = 101;
            ex.responseStarted = true;
        }
        cancelHeadTimer();
        releaseQueue();
        ctx.channel().config().setAutoRead(true); // frames flow to the session's handler from now on
        finish(false);
    }

    /**
     * Runs {@code next} once the request is authenticated (at once where the route requires no token),
     * or answers 401 with the reason. A token whose key must first be fetched (a JWKS rotation) resumes
     * on this connection's event loop; requests behind it wait, as they wait for any exchange.
     */
    private void authenticated(HttpRequest req, Exchange ex, Runnable next) {
        if (!shared.auth.required(ex.path)) {
            next.run();
            return;
        }
        java.util.concurrent.CompletableFuture<Authenticator.Outcome> f = shared.auth.authenticate(req);
        if (f.isDone()) {
            afterAuthentication(ex, f.getNow(null), next);
            return;
        }
        f.whenComplete((o, err) -> ctx.executor().execute(() -> {
            if (current == ex && ctx.channel().isActive()) {
                afterAuthentication(ex, o != null ? o
                        : new Authenticator.Outcome("auth.invalid", "the token could not be verified", null, null), next);
            }
        }));
    }

    private void afterAuthentication(Exchange ex, Authenticator.Outcome o, Runnable next) {
        if (o.ok()) {
            ex.auth = o;
            next.run();
            return;
        }
        Reason r = o.reason().equals("auth.missing") ? Reason.AUTH_MISSING : o.reason().equals("auth.expired") ? Reason.AUTH_EXPIRED : Reason.AUTH_INVALID;
        ex.extraHeaders = new String[] {"www-authenticate", r == Reason.AUTH_MISSING ? "Bearer realm=\"crossgate\""
                : "Bearer realm=\"crossgate\", error=\"invalid_token\""};
        local(ex, r.status(), r.code(), r.message() + ": " + o.message());
    }

    /**
     * A WebSocket handshake: valid per RFC 6455, from an Origin the route's policy allows (the same
     * policy as CORS, default ports normalised; same-origin always), or without Origin where
     * {@code websocket.missingOrigin} allows it. Then the upstream gets the handshake on a new connection.
     */
    private void webSocket(HttpRequest req, Exchange ex, String[] hostPort, boolean hasBody) {
        // Under missingOrigin: authenticated, a native app without Origin proves who it is with the route's token.
        if (webSocketRefused(req, ex, hostPort, hasBody, shared.auth.required(ex.path))) {
            return;
        }
        Limits.Refusal rate = shared.limits.request(ex.path, ex.clientAddress);
        if (rate != null) {
            refuse(ex, rate);
            return;
        }
        authenticated(req, ex, () -> forwardWebSocket(req, ex));
    }

    /**
     * Answers a WebSocket handshake that cannot go on and returns true: invalid per RFC 6455 (400, or 426 with the
     * version), an Origin the route's policy refuses (403 ws.origin_rejected), or no Origin where
     * {@code websocket.missingOrigin} does not allow it; {@code tokenRequired} says whether a token will be checked,
     * which is what {@code authenticated} asks for.
     */
    private boolean webSocketRefused(HttpRequest req, Exchange ex, String[] hostPort, boolean hasBody, boolean tokenRequired) {
        Reason bad = WsHandshake.check(req, hasBody);
        if (bad != null) {
            if (bad == Reason.WS_VERSION_UNSUPPORTED) {
                ex.extraHeaders = new String[] {"sec-websocket-version", "13"};
            }
            local(ex, bad);
            return true;
        }
        if (ex.origin == null) {
            boolean allowed = switch (config.webSocket().missingOrigin()) {
                case ALLOW -> true;
                case REFUSE -> false;
                case AUTHENTICATED -> tokenRequired;
            };
            if (!allowed) {
                local(ex, Reason.WS_ORIGIN_MISSING);
                return true;
            }
            return false;
        }
        String refusal = wsOriginRefusal(ex, hostPort);
        if (refusal != null) {
            local(ex, Reason.WS_ORIGIN_REJECTED.status(), Reason.WS_ORIGIN_REJECTED.code(), refusal);
            return true;
        }
        return false;
    }

    private void forwardWebSocket(HttpRequest req, Exchange ex) {
        String subject = ex.auth == null ? null : ex.auth.subject();
        if (subject != null && shared.limits.subjectLimited()) {
            subjectSlot = shared.limits.reserveSubject(subject);
            if (subjectSlot == null) {
                refuse(ex, shared.limits.subjectRefusal(subject));
                return;
            }
        }
        rewriteForUpstream(req, ex, false);
        req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        req.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
        if (ex.auth != null) {
            Authenticator.removeProtocolToken(req.headers(), ex.auth.token());
        }
        Upstream target = shared.groupFor(ex.path).pick();
        if (target == null) {
            local(ex, Reason.UPSTREAM_UNHEALTHY);
            return;
        }
        upstream = target;
        ex.upstream = target.pool().authority();
        wsProxy = new WsProxy(target.pool(), ctx.channel().eventLoop(), this, config.webSocket(), shared.responseTimeoutMillis, req);
        wsProxy.start(req);
    }

    /** Why this exchange's Origin may not open a WebSocket here, or null when it may. */
    private String wsOriginRefusal(Exchange ex, String[] hostPort) {
        if (isSameOrigin(ex.origin, hostPort)) {
            return null;
        }
        CorsPolicy policy = config.cors().policyFor(ex.path);
        if (!policy.enabled()) {
            return "origin " + ex.origin + " is not this site, and CORS is off for this path, so only same-origin"
                    + " WebSocket handshakes are accepted here";
        }
        CorsDecision d = policy.actual(ex.origin);
        return d.allowed() ? null : d.message();
    }

    // ---------------------------------------------------------------- WsProxy.Frontend

    @Override
    public void switched(HttpResponse upstream101, Channel upstreamChannel) {
        Exchange ex = current;
        wsProxy = null;
        if (ex == null || !ctx.channel().isActive()) {
            ReferenceCountUtil.release(upstream101);
            upstreamChannel.close();
            return;
        }
        if (upstream != null) {
            upstream.succeeded();
        }
        // The client's 101: the upstream's headers (subprotocol, extensions, cookies) without its hop-by-hop ones.
        HttpHeaders from = upstream101.headers();
        boolean extensions = from.contains(HttpHeaderNames.SEC_WEBSOCKET_EXTENSIONS);
        Hop.removeHopByHop(from);
        from.remove(HttpHeaderNames.CONTENT_LENGTH);
        from.remove(HttpHeaderNames.TRANSFER_ENCODING);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS, Unpooled.EMPTY_BUFFER);
        res.headers().add(from);
        res.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
        res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        res.headers().set(ResponseWriter.X_REQUEST_ID, ex.requestId);
        if (ex.auth != null && ex.auth.token().protocolMarker() != null && !res.headers().contains(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)) {
            // The token came as a subprotocol after a marker: a browser requires one of its offers back.
            res.headers().set(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL, ex.auth.token().protocolMarker());
        }
        ReferenceCountUtil.release(upstream101);
        ex.status = 101;
        ex.responseStarted = true;
        ctx.writeAndFlush(res); // encoded by the HTTP codec, which leaves the pipeline right after
        ChannelPipeline p = ctx.pipeline();
        p.addBefore("edge", "ws-encoder", WsTunnel.encoder(true));
        p.addBefore("edge", "ws-decoder", WsTunnel.decoder(config.webSocket(), true, extensions));
        p.remove("codec"); // a client sends frames only after reading the 101, so nothing is decoded as HTTP
        cancelHeadTimer();
        releaseQueue();
        tunnel = WsTunnel.open(config.webSocket(), shared.metrics, ctx.channel(), "edge", upstreamChannel);
        long expires = ex.auth == null ? 0 : ex.auth.expiresAtMillis();
        if (expires > 0) {
            // A WebSocket does not outlive its token: closed at exp, with a code that tells the client to refresh and reconnect.
            WsTunnel t = tunnel;
            ctx.executor().schedule(() -> t.close(WsTunnel.CLOSE_AUTH_EXPIRED, Reason.AUTH_EXPIRED.code()),
                    Math.max(0, expires - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
        }
        finish(false);
    }

    private CorsDecision corsDecision(HttpRequest req, Exchange ex, String[] hostPort) {
        HttpHeaders h = req.headers();
        CorsPolicy policy = config.cors().policyFor(ex.path);
        ex.route = config.cors().routeFor(ex.path);
        List<String> acrh = h.getAll(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS);
        CorsDecision d = policy.decide(req.method().name(), ex.origin, h.get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD), acrh);
        if (!d.allowed() && isSameOrigin(ex.origin, hostPort)) {
            // A same-origin request (a form POST from the site itself) is not a CORS request. Checked only
            // for refusals: an allowed origin gets its headers either way, and browsers ignore them.
            d = policy.decide(req.method().name(), null, null, null);
        }
        return d;
    }

    private boolean isSameOrigin(String origin, String[] hostPort) {
        String self = current.scheme + "://" + hostPort[0] + (hostPort[1].isEmpty() ? "" : ":" + hostPort[1]);
        String a = Origin.normalize(origin);
        String b = Origin.normalize(self);
        return a != null && a.equals(b);
    }

    private void forward(HttpRequest req, Exchange ex, boolean hasBody) {
        rewriteForUpstream(req, ex, hasBody);
        HttpRequest upstreamHead = req;
        Upstream target = shared.groupFor(ex.path).pick();
        if (target == null) {
            local(ex, Reason.UPSTREAM_UNHEALTHY);
            return;
        }
        upstream = target;
        ex.upstream = target.pool().authority();
        if (hasBody) {
            ex.closeAfter = !ex.keepAlive;
        }
        call = new ProxyCall(target.pool(), ctx.channel().eventLoop(), this, shared.responseTimeoutMillis);
        call.start(upstreamHead, hasBody);
    }

    /**
     * The request head as the upstream gets it, rewritten in place (it is this exchange's own object,
     * holding no buffer): hop-by-hop headers and names with '_' removed, Content-Length normalised, the
     * forwarding headers set, the request id added. What is read from the client's forwarding headers is
     * read before they are replaced.
     */
    private void rewriteForUpstream(HttpRequest req, Exchange ex, boolean hasBody) {
        HttpHeaders out = req.headers();
        List<String> xff = ex.trustedPeer ? out.getAll("x-forwarded-for") : List.of();
        List<String> fwd = ex.trustedPeer ? out.getAll("forwarded") : List.of();
        String fh = ex.trustedPeer ? lastToken(out.getAll("x-forwarded-host")) : null;
        Hop.removeHopByHop(out);
        out.remove("http2-settings");
        // Header names with '_' are dropped: some servers read them as '-' (header smuggling, spoofing).
        List<String> underscored = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = out.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            for (int i = 0; i < name.length(); i++) {
                if (name.charAt(i) == '_') {
                    if (underscored == null) {
                        underscored = new ArrayList<>(2);
                    }
                    underscored.add(name.toString());
                    break;
                }
            }
        }
        if (underscored != null) {
            for (String n : underscored) {
                out.remove(n);
            }
        }
        if (hasBody && !HttpUtil.isTransferEncodingChunked(req)) {
            out.set(HttpHeaderNames.CONTENT_LENGTH, HttpUtil.getContentLength(req, 0L));
        }
        // Forwarded headers describe the client as this edge sees it; values sent by clients are not trusted.
        out.remove("x-forwarded-for");
        out.remove("x-forwarded-proto");
        out.remove("x-forwarded-host");
        out.remove("forwarded");
        String peer = ex.peer;
        String host = ex.host;
        if (ex.trustedPeer) {
            // Behind a trusted proxy: extend the chain it started.
            out.set("x-forwarded-for", xff.isEmpty() ? peer : String.join(", ", xff) + ", " + peer);
            if (fh != null) {
                host = fh;
            }
            String mine = "for=" + forwardedNode(peer) + ";proto=" + ex.scheme + (host == null ? "" : ";host=\"" + host + "\"");
            out.set("forwarded", fwd.isEmpty() ? mine : String.join(", ", fwd) + ", " + mine);
        } else {
            out.set("x-forwarded-for", peer);
            out.set("forwarded", "for=" + forwardedNode(peer) + ";proto=" + ex.scheme + (host == null ? "" : ";host=\"" + host + "\""));
        }
        out.set("x-forwarded-proto", ex.scheme);
        if (host != null) {
            out.set("x-forwarded-host", host);
        }
        out.set(ResponseWriter.X_REQUEST_ID, ex.requestId);
        // Identity headers come from the edge only: a client's are removed, a verified token's claims set.
        shared.auth.removeClaimHeaders(out);
        if (ex.auth != null) {
            shared.auth.addClaimHeaders(out, ex.auth.claims());
        }
        req.setProtocolVersion(HttpVersion.HTTP_1_1);
    }

    // ---------------------------------------------------------------- ProxyCall.Frontend

    @Override
    public void responseHead(HttpResponse head) {
        if (current == null) {
            ReferenceCountUtil.release(head);
            return;
        }
        if (upstream != null) {
            upstream.succeeded();
        }
        if (shared.draining.get()) {
            current.closeAfter = true; // draining: this answer carries Connection: close
        }
        if (bodyPending) {
            // The upstream answered before the request body ended: finish without reading the rest.
            current.closeAfter = true;
        }
        // The client always talks HTTP/1.1 with this edge; a close-delimited upstream body becomes chunked
        // so that the client's connection can stay open.
        head.setProtocolVersion(HttpVersion.HTTP_1_1);
        int code = head.status().code();
        boolean bodyless = current.method.equals(HttpMethod.HEAD) || code == 204 || code == 304 || code < 200;
        if (!bodyless && !HttpUtil.isContentLengthSet(head) && !HttpUtil.isTransferEncodingChunked(head)) {
            HttpUtil.setTransferEncodingChunked(head, true);
        }
        ResponseWriter.prepare(current, head, true);
        if (head instanceof HttpContent) {
            return; // written with its content in responseContent
        }
        ctx.write(head);
    }

    @Override
    public void responseContent(HttpContent content) {
        Exchange ex = current;
        if (ex == null) {
            content.release();
            return;
        }
        ex.bytesOut += content.content().readableBytes();
        if (content instanceof LastHttpContent) {
            ctx.writeAndFlush(content).addListener(f -> {
                if (!f.isSuccess()) {
                    ctx.close();
                }
            });
            if (bodyPending && call != null) {
                call.abort();
                bodyPending = false;
            }
            finish(ex.closeAfter);
        } else {
            ctx.writeAndFlush(content);
        }
    }

    @Override
    public void failed(Reason reason) {
        Exchange ex = current;
        if (ex == null) {
            return;
        }
        if (upstream != null && reason != Reason.UPSTREAM_MALFORMED) {
            upstream.failed(); // passive ejection counts transport failures: connect, reset, timeout
        }
        if (!ex.responseStarted) {
            if (bodyPending) {
                ex.closeAfter = true;
            }
            local(ex, reason);
        } else {
            ex.reason = reason.code();
            ex.closeAfter = true;
            finish(true);
        }
    }

    @Override
    public void readyForBody() {
        if (ctx.executor().inEventLoop()) {
            process();
        } else {
            ctx.executor().execute(this::process);
        }
    }

    @Override
    public boolean clientWritable() {
        return ctx.channel().isWritable();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (call != null) {
            call.onClientWritabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    // ---------------------------------------------------------------- answers and completion

    private void local(Exchange ex, Reason reason) {
        local(ex, reason.status(), reason.code(), reason.message());
    }

    private void local(Exchange ex, int status, String reasonCode, String message) {
        if (call != null) {
            call.abort();
        }
        if (wsProxy != null) {
            wsProxy.abort();
            wsProxy = null;
        }
        if (shared.draining.get()) {
            ex.closeAfter = true;
        }
        if (bodyPending) {
            // The rest of the body is not forwarded: close rather than resynchronise, but read and discard
            // it for a while first, so that a browser still uploading sees this answer and not a reset.
            ex.closeAfter = true;
            ex.linger = true;
        }
        ResponseWriter.writeLocal(ctx, ex, status, reasonCode, message, ex.method.equals(HttpMethod.HEAD));
        finish(ex.closeAfter);
    }

    /** Ends the current exchange: log it, then read the next request or close. */
    private void finish(boolean close) {
        Exchange ex = current;
        if (ex == null) {
            return;
        }
        current = null;
        if (realtimeRequest != null) {
            realtimeRequest.release(); // answered before its body was complete (a decoding failure, a limit)
            realtimeRequest = null;
        }
        long upstreamNanos = call == null ? -1 : call.upstreamNanos();
        call = null;
        wsProxy = null;
        if (subjectSlot != null && tunnel == null) {
            shared.limits.release(subjectSlot); // the handshake did not become a WebSocket
            subjectSlot = null;
        }
        upstream = null;
        bodyPending = false;
        if (upstreamNanos >= 0) {
            shared.metrics.upstreamLatency(upstreamNanos);
        }
        CorsDecision cors = ex.cors;
        if (cors != null && cors.isPreflight()) {
            shared.metrics.preflight(cors.allowed());
        }
        if (cors != null && !cors.allowed()) {
            shared.metrics.corsRefusal(cors.reasonCode());
        }
        shared.metrics.request(ex.route, ex.status, ex.reason);
        if (shared.accessLog.enabled()) {
            shared.accessLog.log(new AccessLog.Entry(System.currentTimeMillis(), ex.requestId, ex.clientAddress, ex.method.name(), ex.path,
                    ex.host, ex.origin, ex.status, ex.reason, ex.bytesOut, upstreamNanos < 0 ? -1 : upstreamNanos / 1000,
                    (System.nanoTime() - ex.startNanos) / 1000, ex.upstream));
        }
        if (tunnel != null || realtimeUpgraded) {
            return; // the connection carries frames now; the tunnel (or the realtime session) ends it
        }
        if (ex.linger && ctx.channel().isActive()) {
            startLinger();
            return;
        }
        if (close || ex.closeAfter) {
            closing = true;
            releaseQueue();
            ctx.writeAndFlush(io.netty.buffer.Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        awaitRequest();
        process();
    }

    private boolean lingering;
    private long lingerBytes;

    /** Lingering close (as nginx's lingering_close): discard what the client still sends, then close. */
    private void startLinger() {
        lingering = true;
        HttpObject m;
        while ((m = queue.poll()) != null) {
            linger(m);
        }
        if (!lingering) {
            return;
        }
        ctx.executor().schedule(this::endLinger, LINGER_MILLIS, TimeUnit.MILLISECONDS);
        updateReading();
    }

    private void linger(Object msg) {
        boolean last = msg instanceof LastHttpContent || msg instanceof HttpRequest;
        if (msg instanceof HttpContent c) {
            lingerBytes += c.content().readableBytes();
        }
        ReferenceCountUtil.release(msg);
        if (last || lingerBytes > LINGER_BYTES) {
            endLinger();
        }
    }

    private void endLinger() {
        if (!closing) {
            closing = true;
            lingering = false;
            ctx.close();
        }
    }

    /** How long and how much a lingering close discards before closing anyway. */
    private static final long LINGER_MILLIS = 5_000;
    private static final long LINGER_BYTES = 64L * 1024 * 1024;

    /** Graceful drain: an idle connection closes now; a busy one closes after its current exchange. */
    void drain() {
        if (tunnel != null) {
            tunnel.close(1001, Reason.DRAINING.code());
            return;
        }
        if (realtimeUpgraded) {
            return; // its session closes it (the hub ends every session first), as a tunnel closes its own
        }
        if (current == null && queue.isEmpty()) {
            closing = true;
            ctx.close();
        }
    }

    /**
     * Starts waiting for the next request head. One timer per connection, re-armed only when it fires
     * (as IdleStateHandler does): a request costs a timestamp, not a scheduled task.
     */
    private void awaitRequest() {
        waitingSince = System.nanoTime();
        ByteActivity activity = activity();
        if (activity != null) {
            activity.firstByte = 0; // bytes of the previous request's body are not the start of a head
        }
        if (headTimer == null) {
            long head = config.http().requestHeadTimeout().toNanos();
            armHeadTimer(connectionRefusal == null ? head : Math.min(head, Limits.REFUSED_GRACE.toNanos()));
        }
    }

    private void armHeadTimer(long nanos) {
        headTimer = ctx.executor().schedule(this::onHeadTimer, Math.max(nanos, 1_000_000), TimeUnit.NANOSECONDS);
    }

    /**
     * The request-head deadline: if part of a head arrived and the rest did not in time, 408 and close;
     * an idle keep-alive connection (no byte at all) is closed silently at the idle timeout.
     */
    private void onHeadTimer() {
        headTimer = null;
        if (closing || tunnel != null || realtimeUpgraded || !ctx.channel().isActive()) {
            return;
        }
        long headTimeout = config.http().requestHeadTimeout().toNanos();
        if (current != null) {
            armHeadTimer(headTimeout); // an exchange is running; check again after it
            return;
        }
        long now = System.nanoTime();
        long waited = now - waitingSince;
        ByteActivity activity = activity();
        long firstByte = activity == null ? 0 : activity.firstByte;
        if (firstByte != 0) {
            // Part of a head arrived: it has requestHeadTimeout from its first byte to complete.
            long elapsed = now - firstByte;
            if (elapsed < headTimeout) {
                armHeadTimer(headTimeout - elapsed);
                return;
            }
            Exchange ex = new Exchange(newRequestId(), HttpMethod.GET, "", null, null, clientAddress(), false);
            current = ex;
            ex.closeAfter = true;
            local(ex, Reason.REQUEST_HEAD_TIMEOUT);
            return;
        }
        long idle = connectionRefusal != null ? Limits.REFUSED_GRACE.toNanos() : TimeUnit.MILLISECONDS.toNanos(shared.idleTimeoutMillis);
        if (waited < idle) {
            armHeadTimer(Math.min(idle - waited, headTimeout));
            return;
        }
        closing = true;
        ctx.close();
    }

    private long waitingSince;

    private void cancelHeadTimer() {
        if (headTimer != null) {
            headTimer.cancel(false);
            headTimer = null;
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        shared.metrics.openConnections().decrementAndGet();
        if (admitted) {
            admitted = false;
            shared.limits.closed(limitSlot);
        }
        cancelHeadTimer();
        if (call != null) {
            call.abort();
            call = null;
        }
        if (wsProxy != null) {
            wsProxy.abort();
            wsProxy = null;
        }
        if (realtimeRequest != null) {
            realtimeRequest.release();
            realtimeRequest = null;
        }
        if (pollingSession != null) {
            pollingSession.pollConnectionClosed(ctx); // a held poll's connection closed: its session ends
            pollingSession = null;
        }
        if (current != null) {
            Exchange ex = current;
            if (!ex.responseStarted) {
                ex.status = 499; // the client closed before the answer (nginx's convention)
                ex.reason = "client.closed";
            }
            finish(true);
        }
        releaseQueue();
        if (subjectSlot != null) {
            shared.limits.release(subjectSlot);
            subjectSlot = null;
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    private void releaseQueue() {
        HttpObject m;
        while ((m = queue.poll()) != null) {
            ReferenceCountUtil.release(m);
        }
    }

    // ---------------------------------------------------------------- helpers

    private String scheme() {
        return shared.ssl != null ? "https" : "http";
    }

    private int defaultPort() {
        return shared.ssl != null ? 443 : 80;
    }

    private String clientAddress() {
        if (ctx.channel().remoteAddress() instanceof InetSocketAddress a) {
            String ip = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
            if (ip.indexOf(':') >= 0) {
                // IPv6 in its shortest form (::1, not 0:0:0:0:0:0:0:1), as logs and Forwarded expect.
                String n = Origin.normalize("http://[" + ip.replaceFirst("%.*$", "") + "]");
                return n == null ? ip : n.substring(8, n.length() - 1);
            }
            return ip;
        }
        return "unknown";
    }

    private boolean peerTrusted() {
        if (config.http().trustedProxies().isEmpty()) {
            return false;
        }
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a && a.getAddress() != null && config.http().trusted(a.getAddress());
    }

    /** The client per X-Forwarded-For (or Forwarded for=): the right-most address that is not a trusted proxy. */
    private String forwardedClient(HttpHeaders h, String peer) {
        List<String> lines = h.getAll("x-forwarded-for");
        List<String> chain = new ArrayList<>();
        for (String line : lines) {
            for (String part : line.split(",")) {
                if (!part.isBlank()) {
                    chain.add(part.trim());
                }
            }
        }
        if (chain.isEmpty()) {
            String f = forwardedParam(h, "for");
            if (f != null) {
                chain.add(f.replace("\"", "").replace("[", "").replace("]", ""));
            }
        }
        for (int i = chain.size() - 1; i >= 0; i--) {
            String ip = chain.get(i);
            java.net.InetAddress a = literal(ip);
            if (a == null) {
                return ip.length() > 64 ? peer : ip; // not an address ("unknown", an obfuscated node): report as given
            }
            if (!config.http().trusted(a) || i == 0) {
                String n = a.getHostAddress();
                return n.indexOf(':') >= 0 ? ip : n;
            }
        }
        return peer;
    }

    private static java.net.InetAddress literal(String ip) {
        if (ip.isEmpty() || !ip.matches("[0-9a-fA-F:.]+")) {
            return null;
        }
        try {
            return java.net.InetAddress.getByName(ip);
        } catch (java.net.UnknownHostException e) {
            return null;
        }
    }

    /** The value of {@code name} in the last element of the Forwarded header (RFC 7239), or null. */
    private static String forwardedParam(HttpHeaders h, String name) {
        List<String> lines = h.getAll("forwarded");
        if (lines.isEmpty()) {
            return null;
        }
        String last = lines.get(lines.size() - 1);
        String element = last.substring(last.lastIndexOf(',') + 1);
        for (String pair : element.split(";")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && pair.substring(0, eq).trim().equalsIgnoreCase(name)) {
                return pair.substring(eq + 1).trim().replace("\"", "");
            }
        }
        return null;
    }

    private static String lastToken(List<String> lines) {
        if (lines.isEmpty()) {
            return null;
        }
        String last = lines.get(lines.size() - 1);
        String token = last.substring(last.lastIndexOf(',') + 1).trim();
        return token.isEmpty() ? null : token;
    }

    /** 308 to the same URL over https (308 keeps the method and body, unlike 301). */
    private void redirectToHttps(Exchange ex, HttpRequest req, String host) {
        if (host == null) {
            local(ex, Reason.HOST_MISSING);
            return;
        }
        ex.reason = "http.redirect_https";
        io.netty.handler.codec.http.FullHttpResponse res = new io.netty.handler.codec.http.DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                io.netty.handler.codec.http.HttpResponseStatus.PERMANENT_REDIRECT);
        String bare = host.startsWith("[") ? host.substring(0, host.indexOf(']') + 1)
                : host.indexOf(':') >= 0 ? host.substring(0, host.indexOf(':')) : host;
        res.headers().set(HttpHeaderNames.LOCATION, "https://" + bare + req.uri());
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        if (bodyPending) {
            ex.closeAfter = true;
            ex.linger = true;
        }
        ResponseWriter.prepare(ex, res, false);
        ctx.writeAndFlush(res);
        finish(ex.closeAfter);
    }

    private static String forwardedNode(String ip) {
        return ip.indexOf(':') >= 0 ? "\"[" + ip + "]\"" : ip;
    }

    private static String pathOf(String uri) {
        int q = uri.indexOf('?');
        String p = q < 0 ? uri : uri.substring(0, q);
        int hash = p.indexOf('#');
        return hash < 0 ? p : p.substring(0, hash);
    }

    private String lastHost;
    private String[] lastHostSplit;

    /** A connection nearly always sends the same Host: parse it once per connection, not per request. */
    private String[] splitHostCached(String value) {
        if (value.equals(lastHost)) {
            return lastHostSplit;
        }
        String[] split = splitHost(value);
        lastHost = value;
        lastHostSplit = split;
        return split;
    }

    /** Host header to {host, port} (port "" when absent), lower-case, IPv6 in brackets; null when malformed. */
    static String[] splitHost(String value) {
        String v = value.trim();
        if (v.isEmpty() || v.length() > 260) {
            return null;
        }
        String host;
        String port = "";
        if (v.charAt(0) == '[') {
            int close = v.indexOf(']');
            if (close < 0) {
                return null;
            }
            host = v.substring(0, close + 1);
            String rest = v.substring(close + 1);
            if (!rest.isEmpty()) {
                if (rest.charAt(0) != ':') {
                    return null;
                }
                port = rest.substring(1);
            }
        } else {
            int colon = v.lastIndexOf(':');
            host = colon < 0 ? v : v.substring(0, colon);
            port = colon < 0 ? "" : v.substring(colon + 1);
        }
        if (!port.isEmpty()) {
            if (port.length() > 5) {
                return null;
            }
            for (int i = 0; i < port.length(); i++) {
                if (port.charAt(i) < '0' || port.charAt(i) > '9') {
                    return null;
                }
            }
            int p = Integer.parseInt(port);
            if (p < 1 || p > 65535) {
                return null;
            }
        } else if (v.endsWith(":")) {
            return null;
        }
        String normalized = Origin.normalize("http://" + host);
        if (normalized == null) {
            return null;
        }
        return new String[] {normalized.substring(7), port};
    }

    private static String requestId(HttpHeaders h) {
        String id = h.get(ResponseWriter.X_REQUEST_ID);
        if (id != null && id.length() >= 1 && id.length() <= 128) {
            boolean ok = true;
            for (int i = 0; i < id.length() && ok; i++) {
                char c = id.charAt(i);
                ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
            }
            if (ok) {
                return id;
            }
        }
        return newRequestId();
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** 24 random hex digits (96 bits). */
    private static String newRequestId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        char[] id = new char[24];
        long a = r.nextLong();
        long b = r.nextLong();
        for (int i = 0; i < 16; i++) {
            id[i] = HEX[(int) (a >>> (i * 4)) & 0xF];
        }
        for (int i = 16; i < 24; i++) {
            id[i] = HEX[(int) (b >>> (i * 4)) & 0xF];
        }
        return new String(id);
    }
}
