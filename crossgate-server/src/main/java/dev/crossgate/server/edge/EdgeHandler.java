package dev.crossgate.server.edge;

import dev.crossgate.cors.CorsDecision;
import dev.crossgate.cors.Origin;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.limits.Limits;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.proxy.Hop;
import dev.crossgate.server.proxy.ProxyCall;
import dev.crossgate.server.proxy.Upstream;
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
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One client connection, and only its life: requests are handled one at a time in arrival order (pipelined
 * requests wait in {@link #queue}); reading is explicit ({@code autoRead} off) so that a request body flows only
 * as fast as the upstream takes it; the request-head deadline, lingering close, drain, and the hand-over to a
 * WebSocket tunnel or a realtime session. Each request head is decided into its {@link CanonicalRequest} in
 * {@link #begin}, then passes the stages of {@link RequestStages#run}, read top to bottom there; every answer
 * leaves through {@link #local} or the proxied response, both through {@link ResponseWriter#prepare}.
 */
final class EdgeHandler extends ChannelDuplexHandler implements RequestStages.Connection, ProxyCall.Frontend, WsProxy.Frontend, EngineConnection {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("crossgate.edge");
    private final EdgeServer.Shared shared;
    private final ArrayDeque<HttpObject> queue = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private Exchange current;
    private ProxyCall call;
    /** A WebSocket handshake waiting for the upstream's answer, or null. */
    private WsProxy wsProxy;
    /** Set once this connection became a WebSocket tunnel: the HTTP stages here are over. */
    private WsTunnel tunnel;
    private boolean bodyPending;
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
    private Limits.SubjectSlot subjectSlot;

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
            if (current.requestBytes + content.content().readableBytes() > current.live.config.http().maxBodySize()) {
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
        try {
            ex.live.stages.run(this, req, ex, canon); // the stages of the configuration this exchange began with
        } catch (RuntimeException e) {
            internalError(ex, e);
        }
    }

    private Exchange newExchange(HttpRequest req, CanonicalRequest canon) {
        HttpHeaders h = req.headers();
        // Who the client is, and over which scheme it came: from X-Forwarded-* / Forwarded only when the
        // direct peer is a trusted proxy (so HTTPS behind a platform proxy is seen, and cannot be spoofed).
        String peer = clientAddress();
        boolean trusted = peerTrusted();
        ForwardedHeaders.Chain chain = ForwardedHeaders.read(h, trusted);
        EdgeServer.Live live = shared.live; // read once: this exchange keeps this configuration to its end, across a reload
        String client = trusted ? ForwardedHeaders.client(chain, peer, live.config.http()::trusted) : peer;
        Exchange ex = new Exchange(requestId(h), req.method(), canon.path, canon.authority != null ? canon.authority : h.get(HttpHeaderNames.HOST),
                h.get(HttpHeaderNames.ORIGIN), client, HttpUtil.isKeepAlive(req) && !shared.draining.get());
        ex.scheme = chain.proto() != null ? chain.proto() : scheme();
        ex.peer = peer;
        ex.trustedPeer = trusted;
        ex.forwarded = chain;
        ex.forwardedMemo = forwardedMemo;
        ex.hsts = "https".equals(ex.scheme) ? shared.hsts : null;
        ex.live = live;
        return ex;
    }

    /** An exception on the request path: answered 500 server.error when nothing was sent yet, logged and counted, then closed. */
    private void internalError(Exchange ex, Throwable e) {
        LOG.error("request {} failed: {}", ex.requestId, String.valueOf(e)); // one line, never a stack trace
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

    // ---------------------------------------------------------------- realtime (hosted mode)

    /** The hub gets a request on the realtime path once its body (up to realtime.maxPayload) is collected; its answer leaves through {@link #respond}. */
    @Override
    public void realtime(HttpRequest req, Exchange ex, boolean hasBody) {
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
        if (body.readableBytes() + content.content().readableBytes() > shared.config().realtime().maxPayload()) {
            content.release();
            realtimeRequest = null;
            full.release();
            current.closeAfter = true;
            local(current, Reason.BODY_TOO_LARGE.status(), Reason.BODY_TOO_LARGE.code(),
                    "the body is larger than realtime.maxPayload (" + shared.config().realtime().maxPayload() + " bytes)");
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
        p.addBefore("edge", "ws-decoder", WsTunnel.decoder(ex.live.config.webSocket(), true, extensions));
        p.remove("codec"); // a client sends frames only after reading the 101, so nothing is decoded as HTTP
        cancelHeadTimer();
        releaseQueue();
        tunnel = WsTunnel.open(ex.live.config.webSocket(), shared.metrics, ctx.channel(), "edge", upstreamChannel);
        long expires = ex.auth == null ? 0 : ex.auth.expiresAtMillis();
        if (expires > 0) {
            // A WebSocket does not outlive its token: closed at exp, with a code that tells the client to refresh and reconnect.
            WsTunnel t = tunnel;
            ctx.executor().schedule(() -> t.close(WsTunnel.CLOSE_AUTH_EXPIRED, Reason.AUTH_EXPIRED.code()),
                    Math.max(0, expires - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
        }
        finish(false);
    }

    // ---------------------------------------------------------------- RequestStages.Connection

    @Override
    public void answer(Exchange ex, int status, String reasonCode, String message) {
        local(ex, status, reasonCode, message);
    }

    @Override
    public void answer(Exchange ex, FullHttpResponse res) {
        if (bodyPending) {
            ex.closeAfter = true; // the body is not read: close, after discarding it for a while
            ex.linger = true;
        }
        ResponseWriter.prepare(ex, res, false);
        ctx.writeAndFlush(res);
        finish(ex.closeAfter);
    }

    @Override
    public void proxy(HttpRequest head, Exchange ex, Upstream target, boolean hasBody) {
        call = new ProxyCall(target, ctx.channel().eventLoop(), this, ex.live.responseTimeoutMillis);
        call.start(head, hasBody);
    }

    @Override
    public void proxyWebSocket(HttpRequest head, Exchange ex, Upstream target) {
        wsProxy = new WsProxy(target, ctx.channel().eventLoop(), this, ex.live.config.webSocket(), ex.live.responseTimeoutMillis, head);
        wsProxy.start(head);
    }

    @Override
    public Limits.Refusal connectionRefusal() {
        return connectionRefusal;
    }

    @Override
    public void holdSubjectSlot(Limits.SubjectSlot slot) {
        subjectSlot = slot;
    }

    @Override
    public void resume(Exchange ex, Runnable r, Runnable dropped) {
        try {
            ctx.executor().execute(() -> {
                if (current == ex && ctx.channel().isActive()) {
                    try {
                        r.run();
                    } catch (RuntimeException e) {
                        internalError(ex, e);
                    }
                    if (current == ex && ctx.channel().isActive()) {
                        process(); // a body that arrived while the check was out waits in the queue for the stage that now takes it
                    }
                } else if (dropped != null) {
                    dropped.run();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException e) {
            if (dropped != null) {
                dropped.run(); // the event loop is shutting down
            }
        }
    }

    @Override
    public String scheme() {
        return shared.ssl != null ? "https" : "http";
    }

    @Override
    public int defaultPort() {
        return shared.ssl != null ? 443 : 80;
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
        if (current.learnSid != null && code == 200) {
            // An Engine.IO handshake's answer: browsers keep the upstream in a cookie too (native clients use the sid alone).
            String cookie = current.learnSid.cookieFor(current.learnUpstream);
            if (cookie != null) {
                head.headers().add(io.netty.handler.codec.http.HttpHeaderNames.SET_COOKIE, cookie);
            }
        }
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
        if (ex.learnSid != null && content.content().isReadable()) {
            // The first bytes of an Engine.IO polling handshake's answer: its open packet names the new session.
            String sid = dev.crossgate.server.proxy.SessionAffinity.openPacketSid(content.content());
            if (sid != null && ex.status == 200) {
                ex.learnSid.learn(sid, ex.learnUpstream);
            }
            ex.learnSid = null;
        }
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
        shared.metrics.requestDuration(ex.route, System.nanoTime() - ex.startNanos);
        shared.metrics.activity().record(ex.origin, ex.reason);
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
            long head = shared.config().http().requestHeadTimeout().toNanos();
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
        long headTimeout = shared.config().http().requestHeadTimeout().toNanos();
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
        long idle = connectionRefusal != null ? Limits.REFUSED_GRACE.toNanos() : TimeUnit.MILLISECONDS.toNanos(shared.live.idleTimeoutMillis);
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

    /** The connection's Forwarded values, built once for its requests (ForwardedHeaders.write). */
    private final ForwardedHeaders.Memo forwardedMemo = new ForwardedHeaders.Memo();
    /** The peer's address as text, found once per connection. */
    private String peerAddress;

    private String clientAddress() {
        String p = peerAddress;
        if (p == null) {
            p = peerAddress = describePeer();
        }
        return p;
    }

    private String describePeer() {
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
        CrossgateConfig.Http http = shared.config().http();
        if (http.trustedProxies().isEmpty()) {
            return false;
        }
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a && a.getAddress() != null && http.trusted(a.getAddress());
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


    private static final byte[] HEX_BYTES = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** 24 random hex digits (96 bits), built as Latin-1 bytes: one array and the String, no char[] to compress. */
    private static String newRequestId() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        byte[] id = new byte[24];
        long a = r.nextLong();
        long b = r.nextLong();
        for (int i = 0; i < 16; i++) {
            id[i] = HEX_BYTES[(int) (a >>> (i * 4)) & 0xF];
        }
        for (int i = 16; i < 24; i++) {
            id[i] = HEX_BYTES[(int) (b >>> (i * 4)) & 0xF];
        }
        return new String(id, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
}
