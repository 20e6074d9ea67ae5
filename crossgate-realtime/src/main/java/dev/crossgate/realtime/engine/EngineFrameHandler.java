package dev.crossgate.realtime.engine;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.CompositeByteBuf;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;

/**
 * The WebSocket frames of one connection, each message an Engine.IO packet of one session (the session's
 * own WebSocket, or the probe of its upgrade from polling). A fragmented message is reassembled here, up to
 * {@code maxPayload} bytes (close 1009 beyond), so no separate aggregator is needed per connection. Placed in
 * the pipeline before the WebSocket handshake is answered, so no frame can arrive before it; other messages
 * pass on untouched.
 *
 * <p>Closes follow RFC 6455: a client's Close is answered with a Close echoing its code (§5.5.1), then the
 * server ends the connection (§7.1.1). A Close whose code may not be sent (§7.4.1, §7.4.2) or whose reason is
 * not UTF-8 (§8.1), and any other frame the decoder refuses, fail the connection as §7.1.7 says: a Close with
 * 1002, 1007 or 1009 first, then the end of TCP. The decoder is configured not to close by itself, since after
 * a Close opcode it would drop TCP without any Close (see {@code EngineServer.handshaker}).
 */
public final class EngineFrameHandler extends ChannelInboundHandlerAdapter {
    private final EngineSocket session;
    private final int maxPayload;
    /** The fragments of a message being received (null between messages), and whether it is binary. */
    private CompositeByteBuf fragments;
    private boolean fragmentsBinary;
    /** A Close was written: what the client sends after it is ignored. */
    private boolean closing;

    EngineFrameHandler(EngineSocket session, int maxPayload) {
        this.session = session;
        this.maxPayload = maxPayload;
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
        if (closing) {
            return;
        }
        if (frame instanceof PingWebSocketFrame) {
            ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
            return;
        }
        if (frame instanceof CloseWebSocketFrame close) {
            int code = close.statusCode();
            if (!sendableCloseCode(code)) {
                fail(ctx, 1002, "invalid close code");
                return;
            }
            closing = true;
            // §5.5.1: the answer echoes the code (none if the client sent none); the session ends in channelInactive.
            ctx.writeAndFlush(code == -1 ? new CloseWebSocketFrame() : new CloseWebSocketFrame(code, ""))
                    .addListener(ChannelFutureListener.CLOSE);
            return;
        }
        if (frame instanceof PongWebSocketFrame) {
            return;
        }
        boolean continuation = frame instanceof ContinuationWebSocketFrame;
        if (continuation != (fragments != null) || !(continuation || frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame)) {
            fail(ctx, 1002, "parse error"); // a continuation with no message begun, or a new message inside one
            return;
        }
        if (!frame.isFinalFragment() || continuation) {
            if (fragments == null) {
                fragments = ctx.alloc().compositeBuffer();
                fragmentsBinary = frame instanceof BinaryWebSocketFrame;
            }
            if (fragments.readableBytes() + frame.content().readableBytes() > maxPayload) {
                fail(ctx, 1009, "message too big");
                return;
            }
            fragments.addComponent(true, frame.content().retain());
            if (!frame.isFinalFragment()) {
                return;
            }
        }
        ByteBuf content = fragments != null ? fragments : frame.content();
        boolean binary = fragments != null ? fragmentsBinary : frame instanceof BinaryWebSocketFrame;
        EnginePacket p;
        try {
            p = binary ? EnginePacket.binaryMessage(ByteBufUtil.getBytes(content)) : EnginePacket.decodeText(content.toString(StandardCharsets.UTF_8));
        } finally {
            if (fragments != null) {
                fragments.release();
                fragments = null;
            }
        }
        if (p == null) {
            fail(ctx, 1002, "parse error"); // not a packet
            return;
        }
        if (s.eventLoop().inEventLoop()) {
            s.onWebSocketPacket(ctx.channel(), p);
        } else {
            s.eventLoop().execute(() -> s.onWebSocketPacket(ctx.channel(), p));
        }
    }

    /**
     * The codes a client may send in a Close (RFC 6455 §7.4.1, §7.4.2, the IANA registry; Autobahn cases 7.7, 7.9):
     * 1000-1003, 1007-1014, 3000-4999, or none at all (-1). 1005, 1006 and 1015 are never on the wire.
     */
    static boolean sendableCloseCode(int code) {
        return code == -1 || (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    }

    /** The session ends and the connection closes with {@code code}, after a Close with it is written (§7.1.7). */
    private void fail(ChannelHandlerContext ctx, int code, String reason) {
        if (closing) {
            return;
        }
        closing = true;
        if (fragments != null) {
            fragments.release();
            fragments = null;
        }
        EngineSocket s = session;
        s.eventLoop().execute(() -> s.onWebSocketClosed(ctx.channel(), code == 1009 ? "transport error" : "parse error"));
        ctx.writeAndFlush(new CloseWebSocketFrame(code, reason)).addListener(f -> ctx.close());
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (fragments != null) {
            fragments.release();
            fragments = null;
        }
        EngineSocket s = session;
        s.eventLoop().execute(() -> s.onWebSocketClosed(ctx.channel(), "transport close"));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof CorruptedWebSocketFrameException e) {
            // The decoder's verdict (1002, 1007 or 1009); it discards whatever the client sends from now on.
            fail(ctx, e.closeStatus().code(), e.closeStatus().reasonText());
            return;
        }
        ctx.close();
    }
}
