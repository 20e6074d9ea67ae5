package dev.crossgate.bench.ws;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import java.net.InetSocketAddress;

/**
 * The benchmark's upstream: a WebSocket echo server on 127.0.0.1 (epoll, one event loop by default). It
 * accepts handshakes on every path ({@code /} with prefix matching), without extensions (no compression),
 * and sends every text, binary and continuation frame back as it came; Ping is answered and Close completed
 * by Netty's protocol handler (which also answers any other HTTP request with 400 or 403). Prints
 * {@code READY port=N} once listening and runs until the JVM is stopped (SIGTERM).
 */
final class EchoServer {
    private static final int MAX_FRAME = 1 << 20;

    private EchoServer() {
    }

    static void main(String[] args) throws InterruptedException {
        Options options = new Options(args);
        int port = options.integer("port", null, 1, 65535);
        int threads = options.integer("threads", 1, 1, 64);
        options.noOthers();
        Epoll.ensureAvailability();

        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        WebSocketServerProtocolConfig ws = WebSocketServerProtocolConfig.newBuilder()
                .websocketPath("/")
                .checkStartsWith(true)
                .allowExtensions(false)
                .maxFramePayloadLength(MAX_FRAME)
                .withUTF8Validator(false) // an echo has no use for the text; the proxies under test validate
                .build();
        Channel server = new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 4096)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(
                                new HttpServerCodec(),
                                new HttpObjectAggregator(64 * 1024),
                                new WebSocketServerProtocolHandler(ws),
                                new Echo());
                    }
                })
                .bind(new InetSocketAddress("127.0.0.1", port)).sync().channel();
        System.out.println("READY port=" + ((InetSocketAddress) server.localAddress()).getPort());
        System.out.flush();
        server.closeFuture().sync();
    }

    /** Writes each data frame back; flushes once per read batch. */
    private static final class Echo extends SimpleChannelInboundHandler<WebSocketFrame> {
        Echo() {
            super(false); // the frame is written back, so its buffer is released by the write
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            ctx.write(frame, ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
            ctx.fireChannelReadComplete();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
