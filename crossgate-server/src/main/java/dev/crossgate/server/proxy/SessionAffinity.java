package dev.crossgate.server.proxy;

import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Engine.IO session affinity for a route with several upstreams (issue 12): each session stays on the upstream that
 * created it. An Engine.IO session is one {@code sid} that the upstream chose and that the client repeats on every
 * later request of the session (polling GETs and POSTs, the WebSocket upgrade) in the query
 * (Engine.IO protocol v4, "Transports" and "Upgrade"); a request of a session sent to another upstream is answered
 * {@code 400 {"code":1,"message":"Session ID unknown"}}. Plain round-robin therefore breaks every polling session.
 *
 * <p>The table learns a sid only from an upstream's answer to a handshake (the open packet {@code 0{"sid":"..."}}
 * that starts a polling handshake's body), so a client cannot fill it with sids of its own; it is bounded in count
 * ({@link #MAX_SESSIONS}, oldest-idle swept first) and in time (an entry idle for {@link #IDLE_NANOS} goes: a session
 * whose client stopped polling for longer than a ping interval plus timeout is gone on the upstream too). No cookie
 * is needed, so native clients, which keep none, are routed as browsers are.
 */
public final class SessionAffinity {
    /** Sessions remembered per route; beyond it, the entries idle the longest are forgotten first. */
    public static final int MAX_SESSIONS = 200_000;
    /** An entry not used for this long is forgotten (the reference server's pingInterval + pingTimeout is 45 s). */
    static final long IDLE_NANOS = TimeUnit.SECONDS.toNanos(120);

    private static final class Binding {
        final Upstream upstream;
        volatile long seenNanos;

        Binding(Upstream upstream, long now) {
            this.upstream = upstream;
            this.seenNanos = now;
        }
    }

    /**
     * The cookie that names a session's upstream to browsers, the second key: a request of a session this edge did not
     * learn (another Crossgate node in front of the same upstreams learned it, or this table forgot it) that carries the
     * cookie goes to that upstream. Its value is a digest of the upstream's address, never the address.
     */
    public static final String COOKIE = "crossgate_eio_upstream";

    private final Map<String, Binding> sessions = new ConcurrentHashMap<>();
    private final int max;
    private final Upstream[] upstreams;
    private final String[] tokens;

    public SessionAffinity(Upstream[] upstreams) {
        this(MAX_SESSIONS, upstreams);
    }

    SessionAffinity(int max) {
        this(max, new Upstream[0]);
    }

    SessionAffinity(int max, Upstream[] upstreams) {
        this.max = max;
        this.upstreams = upstreams;
        this.tokens = new String[upstreams.length];
        for (int i = 0; i < upstreams.length; i++) {
            tokens[i] = token(upstreams[i].pool().authority());
        }
    }

    /** The cookie value for {@code authority}: 12 hex digits of its SHA-256 (the same on every node with the same upstreams). */
    static String token(String authority) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(authority.getBytes(StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e); // every JDK has SHA-256
        }
    }

    /** The {@code Set-Cookie} value for a handshake answered by {@code upstream}. */
    public String cookieFor(Upstream upstream) {
        for (int i = 0; i < upstreams.length; i++) {
            if (upstreams[i] == upstream) {
                return COOKIE + "=" + tokens[i] + "; Path=/; HttpOnly; SameSite=Lax";
            }
        }
        return null;
    }

    /**
     * The route for a session this table does not know, by the cookie's token: Bound to that upstream, Gone when it is
     * out of rotation, Unknown when no cookie (or no upstream of this route) matches.
     */
    public Route routeByCookie(String cookieHeader) {
        if (cookieHeader == null || !cookieHeader.contains(COOKIE)) {
            return UNKNOWN;
        }
        for (io.netty.handler.codec.http.cookie.Cookie c : io.netty.handler.codec.http.cookie.ServerCookieDecoder.LAX.decode(cookieHeader)) {
            if (c.name().equals(COOKIE)) {
                for (int i = 0; i < tokens.length; i++) {
                    if (tokens[i].equals(c.value())) {
                        return upstreams[i].available() ? new Bound(upstreams[i]) : new Gone(upstreams[i]);
                    }
                }
            }
        }
        return UNKNOWN;
    }

    /** What a request of session {@code sid} is routed to. */
    public sealed interface Route permits Bound, Gone, Unknown {}

    /** The upstream that created the session. */
    public record Bound(Upstream upstream) implements Route {}

    /** The upstream that created the session is out of rotation: the session is told it is unknown, and reconnects. */
    public record Gone(Upstream upstream) implements Route {}

    /** A sid this edge never learned (another node's, expired, or made up): routed like any request. */
    public record Unknown() implements Route {}

    private static final Unknown UNKNOWN = new Unknown();

    public Route route(String sid) {
        Binding b = sid == null ? null : sessions.get(sid);
        if (b == null) {
            return UNKNOWN;
        }
        long now = System.nanoTime();
        if (now - b.seenNanos > IDLE_NANOS) {
            sessions.remove(sid, b);
            return UNKNOWN;
        }
        if (!b.upstream.available()) {
            // Ejected by passive health or failing its health check: its sessions cannot go on elsewhere.
            sessions.remove(sid, b);
            return new Gone(b.upstream);
        }
        b.seenNanos = now;
        return new Bound(b.upstream);
    }

    /** Remembers that {@code upstream} created session {@code sid}. */
    public void learn(String sid, Upstream upstream) {
        long now = System.nanoTime();
        if (sessions.size() >= max) {
            sweep(now);
        }
        sessions.put(sid, new Binding(upstream, now));
    }

    /** Forgets expired entries; when none has expired and the table is full, the oldest-idle tenth. */
    private void sweep(long now) {
        sessions.values().removeIf(b -> now - b.seenNanos > IDLE_NANOS);
        if (sessions.size() < max) {
            return;
        }
        long cutoff = sessions.values().stream().mapToLong(b -> now - b.seenNanos).sorted().skip(Math.max(0, sessions.size() - max / 10 - 1))
                .findFirst().orElse(0);
        for (Iterator<Binding> it = sessions.values().iterator(); it.hasNext() && sessions.size() >= max; ) {
            if (now - it.next().seenNanos >= cutoff) {
                it.remove();
            }
        }
    }

    public int size() {
        return sessions.size();
    }

    /**
     * The sid of an Engine.IO v4 open packet at the start of a polling handshake's body, {@code 0{"sid":"..."...}}
     * (the server's first packet, "Handshake" in the protocol), or null. Only the first bytes are read; a sid is
     * Engine.IO's base64id (20 characters) in practice, and at most 128 URL-safe characters are accepted.
     */
    public static String openPacketSid(io.netty.buffer.ByteBuf body) {
        int n = Math.min(body.readableBytes(), 512);
        String head = body.toString(body.readerIndex(), n, StandardCharsets.ISO_8859_1);
        if (!head.startsWith("0{")) {
            return null;
        }
        int at = head.indexOf("\"sid\":\"");
        if (at < 0) {
            return null;
        }
        int start = at + 7;
        int end = head.indexOf('"', start);
        if (end <= start || end - start > 128) {
            return null;
        }
        String sid = head.substring(start, end);
        for (int i = 0; i < sid.length(); i++) {
            char c = sid.charAt(i);
            if (!(Character.isLetterOrDigit(c) && c < 128) && c != '-' && c != '_') {
                return null;
            }
        }
        return sid;
    }
}
