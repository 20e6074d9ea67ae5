package dev.crossgate.server.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.SocketChannel;
import dev.crossgate.realtime.net.Transport;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keep-alive connections to one upstream, one idle stack per event loop so that a frontend connection
 * and its upstream connection always share a thread (no locks, no cross-thread hand-off). An idle
 * connection is closed after the idle timeout, and dropped as soon as the upstream closes it.
 */
public final class UpstreamPool {
    private final String host;
    private final int port;
    private final String authority;
    private final int connectTimeoutMillis;
    private final long idleTimeoutMillis;
    private final int maxIdlePerLoop;
    private final io.netty.handler.ssl.SslContext tls;
    private final java.net.URI uri;
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicInteger idleCount = new AtomicInteger();
    private final FastThreadLocal<ArrayDeque<Channel>> idle = new FastThreadLocal<>() {
        @Override
        protected ArrayDeque<Channel> initialValue() {
            return new ArrayDeque<>();
        }
    };

    public UpstreamPool(URI upstream, Duration connectTimeout, Duration idleTimeout, int maxIdlePerLoop) {
        this.host = upstream.getHost();
        int p = upstream.getPort();
        this.port = p > 0 ? p : "https".equals(upstream.getScheme()) ? 443 : 80;
        this.authority = upstream.getHost() + (upstream.getPort() > 0 ? ":" + upstream.getPort() : "");
        this.connectTimeoutMillis = (int) Math.min(Integer.MAX_VALUE, connectTimeout.toMillis());
        this.idleTimeoutMillis = idleTimeout.toMillis();
        this.maxIdlePerLoop = maxIdlePerLoop;
        this.uri = upstream;
        try {
            this.tls = "https".equals(upstream.getScheme())
                    ? io.netty.handler.ssl.SslContextBuilder.forClient().protocols("TLSv1.3", "TLSv1.2").build() : null;
        } catch (javax.net.ssl.SSLException e) {
            throw new IllegalStateException("cannot set up TLS to " + upstream, e);
        }
    }

    public java.net.URI uri() {
        return uri;
    }

    /** host:port as used in logs. */
    public String authority() {
        return authority;
    }

    public int openConnections() {
        return open.get();
    }

    public int idleConnections() {
        return idleCount.get();
    }

    /** An idle pooled connection on this event loop, or null. Must be called on {@code loop}. */
    Channel pollIdle(EventLoop loop) {
        ArrayDeque<Channel> stack = idle.get();
        Channel ch;
        while ((ch = stack.pollLast()) != null) {
            idleCount.decrementAndGet();
            if (ch.isActive() && ch.eventLoop() == loop && !expiring(ch)) {
                return ch;
            }
            ch.close();
        }
        return null;
    }

    /**
     * True when the upstream is about to close this idle connection by its own announced keep-alive
     * timeout: reusing it would race that close (the request lost, a retry needed, or a 502 for a
     * request that cannot be retried). A connection the upstream already closed is inactive; this
     * catches the ones it is about to close, with a margin for the time the request takes to arrive.
     */
    private static boolean expiring(Channel ch) {
        UpstreamHandler h = ch.pipeline().get(UpstreamHandler.class);
        if (h == null || h.keepAliveNanos == 0) {
            return false;
        }
        long usable = Math.max(h.keepAliveNanos - TimeUnit.SECONDS.toNanos(1), h.keepAliveNanos / 2);
        return System.nanoTime() - h.idleSince >= usable;
    }

    /** Connects a new pooled upstream connection on {@code loop}. */
    ChannelFuture connect(EventLoop loop) {
        return connect(loop, null);
    }

    /**
     * Connects a connection that is never pooled (a WebSocket: it is upgraded and then belongs to its
     * tunnel) on {@code loop}: TLS when the upstream is https, the HTTP codec as {@code codec}, then
     * {@code handler}.
     */
    public ChannelFuture connectUnpooled(EventLoop loop, io.netty.channel.ChannelHandler handler) {
        return connect(loop, handler);
    }

    private ChannelFuture connect(EventLoop loop, io.netty.channel.ChannelHandler unpooled) {
        Bootstrap b = new Bootstrap()
                .group(loop)
                .channel(Transport.current().socketChannel())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (tls != null) {
                            // Verifies the upstream's certificate and host name against the JDK's trust store.
                            io.netty.handler.ssl.SslHandler ssl = tls.newHandler(ch.alloc(), host, port);
                            javax.net.ssl.SSLParameters params = ssl.engine().getSSLParameters();
                            params.setEndpointIdentificationAlgorithm("HTTPS");
                            ssl.engine().setSSLParameters(params);
                            ch.pipeline().addLast("tls", ssl);
                        }
                        ch.pipeline().addLast("codec", new HttpClientCodec(new HttpDecoderConfig()
                                .setMaxInitialLineLength(8192)
                                .setMaxHeaderSize(65536)
                                .setMaxChunkSize(65536)
                                .setValidateHeaders(true), false, false));
                        if (unpooled != null) {
                            ch.pipeline().addLast("handler", unpooled);
                            return;
                        }
                        ch.pipeline().addLast("idle", new IdleStateHandler(0, 0, idleTimeoutMillis, TimeUnit.MILLISECONDS) {
                            @Override
                            protected void channelIdle(io.netty.channel.ChannelHandlerContext ctx, IdleStateEvent evt) {
                                UpstreamHandler h = ctx.pipeline().get(UpstreamHandler.class);
                                if (h == null || h.call == null) {
                                    ctx.close(); // idle in the pool for too long
                                }
                            }
                        });
                        ch.pipeline().addLast("upstream", new UpstreamHandler(UpstreamPool.this));
                    }
                });
        ChannelFuture f = b.connect(host, port);
        f.addListener(done -> {
            if (done.isSuccess()) {
                open.incrementAndGet();
                f.channel().closeFuture().addListener(c -> open.decrementAndGet());
            }
        });
        return f;
    }

    /** Returns a connection whose exchange completed cleanly; called on its event loop. */
    void release(Channel ch) {
        ArrayDeque<Channel> stack = idle.get();
        if (!ch.isActive() || stack.size() >= maxIdlePerLoop || !ch.eventLoop().inEventLoop()) {
            ch.close();
            return;
        }
        UpstreamHandler h = ch.pipeline().get(UpstreamHandler.class);
        if (h != null) {
            h.idleSince = System.nanoTime();
        }
        stack.addLast(ch);
        idleCount.incrementAndGet();
    }

    /** Forgets an idle connection the upstream closed. */
    void dropIdle(Channel ch) {
        if (ch.eventLoop().inEventLoop() && idle.get().remove(ch)) {
            idleCount.decrementAndGet();
        }
    }
}
