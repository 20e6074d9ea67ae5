package dev.crossgate.server.config;

import dev.crossgate.cors.CorsPolicyBuilder;
import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.cors.CorsProblem;
import dev.crossgate.cors.CorsRoutes;
import dev.crossgate.server.config.Binder.Section;
import dev.crossgate.server.config.Binder.Sourced;
import dev.crossgate.server.config.CrossgateConfig.Listen;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Loads the configuration from its layers — profile defaults, {@code crossgate.yaml}, environment
 * variables ({@code CROSSGATE_…} and the names teams already use: {@code CORS_ALLOWED_ORIGINS},
 * {@code CORS_ALLOW_CREDENTIALS}, {@code ALLOWED_HOSTS}), command-line options — validates it as a
 * whole and reports every problem at once.
 */
public final class ConfigLoader {
    /** The dev profile's loopback and emulator hosts. */
    public static final List<String> DEV_HOSTS = List.of("localhost", "127.0.0.1", "[::1]", "10.0.2.2");
    /** The dev profile's origins: those hosts at any port, over http and https. */
    public static final List<String> DEV_ORIGINS = List.of(
            "http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*", "http://10.0.2.2:*",
            "https://localhost:*", "https://127.0.0.1:*", "https://[::1]:*", "https://10.0.2.2:*");
    static final Duration DEFAULT_MAX_AGE = Duration.ofSeconds(600);
    static final long DEFAULT_MAX_BODY = 5_000_000L;
    static final Duration DEFAULT_HEAD_TIMEOUT = Duration.ofSeconds(10);

    private static final Map<String, List<String>> ALIASES = Map.of(
            "cors.allowedOrigins", List.of("CORS_ALLOWED_ORIGINS"),
            "cors.allowCredentials", List.of("CORS_ALLOW_CREDENTIALS"),
            "hosts", List.of("ALLOWED_HOSTS"),
            "websocket.paths", List.of("CROSSGATE_WS_PATHS"),
            "auth.jwt.secret", List.of("CROSSGATE_JWT_SECRET"));
    /** CROSSGATE_ variables read elsewhere than through a setting path. */
    private static final Set<String> OTHER_ENV = Set.of("CROSSGATE_CONFIG", "CROSSGATE_PROFILE", "CROSSGATE_HOME", "CROSSGATE_JAVA_OPTS");

    private ConfigLoader() {}

    /** What to load: the file (null: {@code CROSSGATE_CONFIG}, else {@code ./crossgate.yaml} if present), the profile option, the environment. */
    public record Options(Path file, String profile, Map<String, String> env, Path workingDirectory, Map<String, String> cli) {
        public Options(Path file, String profile, Map<String, String> env, Path workingDirectory) {
            this(file, profile, env, workingDirectory, Map.of());
        }

        public static Options of(Path file, String profile) {
            return new Options(file, profile, System.getenv(), Path.of(""));
        }

        /** The same options with a command-line override of a setting, such as {@code listen} from {@code --listen}. */
        public Options with(String path, String value) {
            if (value == null) {
                return this;
            }
            Map<String, String> m = new java.util.HashMap<>(cli);
            m.put(path, value);
            return new Options(file, profile, env, workingDirectory, Map.copyOf(m));
        }
    }

    /** The outcome: the configuration (null when there are errors), every setting with its source, every problem. */
    public record Result(CrossgateConfig config, List<Setting> settings, List<ConfigProblem> problems, String fileName, Profile profile, Source profileSource) {
        public boolean valid() {
            return config != null;
        }

        public List<ConfigProblem> errors() {
            return problems.stream().filter(ConfigProblem::isError).toList();
        }
    }

    /** Loads and validates; throws when there is any error. */
    public static CrossgateConfig load(Options options) {
        Result r = inspect(options);
        if (!r.valid()) {
            throw new InvalidConfigException(r.problems());
        }
        return r.config();
    }

