package dev.crossgate.server.edge;

import dev.crossgate.realtime.net.Transport;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.observe.Metrics;
import dev.crossgate.server.proxy.Upstream;
import dev.crossgate.server.proxy.UpstreamGroup;
import dev.crossgate.server.proxy.UpstreamPool;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/** The edge server: binds the listener, owns the event loops, the upstream pool and the access log, and drains on stop. */
public final class EdgeServer implements AutoCloseable {
    /**
     * What every connection of this server shares for its whole life: the metrics, the connections, the drain flag,
     * and what cannot change without a restart (the listener's TLS, the limits, the realtime hub). What one
     * configuration puts on the request path is in {@link Live}, swapped whole by {@link #reload}.
     */
    static final class Shared {
        /** The request path's configuration now: one volatile read per exchange (an Exchange keeps the one it began with). */
        volatile Live live;
        final AccessLog accessLog;
        final Metrics metrics = new Metrics();
        final AtomicBoolean draining = new AtomicBoolean();
        final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        /** The listener's TLS context, read once per accepted connection: a reload replaces it (renewed certificate files). */
        volatile io.netty.handler.ssl.SslContext ssl;
        /** The Strict-Transport-Security value (null: not sent), live like the certificate. */
        volatile String hsts;
        final dev.crossgate.server.limits.Limits limits;
        /** The hosted Socket.IO server, or null when {@code realtime} is off. */
        final dev.crossgate.server.realtime.Hub hub;
        /** Re-reads and applies the configuration (the admin listener's POST /reload), or null while serve has not set a source. */
        volatile java.util.function.Supplier<Reload> reloader;

        Shared(CrossgateConfig config, AccessLog accessLog) {
            this.accessLog = accessLog;
            this.limits = new dev.crossgate.server.limits.Limits(config, metrics); // per node, or shared through Redis (limits.store)
            dev.crossgate.server.auth.Authenticator auth = new dev.crossgate.server.auth.Authenticator(config.auth());
            this.hub = config.realtime().enabled() ? new dev.crossgate.server.realtime.Hub(config, auth, limits, metrics) : null;
            this.live = new Live(this, config, auth, null);
        }

        /** The configuration now (for what is read once per connection, not per exchange). */
        CrossgateConfig config() {
            return live.config;
        }
    }

    /**
     * What one configuration puts on the request path: the configuration, the route groups, the authenticator and
     * the stages. Immutable; a reload builds a new one and swaps the reference, so that an exchange sees one
     * configuration from its first stage to its last (in-flight exchanges finish on the one they began with).
     */
    static final class Live {
        final CrossgateConfig config;
        final List<UpstreamGroup> groups;
        final UpstreamGroup defaultGroup;
        final dev.crossgate.server.auth.Authenticator auth;
        final long responseTimeoutMillis;
        final long idleTimeoutMillis;
        /** The request path, shared by every connection (it holds no connection state). */
        final RequestStages stages;

        /** {@code previous}: the configuration this one replaces, whose unchanged route groups are kept (health state and pools survive). */
        Live(Shared shared, CrossgateConfig config, dev.crossgate.server.auth.Authenticator auth, Live previous) {
            this.config = config;
            this.auth = auth;
            List<UpstreamGroup> gs = new ArrayList<>();
            for (CrossgateConfig.ProxyRoute r : config.routes()) {
                UpstreamGroup kept = previous == null ? null : previous.keep(r, config.http());
                if (kept != null) {
                    gs.add(kept);
                    continue;
                }
                List<Upstream> us = new ArrayList<>();
                for (java.net.URI u : r.upstreams()) {
                    // An upstream the route already had keeps its object: its pool, ejection state and health gauge
                    // (the gauge is registered once per upstream and route, so a new object would not be seen).
                    Upstream same = previous == null ? null : previous.upstream(r, u, config.http());
                    us.add(same != null ? same : upstream(shared.metrics, config.http(), u, r.path(), r.ejectAfter(), r.ejectFor()));
                }
                gs.add(new UpstreamGroup(r.path(), us, r.healthCheck(), r.sessionAffinity()));
            }
            this.groups = List.copyOf(gs);
            this.defaultGroup = previous != null && previous.config.upstream().equals(config.upstream()) && sameUpstreamTimeouts(previous.config.http(), config.http())
                    ? previous.defaultGroup
                    : new UpstreamGroup("*", List.of(upstream(shared.metrics, config.http(), config.upstream(), "*", 3, Duration.ofSeconds(10))), null, false);
            this.responseTimeoutMillis = config.http().upstreamResponseTimeout().toMillis();
            this.idleTimeoutMillis = config.http().idleTimeout().toMillis();
            this.stages = new RequestStages(shared, this);
        }

