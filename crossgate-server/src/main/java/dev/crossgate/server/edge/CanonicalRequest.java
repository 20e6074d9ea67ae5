package dev.crossgate.server.edge;

import dev.crossgate.cors.Origin;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import java.util.List;
import java.util.Locale;

/**
 * The one parsed form of a request head, decided once before any rule runs: the framing of its body, the
 * request target turned into origin-form with its path normalised, and the authority the request is for.
 * Every later stage (routes, {@code auth.paths}, {@code websocket.paths}, the realtime path, CORS, limits)
 * reads this form, and the head is rewritten in place to it ({@link #parse}), so that the upstream receives
 * exactly what the rules judged.
 *
 * <p>Decisions, in the order they are taken (the first refusal wins):
 * <ol>
 * <li>the decoder's verdict (Netty's strict HTTP/1.1 decoder: Content-Length with Transfer-Encoding, Transfer-Encoding
 *     on HTTP/1.0, lengths that are not digits, junk in chunk lines, bare LF, CR or NUL in values);</li>
 * <li>framing (RFC 9112 §6): exactly {@code chunked}, or one Content-Length, or no body;</li>
 * <li>the request target (RFC 9112 §3.2) and its path (RFC 3986 §6.2.2, §5.2.4), see {@link #normalizePath};</li>
 * <li>the Host (RFC 9112 §3.2): exactly one, well-formed; an absolute-form authority replaces it.</li>
 * </ol>
 */
final class CanonicalRequest {
    /** How the body is delimited, as the edge decided it and as it writes it upstream. */
    enum Framing { NONE, LENGTH, CHUNKED }

    /** The refusal, or null when the request may go on. */
    final Reason refusal;
    /** Why, for the answer's body (null: the reason's own message). */
    final String detail;
    final Framing framing;
    /** The Content-Length when {@link Framing#LENGTH}. */
    final long contentLength;
    /** The normalised path (what every rule matches, and what is forwarded); the raw path when refused. */
    final String path;
    /** {@code OPTIONS *}: answered by the edge itself. */
    final boolean asterisk;
    /** The authority as the client gave it (Host, or the absolute-form authority), or null. */
    final String authority;
    /** The authority split: {host (lower-case, IPv6 in brackets), port ("" when absent)}, or null. */
    final String[] hostPort;

    private CanonicalRequest(Reason refusal, String detail, Framing framing, long contentLength, String path, boolean asterisk,
                             String authority, String[] hostPort) {
        this.refusal = refusal;
        this.detail = detail;
        this.framing = framing;
        this.contentLength = contentLength;
        this.path = path;
        this.asterisk = asterisk;
        this.authority = authority;
        this.hostPort = hostPort;
    }

    private static CanonicalRequest refused(Reason r, String detail, String path) {
        return new CanonicalRequest(r, detail, Framing.NONE, 0, path, false, null, null);
    }

    /** A refusal taken after the framing was decided: the body that follows is known (and discarded before closing). */
    private static CanonicalRequest refused(Reason r, String detail, String path, Framing framing, long length) {
        return new CanonicalRequest(r, detail, framing, length, path, false, null, null);
    }

    boolean hasBody() {
        return framing == Framing.CHUNKED || (framing == Framing.LENGTH && contentLength > 0);
    }

    /** Framing refusals leave the connection's byte stream in doubt: it closes after the answer. */
    boolean framingInDoubt() {
        return refusal == Reason.HTTP_MALFORMED || refusal == Reason.URI_TOO_LONG || refusal == Reason.HEADERS_TOO_LARGE
                || refusal == Reason.TRANSFER_CODING_UNSUPPORTED || refusal == Reason.TARGET_INVALID || refusal == Reason.PATH_AMBIGUOUS;
    }

