package dev.crossgate.realtime.engine;

import dev.crossgate.cors.CorsPolicy;
import java.time.Duration;

/**
 * Settings of an Engine.IO server. Defaults are those of the reference server: ping every 25 s, 20 s to
 * answer, 1,000,000 bytes per payload and per HTTP body.
 *
 * @param path              the request path, with a trailing slash (Socket.IO uses {@code /socket.io/})
 * @param pingInterval      how often the server pings a session
 * @param pingTimeout       how long a session has to answer a ping before it is closed
 * @param maxPayload        the largest payload a client may send, announced in the handshake
 * @param upgradeTimeout    how long an upgrade from polling to WebSocket may take
 * @param cors              the cross-origin policy of the handshake and polling responses and of the
 *                          WebSocket Origin check; null for none (every origin, no CORS headers)
 * @param allowRequest      decides whether a handshake is accepted (403 "Forbidden" otherwise); null allows all
 * @param cookie            the name of a sticky-session cookie set on the handshake, or null for none
 * @param maxBuffered       bytes that may wait for one slow client (unsent on its WebSocket, or queued for its next
 *                          poll); beyond, the session ends with "transport error" instead of growing the server's memory
 */
public record EngineOptions(String path, Duration pingInterval, Duration pingTimeout, int maxPayload, Duration upgradeTimeout,
                            CorsPolicy cors, AllowRequest allowRequest, String cookie, long maxBuffered) {

    /** Decides whether a handshake is accepted: return null to accept, or a message to refuse with. */
    @FunctionalInterface
    public interface AllowRequest {
        String check(io.netty.handler.codec.http.HttpRequest handshake, String remoteAddress);
    }

    public EngineOptions {
        if (!path.startsWith("/") || !path.endsWith("/")) {
            throw new IllegalArgumentException("path " + path + ": it must start and end with /, such as /engine.io/");
        }
        if (pingInterval.isNegative() || pingInterval.isZero() || pingTimeout.isNegative() || pingTimeout.isZero()) {
            throw new IllegalArgumentException("pingInterval and pingTimeout must be more than 0");
        }
        if (maxBuffered < maxPayload) {
            throw new IllegalArgumentException("maxBuffered (" + maxBuffered + ") must be at least maxPayload (" + maxPayload + ")");
        }
        if (maxPayload < 1) {
            throw new IllegalArgumentException("maxPayload must be at least 1 byte");
        }
    }

    /** 16 MiB: sixteen full payloads waiting for one client. */
    public static final long DEFAULT_MAX_BUFFERED = 16L << 20;

    public static EngineOptions defaults(String path) {
        return new EngineOptions(path, Duration.ofSeconds(25), Duration.ofSeconds(20), 1_000_000, Duration.ofSeconds(10), null, null, null, DEFAULT_MAX_BUFFERED);
    }

    public EngineOptions withPing(Duration interval, Duration timeout) {
        return new EngineOptions(path, interval, timeout, maxPayload, upgradeTimeout, cors, allowRequest, cookie, maxBuffered);
    }

    public EngineOptions withMaxPayload(int bytes) {
        return new EngineOptions(path, pingInterval, pingTimeout, bytes, upgradeTimeout, cors, allowRequest, cookie, Math.max(maxBuffered, bytes));
    }

    public EngineOptions withCors(CorsPolicy policy) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, policy, allowRequest, cookie, maxBuffered);
    }

    public EngineOptions withAllowRequest(AllowRequest hook) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, cors, hook, cookie, maxBuffered);
    }

    public EngineOptions withMaxBuffered(long bytes) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, cors, allowRequest, cookie, bytes);
    }

    public EngineOptions withCookie(String name) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, cors, allowRequest, name, maxBuffered);
    }
}
