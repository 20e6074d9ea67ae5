package dev.crossgate.realtime.engine;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import dev.crossgate.realtime.net.Transport;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.util.List;

/** A standalone HTTP server for one or more Engine.IO (or Socket.IO) servers; every other path is 404. */
public final class RealtimeHttpServer implements AutoCloseable {
    private final EventLoopGroup group;
    private final Channel listener;
    private final List<EngineServer> servers;

    private RealtimeHttpServer(EventLoopGroup group, Channel listener, List<EngineServer> servers) {
        this.group = group;
        this.listener = listener;
        this.servers = servers;
    }

    /** Listens on {@code host:port} (port 0: any free port). */
    public static RealtimeHttpServer start(String host, int port, List<EngineServer> servers) throws InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(Transport.current().ioHandlerFactory());
        int maxBody = servers.stream().mapToInt(s -> s.options().maxPayload()).max().orElse(1_000_000);
        try {
            Channel ch = new ServerBootstrap().group(group).channel(Transport.current().serverChannel())
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel c) {
                            c.pipeline().addLast(new HttpServerCodec());
                            c.pipeline().addLast(new HttpObjectAggregator(maxBody));
                            c.pipeline().addLast("engine", new EngineHttpHandler(servers, (ctx, req) -> {
                                req.release();
                                var res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_FOUND, Unpooled.EMPTY_BUFFER);
                                res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
                                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                            }));
                        }
                    }).bind(host, port).sync().channel();
            return new RealtimeHttpServer(group, ch, servers);
        } catch (InterruptedException | RuntimeException e) {
            group.shutdownGracefully();
            throw e;
        }
    }

    public int port() {
        return ((InetSocketAddress) listener.localAddress()).getPort();
    }

    private final java.util.concurrent.atomic.AtomicBoolean closed = new java.util.concurrent.atomic.AtomicBoolean();

    /**
     * Stops listening and ends every session as a server close (clients get a close packet, sockets the reason
     * "server shutting down"), waiting for that up to 2 s before the event loops stop and close whatever remains;
     * closing again does nothing.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        listener.close().syncUninterruptibly();
        for (EngineServer s : servers) {
            s.closeAll(java.time.Duration.ofSeconds(2));
        }
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
