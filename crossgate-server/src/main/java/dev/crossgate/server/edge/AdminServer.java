package dev.crossgate.server.edge;

import dev.crossgate.realtime.net.Transport;
import dev.crossgate.cors.CorsPolicy;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import java.net.InetSocketAddress;

/**
 * The admin listener, apart from client traffic: {@code GET /metrics} (Prometheus text format),
 * {@code /healthz} (the process is alive) and {@code /readyz} (accepting traffic; 503 while draining).
 * Its answers leave through the same {@link ResponseWriter} as every other response.
 */
final class AdminServer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("crossgate.admin");
    private final EdgeServer.Shared shared;
    private Channel listener;

    private final dev.crossgate.server.realtime.PublishApi publish;
    private final dev.crossgate.server.observe.StatusPage status;

    AdminServer(EdgeServer.Shared shared) {
        this.shared = shared;
        this.status = new dev.crossgate.server.observe.StatusPage(shared.metrics, shared::config, () -> {
            EdgeServer.Live live = shared.live;
            java.util.List<dev.crossgate.server.proxy.UpstreamGroup> all = new java.util.ArrayList<>(live.groups);
            all.add(live.defaultGroup); // the upstream every request without a route of its own goes to
            return all;
        }, () -> shared.hub);
        this.publish = shared.hub == null ? null : new dev.crossgate.server.realtime.PublishApi(shared.hub, shared.config().realtime().publishToken());
    }

    void start(EventLoopGroup boss, EventLoopGroup workers, String host, int port) throws InterruptedException {
        // Its own small cap, closed at accept beyond (part of the descriptors Limits.RESERVED_DESCRIPTORS sets aside),
        // and the same pause-and-retry when accept fails: /healthz keeps answering when clients take every descriptor.
        AcceptGate gate = new AcceptGate("admin", dev.crossgate.server.limits.Limits.ADMIN_CONNECTIONS, shared.metrics);
        listener = new ServerBootstrap().group(boss, workers).channel(Transport.current().serverChannel())
                .handler(gate)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // Bodies only for the publish API, up to one realtime payload.
                        int maxBody = publish == null ? 8192 : Math.max(8192, shared.config().realtime().maxPayload());
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(maxBody), new Handler());
                    }
                }).bind(host, port).sync().channel();
    }

    InetSocketAddress address() {
        return (InetSocketAddress) listener.localAddress();
    }

    void close() {
        if (listener != null) {
            listener.close().awaitUninterruptibly();
        }
    }

    /**
     * The status page's server-sent events: a snapshot now and every second while the page is open (the admin listener's
     * own connection cap bounds how many pages stream at once).
     */
    private void statusEvents(ChannelHandlerContext ctx) {
        io.netty.handler.codec.http.HttpResponse r = new io.netty.handler.codec.http.DefaultHttpResponse(
                io.netty.handler.codec.http.HttpVersion.HTTP_1_1, io.netty.handler.codec.http.HttpResponseStatus.OK);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/event-stream; charset=utf-8").set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        HttpUtil.setTransferEncodingChunked(r, true);
        ctx.writeAndFlush(r);
        Runnable push = () -> {
            if (ctx.channel().isActive()) {
                ctx.writeAndFlush(new io.netty.handler.codec.http.DefaultHttpContent(io.netty.buffer.Unpooled.copiedBuffer(
                        "data: " + status.snapshotJson() + "\n\n", java.nio.charset.StandardCharsets.UTF_8)));
            }
        };
        push.run();
        var every = ctx.executor().scheduleAtFixedRate(push, 1, 1, java.util.concurrent.TimeUnit.SECONDS);
        ctx.channel().closeFuture().addListener(f -> every.cancel(false));
    }

    /** The status page's session cookie: a digest of admin.token, never the token itself. */
    static final String STATUS_COOKIE = "crossgate_admin";

    /** What the status page's cookie holds for a token: SHA-256 of a label and the token, hex. */
    static String cookieValue(String token) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(("crossgate-status\n" + token)
                    .getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return io.netty.buffer.ByteBufUtil.hexDump(d);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every Java has SHA-256
        }
    }

    /**
     * Whether a request may use an operator page (the status page, its events and JSON, POST /reload). With admin.token
     * set: {@code Authorization: Bearer <token>} (RFC 6750 section 2.1) or the status page's cookie, compared in constant
     * time. Without one, only a loopback listener serves them ({@code serve} refuses to start beyond loopback without a
     * token; this is the second lock). A refusal is answered (401 or 403 with its reason code), counted in
     * {@code crossgate_admin_refused_total{reason}} and logged, at most one line a minute.
     */
    private boolean operatorAllowed(ChannelHandlerContext ctx, FullHttpRequest req, Exchange ex, boolean head, String what) {
        String token = shared.config().admin().token();
        if (token == null) {
            if (address().getAddress().isLoopbackAddress()) {
                return true;
            }
            refuse(ctx, ex, head, 403, "admin.token_required", "the admin listener is not on loopback: set admin.token (or CROSSGATE_ADMIN_TOKEN) to use "
                    + what);
            return false;
        }
        if (authenticated(req, token)) {
            return true;
        }
        ex.extraHeaders = new String[] {"www-authenticate", "Bearer realm=\"crossgate-admin\""};
        refuse(ctx, ex, head, 401, "admin.unauthorized", what + " requires Authorization: Bearer <admin.token>");
        return false;
    }

    /** The request carries admin.token as a bearer token or the status page's cookie. */
    private static boolean authenticated(FullHttpRequest req, String token) {
        return bearerMatches(req.headers().get(HttpHeaderNames.AUTHORIZATION), token) || cookieMatches(req.headers().getAll(HttpHeaderNames.COOKIE), token);
    }

    private static boolean bearerMatches(String given, String token) {
        byte[] expected = ("Bearer " + token).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return given != null && java.security.MessageDigest.isEqual(expected, given.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    private static boolean cookieMatches(java.util.List<String> headers, String token) {
        byte[] expected = cookieValue(token).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        boolean match = false;
        for (String h : headers) {
            for (io.netty.handler.codec.http.cookie.Cookie c : io.netty.handler.codec.http.cookie.ServerCookieDecoder.STRICT.decodeAll(h)) {
                if (c.name().equals(STATUS_COOKIE)) {
                    match |= java.security.MessageDigest.isEqual(expected, c.value().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                }
            }
        }
        return match;
    }

    private final java.util.concurrent.atomic.AtomicLong refusedSinceLog = new java.util.concurrent.atomic.AtomicLong();
    private volatile long lastRefusalLog;

    private void refuse(ChannelHandlerContext ctx, Exchange ex, boolean head, int status, String reason, String message) {
        counted(ex, reason);
        ResponseWriter.writeLocal(ctx, ex, status, reason, message, head);
    }

    /** A refusal counted in crossgate_admin_refused_total{reason} and logged, at most one line a minute. */
    private void counted(Exchange ex, String reason) {
        ex.reason = reason;
        shared.metrics.count("crossgate.admin.refused", "Requests to the admin listener's operator pages refused, by reason", "reason", reason);
        long n = refusedSinceLog.incrementAndGet();
        long now = System.nanoTime();
        if (lastRefusalLog == 0 || now - lastRefusalLog > 60_000_000_000L) {
            lastRefusalLog = now;
            refusedSinceLog.set(0);
            LOG.warn("admin listener: refused {} from {} ({}{})", ex.path, ex.clientAddress, reason,
                    n > 1 ? ", " + (n - 1) + " more refusals in the last minute" : "");
        }
    }

    /**
     * {@code POST /status/login} (the form the status page shows when it needs the token): a browser cannot send an
     * Authorization header when it opens a page, so the right token, posted as {@code token=...}, is answered with a
     * session cookie (HttpOnly, SameSite=Strict: the page's script and other sites cannot read or send it) and a 303 to
     * the page.
     */
    private void login(ChannelHandlerContext ctx, FullHttpRequest req, Exchange ex, boolean head) {
        String token = shared.config().admin().token();
        if (!req.method().equals(HttpMethod.POST)) {
            ex.extraHeaders = new String[] {"allow", "POST"};
            ResponseWriter.writeLocal(ctx, ex, 405, "admin.method_not_allowed", "POST /status/login takes the admin token", head);
            return;
        }
        String given = new io.netty.handler.codec.http.QueryStringDecoder(req.content().toString(java.nio.charset.StandardCharsets.UTF_8), false)
                .parameters().getOrDefault("token", java.util.List.of("")).get(0);
        if (token == null || !java.security.MessageDigest.isEqual(token.getBytes(java.nio.charset.StandardCharsets.UTF_8),
                given.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
            counted(ex, "admin.unauthorized");
            ResponseWriter.writeBody(ctx, ex, 401, "text/html; charset=utf-8", dev.crossgate.server.observe.StatusPage.loginHtml(token == null
                    ? "this admin listener has no admin.token" : "that is not the admin token"), head);
            return;
        }
        ex.extraHeaders = new String[] {"location", "/status", "set-cookie", STATUS_COOKIE + "=" + cookieValue(token) + "; Path=/; HttpOnly; SameSite=Strict"};
        ResponseWriter.writeBody(ctx, ex, 303, "text/plain; charset=utf-8", "see /status\n", head);
    }

    /**
     * {@code POST /reload}: re-reads the configuration (as SIGHUP does) and answers with the reload's JSON: 200 when
     * applied, 422 when the file is invalid (nothing changed; every problem listed). With {@code admin.token} set it
     * requires {@code Authorization: Bearer <token>} (RFC 6750 §2.1); without one, only a loopback admin listener takes
     * it, since anyone who reaches the listener could otherwise make the process read its file at will.
     */
    private void reload(ChannelHandlerContext ctx, FullHttpRequest req, Exchange ex, boolean head) {
        if (!req.method().equals(HttpMethod.POST)) {
            ex.extraHeaders = new String[] {"allow", "POST"};
            ResponseWriter.writeLocal(ctx, ex, 405, "admin.method_not_allowed", "POST /reload re-reads the configuration", head);
            return;
        }
        if (!operatorAllowed(ctx, req, ex, head, "POST /reload")) {
            return;
        }
        java.util.function.Supplier<EdgeServer.Reload> reloader = shared.reloader;
        if (reloader == null) {
            ResponseWriter.writeLocal(ctx, ex, 503, "admin.reload_unavailable", "this server has no configuration file to reload", head);
            return;
        }
        // Off the event loop: reading and validating the file may take a while, and reloads are serialized.
        java.util.concurrent.CompletableFuture.supplyAsync(reloader).whenComplete((r, err) -> ctx.executor().execute(() -> {
            if (err != null) {
                ResponseWriter.writeLocal(ctx, ex, 500, "admin.reload_failed", "the reload failed: "
                        + String.valueOf(err.getMessage()).lines().findFirst().orElse(""), head);
            } else {
                ResponseWriter.writeBody(ctx, ex, r.ok() ? 200 : 422, "application/json", r.json(), head);
            }
        }));
    }

    private final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            String path = req.uri().split("\\?", 2)[0];
            String origin = req.headers().get(HttpHeaderNames.ORIGIN);
            Exchange ex = new Exchange("admin-" + System.nanoTime(), req.method(), path, req.headers().get(HttpHeaderNames.HOST), origin,
                    String.valueOf(ctx.channel().remoteAddress()), HttpUtil.isKeepAlive(req));
            CorsPolicy policy = shared.config().cors().policyFor(path);
            ex.cors = policy.decide(req.method().name(), origin, req.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD),
                    req.headers().getAll(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS));
            boolean head = req.method().equals(HttpMethod.HEAD);
            if (req.decoderResult().isFailure()) {
                ex.closeAfter = true;
                ResponseWriter.writeLocal(ctx, ex, 400, Reason.HTTP_MALFORMED.code(), Reason.HTTP_MALFORMED.message(), head);
                return;
            }
            if (ex.cors.isPreflight()) {
                ResponseWriter.writeLocal(ctx, ex, ex.cors.preflightStatus(), ex.cors.reasonCode(), ex.cors.message(), head);
                return;
            }
            if (publish != null && dev.crossgate.server.realtime.PublishApi.covers(path)) {
                byte[] body = io.netty.buffer.ByteBufUtil.getBytes(req.content());
                publish.handleAsync(req.method().name(), req.uri(), req.headers().get(HttpHeaderNames.AUTHORIZATION), body)
                        .whenComplete((a, err) -> ctx.executor().execute(() -> {
                            if (err != null) {
                                ResponseWriter.writeLocal(ctx, ex, 500, "realtime.publish_failed", "the publish API failed: "
                                        + String.valueOf(err.getMessage()).lines().findFirst().orElse(""), head);
                            } else if (a.json() != null) {
                                ResponseWriter.writeBody(ctx, ex, a.status(), "application/json", a.json(), head);
                            } else {
                                if (a.status() == 401) {
                                    ex.extraHeaders = new String[] {"www-authenticate", "Bearer realm=\"crossgate-publish\""};
                                }
                                ResponseWriter.writeLocal(ctx, ex, a.status(), a.reason(), a.message(), head);
                            }
                        }));
                return;
            }
            if (path.equals("/reload")) {
                reload(ctx, req, ex, head);
                return;
            }
            switch (path) {
                case "/status", "/status/" -> {
                    String token = shared.config().admin().token();
                    if (token != null && !authenticated(req, token)) {
                        // A browser opening the page: the form that asks for the token, as a 401 with its reason code.
                        counted(ex, "admin.unauthorized");
                        ex.extraHeaders = new String[] {"www-authenticate", "Bearer realm=\"crossgate-admin\""};
                        ResponseWriter.writeBody(ctx, ex, 401, "text/html; charset=utf-8", dev.crossgate.server.observe.StatusPage.loginHtml(null), head);
                    } else if (operatorAllowed(ctx, req, ex, head, "the status page")) {
                        ResponseWriter.writeBody(ctx, ex, 200, "text/html; charset=utf-8", dev.crossgate.server.observe.StatusPage.html(), head);
                    }
                }
                case "/status/login" -> login(ctx, req, ex, head);
                case "/status/events" -> {
                    if (operatorAllowed(ctx, req, ex, head, "the status page's events")) {
                        statusEvents(ctx);
                    }
                }
                case "/status.json" -> {
                    if (operatorAllowed(ctx, req, ex, head, "/status.json")) {
                        ResponseWriter.writeBody(ctx, ex, 200, "application/json", status.snapshotJson() + "\n", head);
                    }
                }
                case "/metrics" -> ResponseWriter.writeBody(ctx, ex, 200, "text/plain; version=0.0.4; charset=utf-8", shared.metrics.scrape(), head);
                case "/healthz" -> ResponseWriter.writeBody(ctx, ex, 200, "application/json", "{\"status\":\"ok\"}\n", head);
                case "/readyz" -> {
                    boolean ready = !shared.draining.get();
                    // admin.readyRequiresUpstream: not ready while no upstream of the default route is in rotation (ejected
                    // after failures, or failing its health check), so a balancer sends the traffic to another node.
                    boolean upstreamDown = shared.config().admin().readyRequiresUpstream()
                            && shared.live.defaultGroup.upstreams().stream().noneMatch(dev.crossgate.server.proxy.Upstream::available);
                    // With realtime.redis, the cluster link is told too. A node whose Redis is down still serves its own
                    // clients, and every node shares that Redis: taking them all out of rotation would help no one, so
                    // the status stays ready and "redis" says "down" (the metric crossgate_realtime_cluster_connected too).
                    String cluster = "";
                    if (shared.hub != null && shared.hub.cluster() != null) {
                        var c = shared.hub.cluster();
                        cluster = ",\"redis\":\"" + (c.stats().connected() ? "connected" : "down") + "\"";
                        if (!c.stats().connected() && c.lastError() != null) {
                            cluster += ",\"redisProblem\":" + new com.fasterxml.jackson.databind.ObjectMapper().valueToTree(c.lastError());
                        }
                    }
                    String state = !ready ? "draining" : upstreamDown ? "upstream_unavailable" : "ready";
                    ResponseWriter.writeBody(ctx, ex, ready && !upstreamDown ? 200 : 503, "application/json",
                            "{\"status\":\"" + state + "\"" + cluster + "}\n", head);
                }
                default -> ResponseWriter.writeLocal(ctx, ex, 404, Reason.NOT_FOUND.code(), Reason.NOT_FOUND.message(), head);
            }
        }
    }
}
