package dev.crossgate.server.config;

import dev.crossgate.cors.CorsRoutes;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * The whole effective configuration, validated and immutable. Each concern is one component record;
 * later sections (upstream routes, WebSocket, auth, limits, realtime) are added as further components
 * without changing the existing ones.
 *
 * @param profile  the profile whose defaults apply
 * @param listen   the address {@code crossgate serve} listens on
 * @param upstream the backend requests are forwarded to when no route matches
 * @param routes   proxy routes by path prefix (first match wins), each with one or more upstreams
 * @param hosts    the Host header values accepted (HTTP 421 {@code host.not_allowed} otherwise)
 * @param http     request limits and timeouts
 * @param tls      TLS on the listener (off when neither a certificate nor selfSigned is set)
 * @param admin    the admin listener (metrics, health, readiness)
 * @param accessLog one JSON line per exchange on standard output
 * @param cors     the cross-origin policy: a default and per-route policies
 * @param webSocket WebSocket proxying: the paths where upgrades are tunnelled, and its limits
 * @param auth     authentication: the paths that require a token, where the token is read, how it is verified
 * @param limits   connection and request limits (429, or 503 at the global connection limit)
 * @param realtime hosted mode: the Socket.IO server the edge answers itself, its hooks and publish API
 * @param settings every effective value with its source, for {@code crossgate check}
 * @param warnings problems that did not prevent starting
 */
