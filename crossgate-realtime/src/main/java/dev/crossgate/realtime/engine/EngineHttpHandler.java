package dev.crossgate.realtime.engine;

import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import java.util.List;

/**
 * The Netty handler in front of one or more {@link EngineServer}s: aggregated HTTP requests on their paths
 * go to them, other paths to {@code fallback} (or 404), and once a connection became a WebSocket its frames
 * go to its session. One instance per connection.
 */
public final class EngineHttpHandler extends ChannelInboundHandlerAdapter {
    /** What answers requests on no Engine.IO path; it must release the request. */
    @FunctionalInterface
    public interface Fallback {
        void handle(ChannelHandlerContext ctx, FullHttpRequest req);
    }

    private final List<EngineServer> servers;
    private final Fallback fallback;
    private EngineSocket webSocketSession;
    private EngineSocket pollingSession;

    public EngineHttpHandler(List<EngineServer> servers, Fallback fallback) {
        this.servers = servers;
        this.fallback = fallback;
    }

    void webSocketOf(EngineSocket s) {
        webSocketSession = s;
    }

    void pollingFor(EngineSocket s) {
        pollingSession = s;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof WebSocketFrame frame) {
            try {
                onFrame(ctx, frame);
            } finally {
                frame.release();
            }
            return;
        }
        if (!(msg instanceof FullHttpRequest req)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        String path = new QueryStringDecoder(req.uri()).path();
        for (EngineServer s : servers) {
            if (s.covers(path)) {
                try {
                    s.handle(this, ctx, req);
                } finally {
                    req.release();
                }
                return;
            }
        }
        fallback.handle(ctx, req);
    }

    private void onFrame(ChannelHandlerContext ctx, WebSocketFrame frame) {
        EngineSocket s = webSocketSession;
        if (frame instanceof PingWebSocketFrame) {
            ctx.writeAndFlush(new PongWebSocketFrame(frame.content().retain()));
            return;
        }
        if (frame instanceof CloseWebSocketFrame) {
            ctx.close();
            return;
        }
        if (s == null || frame instanceof PongWebSocketFrame) {
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
        EnginePacket packet = p;
        if (s.eventLoop().inEventLoop()) {
            s.onWebSocketPacket(ctx.channel(), packet);
        } else {
            s.eventLoop().execute(() -> s.onWebSocketPacket(ctx.channel(), packet));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (webSocketSession != null) {
            EngineSocket s = webSocketSession;
            s.eventLoop().execute(() -> s.onWebSocketClosed(ctx.channel(), "transport close"));
        }
        if (pollingSession != null) {
            pollingSession.pollConnectionClosed(ctx);
        }
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
