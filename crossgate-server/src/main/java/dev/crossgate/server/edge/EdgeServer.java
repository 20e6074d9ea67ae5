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
    /** What every connection of this server shares. */
    static final class Shared {
        final CrossgateConfig config;
        final List<UpstreamGroup> groups;
        final UpstreamGroup defaultGroup;
        final AccessLog accessLog;
        final Metrics metrics = new Metrics();
        final AtomicBoolean draining = new AtomicBoolean();
        final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        final long responseTimeoutMillis;
        io.netty.handler.ssl.SslContext ssl;
        String hsts;
        final long idleTimeoutMillis;
        final dev.crossgate.server.auth.Authenticator auth;
        final dev.crossgate.server.limits.Limits limits;
        /** The hosted Socket.IO server, or null when {@code realtime} is off. */
        final dev.crossgate.server.realtime.Hub hub;
        /** The request path, shared by every connection (it holds no connection state). */
        final RequestStages stages;

        Shared(CrossgateConfig config, AccessLog accessLog) {
            this.config = config;
            this.auth = new dev.crossgate.server.auth.Authenticator(config.auth());
            this.limits = new dev.crossgate.server.limits.Limits(config, metrics); // per node, or shared through Redis (limits.store)
            this.hub = config.realtime().enabled() ? new dev.crossgate.server.realtime.Hub(config, auth, limits, metrics) : null;
            List<UpstreamGroup> gs = new ArrayList<>();
            for (CrossgateConfig.ProxyRoute r : config.routes()) {
                List<Upstream> us = new ArrayList<>();
                for (java.net.URI u : r.upstreams()) {
                    us.add(upstream(u, r.path(), r.ejectAfter(), r.ejectFor()));
                }
                gs.add(new UpstreamGroup(r.path(), us, r.healthCheck(), r.sessionAffinity()));
            }
            this.groups = List.copyOf(gs);
            this.defaultGroup = new UpstreamGroup("*", List.of(upstream(config.upstream(), "*", 3, java.time.Duration.ofSeconds(10))), null, false);
            this.accessLog = accessLog;
            this.responseTimeoutMillis = config.http().upstreamResponseTimeout().toMillis();
            this.idleTimeoutMillis = config.http().idleTimeout().toMillis();
            this.stages = new RequestStages(this);
        }

        /** One upstream of the route {@code route}, its ejections and health in the metrics. */
        private Upstream upstream(java.net.URI uri, String route, int ejectAfter, Duration ejectFor) {
            CrossgateConfig.Http h = config.http();
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

        List<UpstreamPool> pools() {
            List<UpstreamPool> out = new ArrayList<>();
            for (UpstreamGroup g : groups) {
                for (Upstream u : g.upstreams()) {
                    out.add(u.pool());
                }
            }
            out.add(defaultGroup.upstreams().get(0).pool());
            return out;
        }
    }

    private final Shared shared;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
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
        CrossgateConfig.Tls tls = shared.config.tls();
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
        CrossgateConfig.Listen l = shared.config.listen();
        try {
            listener = b.bind(l.host(), l.port()).sync().channel();
        } catch (Exception e) {
            throw new ListenException("listen", l, e); // named, so that the message says which option to change
        }
        List<UpstreamPool> pools = shared.pools();
        shared.metrics.gauge("crossgate.upstream.pool.open", "Open upstream connections",
                () -> pools.stream().mapToInt(UpstreamPool::openConnections).sum());
        shared.metrics.gauge("crossgate.upstream.pool.idle", "Idle pooled upstream connections",
                () -> pools.stream().mapToInt(UpstreamPool::idleConnections).sum());
        for (UpstreamGroup g : shared.groups) {
            g.startHealthChecks(workers);
        }
        // Forget client addresses that hold nothing any more (off the request path).
        boss.scheduleAtFixedRate(shared.limits::sweep, 30, 30, java.util.concurrent.TimeUnit.SECONDS);
        shared.metrics.gauge("crossgate.limits.tracked.addresses", "Client addresses the limits remember", shared.limits::trackedAddresses);
        CrossgateConfig.Listen a = shared.config.admin().listen();
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
        return shared.defaultGroup.upstreams().get(0).pool();
    }

    /** The route groups, in configuration order. */
    public List<UpstreamGroup> groups() {
        return shared.groups;
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
        for (UpstreamGroup g : shared.groups) {
            g.close();
        }
        workers.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
        shared.limits.close(); // gives this node's leases in the shared store back
    }

    @Override
    public void close() {
        drain(Duration.ZERO);
    }
}