        /** This configuration's group for {@code route} when the route and its upstreams' settings did not change, else null. */
        private UpstreamGroup keep(CrossgateConfig.ProxyRoute route, CrossgateConfig.Http http) {
            if (!sameUpstreamTimeouts(config.http(), http)) {
                return null;
            }
            for (int i = 0; i < config.routes().size(); i++) {
                if (config.routes().get(i).equals(route)) {
                    return groups.get(i);
                }
            }
            return null;
        }

        /** This configuration's upstream {@code uri} of the route with {@code route}'s path and ejection settings, else null. */
        private Upstream upstream(CrossgateConfig.ProxyRoute route, java.net.URI uri, CrossgateConfig.Http http) {
            if (!sameUpstreamTimeouts(config.http(), http)) {
                return null;
            }
            for (int i = 0; i < config.routes().size(); i++) {
                CrossgateConfig.ProxyRoute r = config.routes().get(i);
                if (r.path().equals(route.path()) && r.ejectAfter() == route.ejectAfter() && r.ejectFor().equals(route.ejectFor())) {
                    for (Upstream u : groups.get(i).upstreams()) {
                        if (u.pool().uri().equals(uri)) {
                            return u;
                        }
                    }
                }
            }
            return null;
        }

        private static boolean sameUpstreamTimeouts(CrossgateConfig.Http a, CrossgateConfig.Http b) {
            return a.upstreamConnectTimeout().equals(b.upstreamConnectTimeout()) && a.upstreamIdleTimeout().equals(b.upstreamIdleTimeout());
        }

        /** One upstream of the route {@code route}, its ejections and health in the metrics. */
        private static Upstream upstream(Metrics metrics, CrossgateConfig.Http h, java.net.URI uri, String route, int ejectAfter, Duration ejectFor) {
            Upstream u = new Upstream(uri, h.upstreamConnectTimeout(), h.upstreamIdleTimeout(), ejectAfter, ejectFor,
                    ejected -> metrics.upstreamEjected(ejected.authority(), route));
            metrics.upstream(u.authority(), route, u::available);
            return u;
        }

        /** The upstream group for a request path: the first route whose prefix matches, else the default upstream. */
        UpstreamGroup groupFor(String path) {
            for (UpstreamGroup g : groups) {
                if (dev.crossgate.server.config.PathPrefix.matches(g.path(), path)) {
                    return g;
                }
            }
            return defaultGroup;
        }

        List<UpstreamGroup> allGroups() {
            List<UpstreamGroup> all = new ArrayList<>(groups);
            all.add(defaultGroup);
            return all;
        }

        List<UpstreamPool> pools() {
            List<UpstreamPool> out = new ArrayList<>();
            for (UpstreamGroup g : allGroups()) {
                for (Upstream u : g.upstreams()) {
                    out.add(u.pool());
                }
            }
            return out;
        }
    }

    private final Shared shared;
    private final EventLoopGroup boss;
    /** The worker event loops (package-private for ProxyAllocationTest, which measures what they allocate). */
    final EventLoopGroup workers;
    private Channel listener;
    private AcceptGate gate;
    private AdminServer admin;
    private java.security.cert.X509Certificate selfSignedCertificate;

