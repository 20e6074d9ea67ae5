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
        try {
            processQueue();
        } catch (RuntimeException e) {
            Exchange ex = current;
            if (ex != null) {
                internalError(ex, e);
            } else {
                throw e;
            }
        }
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
            current.requestBytes += content.content().readableBytes();
            if (content instanceof LastHttpContent last) {
                bodyPending = false;
                if (!last.trailingHeaders().isEmpty()) {
                    // Request trailers are not forwarded (RFC 9110 §6.5.2 lets a recipient discard them): none can
                    // carry framing, routing or identity the rules did not see.
                    content = new io.netty.handler.codec.http.DefaultLastHttpContent(last.content());
                }
            }
            call.sendBody(content);
        }
    }

    // ---------------------------------------------------------------- the request path

    /** The last Host parsed on this connection: {value, host, port} (a connection nearly always sends the same). */
    private final String[] hostCache = new String[3];

    /**
     * One request head arrived: it is decided into its canonical form, then the stages run. Nothing thrown on
     * the way closes the connection silently: it becomes a 500 {@code server.error} through the one exit.
     */
    private void begin(HttpRequest req) {
        ByteActivity activity = activity();
        if (activity != null) {
            activity.firstByte = 0;
        }
        CanonicalRequest canon = CanonicalRequest.parse(req, hostCache);
        Exchange ex = newExchange(req, canon);
        current = ex;
        bodyPending = canon.hasBody(); // a refusal by the decoder or of the framing has none: the connection closes unread
        bodyBytes = 0;
        try {
            stages(req, ex, canon);
        } catch (RuntimeException e) {
            internalError(ex, e);
        }
    }

    /**
     * The stages of one request, in order. Each either answers (returning true: the request stops there) or lets
     * the request go on. Every stage reads the canonical request ({@code canon}, and {@code req} rewritten to it).
     */
    private void stages(HttpRequest req, Exchange ex, CanonicalRequest canon) {
        if (refusedAsParsed(ex, canon)        // 1. decoder, framing, target, path, Host syntax (400/414/431/501)
                || hostNotServed(req, ex, canon) // 2. the authority is served here (421), with CORS decided first
                || asterisk(ex, canon)) {     // 3. OPTIONS * is answered here
            return;
        }
        ex.cors = corsDecision(req, ex, canon.hostPort); // 4. the CORS decision, once, for every answer that leaves
        if (redirectedToHttps(req, ex, canon)  // 5. http.redirectHttps (308)
                || bodyTooLarge(ex, canon)     // 6. Content-Length beyond http.maxBodySize (413), unread
                || connectionLimited(ex)) {    // 7. this connection is over a connection limit (429/503)
            return;
        }
        if (shared.hub != null && config.realtime().covers(ex.path)) {
            realtime(req, ex, canon.hostPort, canon.hasBody()); // 8. hosted Socket.IO: answered by the hub
            return;
        }
        if (WsHandshake.isUpgrade(req) && config.webSocket().covers(ex.path)) {
            webSocket(req, ex, canon.hostPort, canon.hasBody()); // 9. WebSocket: handshake, Origin, rate, token, upstream
            return;
        }
        if (corsAnswered(ex)                   // 10. preflights answered, refused cross-origin requests stopped
                || rateLimited(ex)) {          // 11. the route's request rate per client address (429)
            return;
        }
        authenticated(req, ex, () -> forward(req, ex, canon)); // 12. the token where the route requires one; 13. upstream
    }

    private Exchange newExchange(HttpRequest req, CanonicalRequest canon) {
        HttpHeaders h = req.headers();
        // Who the client is, and over which scheme it came: from X-Forwarded-* / Forwarded only when the
        // direct peer is a trusted proxy (so HTTPS behind a platform proxy is seen, and cannot be spoofed).
        String peer = clientAddress();
        boolean trusted = peerTrusted();
        ForwardedHeaders.Chain chain = ForwardedHeaders.read(h, trusted);
        String client = trusted ? ForwardedHeaders.client(chain, peer, config.http()::trusted) : peer;
        Exchange ex = new Exchange(requestId(h), req.method(), canon.path, canon.authority != null ? canon.authority : h.get(HttpHeaderNames.HOST),
                h.get(HttpHeaderNames.ORIGIN), client, HttpUtil.isKeepAlive(req) && !shared.draining.get());
        ex.scheme = chain.proto() != null ? chain.proto() : scheme();
        ex.peer = peer;
        ex.trustedPeer = trusted;
        ex.forwarded = chain;
        ex.hsts = "https".equals(ex.scheme) ? shared.hsts : null;
        return ex;
    }

    /** Stage 1: what the canonical form refused. A framing in doubt closes the connection after the answer. */
    private boolean refusedAsParsed(Exchange ex, CanonicalRequest canon) {
        if (canon.refusal == null) {
            if (canon.hasBody()) {
                ex.closeAfter = true; // reset once the body is known to be forwarded in full
            }
            return false;
        }
        if (canon.framingInDoubt()) {
            ex.closeAfter = true;
        }
        local(ex, canon.refusal.status(), canon.refusal.code(), canon.detail != null ? canon.detail : canon.refusal.message());
        return true;
    }

    /** Stage 3: {@code OPTIONS *} asks about the server itself (RFC 9110 §9.3.7): the edge answers, nothing is forwarded. */
    private boolean asterisk(Exchange ex, CanonicalRequest canon) {
        if (!canon.asterisk) {
            return false;
        }
        ex.extraHeaders = new String[] {"allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"};
        local(ex, 204, null, null);
        return true;
    }

    /** Stage 2: the authority (Host, or the absolute-form target's) must be served here: 421, readable by an allowed origin. */
    private boolean hostNotServed(HttpRequest req, Exchange ex, CanonicalRequest canon) {
        String[] hp = canon.hostPort;
        int port = hp[1].isEmpty() ? defaultPort() : Integer.parseInt(hp[1]);
        if (config.hostAllowed(hp[0], port)) {
            return false;
        }
        ex.cors = corsDecision(req, ex, hp);
        local(ex, Reason.HOST_NOT_ALLOWED);
        return true;
    }

    /** Stage 5: plain http is redirected to https (308 keeps the method and body) when configured; preflights are not. */
    private boolean redirectedToHttps(HttpRequest req, Exchange ex, CanonicalRequest canon) {
        if (!config.http().redirectHttps() || !"http".equals(ex.scheme) || ex.cors.isPreflight()) {
            return false;
        }
        redirectToHttps(ex, req, canon.hostPort);
        return true;
    }

    /** Stage 6: a declared length beyond http.maxBodySize is refused before a byte of the body is read. */
    private boolean bodyTooLarge(Exchange ex, CanonicalRequest canon) {
        if (canon.framing != CanonicalRequest.Framing.LENGTH || canon.contentLength <= config.http().maxBodySize()) {
            return false;
        }
        ex.closeAfter = true;
        local(ex, Reason.BODY_TOO_LARGE);
        return true;
    }

    /** Stage 7: a connection over a connection limit answers its first request 429 (503 at the global limit) and closes. */
    private boolean connectionLimited(Exchange ex) {
        if (connectionRefusal == null) {
            return false;
        }
        ex.closeAfter = true;
        refuse(ex, connectionRefusal);
        return true;
    }

    /** Stage 11: the route's request rate per client address. */
    private boolean rateLimited(Exchange ex) {
        Limits.Refusal rate = shared.limits.request(ex.path, ex.clientAddress);
        if (rate == null) {
            return false;
        }
        refuse(ex, rate);
        return true;
    }

    /** An exception on the request path: answered 500 server.error when nothing was sent yet, logged and counted, then closed. */
    private void internalError(Exchange ex, Throwable e) {
        System.err.println("crossgate: request " + ex.requestId + " failed: " + e); // one line, never a stack trace
        ex.closeAfter = true;
        if (current == ex && !ex.responseStarted && ctx.channel().isActive()) {
            local(ex, Reason.INTERNAL_ERROR);
        } else if (current == ex) {
            ex.reason = Reason.INTERNAL_ERROR.code();
            finish(true);
        } else {
            ctx.close();
        }
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
        current.requestBytes += content.content().readableBytes();
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
        rewriteForUpstream(req, ex, CanonicalRequest.Framing.NONE, 0);
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
        ex.upstream = target.pool().authority();
        wsProxy = new WsProxy(target, ctx.channel().eventLoop(), this, config.webSocket(), shared.responseTimeoutMillis, req);
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
        // The client's 101: the upstream's headers (subprotocol, extensions, cookies) without its hop-by-hop ones.
        HttpHeaders from = upstream101.headers();
        boolean extensions = from.contains(HttpHeaderNames.SEC_WEBSOCKET_EXTENSIONS);
        Hop.removeHopByHop(from);
        ResponseWriter.removeAccessControl(from); // CORS is the edge's alone: the upstream's (a '*') never reaches the client
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

    private void forward(HttpRequest req, Exchange ex, CanonicalRequest canon) {
        rewriteForUpstream(req, ex, canon.framing, canon.contentLength);
        Upstream target = shared.groupFor(ex.path).pick();
        if (target == null) {
            local(ex, Reason.UPSTREAM_UNHEALTHY);
            return;
        }
        ex.upstream = target.pool().authority();
        if (canon.hasBody()) {
            ex.closeAfter = !ex.keepAlive;
        }
        call = new ProxyCall(target, ctx.channel().eventLoop(), this, shared.responseTimeoutMillis);
        call.start(req, canon.hasBody());
    }

    /**
     * The request head as the upstream gets it, rewritten in place (it is this exchange's own object, holding no
     * buffer). Hop-by-hop headers, the headers named in Connection and names with '_' are removed first; then the
     * edge writes what it decided itself, so that no client header can change it (RFC 9112 §6, RFC 9110 §7.6.1):
     * the framing (Content-Length or chunked, from what was decoded, never the client's header), the forwarding
     * headers, the request id and the verified token's claims.
     */
    private void rewriteForUpstream(HttpRequest req, Exchange ex, CanonicalRequest.Framing framing, long contentLength) {
        HttpHeaders out = req.headers();
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
        out.remove(HttpHeaderNames.CONTENT_LENGTH);
        out.remove(HttpHeaderNames.TRANSFER_ENCODING);
        if (framing == CanonicalRequest.Framing.LENGTH) {
            out.set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        } else if (framing == CanonicalRequest.Framing.CHUNKED) {
            out.set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
        ForwardedHeaders.write(out, ex.forwarded, ex.peer, ex.scheme, ex.host);
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
                    ex.host, ex.origin, ex.status, ex.reason, ex.requestBytes, ex.bytesOut, upstreamNanos < 0 ? -1 : upstreamNanos / 1000,
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

    /** Set when the drain deadline cut this connection: its exchange is logged as server.draining, not client.closed. */
    private boolean cut;

    /**
     * The drain deadline passed: an exchange that has not answered yet gets 503 server.draining (then the
     * connection closes); one that is streaming its answer is cut and logged as server.draining.
     */
    void cut() {
        cut = true;
        Exchange ex = current;
        if (ex != null && !ex.responseStarted && tunnel == null && !realtimeUpgraded && ctx.channel().isActive()) {
            ex.closeAfter = true;
            bodyPending = false; // no lingering: the server is going away
            local(ex, Reason.DRAINING);
            return;
        }
        ctx.close();
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
            if (cut) {
                ex.reason = Reason.DRAINING.code(); // the server cut it at the drain deadline, not the client
                if (!ex.responseStarted) {
                    ex.status = Reason.DRAINING.status();
                }
            } else if (!ex.responseStarted) {
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
        if (cause instanceof java.io.IOException || closing || tunnel != null || realtimeUpgraded) {
            ctx.close(); // the connection itself failed (a reset): channelInactive logs the exchange it cut
            return;
        }
        // Anything else thrown in the pipeline is answered, logged and counted like any refusal, never a silent close.
        Exchange ex = current;
        if (ex == null) {
            boolean tls = cause instanceof io.netty.handler.codec.DecoderException && cause.getCause() instanceof javax.net.ssl.SSLException
                    || cause instanceof javax.net.ssl.SSLException;
            ex = new Exchange(newRequestId(), HttpMethod.GET, "", null, null, clientAddress(), false);
            current = ex;
            if (tls) {
                ex.reason = "tls.handshake_failed"; // no HTTP answer can be written before the handshake
                ex.status = 400;
                finish(true);
                return;
            }
        }
        internalError(ex, cause);
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

    /** 308 to the same URL over https (308 keeps the method and body, unlike 301). */
    private void redirectToHttps(Exchange ex, HttpRequest req, String[] hostPort) {
        ex.reason = "http.redirect_https";
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.PERMANENT_REDIRECT);
        res.headers().set(HttpHeaderNames.LOCATION, "https://" + hostPort[0] + req.uri());
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        if (bodyPending) {
            ex.closeAfter = true;
            ex.linger = true;
        }
        ResponseWriter.prepare(ex, res, false);
        ctx.writeAndFlush(res);
        finish(ex.closeAfter);
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