    /**
     * Loads and validates, returning problems instead of throwing: whatever the file holds, the result is a
     * configuration or a list of problems. Every known cause of an exception is a problem where it arises (the
     * file's size, encoding, aliases and nesting in {@link YamlNode}, every wrong type in {@link Binder}); the
     * catch here is the last resort for one that is not known yet, so that {@code crossgate check} and
     * {@code serve} still answer with one line and exit 2 rather than a stack trace.
     */
    public static Result inspect(Options options) {
        try {
            return bind(options);
        } catch (RuntimeException | StackOverflowError | OutOfMemoryError e) {
            // Nothing else runs while the configuration loads, and the partial result is unreachable once the stack
            // has unwound, so even an OutOfMemoryError leaves a JVM that can print the problem and exit.
            String what = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + Binder.shorten(e.getMessage().replaceAll("\\s+", " ")));
            String fileName = options.file() == null ? null : options.file().toString();
            ConfigProblem p = new ConfigProblem(ConfigProblem.Severity.ERROR, "config", fileName == null ? null : Source.file(fileName, 0), fileName,
                    "the configuration could not be read: internal error (" + what + ")",
                    "report this with the file to the Crossgate maintainers; meanwhile look for an unusual value in the file");
            return new Result(null, List.of(), List.of(p), fileName, Profile.DEV, Source.defaultOf(Profile.DEV));
        }
    }

    private static Result bind(Options options) {
        Map<String, String> env = options.env();
        Path file = options.file();
        Source fileChoice = file == null ? null : Source.cli("--config");
        List<ConfigProblem> early = new ArrayList<>();
        if (file == null && env.get("CROSSGATE_CONFIG") != null) {
            fileChoice = Source.env("CROSSGATE_CONFIG");
            try {
                file = Path.of(env.get("CROSSGATE_CONFIG"));
            } catch (InvalidPathException e) {
                early.add(new ConfigProblem(ConfigProblem.Severity.ERROR, "config", fileChoice, Binder.shorten(env.get("CROSSGATE_CONFIG")),
                        "CROSSGATE_CONFIG is not a path: " + e.getReason(), "give the path of a crossgate.yaml"));
            }
        }
        if (file == null) {
            Path local = options.workingDirectory().resolve("crossgate.yaml");
            if (Files.isRegularFile(local)) {
                file = local;
            }
        }
        String fileName = file == null ? null : file.toString();
        YamlNode root = null;
        if (file != null) {
            if (!Files.isRegularFile(file)) {
                early.add(new ConfigProblem(ConfigProblem.Severity.ERROR, "config", fileChoice, fileName,
                        "configuration file " + fileName + " does not exist or is not a file", "give the path of a crossgate.yaml"));
            } else {
                try {
                    root = YamlNode.read(file);
                    if (root.kind() != YamlNode.Kind.MAP) {
                        early.add(new ConfigProblem(ConfigProblem.Severity.ERROR, "config", Source.file(fileName, root.line()),
                                root.describeKind(), "the file holds " + root.describeKind() + " (expected: a mapping of keys such as cors:)",
                                "start the file with top-level keys such as profile: and cors:"));
                        root = null;
                    }
                } catch (YamlNode.SyntaxError e) {
                    early.add(new ConfigProblem(ConfigProblem.Severity.ERROR, "config", Source.file(fileName, e.line()), null,
                            e.getMessage(), e.fix()));
                } catch (IOException e) {
                    early.add(new ConfigProblem(ConfigProblem.Severity.ERROR, "config", fileChoice, fileName,
                            "cannot read " + fileName + ": " + e.getMessage(), "check the file's permissions"));
                }
            }
        }
        Binder b = new Binder(fileName, env, ALIASES, options.cli());
        b.problems().addAll(early);
        Section top = b.root(root);
        b.declare(top, "profile", "listen", "upstream", "routes", "hosts", "http", "tls", "admin", "log", "cors", "websocket", "auth", "limits",
                "realtime");

        // Profile: --profile, then CROSSGATE_PROFILE, then the file, then dev.
        Profile profile = Profile.DEV;
        Source profileSource = Source.defaultOf(Profile.DEV);
        Sourced<String> fromFile = top.string("profile", null, null);
        b.settings().remove(b.settings().size() - 1);
        String chosen = null;
        if (options.profile() != null) {
            chosen = options.profile();
            profileSource = Source.cli("--profile");
        } else if (env.get("CROSSGATE_PROFILE") != null) {
            chosen = env.get("CROSSGATE_PROFILE");
            profileSource = Source.env("CROSSGATE_PROFILE");
        } else if (fromFile.value() != null) {
            chosen = fromFile.value();
            profileSource = fromFile.source();
        }
        if (chosen != null) {
            Profile p = Profile.parse(chosen);
            if (p == null) {
                b.problem("profile", profileSource, chosen, "profile \"" + chosen + "\" is not a profile (expected: dev or prod)",
                        "use dev for local development or prod for deployment");
            } else {
                profile = p;
            }
        } else if (file != null) {
            b.warn("profile", profileSource, "dev", "no profile is chosen, so the dev profile applies: loopback origins are allowed with credentials",
                    "add profile: prod to the file (or --profile prod) for a deployment");
        }
        b.record("profile", profile.id(), profileSource);
        boolean dev = profile == Profile.DEV;
        Source def = Source.defaultOf(profile);

        Listen listen = parseListen(b, top.string("listen", "0.0.0.0:8080", def), "listen");
        URI upstream = parseUpstream(b, top.string("upstream", "http://127.0.0.1:8000", def), "upstream");
        List<CrossgateConfig.ProxyRoute> routes = bindRoutes(b, top.objects("routes"));
        List<HostPattern> hosts = parseHosts(b, top.list("hosts", dev ? DEV_HOSTS : List.of(), def), profile);

        Section http = top.section("http");
        b.declare(http, "maxBodySize", "requestHeadTimeout", "idleTimeout", "upstreamConnectTimeout", "upstreamResponseTimeout",
                "upstreamIdleTimeout", "trustedProxies", "redirectHttps");
        Sourced<List<String>> trustedRaw = http.list("trustedProxies", List.of(), def);
        List<Cidr> trusted = new ArrayList<>();
        for (int i = 0; i < trustedRaw.value().size(); i++) {
            String t = trustedRaw.value().get(i);
            if (t == null) {
                continue;
            }
            try {
                trusted.add(Cidr.parse(t));
            } catch (IllegalArgumentException e) {
                String p = "http.trustedProxies[" + i + "]";
                b.problem(p, b.sourceOf(p), t, e.getMessage(), "list the addresses of your load balancers, such as 10.0.0.0/8");
            }
        }
        boolean redirectHttps = http.bool("redirectHttps", false, def).value();
        Sourced<Long> maxBody = http.size("maxBodySize", DEFAULT_MAX_BODY, def);
        if (maxBody.value() < 1) {
            b.problem("http.maxBodySize", maxBody.source(), maxBody.value().toString(), "http.maxBodySize: " + maxBody.value() + " (expected: at least 1 byte)",
                    "use 5MB");
        }
        Sourced<Duration> headTimeout = positive(b, http.duration("requestHeadTimeout", DEFAULT_HEAD_TIMEOUT, def), "http.requestHeadTimeout", "10s");
        Sourced<Duration> idleTimeout = positive(b, http.duration("idleTimeout", Duration.ofSeconds(60), def), "http.idleTimeout", "60s");
        Sourced<Duration> connectTimeout = positive(b, http.duration("upstreamConnectTimeout", Duration.ofSeconds(5), def),
                "http.upstreamConnectTimeout", "5s");
        Sourced<Duration> responseTimeout = positive(b, http.duration("upstreamResponseTimeout", Duration.ofSeconds(60), def),
                "http.upstreamResponseTimeout", "60s");
        Sourced<Duration> upstreamIdle = positive(b, http.duration("upstreamIdleTimeout", Duration.ofSeconds(30), def),
                "http.upstreamIdleTimeout", "30s");

        Section tlsSection = top.section("tls");
        b.declare(tlsSection, "certificate", "key", "selfSigned", "hsts");
        Sourced<String> cert = tlsSection.string("certificate", null, def);
        Sourced<String> key = tlsSection.string("key", null, def);
        boolean selfSigned = tlsSection.bool("selfSigned", false, def).value();
        Duration hsts = tlsSection.duration("hsts", Duration.ZERO, def).value();
        Path certPath = pemFile(b, cert, "tls.certificate", options.workingDirectory());
        Path keyPath = pemFile(b, key, "tls.key", options.workingDirectory());
        if ((cert.value() == null) != (key.value() == null)) {
            b.problem(cert.value() == null ? "tls.certificate" : "tls.key", (cert.value() == null ? key : cert).source(), null,
                    "tls.certificate and tls.key go together, and only one is set", "set both, or neither (or tls.selfSigned: true for local HTTPS)");
        }
        if (selfSigned && cert.value() != null) {
            b.problem("tls.selfSigned", cert.source(), "true", "tls.selfSigned and tls.certificate are both set", "keep one of them");
        }
        if (selfSigned && profile == Profile.PROD) {
            b.warn("tls.selfSigned", def, "true", "a self-signed certificate in the prod profile: browsers and apps will refuse it",
                    "use a certificate from a CA (tls.certificate and tls.key)");
        }
        CrossgateConfig.Tls tls = new CrossgateConfig.Tls(certPath, keyPath, selfSigned, hsts);

        Section adminSection = top.section("admin");
        b.declare(adminSection, "listen", "enabled", "readyRequiresUpstream", "token");
        boolean adminEnabled = adminSection.bool("enabled", true, def).value();
        boolean readyRequiresUpstream = adminSection.bool("readyRequiresUpstream", false, def).value();
        Listen adminListen = parseListen(b, adminSection.string("listen", "127.0.0.1:9090", def), "admin.listen");
        // Bearer token of the admin listener's operator pages (/status, its events and JSON, POST /reload): required by them
        // whenever it is set, and required to start when the listener is beyond loopback, where anyone on the network
        // could otherwise read the status page (origins, upstreams, configuration) and reload at will.
        Sourced<String> adminTokenSourced = adminSection.secret("token", def);
        String adminToken = adminTokenSourced.value();
        if (adminToken != null && adminToken.length() < 24) {
            b.problem("admin.token", adminTokenSourced.source(), "(not shown)",
                    "admin.token is " + adminToken.length() + " characters; whoever holds it can read the status page and reload the configuration",
                    "generate one of at least 24 characters: openssl rand -base64 32");
        } else if (adminToken != null && !adminToken.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
            b.problem("admin.token", adminTokenSourced.source(), "(not shown)",
                    "admin.token has a space or a character outside printable ASCII, which an Authorization header cannot carry",
                    "generate one with: openssl rand -base64 32");
        }
        if (adminEnabled && adminListen != null && adminToken == null && !isLoopback(adminListen.host())) {
            b.problem("admin.token", adminTokenSourced.source(), "(none)",
                    "the admin listener (admin.listen " + adminListen + ") is not on loopback and admin.token is not set: anyone who reaches it"
                            + " could read the status page and reload the configuration",
                    "set admin.token (or CROSSGATE_ADMIN_TOKEN) to a long random value (openssl rand -base64 32), or admin.listen: 127.0.0.1:9090");
        }

        Section logSection = top.section("log");
        b.declare(logSection, "access");
        boolean accessLog = logSection.bool("access", true, def).value();

        CorsRoutes cors = bindCors(b, top.section("cors"), profile, def);
        CrossgateConfig.WebSocket webSocket = bindWebSocket(b, top.section("websocket"), def);
        CrossgateConfig.Auth auth = AuthBinding.bind(b, top.section("auth"), profile, def, options.workingDirectory());
        CrossgateConfig.Limits limits = bindLimits(b, top.section("limits"), profile, def);
        CrossgateConfig.Realtime realtime = RealtimeBinding.bind(b, top, top.section("realtime"), profile, def, auth, webSocket, adminEnabled);
        if (limits.store() == CrossgateConfig.LimitsStore.REDIS && realtime.redis() == null && b.problems().stream()
                .noneMatch(p -> p.isError() && p.path().equals("realtime.redis.url"))) {
            b.problem("limits.store", b.sourceOf("limits.store"), "redis",
                    "limits.store is redis but realtime.redis.url is not set: there is no Redis to share the limits through",
                    "set realtime.redis.url (CROSSGATE_REALTIME_REDIS_URL), such as redis://127.0.0.1:6379, or limits.store: local");
        }

        b.finish(OTHER_ENV);
        List<ConfigProblem> problems = b.problems();
        boolean valid = problems.stream().noneMatch(ConfigProblem::isError) && cors != null;
        CrossgateConfig config = null;
        if (valid) {
            List<ConfigProblem> warnings = problems.stream().filter(p -> !p.isError()).toList();
            config = new CrossgateConfig(profile, listen, upstream, List.copyOf(routes), List.copyOf(hosts),
                    new CrossgateConfig.Http(maxBody.value(), headTimeout.value(), idleTimeout.value(), connectTimeout.value(),
                            responseTimeout.value(), upstreamIdle.value(), List.copyOf(trusted), redirectHttps),
                    tls, new CrossgateConfig.Admin(adminEnabled ? adminListen : null, adminToken, readyRequiresUpstream), accessLog, cors, webSocket,
                    auth, limits, realtime, List.copyOf(b.settings()), warnings);
        }
        return new Result(config, List.copyOf(b.settings()), List.copyOf(problems), fileName, profile, profileSource);
    }

    static final int DEFAULT_WS_MAX_FRAME = 1 << 20;
    static final long DEFAULT_WS_MAX_MESSAGE = 4L << 20;

    private static CrossgateConfig.WebSocket bindWebSocket(Binder b, Section ws, Source def) {
        b.declare(ws, "paths", "missingOrigin", "pingInterval", "idleTimeout", "maxFrameSize", "maxMessageSize");
        Sourced<List<String>> paths = ws.list("paths", List.of(), def);
        for (int i = 0; i < paths.value().size(); i++) {
            String p = paths.value().get(i);
            if (p != null && !p.startsWith("/")) {
                String at = "websocket.paths[" + i + "]";
                b.problem(at, b.sourceOf(at), p, at + ": \"" + p + "\" is not a path prefix (expected: it starts with /)",
                        "write the path the clients connect to, such as /ws or /socket.io");
            }
        }
        // Default allow: a handshake without Origin never comes from a browser (RFC 6455 section 4.1: browsers
        // always send Origin), so it is no cross-site request; refusing it only strands native clients on polling.
        Sourced<String> missing = ws.string("missingOrigin", "allow", def);
        CrossgateConfig.MissingOrigin missingOrigin = CrossgateConfig.MissingOrigin.ALLOW;
        try {
            missingOrigin = CrossgateConfig.MissingOrigin.valueOf(missing.value().trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            b.problem("websocket.missingOrigin", missing.source(), missing.value(),
                    "websocket.missingOrigin: \"" + missing.value() + "\" (expected: allow, refuse or authenticated)",
                    "use allow (the default: native apps send no Origin), authenticated (they must present a token), or refuse");
        }
        Sourced<Duration> ping = positive(b, ws.duration("pingInterval", Duration.ofSeconds(30), def), "websocket.pingInterval", "30s");
        Sourced<Duration> idle = positive(b, ws.duration("idleTimeout", Duration.ofSeconds(120), def), "websocket.idleTimeout", "120s");
        if (idle.value().compareTo(ping.value()) <= 0) {
            b.problem("websocket.idleTimeout", idle.source(), Units.format(idle.value()),
                    "websocket.idleTimeout (" + Units.format(idle.value()) + ") is not longer than websocket.pingInterval ("
                            + Units.format(ping.value()) + "): a healthy but quiet client would be cut off before it could answer a ping",
                    "make idleTimeout at least twice pingInterval, such as pingInterval: 30s and idleTimeout: 120s");
        }
        Sourced<Long> frame = ws.size("maxFrameSize", DEFAULT_WS_MAX_FRAME, def);
        Sourced<Long> message = ws.size("maxMessageSize", DEFAULT_WS_MAX_MESSAGE, def);
        if (frame.value() < 125 || frame.value() > Integer.MAX_VALUE) {
            b.problem("websocket.maxFrameSize", frame.source(), frame.value().toString(),
                    "websocket.maxFrameSize: " + frame.value() + " bytes (expected: from 125 bytes to 2GB)", "use 1MB");
        }
        if (message.value() < frame.value()) {
            b.problem("websocket.maxMessageSize", message.source(), message.value().toString(),
                    "websocket.maxMessageSize (" + message.value() + " bytes) is smaller than websocket.maxFrameSize (" + frame.value() + " bytes)",
                    "make maxMessageSize at least maxFrameSize, such as 4MB and 1MB");
        }
        return new CrossgateConfig.WebSocket(paths.value().stream().filter(java.util.Objects::nonNull).toList(), missingOrigin,
                ping.value(), idle.value(), (int) Math.min(frame.value(), Integer.MAX_VALUE), message.value());
    }

    private static CrossgateConfig.Limits bindLimits(Binder b, Section l, Profile profile, Source def) {
        boolean prod = profile == Profile.PROD;
        b.declare(l, "maxConnections", "connectionsPerAddress", "connectionsPerSubject", "newConnectionsPerSecond", "newConnectionsBurst",
                "requestsPerSecond", "requestBurst", "routes", "store");
        int max = atLeastZero(b, l.integer("maxConnections", 10_000, def), "limits.maxConnections");
        int perAddress = atLeastZero(b, l.integer("connectionsPerAddress", prod ? 256 : 0, def), "limits.connectionsPerAddress");
        int perSubject = atLeastZero(b, l.integer("connectionsPerSubject", prod ? 32 : 0, def), "limits.connectionsPerSubject");
        int newPerSecond = atLeastZero(b, l.integer("newConnectionsPerSecond", prod ? 100 : 0, def), "limits.newConnectionsPerSecond");
        int newBurst = atLeastZero(b, l.integer("newConnectionsBurst", Math.max(1, 2 * newPerSecond), def), "limits.newConnectionsBurst");
        int rps = atLeastZero(b, l.integer("requestsPerSecond", 0, def), "limits.requestsPerSecond");
        int burst = atLeastZero(b, l.integer("requestBurst", Math.max(1, 2 * rps), def), "limits.requestBurst");
        List<CrossgateConfig.RateLimit> rates = new ArrayList<>();
        for (Section r : l.objects("routes")) {
            b.declare(r, "path", "requestsPerSecond", "burst");
            Sourced<String> path = r.string("path", null, null);
            if (path.value() == null || !path.value().startsWith("/")) {
                String where = r.path("").replaceAll("\\.$", "");
                b.problem(r.path("path"), b.sourceOf(where), String.valueOf(path.value()), where + ".path "
                        + (path.value() == null ? "is missing" : "\"" + path.value() + "\" does not start with '/'"),
                        "write path: /api/login (the path prefix this rate applies to)");
                continue;
            }
            int routeRps = atLeastZero(b, r.integer("requestsPerSecond", rps, null), r.path("requestsPerSecond"));
            int routeBurst = atLeastZero(b, r.integer("burst", Math.max(1, 2 * routeRps), null), r.path("burst"));
            rates.add(new CrossgateConfig.RateLimit(path.value(), routeRps, Math.max(1, routeBurst)));
        }
        rates.add(new CrossgateConfig.RateLimit("/", rps, Math.max(1, burst)));
        if (perAddress > 0 && max > 0 && perAddress > max) {
            b.warn("limits.connectionsPerAddress", b.sourceOf("limits.connectionsPerAddress"), Integer.toString(perAddress),
                    "limits.connectionsPerAddress (" + perAddress + ") is above limits.maxConnections (" + max + ")", "lower it, or raise maxConnections");
        }
        Sourced<String> storeRaw = l.string("store", "local", def);
        CrossgateConfig.LimitsStore store = CrossgateConfig.LimitsStore.LOCAL;
        try {
            store = CrossgateConfig.LimitsStore.valueOf(storeRaw.value().trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException | NullPointerException e) {
            b.problem("limits.store", storeRaw.source(), String.valueOf(storeRaw.value()),
                    "limits.store: \"" + storeRaw.value() + "\" (expected: local or redis)",
                    "use local (each node counts alone, the default) or redis (every node shares the counts through realtime.redis.url)");
        }
        return new CrossgateConfig.Limits(max, perAddress, perSubject, newPerSecond, Math.max(1, newBurst), List.copyOf(rates), store);
    }

    private static int atLeastZero(Binder b, Sourced<Integer> v, String path) {
        if (v.value() != null && v.value() < 0) {
            b.problem(path, v.source(), v.value().toString(), path + ": " + v.value() + " (expected: 0 to turn it off, or more)", "use 0 or a positive number");
            return 0;
        }
        return v.value() == null ? 0 : v.value();
    }

    private static Path pemFile(Binder b, Sourced<String> s, String path, Path cwd) {
        if (s.value() == null) {
            return null;
        }
        Path p = resolve(b, s, path, cwd);
        if (p == null) {
            return null;
        }
        if (!Files.isRegularFile(p) || !Files.isReadable(p)) {
            b.problem(path, s.source(), s.value(), path + ": " + p + " does not exist or cannot be read", "give the path of a PEM file");
        }
        return p;
    }

    /** A file named by a setting, relative to the working directory; null (and a problem) when the text is no path (a NUL in it, say). */
    static Path resolve(Binder b, Sourced<String> s, String path, Path cwd) {
        try {
            return cwd.resolve(s.value());
        } catch (InvalidPathException e) {
            b.problem(path, s.source(), Binder.shorten(s.value()), path + ": \"" + Binder.shorten(s.value()) + "\" is not a file path ("
                    + e.getReason() + ")", "give the path of the file");
            return null;
        }
    }

    static Sourced<Duration> positive(Binder b, Sourced<Duration> d, String path, String example) {
        if (d.value() != null && d.value().isZero()) {
            b.problem(path, d.source(), "0", path + ": 0 (expected: more than 0)", "use " + example);
        }
        return d;
    }

    private static final String[] POLICY_KEYS = {"allowedOrigins", "allowCredentials", "allowedMethods", "allowedHeaders",
            "exposedHeaders", "maxAge", "dangerouslyAllowNullOrigin", "preflightRequestHeadersLimit"};

    private static CorsRoutes bindCors(Binder b, Section cors, Profile profile, Source def) {
        boolean dev = profile == Profile.DEV;
        List<String> keys = new ArrayList<>(List.of(POLICY_KEYS));
        keys.add("routes");
        b.declare(cors, keys.toArray(new String[0]));
        PolicyValues base = new PolicyValues(
                cors.list("allowedOrigins", dev ? DEV_ORIGINS : List.of(), def).value(),
                cors.bool("allowCredentials", dev, def).value(),
                cors.list("allowedMethods", dev ? List.of("*") : List.of("GET", "HEAD", "POST"), def).value(),
                cors.list("allowedHeaders", dev ? List.of("*", "Authorization") : List.of(), def).value(),
                cors.list("exposedHeaders", List.of(), def).value(),
                cors.duration("maxAge", DEFAULT_MAX_AGE, def).value(),
                cors.bool("dangerouslyAllowNullOrigin", false, def).value(),
                cors.integer("preflightRequestHeadersLimit", CorsPolicyBuilder.DEFAULT_PREFLIGHT_HEADERS_LIMIT, def).value());
        CorsPolicyBuilder defaultPolicy = base.builder("cors", dev);
        CorsRoutes.Builder routes = CorsRoutes.builder(defaultPolicy);
        for (Section route : cors.objects("routes")) {
            List<String> rk = new ArrayList<>(List.of(POLICY_KEYS));
            rk.add("path");
            rk.add("enabled");
            b.declare(route, rk.toArray(new String[0]));
            Sourced<String> path = route.string("path", null, null);
            if (path.value() == null) {
                b.problem(route.path("path"), b.sourceOf(route.path("")), null, route.path("") .replaceAll("\\.$", "") + " has no path",
                        "add path: /api (the path prefix this policy applies to)");
            }
            boolean enabled = route.bool("enabled", true, Source.defaultOf(profile)).value();
            PolicyValues v = new PolicyValues(
                    route.has("allowedOrigins") ? route.list("allowedOrigins", List.of(), null).value() : base.origins,
                    route.has("allowCredentials") ? route.bool("allowCredentials", false, null).value() : base.credentials,
                    route.has("allowedMethods") ? route.list("allowedMethods", List.of(), null).value() : base.methods,
                    route.has("allowedHeaders") ? route.list("allowedHeaders", List.of(), null).value() : base.headers,
                    route.has("exposedHeaders") ? route.list("exposedHeaders", List.of(), null).value() : base.exposed,
                    route.has("maxAge") ? route.duration("maxAge", base.maxAge, null).value() : base.maxAge,
                    route.has("dangerouslyAllowNullOrigin") ? route.bool("dangerouslyAllowNullOrigin", false, null).value() : base.allowNull,
                    route.has("preflightRequestHeadersLimit") ? route.integer("preflightRequestHeadersLimit", base.headersLimit, null).value() : base.headersLimit);
            String routePath = route.path("").replaceAll("\\.$", "");
            routes.route(path.value() == null ? "/" : path.value(), enabled ? v.builder(routePath, dev) : null, route.path("path"));
        }
        List<CorsProblem> corsProblems = routes.problems();
        for (CorsProblem p : corsProblems) {
            Source s = b.sourceOf(p.path());
            if (p.isError()) {
                b.problem(p.path(), s, p.value(), p.message(), p.fix());
            } else {
                b.warn(p.path(), s, p.value(), p.message(), p.fix());
            }
        }
        if (corsProblems.stream().anyMatch(CorsProblem::isError) || b.problems().stream().anyMatch(ConfigProblem::isError)) {
            return null;
        }
        return routes.build();
    }

    /** The values one policy is built from (a route inherits the default's values it does not set). */
    private record PolicyValues(List<String> origins, boolean credentials, List<String> methods, List<String> headers,
                                List<String> exposed, Duration maxAge, boolean allowNull, int headersLimit) {
        CorsPolicyBuilder builder(String configPath, boolean dev) {
            CorsPolicyBuilder p = CorsPolicy.builder()
                    .configPath(configPath)
                    .localDevelopment(dev)
                    .allowOrigins(nonNull(origins))
                    .allowCredentials(credentials)
                    .allowMethods(nonNull(methods))
                    .allowHeaders(nonNull(headers))
                    .exposeHeaders(nonNull(exposed))
                    .dangerouslyAllowNullOrigin(allowNull)
                    .preflightRequestHeadersLimit(headersLimit);
            if (maxAge != null) {
                p.maxAgeSeconds(maxAge.toMillis() % 1000 == 0 ? maxAge.getSeconds() : -1);
            }
            return p;
        }

        private static List<String> nonNull(List<String> l) {
            return l.stream().filter(java.util.Objects::nonNull).toList();
        }
    }

    /**
     * Whether a listen host accepts connections from this machine only: localhost, 127.0.0.0/8 or ::1. Names other than
     * localhost count as reachable from elsewhere (they are not resolved here).
     */
    static boolean isLoopback(String host) {
        if (host.equalsIgnoreCase("localhost")) {
            return true;
        }
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (!h.matches("[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*")) {
            return false;
        }
        try {
            return java.net.InetAddress.getByName(h).isLoopbackAddress(); // an address literal: no lookup
        } catch (java.net.UnknownHostException e) {
            return false;
        }
    }

    private static Listen parseListen(Binder b, Sourced<String> s, String path) {
        String v = s.value() == null ? "" : s.value().trim();
        String host;
        String port;
        if (v.startsWith("[")) {
            int close = v.indexOf(']');
            host = close < 0 ? "" : v.substring(1, close);
            port = close < 0 || close + 1 >= v.length() || v.charAt(close + 1) != ':' ? "" : v.substring(close + 2);
        } else {
            int colon = v.lastIndexOf(':');
            host = colon < 0 ? "" : v.substring(0, colon);
            port = colon < 0 ? "" : v.substring(colon + 1);
        }
        if (host.isEmpty() && v.startsWith(":")) {
            host = "0.0.0.0";
        }
        int n = -1;
        try {
            n = Integer.parseInt(port);
        } catch (NumberFormatException ignored) {
            // reported below
        }
        if (host.isEmpty() || n < 0 || n > 65535 || host.indexOf('/') >= 0) {
            b.problem(path, s.source(), v, path + ": \"" + v + "\" is not an address (expected: HOST:PORT such as 0.0.0.0:8080 or [::]:8080)",
                    "write " + path + ": 0.0.0.0:8080");
            return new Listen("0.0.0.0", 8080);
        }
        return new Listen(host, n);
    }

    private static List<CrossgateConfig.ProxyRoute> bindRoutes(Binder b, List<Section> sections) {
        List<CrossgateConfig.ProxyRoute> out = new ArrayList<>();
        for (Section r : sections) {
            b.declare(r, "path", "upstreams", "healthCheck", "ejectAfter", "ejectFor", "sessionAffinity");
            Sourced<String> path = r.string("path", null, null);
            String where = r.path("").replaceAll("\\.$", "");
            if (path.value() == null || !path.value().startsWith("/")) {
                b.problem(r.path("path"), path.source() != null ? path.source() : b.sourceOf(where), String.valueOf(path.value()),
                        where + ".path " + (path.value() == null ? "is missing" : "\"" + path.value() + "\" does not start with '/'"),
                        "write path: /api (the path prefix this route serves)");
            }
            Sourced<List<String>> ups = r.list("upstreams", List.of(), null);
            List<URI> uris = new ArrayList<>();
            for (int i = 0; i < ups.value().size(); i++) {
                String u = ups.value().get(i);
                if (u != null) {
                    uris.add(parseUpstream(b, new Sourced<>(u, b.sourceOf(r.path("upstreams[" + i + "]"))), r.path("upstreams[" + i + "]")));
                }
            }
            if (ups.value().isEmpty()) {
                b.problem(r.path("upstreams"), b.sourceOf(where), "", where + " has no upstreams",
                        "write upstreams: [http://127.0.0.1:8001]");
            }
            CrossgateConfig.HealthCheck hc = null;
            if (r.has("healthCheck")) {
                Section h = r.section("healthCheck");
                b.declare(h, "path", "interval", "timeout");
                String hp = h.string("path", "/", null).value();
                Duration interval = positive(b, h.duration("interval", Duration.ofSeconds(5), null), h.path("interval"), "5s").value();
                Duration timeout = positive(b, h.duration("timeout", Duration.ofSeconds(2), null), h.path("timeout"), "2s").value();
                hc = new CrossgateConfig.HealthCheck(hp == null || !hp.startsWith("/") ? "/" : hp, interval, timeout);
            }
            int ejectAfter = r.integer("ejectAfter", 3, null).value();
            Duration ejectFor = positive(b, r.duration("ejectFor", Duration.ofSeconds(10), null), r.path("ejectFor"), "10s").value();
            if (ejectAfter < 1) {
                b.problem(r.path("ejectAfter"), b.sourceOf(r.path("ejectAfter")), Integer.toString(ejectAfter),
                        r.path("ejectAfter") + ": " + ejectAfter + " (expected: 1 or more)", "use 3");
            }
            boolean sessionAffinity = r.bool("sessionAffinity", true, null).value();
            out.add(new CrossgateConfig.ProxyRoute(path.value() == null ? "/" : path.value(), List.copyOf(uris), hc, ejectAfter, ejectFor, sessionAffinity));
        }
        return out;
    }

    private static URI parseUpstream(Binder b, Sourced<String> s, String path) {
        String v = s.value() == null ? "" : s.value().trim();
        try {
            URI u = new URI(v);
            if (("http".equals(u.getScheme()) || "https".equals(u.getScheme())) && u.getHost() != null
                    && u.getRawQuery() == null && u.getRawFragment() == null && u.getRawUserInfo() == null) {
                return u;
            }
        } catch (URISyntaxException ignored) {
            // reported below
        }
        b.problem(path, s.source(), v, path + ": \"" + v + "\" is not an http:// or https:// URL with a host (and no query)",
                "write " + path + ": http://127.0.0.1:8000");
        return URI.create("http://127.0.0.1:8000");
    }

    private static List<HostPattern> parseHosts(Binder b, Sourced<List<String>> s, Profile profile) {
        List<HostPattern> out = new ArrayList<>();
        List<String> raw = s.value();
        for (int i = 0; i < raw.size(); i++) {
            if (raw.get(i) == null) {
                continue;
            }
            String path = "hosts[" + i + "]";
            try {
                HostPattern p = HostPattern.parse(raw.get(i));
                if (p.isAny() && profile == Profile.PROD) {
                    b.warn(path, b.sourceOf(path), "*", "hosts: \"*\" accepts any Host header, so DNS-rebinding and host-header attacks reach the backend",
                            "list the host names clients use, such as api.example.com");
                }
                out.add(p);
            } catch (HostPattern.Invalid e) {
                b.problem(path, b.sourceOf(path), raw.get(i), e.getMessage(), e.fix());
            }
        }
        if (raw.isEmpty() && profile == Profile.PROD) {
            b.problem("hosts", s.source(), "", "hosts is empty in the prod profile, so every request would be refused (421 host.not_allowed)",
                    "list the host names clients use, such as hosts: [api.example.com], or set ALLOWED_HOSTS");
        }
        return out;
    }
}
