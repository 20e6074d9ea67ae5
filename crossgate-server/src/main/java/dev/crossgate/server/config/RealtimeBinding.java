package dev.crossgate.server.config;

import dev.crossgate.server.config.Binder.Section;
import dev.crossgate.server.config.Binder.Sourced;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Binds and validates the {@code realtime} section: hosted mode, where {@code crossgate serve} answers the
 * Socket.IO path itself and the backend takes part through HTTP hooks and the publish API.
 */
final class RealtimeBinding {
    private RealtimeBinding() {}

    static CrossgateConfig.Realtime bind(Binder b, Section top, Section rt, Profile profile, Source def, CrossgateConfig.Auth auth,
                                         CrossgateConfig.WebSocket webSocket, boolean adminEnabled) {
        b.declare(rt, "enabled", "path", "namespaces", "pingInterval", "pingTimeout", "maxPayload", "maxBuffered", "connectTimeout", "stickyCookie",
                "recovery", "token", "hooks", "publish", "redis");
        // The section's presence in the file turns hosted mode on; enabled: false keeps it written but off.
        boolean enabled = rt.bool("enabled", top.has("realtime"), def).value();
        Sourced<String> rawPath = rt.string("path", "/socket.io/", def);
        String path = rawPath.value() == null ? "/socket.io/" : rawPath.value().trim();
        if (!path.startsWith("/") || path.contains("?") || path.contains("#") || path.contains("*")) {
            b.problem("realtime.path", rawPath.source(), path, "realtime.path: \"" + path + "\" is not a request path (expected: it starts with /)",
                    "use the path your Socket.IO clients use, /socket.io/ unless they set the client's path option");
            // The checks below read the path (one of them without its last character): they go on with the default.
            path = "/socket.io/";
        } else if (!path.endsWith("/")) {
            path = path + "/";
        }
        Sourced<List<String>> nsRaw = rt.list("namespaces", List.of("/"), def);
        List<String> namespaces = new ArrayList<>();
        for (int i = 0; i < nsRaw.value().size(); i++) {
            String n = nsRaw.value().get(i);
            String at = "realtime.namespaces[" + i + "]";
            if (n == null) {
                continue;
            }
            if (!n.startsWith("/") || n.contains(",") || n.contains("?")) {
                b.problem(at, b.sourceOf(at), n, at + ": \"" + n + "\" is not a namespace (expected: a name starting with /, * for any characters)",
                        "write a namespace such as /chat, or /rooms-* for every namespace starting with /rooms-");
                continue;
            }
            namespaces.add(n);
        }
        Sourced<Duration> ping = ConfigLoader.positive(b, rt.duration("pingInterval", Duration.ofSeconds(25), def), "realtime.pingInterval", "25s");
        Sourced<Duration> pingTimeout = ConfigLoader.positive(b, rt.duration("pingTimeout", Duration.ofSeconds(20), def), "realtime.pingTimeout", "20s");
        Sourced<Long> payload = rt.size("maxPayload", 1_000_000L, def);
        if (payload.value() < 1024 || payload.value() > 100_000_000L) {
            b.problem("realtime.maxPayload", payload.source(), payload.value().toString(),
                    "realtime.maxPayload: " + payload.value() + " bytes (expected: from 1KB to 100MB)",
                    "use 1MB (the Socket.IO server's default maxHttpBufferSize)");
        }
        Sourced<Long> buffered = rt.size("maxBuffered", 16L << 20, def);
        if (buffered.value() < payload.value()) {
            b.problem("realtime.maxBuffered", buffered.source(), buffered.value().toString(), "realtime.maxBuffered (" + buffered.value()
                    + " bytes) is smaller than realtime.maxPayload (" + payload.value() + " bytes): one packet could cut a client off",
                    "use 16MB (sixteen payloads waiting for one slow client)");
        }
        Sourced<Duration> connectTimeout = ConfigLoader.positive(b, rt.duration("connectTimeout", Duration.ofSeconds(45), def), "realtime.connectTimeout", "45s");
        Sourced<String> cookie = rt.string("stickyCookie", null, def);
        if (cookie.value() != null && !cookie.value().matches("[A-Za-z0-9_.-]{1,64}")) {
            b.problem("realtime.stickyCookie", cookie.source(), cookie.value(),
                    "realtime.stickyCookie: \"" + cookie.value() + "\" is not a cookie name (expected: letters, digits, _ . -)",
                    "use io (the name load balancers are usually configured with), or remove it");
        }
        Sourced<Duration> recovery = rt.duration("recovery", Duration.ZERO, def);
        Sourced<String> tokenRaw = rt.string("token", "off", def);
        CrossgateConfig.TokenMode token = CrossgateConfig.TokenMode.OFF;
        try {
            token = CrossgateConfig.TokenMode.valueOf(tokenRaw.value().trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            b.problem("realtime.token", tokenRaw.source(), tokenRaw.value(),
                    "realtime.token: \"" + tokenRaw.value() + "\" (expected: off, optional or required)",
                    "use required (every connection presents a JWT in the CONNECT auth payload or on the handshake), optional, or off");
        }
        if (enabled && token != CrossgateConfig.TokenMode.OFF && !auth.jwt().configured()) {
            b.problem("realtime.token", tokenRaw.source(), tokenRaw.value(),
                    "realtime.token is " + token.id() + " but no key verifies tokens",
                    "set auth.jwt.secret (CROSSGATE_JWT_SECRET), auth.jwt.publicKey or auth.jwt.jwksUrl");
        }

        Section h = rt.section("hooks");
        b.declare(h, "connect", "event", "disconnect", "events", "timeout", "maxConcurrent", "maxQueued", "secret");
        URI connect = hookUrl(b, h.string("connect", null, def), "realtime.hooks.connect");
        URI event = hookUrl(b, h.string("event", null, def), "realtime.hooks.event");
        URI disconnect = hookUrl(b, h.string("disconnect", null, def), "realtime.hooks.disconnect");
        Sourced<List<String>> events = h.list("events", List.of("*"), def);
        Sourced<Duration> timeout = ConfigLoader.positive(b, h.duration("timeout", Duration.ofSeconds(5), def), "realtime.hooks.timeout", "5s");
        int maxConcurrent = atLeast(b, h.integer("maxConcurrent", 64, def), 1, "realtime.hooks.maxConcurrent");
        int maxQueued = atLeast(b, h.integer("maxQueued", 1024, def), 0, "realtime.hooks.maxQueued");
        Sourced<String> hookSecret = h.string("secret", null, def);
        b.settings().remove(b.settings().size() - 1); // recorded below without its value
        if (hookSecret.value() != null && !hookSecret.value().matches("[\\x21-\\x7e]+")) {
            b.problem("realtime.hooks.secret", hookSecret.source(), "(not shown)", "realtime.hooks.secret has spaces, line breaks or"
                    + " other characters a header value cannot carry (a trailing newline from a secrets file is common)",
                    "trim it: printable ASCII only");
        }
        b.record("realtime.hooks.secret", hookSecret.value() == null ? "(none)" : "(set, " + hookSecret.value().getBytes(StandardCharsets.UTF_8).length
                + " bytes, not shown)", hookSecret.source());

        Section p = rt.section("publish");
        b.declare(p, "token");
        Sourced<String> publishToken = p.string("token", null, def);
        b.settings().remove(b.settings().size() - 1); // recorded below without its value
        b.record("realtime.publish.token", publishToken.value() == null ? "(none: the publish API is off)"
                : "(set, " + publishToken.value().length() + " characters, not shown)", publishToken.source());
        if (publishToken.value() != null && publishToken.value().length() < 24) {
            b.problem("realtime.publish.token", publishToken.source(), "(not shown)",
                    "realtime.publish.token is " + publishToken.value().length() + " characters; whoever holds it can emit to every client",
                    "generate one of at least 24 characters: openssl rand -base64 32");
        }
        if (enabled && publishToken.value() != null && !adminEnabled) {
            b.problem("realtime.publish.token", publishToken.source(), "(not shown)",
                    "realtime.publish.token is set but the admin listener, which serves the publish API, is off",
                    "set admin.enabled: true (and admin.listen to an address your backend reaches)");
        }
        CrossgateConfig.RealtimeRedis redis = bindRedis(b, rt.section("redis"), def);
        if (enabled && profile == Profile.PROD && token == CrossgateConfig.TokenMode.OFF && connect == null) {
            b.warn("realtime.token", tokenRaw.source(), tokenRaw.value(),
                    "realtime: any page on an allowed origin (and any native client) can connect: neither a token nor a connect hook is required",
                    "set realtime.token: required, or realtime.hooks.connect to let your backend decide");
        }
        if (enabled && (webSocket.covers(path) || webSocket.covers(path.substring(0, path.length() - 1)))) {
            b.warn("websocket.paths", b.sourceOf("websocket.paths"), String.join(", ", webSocket.paths()),
                    "websocket.paths covers " + path + ", which hosted mode answers itself: those upgrades never reach the upstream",
                    "remove " + path + " from websocket.paths, or turn realtime off to proxy Socket.IO to your own server");
        }
        if (enabled && auth.requiredFor(path)) {
            b.warn("auth.paths", b.sourceOf("auth.paths"), String.join(", ", auth.paths()),
                    "auth.paths covers " + path + ", but Socket.IO requests are checked at CONNECT, by realtime.token, not per request",
                    "set realtime.token: required, and remove " + path + " from auth.paths");
        }
        return new CrossgateConfig.Realtime(enabled, path, List.copyOf(namespaces), ping.value(), pingTimeout.value(),
                (int) Math.max(1024, Math.min(payload.value(), 100_000_000L)), Math.max(buffered.value(), Math.min(payload.value(), 100_000_000L)),
                connectTimeout.value(), cookie.value(),
                recovery.value(), token,
                new CrossgateConfig.Hooks(connect, event, disconnect, events.value().stream().filter(java.util.Objects::nonNull).toList(),
                        timeout.value(), maxConcurrent, maxQueued, hookSecret.value()),
                publishToken.value(), redis);
    }

    /** The Lettuce URI schemes {@code realtime.redis.url} accepts (Lettuce's {@code RedisURI}: plain, TLS, Sentinel). */
    static final List<String> REDIS_SCHEMES = List.of("redis", "rediss", "redis-sentinel");

    /**
     * {@code realtime.redis}: the Redis other nodes share (environment {@code CROSSGATE_REALTIME_REDIS_URL}). The URL is
     * a secret (it may carry a password): it is recorded and reported with its user info replaced, never as written.
     */
    private static CrossgateConfig.RealtimeRedis bindRedis(Binder b, Section r, Source def) {
        b.declare(r, "url", "cluster", "sharded", "key", "requestTimeout");
        Sourced<String> raw = r.string("url", null, def);
        b.settings().remove(b.settings().size() - 1); // recorded below without its password
        String url = raw.value() == null || raw.value().isBlank() ? null : raw.value().trim();
        String shown = CrossgateConfig.RealtimeRedis.redact(url);
        b.record("realtime.redis.url", url == null ? "(none: this node shares nothing through Redis)" : shown, raw.source());
        boolean cluster = r.bool("cluster", false, def).value();
        boolean sharded = r.bool("sharded", false, def).value();
        Sourced<String> key = r.string("key", "socket.io", def);
        Sourced<Duration> timeout = ConfigLoader.positive(b, r.duration("requestTimeout", Duration.ofSeconds(5), def), "realtime.redis.requestTimeout", "5s");
        if (key.value() == null || key.value().isBlank() || !key.value().matches("[\\x21-\\x7e]{1,128}")) {
            b.problem("realtime.redis.key", key.source(), String.valueOf(key.value()),
                    "realtime.redis.key: \"" + key.value() + "\" is not a channel prefix (expected: 1 to 128 printable ASCII characters, no spaces)",
                    "use socket.io (the Node adapter's default key), or the key your Node.js nodes pass to createAdapter");
        }
        if (url == null) {
            return null;
        }
        String problem = redisUrlProblem(url, cluster);
        if (problem != null) {
            b.problem("realtime.redis.url", raw.source(), shown, "realtime.redis.url: \"" + shown + "\" " + problem,
                    "write redis://host:6379 (rediss:// for TLS, redis-sentinel://host:26379#mymaster for Sentinel, "
                            + "redis://host1:6379,host2:6379 with cluster: true for Cluster seed nodes)");
            return null;
        }
        return new CrossgateConfig.RealtimeRedis(url, cluster, sharded, key.value(), timeout.value());
    }

    /** Why Lettuce would not take {@code url}, or null; the reason never repeats the URL (it may hold a password). */
    static String redisUrlProblem(String url, boolean cluster) {
        int colon = url.indexOf("://");
        String scheme = colon <= 0 ? null : url.substring(0, colon).toLowerCase(Locale.ROOT);
        if (scheme == null || !REDIS_SCHEMES.contains(scheme)) {
            return "is not a Redis address (expected: a URL starting with redis://, rediss:// or redis-sentinel://)";
        }
        if (cluster && scheme.equals("redis-sentinel")) {
            return "is a Sentinel address, but cluster is true (expected: redis:// or rediss:// seed nodes with cluster)";
        }
        try {
            if (cluster) {
                // Cluster seeds: the hosts of one URL, comma-separated (Lettuce's RedisClusterURIUtil).
                if (io.lettuce.core.cluster.RedisClusterURIUtil.toRedisURIs(URI.create(url)).isEmpty()) {
                    return "names no host";
                }
            } else {
                io.lettuce.core.RedisURI u = io.lettuce.core.RedisURI.create(url);
                if (scheme.equals("redis-sentinel") ? u.getSentinels().isEmpty() || u.getSentinelMasterId() == null
                        : u.getHost() == null || u.getHost().isEmpty()) {
                    return scheme.equals("redis-sentinel") ? "names no Sentinel host or no master id (expected: redis-sentinel://host:26379#mymaster)"
                            : "names no host";
                }
                if (!scheme.equals("redis-sentinel") && url.indexOf(',', colon) >= 0) {
                    return "names several hosts (expected: one host, or cluster: true for Cluster seed nodes)";
                }
            }
        } catch (RuntimeException e) {
            return "could not be parsed (" + e.getClass().getSimpleName() + ")";
        }
        return null;
    }

    /** A hook address: an absolute http(s) URL, or a path on the default upstream. */
    private static URI hookUrl(Binder b, Sourced<String> raw, String path) {
        if (raw.value() == null || raw.value().isBlank()) {
            return null;
        }
        String v = raw.value().trim();
        try {
            URI u = new URI(v);
            boolean absolute = ("http".equalsIgnoreCase(u.getScheme()) || "https".equalsIgnoreCase(u.getScheme())) && u.getHost() != null;
            boolean relative = u.getScheme() == null && u.getHost() == null && v.startsWith("/");
            if (absolute || relative) {
                return u;
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        b.problem(path, raw.source(), v, path + ": \"" + v + "\" is not a hook address (expected: an http(s) URL, or a path on the upstream)",
                "write the backend endpoint, such as /realtime/" + path.substring(path.lastIndexOf('.') + 1)
                        + " (on the upstream) or http://127.0.0.1:8000/realtime/" + path.substring(path.lastIndexOf('.') + 1));
        return null;
    }

    private static int atLeast(Binder b, Sourced<Integer> v, int min, String path) {
        if (v.value() < min) {
            b.problem(path, v.source(), v.value().toString(), path + " is " + v.value() + " (expected: at least " + min + ")",
                    "use a number such as 64");
            return min;
        }
        return v.value();
    }
}
