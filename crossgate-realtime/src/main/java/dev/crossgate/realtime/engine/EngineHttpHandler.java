package dev.crossgate.realtime.engine;

import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.ReferenceCountUtil;
import java.util.List;

/**
 * The Netty handler of a standalone server in front of one or more {@link EngineServer}s: aggregated HTTP
 * requests on their paths go to them, other paths to {@code fallback}. Once a connection carries a
 * session's WebSocket, its frames go to an {@link EngineFrameHandler} placed before this one. One instance
 * per connection.
 */
public final class EngineHttpHandler extends ChannelInboundHandlerAdapter implements EngineConnection {
    /** What answers requests on no Engine.IO path; it must release the request. */
    @FunctionalInterface
    public interface Fallback {
        void handle(ChannelHandlerContext ctx, FullHttpRequest req);
    }

    private final List<EngineServer> servers;
    private final Fallback fallback;
    private EngineSocket pollingSession;

    public EngineHttpHandler(List<EngineServer> servers, Fallback fallback) {
        this.servers = servers;
        this.fallback = fallback;
    }

    @Override
    public void respond(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse res, String reason) {
        if (!keepAlive) {
            res.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        var f = ctx.writeAndFlush(res);
        if (!keepAlive) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void polling(EngineSocket s) {
        pollingSession = s;
    }

    @Override
    public void upgraded(ChannelHandlerContext ctx, EngineSocket s) {
        pollingSession = null;
        ctx.pipeline().remove(this); // the connection carries frames only now; one handler less per WebSocket
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
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

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
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
