package dev.crossgate.server.edge;

/**
 * The reason codes of refusals and failures produced by the edge itself. Each appears in the
 * {@code X-Crossgate-Reason} header, the JSON error body, the access log and the metrics. CORS refusals
 * use the codes of {@link dev.crossgate.cors.CorsReason}.
 */
public enum Reason {
    HTTP_MALFORMED("http.malformed", 400, "the request is not valid HTTP/1.1"),
    TARGET_INVALID("http.target_invalid", 400, "the request target is not a valid origin-form or http(s) absolute-form target"),
    PATH_AMBIGUOUS("http.path_ambiguous", 400, "the path has a spelling that servers behind the edge may read differently (\\, ;, %2F, %5C or %25)"),
    INTERNAL_ERROR("server.error", 500, "the server failed while handling the request"),
    HOST_MISSING("host.missing", 400, "the request has no Host header"),
    HOST_DUPLICATE("host.duplicate", 400, "the request has more than one Host header"),
    HOST_INVALID("host.invalid", 400, "the Host header is not a valid host"),
    HOST_NOT_ALLOWED("host.not_allowed", 421, "this server does not serve that host"),
    REQUEST_HEAD_TIMEOUT("http.request_timeout", 408, "the request head did not arrive in time"),
    URI_TOO_LONG("http.uri_too_long", 414, "the request line is too long"),
    HEADERS_TOO_LARGE("http.headers_too_large", 431, "the request headers are too large"),
    BODY_TOO_LARGE("http.body_too_large", 413, "the request body is too large"),
    TRANSFER_CODING_UNSUPPORTED("http.transfer_coding_unsupported", 501, "the request uses a transfer coding this server does not support"),
    NOT_FOUND("http.not_found", 404, "nothing is served at this path"),
    UPSTREAM_CONNECT_FAILED("upstream.connect_failed", 502, "the upstream server could not be reached"),
    UPSTREAM_RESET("upstream.reset", 502, "the upstream server closed the connection without a complete answer"),
    UPSTREAM_MALFORMED("upstream.malformed", 502, "the upstream server sent an invalid response"),
    UPSTREAM_TIMEOUT("upstream.timeout", 504, "the upstream server did not answer in time"),
    UPSTREAM_UNHEALTHY("upstream.unhealthy", 503, "no healthy upstream server is available"),
    DRAINING("server.draining", 503, "the server is shutting down"),
    WS_HANDSHAKE_INVALID("ws.handshake_invalid", 400, "the WebSocket handshake is not valid (GET over HTTP/1.1 with Connection: upgrade and one Sec-WebSocket-Key)"),
    WS_VERSION_UNSUPPORTED("ws.version_unsupported", 426, "only WebSocket version 13 is supported"),
    WS_BODY_NOT_ALLOWED("ws.body_not_allowed", 400, "a WebSocket handshake must not carry a body"),
    WS_ORIGIN_REJECTED("ws.origin_rejected", 403, "this origin may not open a WebSocket here"),
    WS_ORIGIN_MISSING("ws.origin_missing", 403, "a WebSocket handshake without an Origin header is refused here (websocket.missingOrigin: allow admits it)"),
    AUTH_MISSING("auth.missing", 401, "a token is required here"),
    AUTH_INVALID("auth.invalid", 401, "the token is not valid"),
    AUTH_EXPIRED("auth.expired", 401, "the token has expired"),
    UPSTREAM_WS_HANDSHAKE_INVALID("upstream.ws_handshake_invalid", 502, "the upstream server did not complete the WebSocket handshake correctly");

    private final String code;
    private final int status;
    private final String message;

    Reason(String code, int status, String message) {
        this.code = code;
        this.status = status;
        this.message = message;
    }

    public String code() {
        return code;
    }

    public int status() {
        return status;
    }

    /** A sentence for people, safe to show to any client (it names no internals). */
    public String message() {
        return message;
    }
}
