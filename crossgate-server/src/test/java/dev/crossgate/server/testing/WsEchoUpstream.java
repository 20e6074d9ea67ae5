package dev.crossgate.server.testing;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.codec.http.websocketx.extensions.compression.WebSocketServerCompressionHandler;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A real WebSocket server (Netty's RFC 6455 implementation, permessage-deflate on offer, subprotocols
 * {@code chat} and {@code superchat}) on loopback, for the tunnel's tests and the Autobahn run. It echoes
 * text and binary messages, and understands a few text commands:
 * <ul>
 *   <li>{@code close:CODE:REASON}: closes with that code and reason (a server-initiated close);</li>
 *   <li>{@code headers}: answers with the handshake's request headers, one {@code name: value} per line;</li>
 *   <li>{@code flood:N}: sends N binary messages of 8 KiB as fast as the connection takes them.</li>
 * </ul>
 * Plain HTTP: {@code /refuse} answers 403 with its own Access-Control-Allow-Origin; a handshake on
 * {@code /badaccept} gets a 101 with a wrong Sec-WebSocket-Accept.
 */
public final class WsEchoUpstream implements AutoCloseable {
    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final Channel listener;
    /** Close frames received from clients: "code reason". */
    public final List<String> closesReceived = new CopyOnWriteArrayList<>();
    /** Messages a flood still has to send (it sends only while its connection is writable). */
    public final java.util.concurrent.atomic.AtomicInteger floodLeft = new java.util.concurrent.atomic.AtomicInteger();
    /** Channels of established WebSockets. */
    public final List<Channel> sockets = new CopyOnWriteArrayList<>();

    public WsEchoUpstream() throws InterruptedException {
        listener = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(new HttpServerCodec());
                        ch.pipeline().addLast(new HttpObjectAggregator(65536));
                        ch.pipeline().addLast(new PlainHttp());
                        ch.pipeline().addLast(new WebSocketServerCompressionHandler(0));
                        ch.pipeline().addLast(new WebSocketServerProtocolHandler(WebSocketServerProtocolConfig.newBuilder()
                                .websocketPath("/")
                                .checkStartsWith(true)
                                .subprotocols("chat,superchat")
                                .allowExtensions(true)
                                .maxFramePayloadLength(32 << 20)
                                .handleCloseFrames(false)
                                .build()));
                        ch.pipeline().addLast(new Echo());
                    }
                }).bind("127.0.0.1", 0).sync().channel();
    }

    public int port() {
        return ((java.net.InetSocketAddress) listener.localAddress()).getPort();
    }

    private static final class PlainHttp extends SimpleChannelInboundHandler<FullHttpRequest> {
        PlainHttp() {
            super(false);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
            if (req.uri().startsWith("/refuse")) {
                req.release();
                byte[] body = "{\"detail\":\"not here\"}".getBytes(StandardCharsets.UTF_8);
                FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.FORBIDDEN,
                        Unpooled.wrappedBuffer(body));
                res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json");
                res.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
                res.headers().set("access-control-allow-origin", "*");
                ctx.writeAndFlush(res).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            if (req.uri().startsWith("/badaccept")) {
                req.release();
                FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.SWITCHING_PROTOCOLS);
                res.headers().set(HttpHeaderNames.UPGRADE, "websocket");
                res.headers().set(HttpHeaderNames.CONNECTION, "Upgrade");
                res.headers().set(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT, "dGhlIHNhbXBsZSBub25jZQ==");
                ctx.writeAndFlush(res);
                return;
            }
            ctx.fireChannelRead(req);
        }
    }

    private final class Echo extends SimpleChannelInboundHandler<WebSocketFrame> {
        private String handshakeHeaders = "";

        Echo() {
            super(false);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof WebSocketServerProtocolHandler.HandshakeComplete hc) {
                StringBuilder b = new StringBuilder();
                hc.requestHeaders().forEach(e -> b.append(e.getKey().toLowerCase()).append(": ").append(e.getValue()).append('\n'));
                handshakeHeaders = b.toString();
                sockets.add(ctx.channel());
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            if (frame instanceof CloseWebSocketFrame close) {
                closesReceived.add(close.statusCode() + " " + close.reasonText());
                ctx.writeAndFlush(close).addListener(ChannelFutureListener.CLOSE); // echoes the code and reason
                return;
            }
            if (frame instanceof TextWebSocketFrame text && frame.isFinalFragment()) {
                String t = text.text();
                if (t.startsWith("close:")) {
                    frame.release();
                    String[] p = t.split(":", 3);
                    ctx.writeAndFlush(new CloseWebSocketFrame(Integer.parseInt(p[1]), p[2]));
                    return;
                }
                if (t.equals("headers")) {
                    frame.release();
                    ctx.writeAndFlush(new TextWebSocketFrame(handshakeHeaders));
                    return;
                }
                if (t.startsWith("flood:")) {
                    frame.release();
                    flood(ctx, Integer.parseInt(t.substring(6)));
                    return;
                }
            }
            ctx.writeAndFlush(frame); // echo, fragments as they came
        }

        private void flood(ChannelHandlerContext ctx, int remaining) {
            while (remaining > 0 && ctx.channel().isWritable()) {
                ctx.write(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(new byte[8 * 1024])));
                remaining--;
            }
            floodLeft.set(remaining);
            ctx.flush();
            if (remaining > 0 && ctx.channel().isActive()) {
                int left = remaining;
                ctx.channel().eventLoop().schedule(() -> flood(ctx, left), 1, java.util.concurrent.TimeUnit.MILLISECONDS);
            }
        }
    }

    @Override
    public void close() {
        listener.close().syncUninterruptibly();
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }
}