    /**
     * Decides the canonical form of {@code req} and, when it is accepted, rewrites the head in place: the
     * target becomes origin-form with the normalised path, and an absolute-form authority becomes the Host.
     * {@code hostCache} keeps the last Host parsed on this connection (a connection nearly always sends the same).
     */
    static CanonicalRequest parse(HttpRequest req, String[] hostCache) {
        String uri = req.uri();
        String rawPath = rawPath(uri);
        // 1. The decoder's verdict: the framing is in doubt.
        if (req.decoderResult().isFailure()) {
            Throwable cause = req.decoderResult().cause();
            Reason r = cause instanceof TooLongHttpLineException ? Reason.URI_TOO_LONG
                    : cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException ? Reason.HEADERS_TOO_LARGE
                    : Reason.HTTP_MALFORMED;
            return refused(r, null, rawPath);
        }
        HttpHeaders h = req.headers();
        // 2. Framing, RFC 9112 §6.1 and §6.3. The decoder already refused Content-Length beside Transfer-Encoding,
        // Transfer-Encoding on HTTP/1.0, lengths that are not one run of digits, and chunked that is not final.
        Framing framing = Framing.NONE;
        long length = 0;
        List<String> te = h.getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!te.isEmpty()) {
            int codings = 0;
            int chunked = 0;
            String last = null;
            for (String line : te) {
                for (String c : line.split(",", -1)) {
                    String coding = c.trim().toLowerCase(Locale.ROOT);
                    if (coding.isEmpty()) {
                        continue; // empty list elements do not count (RFC 9110 §5.6.1)
                    }
                    codings++;
                    last = coding;
                    if (coding.equals("chunked")) {
                        chunked++;
                    }
                }
            }
            if (!"chunked".equals(last) || chunked != 1) {
                // §6.3 rule 4: chunked not final (or applied twice, §7.1): the length cannot be determined.
                return refused(Reason.HTTP_MALFORMED, "Transfer-Encoding must end in chunked, applied once (RFC 9112 section 6.3)", rawPath);
            }
            if (codings > 1) {
                // §6.1: a transfer coding the server does not understand is 501.
                return refused(Reason.TRANSFER_CODING_UNSUPPORTED, null, rawPath);
            }
            framing = Framing.CHUNKED;
        } else if (h.contains(HttpHeaderNames.CONTENT_LENGTH)) {
            framing = Framing.LENGTH;
            length = HttpUtil.getContentLength(req, -1L); // one run of digits: the decoder refused anything else
            if (length < 0) {
                return refused(Reason.HTTP_MALFORMED, "Content-Length is not a length", rawPath);
            }
        }
        // 3. The request target, RFC 9112 §3.2.
        String authority = null;
        boolean asterisk = false;
        String target = uri;
        if (req.method().equals(HttpMethod.CONNECT)) {
            return refused(Reason.TARGET_INVALID, "CONNECT (authority-form, RFC 9112 section 3.2.3) is not served here", rawPath, framing, length);
        }
        if (uri.equals("*")) {
            if (!req.method().equals(HttpMethod.OPTIONS)) {
                return refused(Reason.TARGET_INVALID, "the asterisk-form target is only for OPTIONS (RFC 9112 section 3.2.4)", "*", framing, length);
            }
            asterisk = true;
            target = null;
        } else if (!uri.startsWith("/")) {
            // absolute-form (§3.2.2): scheme "://" authority path-abempty [ "?" query ]
            int colon = uri.indexOf("://");
            String scheme = colon < 0 ? "" : uri.substring(0, colon).toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https")) {
                return refused(Reason.TARGET_INVALID, "the request target is neither origin-form (/path) nor an http(s) absolute URI", rawPath, framing, length);
            }
            int start = colon + 3;
            int end = start;
            while (end < uri.length() && uri.charAt(end) != '/' && uri.charAt(end) != '?' && uri.charAt(end) != '#') {
                end++;
            }
            authority = uri.substring(start, end);
            if (authority.isEmpty() || authority.indexOf('@') >= 0) {
                return refused(Reason.TARGET_INVALID, "the absolute-form target has no authority, or has userinfo (RFC 9110 section 4.2.4)", rawPath, framing, length);
            }
            String rest = uri.substring(end);
            target = rest.isEmpty() || rest.charAt(0) != '/' ? "/" + rest : rest;
        }
        String path = "*";
        if (!asterisk) {
            int q = target.indexOf('?');
            String p = q < 0 ? target : target.substring(0, q);
            String query = q < 0 ? null : target.substring(q + 1);
            String[] verdict = new String[1];
            path = normalizePath(p, verdict);
            if (path == null) {
                return refused(verdict[0] == null ? Reason.TARGET_INVALID : Reason.PATH_AMBIGUOUS,
                        verdict[0] == null ? "the request target has a character or escape that is not allowed" : verdict[0], rawPath, framing, length);
            }
            if (query != null && !validQuery(query)) {
                return refused(Reason.TARGET_INVALID, "the query has a character that is not allowed", path, framing, length);
            }
            String canonical = query == null ? path : path + "?" + query;
            if (!canonical.equals(uri)) {
                req.setUri(canonical);
            }
        }
        // 4. Host: exactly one, well-formed. An absolute-form authority wins and the Host header is rewritten to it,
        // so that the upstream and every rule see the same authority (§3.2.2).
        List<String> hosts = h.getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1) {
            return refused(Reason.HOST_DUPLICATE, null, path, framing, length);
        }
        if (authority == null) {
            if (hosts.isEmpty()) {
                return refused(Reason.HOST_MISSING, null, path, framing, length);
            }
            authority = hosts.get(0);
        }
        String[] hostPort;
        if (hostCache != null && authority.equals(hostCache[0])) {
            hostPort = new String[] {hostCache[1], hostCache[2]};
        } else {
            hostPort = splitHost(authority);
            if (hostPort == null) {
                return refused(Reason.HOST_INVALID, null, path, framing, length);
            }
            if (hostCache != null) {
                hostCache[0] = authority;
                hostCache[1] = hostPort[0];
                hostCache[2] = hostPort[1];
            }
        }
        if (hosts.isEmpty() || !hosts.get(0).equals(authority)) {
            h.set(HttpHeaderNames.HOST, authority);
        }
        return new CanonicalRequest(null, null, framing, length, path, asterisk, authority, hostPort);
    }

    /** The path of a target as the client sent it (for the log of a refused request). */
    private static String rawPath(String uri) {
        int q = uri.indexOf('?');
        String p = q < 0 ? uri : uri.substring(0, q);
        return p.length() > 2048 ? p.substring(0, 2048) : p;
    }

    /**
     * The path as every rule matches it and as the upstream receives it, or null when it is refused; then
     * {@code why[0]} holds the reason when the path is ambiguous (null: invalid).
     * <ul>
     * <li>Ambiguous, refused (as Envoy's {@code path_with_escaped_slashes_action: REJECT_REQUEST} and Spring's
     *     StrictHttpFirewall): {@code \}, {@code ;} (path parameters, which servlet containers strip before routing),
     *     {@code %2F}, {@code %5C} and {@code %25} (an escaped slash or backslash, or a second round of decoding, can turn
     *     a path no rule matched into a protected one behind the edge).</li>
     * <li>Invalid, refused: characters outside visible ASCII, {@code #}, a malformed escape, an escaped control.</li>
     * <li>Normalised (RFC 3986 §6.2.2): escaped unreserved characters decoded, other escapes in upper case; runs of
     *     {@code /} merged; dot segments removed (§5.2.4), after decoding, so {@code %2e%2e} is {@code ..}.</li>
     * </ul>
     */
    static String normalizePath(String p, String[] why) {
        if (p.isEmpty() || p.charAt(0) != '/') {
            return null;
        }
        StringBuilder b = null; // created only when the path changes
        int n = p.length();
        for (int i = 0; i < n; i++) {
            char c = p.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '#') {
                return null;
            }
            if (c == '\\' || c == ';') {
                why[0] = "the path has '" + c + "', which servers behind the edge may read differently";
                return null;
            }
            if (c == '%') {
                if (i + 2 >= n || hex(p.charAt(i + 1)) < 0 || hex(p.charAt(i + 2)) < 0) {
                    return null;
                }
                int v = hex(p.charAt(i + 1)) * 16 + hex(p.charAt(i + 2));
                if (v < 0x20 || v == 0x7f) {
                    return null;
                }
                if (v == '/' || v == '\\' || v == '%') {
                    why[0] = "the path has an escaped '" + (char) v + "', which servers behind the edge may read differently";
                    return null;
                }
                if (b == null) {
                    b = new StringBuilder(n).append(p, 0, i);
                }
                if (unreserved(v)) {
                    b.append((char) v);
                } else {
                    b.append('%').append(Character.toUpperCase(p.charAt(i + 1))).append(Character.toUpperCase(p.charAt(i + 2)));
                }
                i += 2;
                continue;
            }
            if (c == '/' && i > 0 && p.charAt(i - 1) == '/') {
                if (b == null) {
                    b = new StringBuilder(n).append(p, 0, i);
                }
                continue; // merged
            }
            if (b != null) {
                if (c == '/' && b.charAt(b.length() - 1) == '/') {
                    continue;
                }
                b.append(c);
            }
        }
        String s = b == null ? p : b.toString();
        return s.indexOf("/.") < 0 ? s : removeDotSegments(s);
    }

    /** RFC 3986 §5.2.4 on a path that starts with '/' and has no empty segments. */
    private static String removeDotSegments(String s) {
        String[] segments = s.substring(1).split("/", -1);
        java.util.ArrayDeque<String> out = new java.util.ArrayDeque<>();
        boolean trailingSlash = false;
        for (int i = 0; i < segments.length; i++) {
            String seg = segments[i];
            boolean last = i == segments.length - 1;
            if (seg.equals(".")) {
                trailingSlash = last;
            } else if (seg.equals("..")) {
                out.pollLast();
                trailingSlash = last;
            } else {
                out.addLast(seg);
                trailingSlash = false;
            }
        }
        StringBuilder r = new StringBuilder(s.length());
        for (String seg : out) {
            r.append('/').append(seg);
        }
        if (trailingSlash || r.length() == 0) {
            r.append('/');
        }
        return r.toString();
    }

    private static boolean validQuery(String q) {
        for (int i = 0; i < q.length(); i++) {
            char c = q.charAt(i);
            if (c <= 0x20 || c >= 0x7f || c == '#') {
                return false;
            }
        }
        return true;
    }

    private static boolean unreserved(int c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    }

    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
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
}