public record CrossgateConfig(
        Profile profile,
        Listen listen,
        URI upstream,
        List<ProxyRoute> routes,
        List<HostPattern> hosts,
        Http http,
        Tls tls,
        Admin admin,
        boolean accessLog,
        CorsRoutes cors,
        WebSocket webSocket,
        Auth auth,
        Limits limits,
        Realtime realtime,
        List<Setting> settings,
        List<ConfigProblem> warnings) {

    /**
     * A proxy route: requests whose path starts with {@code path} (on segment boundaries) go to one of
     * {@code upstreams}, round-robin among the healthy ones.
     *
     * @param healthCheck active health check, or null for none (passive ejection always applies)
     * @param ejectAfter  consecutive failures (connect, reset, timeout) that take an upstream out of rotation
     * @param ejectFor    how long an ejected upstream stays out
     */
    /**
     * @param sessionAffinity keep each Engine.IO session on the upstream that created it (default true; only with
     *                        several upstreams)
     */
    public record ProxyRoute(String path, List<URI> upstreams, HealthCheck healthCheck, int ejectAfter, Duration ejectFor, boolean sessionAffinity) {}

    /** An active health check: GET {@code path} every {@code interval}; 2xx or 3xx within {@code timeout} is healthy. */
    public record HealthCheck(String path, Duration interval, Duration timeout) {}

    /** A listening address. */
    public record Listen(String host, int port) {
        @Override
        public String toString() {
            return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
        }
    }

    /**
     * HTTP limits and timeouts.
     *
     * @param maxBodySize             largest request body (413 beyond)
     * @param requestHeadTimeout      time to receive a whole request head once it started (408)
     * @param idleTimeout             an idle keep-alive client connection is closed after this
     * @param upstreamConnectTimeout  time to connect to the upstream (502 upstream.connect_failed)
     * @param upstreamResponseTimeout time from sending the request to the upstream's response head (504 upstream.timeout)
     * @param upstreamIdleTimeout     an idle pooled upstream connection is closed after this
     * @param trustedProxies          peers whose X-Forwarded-For/-Proto/-Host and Forwarded headers are believed
     * @param redirectHttps           answer plain-http requests with 308 to https (preflights excepted)
     */
    public record Http(long maxBodySize, Duration requestHeadTimeout, Duration idleTimeout, Duration upstreamConnectTimeout,
                       Duration upstreamResponseTimeout, Duration upstreamIdleTimeout, List<Cidr> trustedProxies, boolean redirectHttps) {
        /** Whether X-Forwarded-* and Forwarded from this peer are believed. */
        public boolean trusted(java.net.InetAddress peer) {
            for (Cidr c : trustedProxies) {
                if (c.contains(peer)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * TLS on the listener.
     *
     * @param certificate PEM certificate chain, or null
     * @param key         PEM (PKCS#8) private key, or null
     * @param selfSigned  generate a self-signed certificate for localhost, 127.0.0.1, ::1 and 10.0.2.2
     * @param hsts        Strict-Transport-Security max-age sent on TLS responses; zero for none
     */
    public record Tls(java.nio.file.Path certificate, java.nio.file.Path key, boolean selfSigned, Duration hsts) {
        public boolean enabled() {
            return selfSigned || certificate != null;
        }
    }

    /**
     * The admin listener: {@code /metrics} (Prometheus), {@code /healthz}, {@code /readyz}, {@code /status}, {@code POST /reload};
     * off when {@code listen} is null.
     *
     * @param token                 bearer token that {@code POST /reload} requires ({@code admin.token}, CROSSGATE_ADMIN_TOKEN), or
     *                              null: then only a loopback admin listener accepts it
     * @param readyRequiresUpstream /readyz answers 503 while no upstream of the default route is in rotation; default false
     */
    public record Admin(Listen listen, String token, boolean readyRequiresUpstream) {
        public Admin(Listen listen, String token) {
            this(listen, token, false);
        }

        @Override
        public String toString() {
            return "Admin[listen=" + listen + ", token=" + (token == null ? "none" : "(not shown)") + ", readyRequiresUpstream="
                    + readyRequiresUpstream + "]";
        }
    }

    /**
     * WebSocket proxying.
     *
     * @param paths          path prefixes (segment boundaries) where an upgrade to WebSocket is checked and tunnelled
     * @param missingOrigin  what a handshake without Origin (a native app) gets; default {@code allow}
     * @param pingInterval   a side (client or upstream) that sent nothing for this long gets a Ping
     * @param idleTimeout    a side that sent nothing, not even a Pong, for this long: the tunnel closes (1001)
     * @param maxFrameSize   largest frame payload accepted from either side (close 1009 beyond)
     * @param maxMessageSize largest message, fragments together, accepted from either side (close 1009 beyond)
     */
    public record WebSocket(List<String> paths, MissingOrigin missingOrigin, Duration pingInterval, Duration idleTimeout,
                            int maxFrameSize, long maxMessageSize) {
        /** Whether upgrades on this path are WebSocket handshakes to tunnel. */
        public boolean covers(String path) {
            for (String prefix : paths) {
                if (PathPrefix.matches(prefix, path)) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * Authentication at the edge, for HTTP requests and WebSocket handshakes alike.
     *
     * @param paths        path prefixes (segment boundaries) where a valid token is required (401 otherwise)
     * @param tokenFrom    where the token is looked for, in order
     * @param jwt          how tokens are verified
     * @param claimHeaders claims sent upstream as headers (the same headers from clients are always removed)
     */
    public record Auth(List<String> paths, List<TokenSource> tokenFrom, Jwt jwt, List<ClaimHeader> claimHeaders) {
        public boolean requiredFor(String path) {
            for (String prefix : paths) {
                if (PathPrefix.matches(prefix, path)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** A place a token is read from: {@code header} (Authorization: Bearer), {@code cookie:NAME}, {@code query:NAME}, {@code protocol} (Sec-WebSocket-Protocol). */
    public record TokenSource(Kind kind, String name) {
        public enum Kind { HEADER, COOKIE, QUERY, PROTOCOL }

        @Override
        public String toString() {
            return kind == Kind.COOKIE || kind == Kind.QUERY ? kind.name().toLowerCase(java.util.Locale.ROOT) + ":" + name
                    : kind.name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A claim sent upstream in a header. */
    public record ClaimHeader(String claim, String header) {}

    /**
     * JWT verification.
     *
     * @param secret          shared secret for HS256/384/512 (UTF-8 bytes), or null
     * @param publicKey       PEM public key (RSA, EC or Ed25519), or null
     * @param jwksUrl         JWKS document of the issuer, or null
     * @param algorithms      the accepted {@code alg} values (never none; each matches a configured key's type)
     * @param issuer          required {@code iss}, or null
     * @param audience        accepted {@code aud} values (one must be in the token), or empty
     * @param clockSkew       tolerance on {@code exp} and {@code nbf}
     * @param jwksMinRefresh  the JWKS is fetched again for an unknown {@code kid} at most this often
     */
    public record Jwt(String secret, java.nio.file.Path publicKey, URI jwksUrl, List<String> algorithms, String issuer,
                      List<String> audience, Duration clockSkew, Duration jwksMinRefresh) {
        public boolean configured() {
            return secret != null || publicKey != null || jwksUrl != null;
        }
    }

    /**
     * Limits; 0 turns one off.
     *
     * @param maxConnections          open client connections in all (closed at accept beyond, limit.connections; lowered to the descriptor budget)
     * @param connectionsPerAddress   open connections per client address (429 limit.connections)
     * @param connectionsPerSubject   open WebSockets per authenticated subject, the token's sub (429 limit.connections)
     * @param newConnectionsPerSecond new connections per client address and second (429 limit.rate), in bursts of
     * @param newConnectionsBurst     ... this many
     * @param rates                   request rates per route and client address (429 limit.rate), first matching path wins
     * @param store                   where the per-subject quota and the request rates are counted: {@code local} (default,
     *                                per node) or {@code redis} (shared by every node on {@code realtime.redis.url})
     */
    public record Limits(int maxConnections, int connectionsPerAddress, int connectionsPerSubject, int newConnectionsPerSecond,
                         int newConnectionsBurst, List<RateLimit> rates, LimitsStore store) {
        public Limits(int maxConnections, int connectionsPerAddress, int connectionsPerSubject, int newConnectionsPerSecond,
                      int newConnectionsBurst, List<RateLimit> rates) {
            this(maxConnections, connectionsPerAddress, connectionsPerSubject, newConnectionsPerSecond, newConnectionsBurst, rates, LimitsStore.LOCAL);
        }
    }

    /** Where {@code limits.store} keeps the per-subject quota and the request rates. */
    public enum LimitsStore {
        /** In this process: each node counts alone (a user may hold connectionsPerSubject sockets on every node). */
        LOCAL,
        /** In Redis ({@code realtime.redis}): every node shares the counts; per node again while Redis is unreachable. */
        REDIS
    }

    /**
     * The Redis that nodes share ({@code realtime.redis}): the Socket.IO Redis adapter's channels, and the limits
     * when {@code limits.store: redis}. Absent (null) when no URL is set.
     *
     * @param url            Lettuce URI syntax: {@code redis://[user:password@]host[:port][/db]}, {@code rediss://} (TLS),
     *                       {@code redis-sentinel://host:26379[,host2:26379]/db#masterId}; with {@code cluster}, the
     *                       hosts ({@code redis://h1:6379,h2:6379}) are Cluster seed nodes. A secret (it may carry a
     *                       password): never printed, see {@link #toString()}
     * @param cluster        the URL's hosts are Redis Cluster seed nodes (default false)
     * @param sharded        the sharded Pub/Sub adapter, SPUBLISH/SSUBSCRIBE (Redis 7; default false)
     * @param key            the channel prefix, as the Node adapter's {@code key} option (default {@code socket.io})
     * @param requestTimeout how long a command may take before it counts as failed (default 5s)
     */
    public record RealtimeRedis(String url, boolean cluster, boolean sharded, String key, Duration requestTimeout) {
        /** The URL with any user and password replaced, for logs and {@code crossgate check}. */
        public String redactedUrl() {
            return redact(url);
        }

        /** {@code redis://user:secret@host} becomes {@code redis://(not shown)@host}; a URL without user info is unchanged. */
        public static String redact(String url) {
            if (url == null) {
                return null;
            }
            int scheme = url.indexOf("://");
            int from = scheme < 0 ? 0 : scheme + 3;
            int at = url.lastIndexOf('@');
            return at < from ? url : url.substring(0, from) + "(not shown)" + url.substring(at);
        }

        @Override
        public String toString() {
            return "RealtimeRedis[url=" + redactedUrl() + ", cluster=" + cluster + ", sharded=" + sharded + ", key=" + key
                    + ", requestTimeout=" + requestTimeout + "]";
        }
    }

    /** Requests per second and client address on a path prefix, in bursts of {@code burst}. */
    public record RateLimit(String path, int requestsPerSecond, int burst) {}

    /**
     * Hosted mode: {@code crossgate serve} answers Socket.IO on {@code path} itself.
     *
     * @param enabled        on when the {@code realtime} section is present (or {@code enabled: true})
     * @param path           the Engine.IO path, with a trailing slash
     * @param namespaces     namespaces clients may join; {@code *} in a name matches any characters
     * @param pingInterval   Engine.IO heartbeat interval
     * @param pingTimeout    how long a client has to answer a ping
     * @param maxPayload     largest packet or polling body a client may send (maxHttpBufferSize)
     * @param maxBuffered    bytes that may wait for one slow client; beyond, its session ends ("transport error")
     * @param connectTimeout a session that joins no namespace in this time is closed
     * @param stickyCookie   name of a cookie set on the handshake for sticky load balancing, or null
     * @param recovery       connection state recovery window; zero for off
     * @param token          whether a JWT is required at CONNECT (auth payload {@code token}, or the handshake's token sources)
     * @param hooks          the backend's HTTP hooks
     * @param publishToken   the bearer token of the publish API on the admin listener; null turns the API off
     * @param redis          the Redis shared with other nodes ({@code realtime.redis}), or null when no URL is set
     */
    public record Realtime(boolean enabled, String path, List<String> namespaces, Duration pingInterval, Duration pingTimeout,
                           int maxPayload, long maxBuffered, Duration connectTimeout, String stickyCookie, Duration recovery, TokenMode token,
                           Hooks hooks, String publishToken, RealtimeRedis redis) {
        /** Whether a request path is the Socket.IO path (with or without its trailing slash). */
        public boolean covers(String requestPath) {
            return enabled && (requestPath.startsWith(path) || requestPath.equals(path.substring(0, path.length() - 1)));
        }
    }

    /**
     * The backend's part in hosted mode: URLs (absolute, or paths on the default upstream) POSTed with JSON.
     *
     * @param connect       decides a CONNECT (accept with user, data and rooms, or refuse with message and data); null: accept
     * @param event         receives client events; its answer is the ack and may emit to rooms; null: events are dropped
     * @param disconnect    told when a socket leaves; null: not told
     * @param events        the events sent to the event hook ({@code *}: all)
     * @param timeout       a hook call's deadline
     * @param maxConcurrent hook calls in flight at once
     * @param maxQueued     hook calls waiting for a slot beyond that (refused with realtime.hook_overloaded beyond)
     * @param secret        sent as X-Crossgate-Hook-Secret so the backend knows the call is Crossgate's, or null
     */
    public record Hooks(URI connect, URI event, URI disconnect, List<String> events, Duration timeout, int maxConcurrent, int maxQueued,
                        String secret) {
        public boolean forwards(String eventName) {
            return event != null && (events.contains("*") || events.contains(eventName));
        }
    }

    /** Whether a Socket.IO CONNECT must carry a token. */
    public enum TokenMode {
        /** Tokens are not looked at. */
        OFF,
        /** A token is verified when present (refused when invalid); connections without one are anonymous. */
        OPTIONAL,
        /** Every CONNECT carries a valid token (connect_error with reason auth.missing / auth.invalid / auth.expired otherwise). */
        REQUIRED;

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** What a WebSocket handshake without an Origin header gets (browsers always send one; native apps often do not). */
    public enum MissingOrigin {
        /** Allowed everywhere (the default: browsers always send Origin, RFC 6455 section 4.1, so this is no cross-site request). */
        ALLOW,
        /** Refused everywhere (403 ws.origin_missing). */
        REFUSE,
        /** Allowed where the route requires a token ({@code auth.paths}, or {@code realtime.token: required}), refused elsewhere. */
        AUTHENTICATED;

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Whether a request's Host (name and port) is in {@link #hosts()}. */
    public boolean hostAllowed(String host, int port) {
        for (HostPattern p : hosts) {
            if (p.matches(host, port)) {
                return true;
            }
        }
        return false;
    }
}
