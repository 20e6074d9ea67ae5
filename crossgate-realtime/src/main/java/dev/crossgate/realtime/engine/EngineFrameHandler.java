package dev.crossgate.realtime.engine;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;

/**
 * The WebSocket frames of one connection, each an Engine.IO packet of one session (the session's own
 * WebSocket, or the probe of its upgrade from polling). Placed in the pipeline before the WebSocket
 * handshake is answered, so no frame can arrive before it; other messages pass on untouched.
 */
public final class EngineFrameHandler extends ChannelInboundHandlerAdapter {
    private final EngineSocket session;

    EngineFrameHandler(EngineSocket session) {
        this.session = session;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof WebSocketFrame frame)) {
            ctx.fireChannelRead(msg);
            return;
        }
        try {
            onFrame(ctx, frame);
        } finally {
            ReferenceCountUtil.release(frame);
        }
    }

    private void onFrame(ChannelHandlerContext ctx, WebSocketFrame frame) {
        EngineSocket s = session;
        if (frame instanceof PingWebSocketFrame) {
            ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
            return;
        }
        if (frame instanceof CloseWebSocketFrame) {
            ctx.close();
            return;
        }
        if (frame instanceof PongWebSocketFrame) {
            return;
        }
        EnginePacket p;
        if (frame instanceof BinaryWebSocketFrame) {
            p = EnginePacket.binaryMessage(ByteBufUtil.getBytes(frame.content()));
        } else if (frame instanceof TextWebSocketFrame t) {
            p = EnginePacket.decodeText(t.text());
        } else {
            p = null;
        }
        if (p == null) {
            // Not a packet: the session ends and the connection closes.
            s.eventLoop().execute(() -> s.onWebSocketClosed(ctx.channel(), "parse error"));
            ctx.writeAndFlush(new CloseWebSocketFrame(1002, "parse error")).addListener(f -> ctx.close());
            return;
        }
        if (s.eventLoop().inEventLoop()) {
            s.onWebSocketPacket(ctx.channel(), p);
        } else {
            s.eventLoop().execute(() -> s.onWebSocketPacket(ctx.channel(), p));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        EngineSocket s = session;
        s.eventLoop().execute(() -> s.onWebSocketClosed(ctx.channel(), "transport close"));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
