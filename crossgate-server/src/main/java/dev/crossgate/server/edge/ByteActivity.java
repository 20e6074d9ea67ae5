package dev.crossgate.server.edge;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/** Records when bytes of a request head started to arrive; the edge handler resets it when a head completes. */
final class ByteActivity extends ChannelInboundHandlerAdapter {
    /** When the first byte of the next request head arrived (System.nanoTime), or 0 when none has. */
    long firstByte;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (firstByte == 0) {
            firstByte = System.nanoTime();
        }
        ctx.fireChannelRead(msg);
    }
}
