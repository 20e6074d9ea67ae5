package dev.crossgate.server.edge;

import dev.crossgate.cors.CorsDecision;
import io.netty.handler.codec.http.HttpMethod;

/** One request and its response as it passes through the edge: what the access log and metrics report. */
public final class Exchange {
    final String requestId;
    final long startNanos;
    final HttpMethod method;
    final String path;
    final String host;
    final String origin;
    final String clientAddress;
    final boolean keepAlive;
    CorsDecision cors;
    String route = "*";
    /** http or https as the client used it (from a trusted proxy's X-Forwarded-Proto when there is one). */
    String scheme = "http";
    /** The direct peer's address, and whether it is a trusted proxy. */
    String peer;
    /** The connection's Forwarded values built last (null: built for this exchange alone). */
    ForwardedHeaders.Memo forwardedMemo;
    boolean trustedPeer;
    /** What a trusted proxy in front said about the client ({@link ForwardedHeaders.Chain#NONE} otherwise). */
    ForwardedHeaders.Chain forwarded = ForwardedHeaders.Chain.NONE;
    /** Request body bytes read and forwarded (or handed to the hub): the length the edge decided, as logged. */
    long requestBytes;
    /** Strict-Transport-Security value for this exchange (TLS listeners with HSTS on), or null. */
    String hsts;
    int status;
    String reason;
    long bytesOut;
    long upstreamNanos = -1;
    String upstream;
    /** An Engine.IO polling handshake sent to one of several upstreams: the sid of its answer is learned here. */
    dev.crossgate.server.proxy.SessionAffinity learnSid;
    dev.crossgate.server.proxy.Upstream learnUpstream;
    boolean responseStarted;
    boolean closeAfter;
    /** Close only after discarding the unread request body for a while (lingering close). */
    boolean linger;
    /** The verified token of an authenticated request, or null. */
    dev.crossgate.server.auth.Authenticator.Outcome auth;
    /** The configuration this exchange began with (edge exchanges; null on the admin listener): a reload does not change it mid-way. */
    EdgeServer.Live live;
    /** Further headers of a locally generated answer, as name, value pairs (Sec-WebSocket-Version on a 426), or null. */
    String[] extraHeaders;

    Exchange(String requestId, HttpMethod method, String path, String host, String origin, String clientAddress, boolean keepAlive) {
        this.requestId = requestId;
        this.startNanos = System.nanoTime();
        this.method = method;
        this.path = path;
        this.host = host;
        this.origin = origin;
        this.clientAddress = clientAddress;
        this.keepAlive = keepAlive;
    }

    public String requestId() {
        return requestId;
    }

    public CorsDecision cors() {
        return cors;
    }
}
