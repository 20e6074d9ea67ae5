package dev.crossgate.server.proxy;

import dev.crossgate.server.config.CrossgateConfig;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.SocketChannel;
import dev.crossgate.realtime.net.Transport;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** The upstreams of one route: round-robin among those available, and the active health check. */
public final class UpstreamGroup implements AutoCloseable {
    private final String path;
    private final Upstream[] upstreams;
    private final CrossgateConfig.HealthCheck healthCheck;
    private final AtomicInteger next = new AtomicInteger();
    private final List<ScheduledFuture<?>> checks = new ArrayList<>();
    /** Engine.IO sessions and the upstream each is on; null with one upstream (nothing to choose). */
    private final SessionAffinity affinity;

    public UpstreamGroup(String path, List<Upstream> upstreams, CrossgateConfig.HealthCheck healthCheck, boolean sessionAffinity) {
        this.path = path;
        this.upstreams = upstreams.toArray(new Upstream[0]);
        this.healthCheck = healthCheck;
        this.affinity = this.upstreams.length > 1 && sessionAffinity ? new SessionAffinity(this.upstreams) : null;
    }

    /** The Engine.IO session table of this route, or null when it has one upstream or {@code sessionAffinity: false}. */
    public SessionAffinity affinity() {
        return affinity;
    }

    public String path() {
        return path;
    }

    public List<Upstream> upstreams() {
        return List.of(upstreams);
    }

    /**
     * The next upstream in round-robin order among those in rotation. When none is (every upstream is
     * passively ejected or fails its health check), the route panics, as Envoy does below its
     * {@code healthy_panic_threshold}: it goes on round-robin over every upstream whose active health
     * check passes (all of them when there is no check), ejected or not, rather than refusing everyone.
     * Passive ejection can be provoked from outside, and an ejected upstream that is in fact up would
     * otherwise turn a few failures into an outage; a request to an upstream that is really down fails
     * as it would have (502 or 504), and its answer lifts the ejection when it comes back.
     *
     * <p>Returns null (503 {@code upstream.unhealthy}) only when the active health check fails on every
     * upstream of the route: that check is the upstream's own statement, made on the edge's own
     * connection, that it cannot serve (a deploy, a dependency down), which no client can forge.
     * Passive ejection alone never yields 503.
     */
    public Upstream pick() {
        int n = upstreams.length;
        int start = Math.floorMod(next.getAndIncrement(), n);
        Upstream panic = null;
        for (int i = 0; i < n; i++) {
            Upstream u = upstreams[(start + i) % n];
            if (u.available()) {
                return u;
            }
            if (panic == null && u.healthy()) {
                panic = u; // the first healthy one after the rotating start: round robin over them
            }
        }
        return panic;
    }

    /** Starts the active health checks on {@code loops}, if the route has one. */
    public void startHealthChecks(EventLoopGroup loops) {
        if (healthCheck == null) {
            return;
        }
        long interval = healthCheck.interval().toMillis();
        for (Upstream u : upstreams) {
            checks.add(loops.next().scheduleAtFixedRate(() -> check(loops, u), 0, interval, TimeUnit.MILLISECONDS));
        }
    }

    private void check(EventLoopGroup loops, Upstream u) {
        java.net.URI uri = u.pool().uri();
        int port = uri.getPort() > 0 ? uri.getPort() : 80;
        Duration timeout = healthCheck.timeout();
        Bootstrap b = new Bootstrap().group(loops).channel(Transport.current().socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeout.toMillis())
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpClientCodec(), new SimpleChannelInboundHandler<HttpObject>() {
                            @Override
                            protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
                                if (msg instanceof HttpResponse r) {
                                    int code = r.status().code();
                                    u.setHealthy(code >= 200 && code < 400);
                                    ctx.close();
                                }
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                u.setHealthy(false);
                                ctx.close();
                            }
                        });
                    }
                });
        b.connect(uri.getHost(), port).addListener((io.netty.channel.ChannelFutureListener) f -> {
            if (!f.isSuccess()) {
                u.setHealthy(false);
                return;
            }
            DefaultFullHttpRequest req = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, healthCheck.path());
            req.headers().set(HttpHeaderNames.HOST, u.pool().authority());
            req.headers().set(HttpHeaderNames.USER_AGENT, "crossgate-health-check");
            req.headers().set(HttpHeaderNames.CONNECTION, "close");
            f.channel().writeAndFlush(req);
            f.channel().eventLoop().schedule(() -> {
                if (f.channel().isActive()) {
                    u.setHealthy(false); // no answer in time
                    f.channel().close();
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        });
    }

    @Override
    public void close() {
        for (ScheduledFuture<?> f : checks) {
            f.cancel(false);
        }
    }
}
