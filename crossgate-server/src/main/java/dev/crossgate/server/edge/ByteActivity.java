package dev.crossgate.server.edge;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/** Records that bytes arrived on the connection; the edge handler resets it when a request head completes. */
final class ByteActivity extends ChannelInboundHandlerAdapter {
    boolean seen;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        seen = true;
        ctx.fireChannelRead(msg);
    }
}
