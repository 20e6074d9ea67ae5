package dev.crossgate.server.edge;

import dev.crossgate.cors.CorsDecision;
import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.cors.Origin;
import dev.crossgate.server.auth.Authenticator;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.limits.Limits;
import dev.crossgate.server.proxy.Hop;
import dev.crossgate.server.proxy.Upstream;
import dev.crossgate.server.ws.WsHandshake;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The request path: the stages one request passes, in order, listed in {@link #run}. Each stage reads the canonical
 * request ({@link CanonicalRequest}; the head is rewritten to it) and either answers through the connection (and the
 * request stops there) or lets it go on. The stages hold no state of a connection: what they need of it is
 * {@link Connection}, which {@link EdgeHandler} implements, so that each stage can be tested alone.
 */
final class RequestStages {
    /** What the stages need from the connection a request arrived on. */
    interface Connection {
        /** Answers locally through the one exit (then the next request is read, or the connection closes). */
        void answer(Exchange ex, int status, String reasonCode, String message);

        default void answer(Exchange ex, Reason r) {
            answer(ex, r.status(), r.code(), r.message());
        }

        /** Writes a response built here (a redirect) through the one exit. */
        void answer(Exchange ex, FullHttpResponse res);

        /** Sends the request, rewritten for the upstream, to {@code target} and streams the answer back. */
        void proxy(HttpRequest head, Exchange ex, Upstream target, boolean hasBody);

        /** Sends a WebSocket handshake, rewritten for the upstream, to {@code target} on a new connection. */
        void proxyWebSocket(HttpRequest head, Exchange ex, Upstream target);

        /** Hands a request on the realtime path to the hub, once its body (if any) is collected. */
        void realtime(HttpRequest req, Exchange ex, boolean hasBody);

        /** Why this connection is over a connection limit, or null. */
        Limits.Refusal connectionRefusal();

        /** Keeps an authenticated subject's WebSocket slot with the connection (released when it ends). */
        void holdSubjectSlot(Limits.SubjectSlot slot);

        /** Runs {@code r} on the connection's event loop while {@code ex} is still its exchange (an asynchronous check resuming). */
        default void resume(Exchange ex, Runnable r) {
            resume(ex, r, null);
        }

        /** As {@link #resume(Exchange, Runnable)}; {@code dropped} (if not null) runs instead when the exchange is gone. */
        void resume(Exchange ex, Runnable r, Runnable dropped);

        /** The listener's own scheme (http, or https with TLS) and its default port. */
        String scheme();

        int defaultPort();
    }

    private final EdgeServer.Shared shared;
    /** The configuration these stages apply: one per {@link EdgeServer.Live}, so a reload never changes an exchange mid-way. */
    private final EdgeServer.Live live;
    private final CrossgateConfig config;

    RequestStages(EdgeServer.Shared shared, EdgeServer.Live live) {
        this.shared = shared;
        this.live = live;
        this.config = live.config;
    }

    /** The stages of one request, in order. */
    void run(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon) {
        if (refusedAsParsed(c, ex, canon)        // 1. decoder, framing, target, path, Host syntax (400/414/431/501)
                || hostNotServed(c, req, ex, canon) // 2. the authority is served here (421), with CORS decided first
                || asterisk(c, ex, canon)) {     // 3. OPTIONS * is answered here
            return;
        }
        ex.cors = corsDecision(c, req, ex, canon.hostPort); // 4. the CORS decision, once, for every answer that leaves
        if (redirectedToHttps(c, req, ex, canon)  // 5. http.redirectHttps (308)
                || bodyTooLarge(c, ex, canon)     // 6. Content-Length beyond http.maxBodySize (413), unread
                || connectionLimited(c, ex)) {    // 7. this connection is over a connection limit (429)
            return;
        }
        if (shared.hub != null && config.realtime().covers(ex.path)) {
            realtime(c, req, ex, canon);          // 8. hosted Socket.IO: Origin or CORS, rate, size, then the hub
            return;
        }
        if (WsHandshake.isUpgrade(req) && config.webSocket().covers(ex.path)) {
            webSocket(c, req, ex, canon);         // 9. WebSocket: handshake, Origin, rate, token, per-user slot, upstream
            return;
        }
        if (corsAnswered(c, ex)) {                // 10. preflights answered, refused cross-origin requests stopped
            return;
        }
        rateChecked(c, ex, () ->                  // 11. the route's request rate per client address (429)
                authenticated(c, req, ex, () -> forward(c, req, ex, canon))); // 12. the token where required; 13. the upstream
    }

    // ---------------------------------------------------------------- the stages

    /** Stage 1: what the canonical form refused. A framing in doubt closes the connection after the answer. */
    boolean refusedAsParsed(Connection c, Exchange ex, CanonicalRequest canon) {
        if (canon.refusal == null) {
            if (canon.hasBody()) {
                ex.closeAfter = true; // reset once the body is known to be forwarded in full
            }
            return false;
        }
        if (canon.framingInDoubt()) {
            ex.closeAfter = true;
        }
        c.answer(ex, canon.refusal.status(), canon.refusal.code(), canon.detail != null ? canon.detail : canon.refusal.message());
        return true;
    }

    /** Stage 2: the authority (Host, or the absolute-form target's) must be served here: 421, readable by an allowed origin. */
    boolean hostNotServed(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon) {
        String[] hp = canon.hostPort;
        int port = hp[1].isEmpty() ? c.defaultPort() : Integer.parseInt(hp[1]);
        if (config.hostAllowed(hp[0], port)) {
            return false;
        }
        ex.cors = corsDecision(c, req, ex, hp);
        // Says how to serve it (issue 13). The host is the client's own (validated by CanonicalRequest); the list of
        // hosts that are served is not disclosed.
        String host = hp[0]; // an IPv6 literal keeps its brackets
        c.answer(ex, Reason.HOST_NOT_ALLOWED.status(), Reason.HOST_NOT_ALLOWED.code(), Reason.HOST_NOT_ALLOWED.message() + " (" + host
                + (hp[1].isEmpty() ? "" : ":" + hp[1]) + "); to serve it, add it to the hosts setting (hosts: [..., " + host
                + "], or CROSSGATE_HOSTS) and restart");
        return true;
    }

    /** Stage 3: {@code OPTIONS *} asks about the server itself (RFC 9110 §9.3.7): the edge answers, nothing is forwarded. */
    boolean asterisk(Connection c, Exchange ex, CanonicalRequest canon) {
        if (!canon.asterisk) {
            return false;
        }
        ex.extraHeaders = new String[] {"allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"};
        c.answer(ex, 204, null, null);
        return true;
    }

    /** Stage 4: the CORS decision for this request, made once; a same-origin request is not a CORS request. */
    CorsDecision corsDecision(Connection c, HttpRequest req, Exchange ex, String[] hostPort) {
        HttpHeaders h = req.headers();
        CorsPolicy policy = config.cors().policyFor(ex.path);
        ex.route = config.cors().routeFor(ex.path);
        List<String> acrh = h.getAll(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS);
        CorsDecision d = policy.decide(req.method().name(), ex.origin, h.get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD), acrh);
        if (!d.allowed() && isSameOrigin(ex, hostPort)) {
            // A same-origin request (a form POST from the site itself) is not a CORS request. Checked only
            // for refusals: an allowed origin gets its headers either way, and browsers ignore them.
            d = policy.decide(req.method().name(), null, null, null);
        }
        return d;
    }

    /** Stage 5: plain http is redirected to https (308 keeps the method and body, unlike 301) when configured; preflights are not. */
    boolean redirectedToHttps(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon) {
        if (!config.http().redirectHttps() || !"http".equals(ex.scheme) || ex.cors.isPreflight()) {
            return false;
        }
        ex.reason = "http.redirect_https";
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.PERMANENT_REDIRECT);
        res.headers().set(HttpHeaderNames.LOCATION, "https://" + canon.hostPort[0] + req.uri());
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        c.answer(ex, res);
        return true;
    }

    /** Stage 6: a declared length beyond http.maxBodySize is refused before a byte of the body is read. */
    boolean bodyTooLarge(Connection c, Exchange ex, CanonicalRequest canon) {
        if (canon.framing != CanonicalRequest.Framing.LENGTH || canon.contentLength <= config.http().maxBodySize()) {
            return false;
        }
        ex.closeAfter = true;
        c.answer(ex, Reason.BODY_TOO_LARGE);
        return true;
    }

    /** Stage 7: a connection over a per-address limit answers its first request 429 and closes. */
    boolean connectionLimited(Connection c, Exchange ex) {
        Limits.Refusal r = c.connectionRefusal();
        if (r == null) {
            return false;
        }
        ex.closeAfter = true;
        refuse(c, ex, r);
        return true;
    }

    /**
     * Stage 8, hosted mode: a request on the Socket.IO path. A WebSocket handshake has its Origin checked as any
     * other (the same policy; without Origin where {@code websocket.missingOrigin} allows it, and under
     * {@code authenticated} when {@code realtime.token} is required, because the token is then checked at CONNECT);
     * polling requests get CORS as any other. A new session (no {@code sid}) counts against the route's request
     * rate; polls of a session do not. A body beyond {@code realtime.maxPayload} is refused.
     */
    void realtime(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon) {
        ex.upstream = "realtime";
        if (WsHandshake.isUpgrade(req)) {
            if (webSocketRefused(c, req, ex, canon, config.realtime().token() == CrossgateConfig.TokenMode.REQUIRED)) {
                return;
            }
        } else if (corsAnswered(c, ex)) {
            return;
        }
        Runnable toHub = () -> {
            if (canon.framing == CanonicalRequest.Framing.LENGTH && canon.contentLength > config.realtime().maxPayload()) {
                ex.closeAfter = true;
                c.answer(ex, Reason.BODY_TOO_LARGE.status(), Reason.BODY_TOO_LARGE.code(),
                        "the body is larger than realtime.maxPayload (" + config.realtime().maxPayload() + " bytes)");
                return;
            }
            c.realtime(req, ex, canon.hasBody());
        };
        if (!new io.netty.handler.codec.http.QueryStringDecoder(req.uri()).parameters().containsKey("sid")) { // as the engine parses it
            rateChecked(c, ex, toHub);
        } else {
            toHub.run();
        }
    }

    /**
     * Stage 9: a WebSocket handshake, valid per RFC 6455, from an Origin the route's policy allows (the same policy as
     * CORS, default ports normalised; same-origin always), or without Origin where {@code websocket.missingOrigin}
     * allows it (under {@code authenticated}, a native app without Origin proves who it is with the route's token).
     * Then the request rate, the token, the subject's WebSocket quota, and the upstream on a new connection.
     */
    void webSocket(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon) {
        if (webSocketRefused(c, req, ex, canon, live.auth.required(ex.path))) {
            return;
        }
        rateChecked(c, ex, () -> authenticated(c, req, ex, () -> subjectSlotHeld(c, ex, () -> forwardWebSocket(c, req, ex))));
    }

    /**
     * The subject's WebSocket quota ({@code limits.connectionsPerSubject}): runs {@code next} holding a slot, or answers
     * 429 limit.connections. With {@code limits.store: redis} the answer comes from Redis and resumes on the
     * connection's event loop; a slot whose connection went meanwhile is given back.
     */
    void subjectSlotHeld(Connection c, Exchange ex, Runnable next) {
        String subject = ex.auth == null ? null : ex.auth.subject();
        if (subject == null || !shared.limits.subjectLimited()) {
            next.run();
            return;
        }
        java.util.concurrent.CompletableFuture<Limits.SubjectSlot> f = shared.limits.reserveSubject(subject);
        if (f.isDone()) {
            afterSubjectSlot(c, ex, f.getNow(null), subject, next);
            return;
        }
        f.whenComplete((slot, err) -> c.resume(ex, () -> afterSubjectSlot(c, ex, slot, subject, next), () -> shared.limits.release(slot)));
    }

    private void afterSubjectSlot(Connection c, Exchange ex, Limits.SubjectSlot slot, String subject, Runnable next) {
        if (slot == null) {
            refuse(c, ex, shared.limits.subjectRefusal(subject));
            return;
        }
        c.holdSubjectSlot(slot);
        next.run();
    }

    /**
     * Answers a WebSocket handshake that cannot go on and returns true: invalid per RFC 6455 (400, or 426 with the
     * version), an Origin the route's policy refuses (403 ws.origin_rejected), or no Origin where
     * {@code websocket.missingOrigin} does not allow it; {@code tokenRequired} says whether a token will be checked.
     */
    boolean webSocketRefused(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon, boolean tokenRequired) {
        Reason bad = WsHandshake.check(req, canon.hasBody());
        if (bad != null) {
            if (bad == Reason.WS_VERSION_UNSUPPORTED) {
                ex.extraHeaders = new String[] {"sec-websocket-version", "13"};
            }
            c.answer(ex, bad);
            return true;
        }
        if (ex.origin == null) {
            // No Origin is not a cross-site browser request: browsers always send Origin on a WebSocket handshake
            // (RFC 6455 section 4.1 item 8; Fetch, "append a request Origin header"), so only native clients
            // (mobile apps, Python's and Node's Socket.IO clients) omit it. Admitted by default (allow).
            CrossgateConfig.MissingOrigin mode = config.webSocket().missingOrigin();
            boolean allowed = switch (mode) {
                case ALLOW -> true;
                case REFUSE -> false;
                case AUTHENTICATED -> tokenRequired;
            };
            if (!allowed) {
                c.answer(ex, Reason.WS_ORIGIN_MISSING.status(), Reason.WS_ORIGIN_MISSING.code(), missingOriginRefusal(mode));
                return true;
            }
            return false;
        }
        String refusal = wsOriginRefusal(ex, canon.hostPort);
        if (refusal != null) {
            c.answer(ex, Reason.WS_ORIGIN_REJECTED.status(), Reason.WS_ORIGIN_REJECTED.code(), refusal);
            return true;
        }
        return false;
    }

    /** The one line a native client (and the operator reading its error) gets: the setting that refused it and the value that admits it. */
    static String missingOriginRefusal(CrossgateConfig.MissingOrigin mode) {
        String why = mode == CrossgateConfig.MissingOrigin.AUTHENTICATED
                ? "websocket.missingOrigin: authenticated, and no token is required here"
                : "websocket.missingOrigin: " + mode.id();
        return "a WebSocket handshake without an Origin header (a native client) is refused here by " + why
                + "; to admit it, set websocket.missingOrigin: allow";
    }

    private void forwardWebSocket(Connection c, HttpRequest req, Exchange ex) {
        rewriteForUpstream(req, ex, CanonicalRequest.Framing.NONE, 0);
        req.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.UPGRADE);
        req.headers().set(HttpHeaderNames.UPGRADE, HttpHeaderValues.WEBSOCKET);
        if (ex.auth != null) {
            Authenticator.removeProtocolToken(req.headers(), ex.auth.token());
        }
        Upstream target = choose(c, req, ex);
        if (target == null) {
            return;
        }
        ex.upstream = target.pool().authority();
        c.proxyWebSocket(req, ex, target);
    }

    /**
     * The upstream of the route for this request, or null when it was answered here. A request of an Engine.IO
     * session (its query carries {@code EIO} and {@code sid}) goes to the upstream that created the session, when
     * the route has several (issue 12: round-robin broke every polling session with "Session ID unknown"); when that
     * upstream is out of rotation the session is told it is unknown, 400 as the Engine.IO server answers an unknown
     * sid ({@code realtime.session_upstream_gone}), and the client's reconnection, a new handshake, is balanced to a
     * healthy one. A polling handshake's answer teaches the route the new sid ({@link SessionAffinity}).
     */
    private Upstream choose(Connection c, HttpRequest req, Exchange ex) {
        dev.crossgate.server.proxy.UpstreamGroup group = live.groupFor(ex.path);
        dev.crossgate.server.proxy.SessionAffinity affinity = group.affinity();
        String uri = req.uri();
        boolean handshake = false;
        if (affinity != null && uri.indexOf('?') >= 0 && uri.contains("EIO=")) {
            java.util.Map<String, java.util.List<String>> q = new io.netty.handler.codec.http.QueryStringDecoder(uri).parameters();
            java.util.List<String> sids = q.get("sid");
            if (q.containsKey("EIO") && sids != null && !sids.isEmpty()) {
                dev.crossgate.server.proxy.SessionAffinity.Route r = affinity.route(sids.get(0));
                if (r instanceof dev.crossgate.server.proxy.SessionAffinity.Unknown) {
                    // Not learned here (another Crossgate node did, or it was forgotten): a browser's cookie names the upstream.
                    r = affinity.routeByCookie(req.headers().get(io.netty.handler.codec.http.HttpHeaderNames.COOKIE));
                }
                if (r instanceof dev.crossgate.server.proxy.SessionAffinity.Bound b) {
                    return b.upstream();
                }
                if (r instanceof dev.crossgate.server.proxy.SessionAffinity.Gone g) {
                    shared.metrics.count("crossgate.realtime.affinity.gone", "Engine.IO sessions whose upstream left rotation (told unknown, the client reconnects)",
                            "route", group.path());
                    c.answer(ex, 400, "realtime.session_upstream_gone", "the upstream of this Engine.IO session (" + g.upstream().pool().authority()
                            + ") is out of rotation: the session is unknown, and the client reconnects to another upstream");
                    return null;
                }
            } else if (q.containsKey("EIO") && sids == null && req.method() == io.netty.handler.codec.http.HttpMethod.GET) {
                handshake = true;
            }
        }
        Upstream target = group.pick();
        if (target == null) {
            c.answer(ex, Reason.UPSTREAM_UNHEALTHY);
        } else if (handshake) {
            ex.learnSid = affinity;
            ex.learnUpstream = target;
        }
        return target;
    }

    /** Why this exchange's Origin may not open a WebSocket here, or null when it may. */
    String wsOriginRefusal(Exchange ex, String[] hostPort) {
        if (isSameOrigin(ex, hostPort)) {
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

    /** Stage 10: preflights are answered here; a cross-origin request the policy refuses never reaches the upstream. */
    boolean corsAnswered(Connection c, Exchange ex) {
        CorsDecision cors = ex.cors;
        if (cors.isPreflight()) {
            if (cors.allowed()) {
                c.answer(ex, 204, null, null);
            } else {
                c.answer(ex, 403, cors.reasonCode(), cors.message());
            }
            return true;
        }
        if (!cors.allowed()) {
            c.answer(ex, 403, cors.reasonCode(), cors.message());
            return true;
        }
        return false;
    }

    /**
     * Stage 11: the route's request rate per client address (429 with Retry-After); runs {@code next} when the request
     * may pass. Per node the answer is immediate; with {@code limits.store: redis} it resumes on the connection's event
     * loop (requests behind it wait, as they wait for any exchange).
     */
    void rateChecked(Connection c, Exchange ex, Runnable next) {
        java.util.concurrent.CompletableFuture<Limits.Refusal> f = shared.limits.request(ex.path, ex.clientAddress);
        if (f.isDone()) {
            afterRate(c, ex, f.getNow(null), next);
            return;
        }
        f.whenComplete((rate, err) -> c.resume(ex, () -> afterRate(c, ex, rate, next)));
    }

    private void afterRate(Connection c, Exchange ex, Limits.Refusal rate, Runnable next) {
        if (rate != null) {
            refuse(c, ex, rate);
            return;
        }
        next.run();
    }

    /**
     * Stage 12: runs {@code next} once the request is authenticated (at once where the route requires no token), or
     * answers 401 with the reason. A token whose key must first be fetched (a JWKS rotation) resumes on the
     * connection's event loop; requests behind it wait, as they wait for any exchange.
     */
    void authenticated(Connection c, HttpRequest req, Exchange ex, Runnable next) {
        if (!live.auth.required(ex.path)) {
            next.run();
            return;
        }
        java.util.concurrent.CompletableFuture<Authenticator.Outcome> f = live.auth.authenticate(req);
        if (f.isDone()) {
            afterAuthentication(c, ex, f.getNow(null), next);
            return;
        }
        f.whenComplete((o, err) -> c.resume(ex, () -> afterAuthentication(c, ex, o != null ? o
                : new Authenticator.Outcome("auth.invalid", "the token could not be verified", null, null), next)));
    }

    private void afterAuthentication(Connection c, Exchange ex, Authenticator.Outcome o, Runnable next) {
        if (o.ok()) {
            ex.auth = o;
            next.run();
            return;
        }
        Reason r = o.reason().equals("auth.missing") ? Reason.AUTH_MISSING : o.reason().equals("auth.expired") ? Reason.AUTH_EXPIRED : Reason.AUTH_INVALID;
        ex.extraHeaders = new String[] {"www-authenticate", r == Reason.AUTH_MISSING ? "Bearer realm=\"crossgate\""
                : "Bearer realm=\"crossgate\", error=\"invalid_token\""};
        c.answer(ex, r.status(), r.code(), r.message() + ": " + o.message());
    }

    /** Stage 13: the upstream of the route (503 only when the active health check fails on every one of them). */
    void forward(Connection c, HttpRequest req, Exchange ex, CanonicalRequest canon) {
        rewriteForUpstream(req, ex, canon.framing, canon.contentLength);
        Upstream target = choose(c, req, ex);
        if (target == null) {
            return;
        }
        ex.upstream = target.pool().authority();
        if (canon.hasBody()) {
            ex.closeAfter = !ex.keepAlive;
        }
        c.proxy(req, ex, target, canon.hasBody());
    }

    // ---------------------------------------------------------------- helpers

    private void refuse(Connection c, Exchange ex, Limits.Refusal r) {
        shared.metrics.limitRefusal(r.reason());
        ex.extraHeaders = new String[] {"retry-after", Long.toString(r.retryAfterSeconds())};
        c.answer(ex, r.status(), r.reason(), r.message());
    }

    private static boolean isSameOrigin(Exchange ex, String[] hostPort) {
        String self = ex.scheme + "://" + hostPort[0] + (hostPort[1].isEmpty() ? "" : ":" + hostPort[1]);
        String a = Origin.normalize(ex.origin);
        String b = Origin.normalize(self);
        return a != null && a.equals(b);
    }

    /**
     * The request head as the upstream gets it, rewritten in place (it is this exchange's own object, holding no
     * buffer). Hop-by-hop headers, the headers named in Connection and names with '_' are removed first; then the
     * edge writes what it decided itself, so that no client header can change it (RFC 9112 §6, RFC 9110 §7.6.1):
     * the framing (Content-Length or chunked, from what was decoded, never the client's header), the forwarding
     * headers, the request id and the verified token's claims.
     */
    void rewriteForUpstream(HttpRequest req, Exchange ex, CanonicalRequest.Framing framing, long contentLength) {
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
        ForwardedHeaders.write(out, ex.forwarded, ex.peer, ex.scheme, ex.host, ex.forwardedMemo);
        out.set(ResponseWriter.X_REQUEST_ID, ex.requestId);
        // Identity headers come from the edge only: a client's are removed, a verified token's claims set.
        live.auth.removeClaimHeaders(out);
        if (ex.auth != null) {
            live.auth.addClaimHeaders(out, ex.auth.claims());
        }
        req.setProtocolVersion(HttpVersion.HTTP_1_1);
    }
}
