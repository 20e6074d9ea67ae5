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
 */
public record EngineOptions(String path, Duration pingInterval, Duration pingTimeout, int maxPayload, Duration upgradeTimeout,
                            CorsPolicy cors, AllowRequest allowRequest, String cookie) {

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
        if (maxPayload < 1) {
            throw new IllegalArgumentException("maxPayload must be at least 1 byte");
        }
    }

    public static EngineOptions defaults(String path) {
        return new EngineOptions(path, Duration.ofSeconds(25), Duration.ofSeconds(20), 1_000_000, Duration.ofSeconds(10), null, null, null);
    }

    public EngineOptions withPing(Duration interval, Duration timeout) {
        return new EngineOptions(path, interval, timeout, maxPayload, upgradeTimeout, cors, allowRequest, cookie);
    }

    public EngineOptions withMaxPayload(int bytes) {
        return new EngineOptions(path, pingInterval, pingTimeout, bytes, upgradeTimeout, cors, allowRequest, cookie);
    }

    public EngineOptions withCors(CorsPolicy policy) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, policy, allowRequest, cookie);
    }

    public EngineOptions withAllowRequest(AllowRequest hook) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, cors, hook, cookie);
    }

    public EngineOptions withCookie(String name) {
        return new EngineOptions(path, pingInterval, pingTimeout, maxPayload, upgradeTimeout, cors, allowRequest, name);
    }
}
