package dev.crossgate.server.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;

/** The last handler of an upstream connection: hands what the upstream sends to the call using it. */
final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private final UpstreamPool pool;
    ProxyCall call;

    UpstreamHandler(UpstreamPool pool) {
        this.pool = pool;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (call == null || !(msg instanceof HttpObject)) {
            // Nothing is waiting for data on an idle connection: the upstream is out of step. Drop it.
            ReferenceCountUtil.release(msg);
            ctx.close();
            return;
        }
        call.onUpstreamRead((HttpObject) msg);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (call != null) {
            call.onUpstreamWritabilityChanged(ctx.channel().isWritable());
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (call != null) {
            call.onUpstreamClosed(null);
        } else {
            pool.dropIdle(ctx.channel());
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (call != null) {
            call.onUpstreamClosed(cause);
        }
        ctx.close();
    }
}
