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

    public UpstreamGroup(String path, List<Upstream> upstreams, CrossgateConfig.HealthCheck healthCheck) {
        this.path = path;
        this.upstreams = upstreams.toArray(new Upstream[0]);
        this.healthCheck = healthCheck;
    }

    public String path() {
        return path;
    }

    public List<Upstream> upstreams() {
        return List.of(upstreams);
    }

    /** The next available upstream in round-robin order, or null when none is (503 upstream.unhealthy). */
    public Upstream pick() {
        int n = upstreams.length;
        int start = Math.floorMod(next.getAndIncrement(), n);
        for (int i = 0; i < n; i++) {
            Upstream u = upstreams[(start + i) % n];
            if (u.available()) {
                return u;
            }
        }
        return null;
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