    /** The generated certificate when the listener uses a self-signed one, else null. */
    public java.security.cert.X509Certificate selfSignedCertificate() {
        return selfSignedCertificate;
    }

    public boolean secure() {
        return shared.ssl != null;
    }

    public EdgeServer(CrossgateConfig config, AccessLog accessLog) {
        this.shared = new Shared(config, accessLog);
        this.boss = new MultiThreadIoEventLoopGroup(1, Transport.current().ioHandlerFactory());
        // One event loop per core: more loops than cores only take turns on a CPU (a longer latency tail).
        this.workers = new MultiThreadIoEventLoopGroup(Integer.getInteger("io.netty.eventLoopThreads",
                Runtime.getRuntime().availableProcessors()), Transport.current().ioHandlerFactory());
    }

    /** Binds the listener ({@code port} 0 in the configuration means an ephemeral port). */
    public EdgeServer start() throws Exception {
        try {
            return bind();
        } catch (Exception e) {
            close(); // a listener that could not bind leaves nothing running
            throw e;
        }
    }

    private EdgeServer bind() throws Exception {
        CrossgateConfig.Tls tls = shared.config().tls();
        if (tls.selfSigned()) {
            Tls.SelfSigned s = Tls.selfSigned();
            shared.ssl = s.context();
            selfSignedCertificate = s.certificate();
        } else if (tls.certificate() != null) {
            shared.ssl = Tls.fromPem(tls.certificate().toFile(), tls.key().toFile());
        }
        if (!tls.hsts().isZero()) {
            // Sent on responses to https requests: TLS here, or X-Forwarded-Proto: https from a trusted proxy.
            shared.hsts = "max-age=" + tls.hsts().getSeconds();
        }
        // What the accept and error paths would load lazily from files is loaded now, while descriptors are free.
        Preload.run();
        gate = new AcceptGate("edge", connectionCap(), shared.metrics);
        ServerBootstrap b = new ServerBootstrap()
                .group(boss, workers)
                .channel(Transport.current().serverChannel())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .handler(gate) // sees each accepted connection before it is registered: the cap is enforced there
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.AUTO_READ, false) // switched on in channelActive, after the handler is ready
                .childHandler(new EdgeInitializer(shared));
        CrossgateConfig.Listen l = shared.config().listen();
        try {
            listener = b.bind(l.host(), l.port()).sync().channel();
        } catch (Exception e) {
            throw new ListenException("listen", l, e); // named, so that the message says which option to change
        }
        // Summed over the pools of the configuration now (a reload may add or remove upstreams).
        shared.metrics.gauge("crossgate.upstream.pool.open", "Open upstream connections",
                () -> shared.live.pools().stream().mapToInt(UpstreamPool::openConnections).sum());
        shared.metrics.gauge("crossgate.upstream.pool.idle", "Idle pooled upstream connections",
                () -> shared.live.pools().stream().mapToInt(UpstreamPool::idleConnections).sum());
        for (UpstreamGroup g : shared.live.groups) {
            g.startHealthChecks(workers);
        }
        // Forget client addresses that hold nothing any more (off the request path).
        boss.scheduleAtFixedRate(shared.limits::sweep, 30, 30, java.util.concurrent.TimeUnit.SECONDS);
        shared.metrics.gauge("crossgate.limits.tracked.addresses", "Client addresses the limits remember", shared.limits::trackedAddresses);
        CrossgateConfig.Listen a = shared.config().admin().listen();
        if (a != null) {
            admin = new AdminServer(shared);
            try {
                admin.start(boss, workers, a.host(), a.port());
            } catch (Exception e) {
                throw new ListenException("admin.listen", a, e);
            }
        }
        return this;
    }

    /**
     * System property: {@code true} lets client connections use every descriptor (the cap is then
     * {@code limits.maxConnections} alone): for tests that exercise running out of descriptors.
     */
    static final String IGNORE_DESCRIPTOR_LIMIT = "crossgate.dangerouslyIgnoreDescriptorLimit";

    /** The descriptor limit and the descriptors open now, or {-1, -1} when the JVM does not tell (not Unix). */
    static long[] descriptors() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
            return new long[] {os.getMaxFileDescriptorCount(), os.getOpenFileDescriptorCount()};
        }
        return new long[] {-1, -1};
    }

    private int connectionCap() {
        long[] fds = Boolean.getBoolean(IGNORE_DESCRIPTOR_LIMIT) ? new long[] {-1, -1} : descriptors();
        descriptorLimit = fds[0];
        return dev.crossgate.server.limits.Limits.connectionCap(shared.limits.maxConnections(), fds[0], fds[1]);
    }

    private long descriptorLimit = -1;

    /** The process's descriptor limit as read at start, or -1 when unknown. */
    public long descriptorLimit() {
        return descriptorLimit;
    }

    /**
     * Client connections held at once: {@code limits.maxConnections} lowered to the descriptor budget
     * ({@link dev.crossgate.server.limits.Limits#connectionCap}); more are closed at accept.
     */
    public int maxConnections() {
        return gate.cap();
    }

    public InetSocketAddress address() {
        return (InetSocketAddress) listener.localAddress();
    }

    public int port() {
        return address().getPort();
    }

    /** The admin listener's address, or null when it is off. */
    public InetSocketAddress adminAddress() {
        return admin == null ? null : admin.address();
    }

    /** The hosted Socket.IO server, or null when {@code realtime} is off. */
    public dev.crossgate.server.realtime.Hub hub() {
        return shared.hub;
    }

    public Metrics metrics() {
        return shared.metrics;
    }

    /** The default upstream's pool (the {@code upstream} setting). */
    public UpstreamPool pool() {
        return shared.live.defaultGroup.upstreams().get(0).pool();
    }

    /** The route groups of the configuration now, in configuration order. */
    public List<UpstreamGroup> groups() {
        return shared.live.groups;
    }

    /** The configuration now: the one started with, or the last reloaded (with the settings that need a restart kept). */
    public CrossgateConfig config() {
        return shared.live.config;
    }

    // ---------------------------------------------------------------- live reload

    /**
     * A reload's outcome: {@code ok} (swapped in; {@code problems} are its warnings), {@code invalid} (nothing
     * changed; {@code problems} lists every one) or {@code failed} (the file could not be read as a configuration).
     * {@code restartToApply} names the changed settings that keep their old values until a restart.
     */
    public record Reload(String result, String source, List<dev.crossgate.server.config.ConfigProblem> problems, List<String> restartToApply) {
        public boolean ok() {
            return "ok".equals(result);
        }

        /** The answer of POST /reload: {@code {"result":..,"source":..,"problems":[{severity,path,where,value,message,fix}],"restartToApply":[..]}}. */
        public String json() {
            var m = new com.fasterxml.jackson.databind.ObjectMapper();
            var root = m.createObjectNode().put("result", result).put("source", source);
            var ps = root.putArray("problems");
            for (var p : problems) {
                ps.addObject().put("severity", p.isError() ? "error" : "warning").put("path", p.path())
                        .put("where", p.source() == null ? null : p.source().toString()).put("value", p.value())
                        .put("message", p.message()).put("fix", p.fix());
            }
            var rs = root.putArray("restartToApply");
            restartToApply.forEach(rs::add);
            return root.toString() + "\n";
        }
    }

    private java.util.function.Supplier<dev.crossgate.server.config.ConfigLoader.Result> source;
    private java.util.function.Consumer<String> reloadObserver = line -> {};
    private static final org.slf4j.Logger RELOAD_LOG = org.slf4j.LoggerFactory.getLogger("crossgate.reload");

    /** One line of a reload's outcome: to the process's log (logger crossgate.reload) at its level, and to the observer. */
    private void reloadLog(org.slf4j.event.Level level, String message) {
        RELOAD_LOG.atLevel(level).log(message);
        reloadObserver.accept(message);
    }

    /**
     * Makes the server reloadable: {@link #reload()} (SIGHUP, POST /reload on the admin listener) reads the
     * configuration from {@code source} (the same file, profile and environment serve started with) and writes one
     * line per problem or outcome to the log (logger {@code crossgate.reload}), each also given to {@code observer}.
     */
    public void reloadFrom(java.util.function.Supplier<dev.crossgate.server.config.ConfigLoader.Result> source, java.util.function.Consumer<String> observer) {
        this.source = source;
        this.reloadObserver = observer;
        shared.reloader = this::reload;
    }

    /** Re-reads the configuration from the source given to {@link #reloadFrom} and applies it ({@link #reload(ConfigLoader.Result)}). */
    public Reload reload() {
        if (source == null) {
            throw new IllegalStateException("no configuration source: call reloadFrom first");
        }
        dev.crossgate.server.config.ConfigLoader.Result r;
        try {
            r = source.get();
        } catch (RuntimeException e) {
            String why = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.getClass().getSimpleName());
            reloadLog(org.slf4j.event.Level.ERROR, "reload failed: " + why + "; the running configuration is unchanged");
            shared.metrics.count("crossgate.config.reloads", "Configuration reloads (SIGHUP, POST /reload) by result", "result", "invalid");
            return new Reload("failed", null, List.of(), List.of());
        }
        return reload(r);
    }

    /**
     * Applies a loaded configuration, or nothing when it has an error (every problem is logged, one line each, as
     * {@code check} lists them). The new configuration is swapped in whole, one reference, for new requests and
     * handshakes; an exchange in flight finishes on the one it began with. Route groups whose route and upstream
     * settings did not change are kept (health state, ejections and pooled connections survive); removed ones stop
     * their health checks, and their pooled connections close at {@code http.upstreamIdleTimeout} after their last use.
     * Settings bound at start ({@link #RESTART_ONLY}) keep their old values and are named in the answer.
     */
    public synchronized Reload reload(dev.crossgate.server.config.ConfigLoader.Result r) {
        for (var p : r.problems()) {
            reloadLog(p.isError() ? org.slf4j.event.Level.ERROR : org.slf4j.event.Level.WARN, oneLine(p));
        }
        if (!r.valid()) {
            return refused(r, r.problems(), r.errors().size());
        }
        Live old = shared.live;
        CrossgateConfig was = old.config;
        CrossgateConfig n = r.config();
        List<String> restart = new ArrayList<>();
        // Bound at start: the listeners' sockets and TLS context, the limits' counters, the hub's sessions and cluster link.
        if (!n.listen().equals(was.listen())) {
            restart.add("listen");
        }
        if (!n.admin().equals(was.admin())) {
            restart.add("admin");
        }
        // TLS: the certificate and key files are read again on every reload, so that a certificate renewed in place
        // (certbot, cert-manager) or moved to new paths is served to the next handshake, and the HSTS max-age follows;
        // connections already open keep the session they negotiated. Turning TLS on or off, or to or from selfSigned,
        // changes what the listener speaks: a restart. Files that cannot be read as a certificate and its key refuse the
        // whole reload (validated whole), like any other invalid setting.
        boolean tlsLive = n.tls().enabled() == was.tls().enabled() && n.tls().selfSigned() == was.tls().selfSigned();
        io.netty.handler.ssl.SslContext nextSsl = null;
        String certificateNote = null;
        if (!tlsLive) {
            restart.add("tls (turning TLS on or off, or tls.selfSigned, changes the listener)");
        } else if (n.tls().certificate() != null) {
            try {
                nextSsl = Tls.fromPem(n.tls().certificate().toFile(), n.tls().key().toFile());
                certificateNote = Tls.describe(n.tls().certificate());
            } catch (Exception e) {
                String why = String.valueOf(e.getMessage()).lines().findFirst().orElse(e.getClass().getSimpleName());
                var problem = new dev.crossgate.server.config.ConfigProblem(dev.crossgate.server.config.ConfigProblem.Severity.ERROR, "tls.certificate",
                        dev.crossgate.server.config.Source.file(r.fileName(), 0), n.tls().certificate().toString(),
                        "the certificate " + n.tls().certificate() + " and key " + n.tls().key() + " cannot be used: "
                                + dev.crossgate.server.config.ConfigProblem.visible(why),
                        "give a PEM certificate chain and the PKCS#8 PEM key that goes with it (the files the process user can read)");
                reloadLog(org.slf4j.event.Level.ERROR, oneLine(problem));
                java.util.List<dev.crossgate.server.config.ConfigProblem> all = new ArrayList<>(r.problems());
                all.add(problem);
                return refused(r, all, 1);
            }
        }
        if (n.accessLog() != was.accessLog()) {
            restart.add("log.access");
        }
        if (!n.limits().equals(was.limits())) {
            restart.add("limits");
        }
        if (!n.realtime().equals(was.realtime())) {
            restart.add("realtime");
        }
        boolean authChanged = !n.auth().equals(was.auth());
        if (authChanged && shared.hub != null) {
            restart.add("auth (for realtime connections; HTTP and proxied WebSockets use the new one)");
        }
        CrossgateConfig effective = new CrossgateConfig(n.profile(), was.listen(), n.upstream(), n.routes(), n.hosts(), n.http(), tlsLive ? n.tls() : was.tls(),
                was.admin(), was.accessLog(), n.cors(), n.webSocket(), n.auth(), was.limits(), was.realtime(), n.settings(), n.warnings());
        Live next = new Live(shared, effective, authChanged ? new dev.crossgate.server.auth.Authenticator(n.auth()) : old.auth, old);
        List<UpstreamGroup> before = old.allGroups();
        for (UpstreamGroup g : next.groups) {
            if (!before.contains(g)) {
                g.startHealthChecks(workers);
            }
        }
        shared.live = next; // the swap: the next exchange on any connection reads this one
        if (tlsLive && shared.ssl != null) {
            if (nextSsl != null) {
                shared.ssl = nextSsl; // the next accepted connection's handshake
            }
            shared.hsts = n.tls().hsts().isZero() ? null : "max-age=" + n.tls().hsts().getSeconds();
        }
        List<UpstreamGroup> after = next.allGroups();
        for (UpstreamGroup g : before) {
            if (!after.contains(g)) {
                g.close();
            }
        }
        if (!restart.isEmpty()) {
            reloadLog(org.slf4j.event.Level.WARN, "restart to apply: " + String.join(", ", restart) + " (changed in " + r.fileName() + "; the old values stay until then)");
        }
        List<String> changed = changedSections(was, n);
        reloadLog(org.slf4j.event.Level.INFO, "configuration reloaded from " + r.fileName() + " ("
                + (changed.isEmpty() ? "nothing changed live" : "changed live: " + String.join(", ", changed)) + ")"
                + (certificateNote == null ? "" : "; TLS certificate read again: " + certificateNote));
        shared.metrics.count("crossgate.config.reloads", "Configuration reloads (SIGHUP, POST /reload) by result", "result", "ok");
        return new Reload("ok", r.fileName(), r.problems(), List.copyOf(restart));
    }

    /** A reload that changes nothing: said in the log, counted, and answered with every problem. */
    private Reload refused(dev.crossgate.server.config.ConfigLoader.Result r, List<dev.crossgate.server.config.ConfigProblem> problems, int errors) {
        reloadLog(org.slf4j.event.Level.ERROR, "reload refused: " + r.fileName() + " has " + errors + (errors == 1 ? " error" : " errors")
                + "; the running configuration is unchanged");
        shared.metrics.count("crossgate.config.reloads", "Configuration reloads (SIGHUP, POST /reload) by result", "result", "invalid");
        return new Reload("invalid", r.fileName(), problems, List.of());
    }

    /**
     * The top-level sections whose effective values differ between two loads (by the values check shows: the policy
     * and host objects have no equality of their own), less those that need a restart.
     */
    private static List<String> changedSections(CrossgateConfig was, CrossgateConfig now) {
        java.util.Map<String, String> before = new java.util.HashMap<>();
        for (dev.crossgate.server.config.Setting st : was.settings()) {
            before.put(st.path(), st.value());
        }
        java.util.Set<String> changed = new java.util.LinkedHashSet<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (dev.crossgate.server.config.Setting st : now.settings()) {
            seen.add(st.path());
            if (!java.util.Objects.equals(before.get(st.path()), st.value())) {
                changed.add(section(st.path()));
            }
        }
        for (String path : before.keySet()) {
            if (!seen.contains(path)) {
                changed.add(section(path));
            }
        }
        changed.removeAll(RESTART_ONLY);
        if (was.tls().enabled() == now.tls().enabled() && was.tls().selfSigned() == now.tls().selfSigned() && !Objects.equals(was.tls(), now.tls())) {
            changed.add("tls"); // new files or HSTS, applied live
        }
        changed.remove("log");
        changed.remove("profile"); // its effect shows in the sections whose defaults it changed
        return List.copyOf(changed);
    }

    private static String section(String path) {
        int end = path.length();
        for (int i = 0; i < path.length(); i++) {
            if (path.charAt(i) == '.' || path.charAt(i) == '[') {
                end = i;
                break;
            }
        }
        return path.substring(0, end);
    }

    /** The settings that need a restart, as named in a reload's answer and log. */
    public static final List<String> RESTART_ONLY = List.of("listen", "admin", "tls", "log.access", "limits", "realtime");

    /** {@code error: path (file:line): message; fix: ...}: a problem on one line, for the log. */
    private static String oneLine(dev.crossgate.server.config.ConfigProblem p) {
        return p.describe().replace("\n    fix: ", "; fix: ");
    }

    /**
     * Graceful drain: stop accepting, let in-flight exchanges finish up to {@code deadline} (idle
     * keep-alive connections are closed at once, busy ones answer with Connection: close), then close
     * what remains and stop the event loops.
     */
    public void drain(Duration deadline) {
        shared.draining.set(true);
        if (listener != null) {
            listener.close().awaitUninterruptibly();
        }
        if (shared.hub != null) {
            shared.hub.close(); // realtime sessions end now: held polls are answered, WebSockets closed
        }
        for (Channel ch : shared.connections) {
            ch.eventLoop().execute(() -> {
                EdgeHandler h = ch.pipeline().get(EdgeHandler.class);
                if (h != null) {
                    h.drain();
                }
            });
        }
        long end = System.nanoTime() + deadline.toNanos();
        while (!shared.connections.isEmpty() && System.nanoTime() < end) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!shared.connections.isEmpty()) {
            // The deadline passed: an exchange still waiting gets 503 server.draining, one mid-answer is cut; each is
            // logged as server.draining (the server ended it, not the client).
            for (Channel ch : shared.connections) {
                ch.eventLoop().execute(() -> {
                    EdgeHandler h = ch.pipeline().get(EdgeHandler.class);
                    if (h != null) {
                        h.cut();
                    } else {
                        ch.close();
                    }
                });
            }
            long cutEnd = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
            while (!shared.connections.isEmpty() && System.nanoTime() < cutEnd) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        shared.connections.close().awaitUninterruptibly(1, TimeUnit.SECONDS);
        if (admin != null) {
            admin.close();
        }
        for (UpstreamGroup g : shared.live.allGroups()) {
            g.close();
        }
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        shared.limits.close(); // gives this node's leases in the shared store back
        shared.metrics.close();
    }

    @Override
    public void close() {
        drain(Duration.ZERO);
    }
}
