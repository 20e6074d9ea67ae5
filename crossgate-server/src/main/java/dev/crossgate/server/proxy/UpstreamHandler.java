package dev.crossgate.server.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpObject;
import io.netty.util.ReferenceCountUtil;

/** The last handler of an upstream connection: hands what the upstream sends to the call using it. */
final class UpstreamHandler extends ChannelInboundHandlerAdapter {
    private final UpstreamPool pool;
    ProxyCall call;
    /** The response-head deadline of the current call (System.nanoTime), or 0 when none is pending. */
    long deadline;
    /**
     * How long the upstream said it keeps an idle connection ({@code Keep-Alive: timeout=N} on its last
     * response), in nanoseconds, or 0 when it did not say.
     */
    long keepAliveNanos;
    /** When the connection went back to the pool (System.nanoTime). */
    long idleSince;
    private io.netty.util.concurrent.ScheduledFuture<?> timer;
    private io.netty.channel.ChannelHandlerContext ctx;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    /**
     * Starts the response-head deadline for the current call. One timer per connection, re-armed only
     * when it fires, instead of a scheduled task per request.
     */
    void startDeadline(long timeoutNanos) {
        deadline = System.nanoTime() + timeoutNanos;
        if (timer == null) {
            timer = ctx.executor().schedule(this::onTimer, timeoutNanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }

    private void onTimer() {
        timer = null;
        if (call == null || deadline == 0 || !ctx.channel().isActive()) {
            return;
        }
        long left = deadline - System.nanoTime();
        if (left > 0) {
            timer = ctx.executor().schedule(this::onTimer, left, java.util.concurrent.TimeUnit.NANOSECONDS);
            return;
        }
        deadline = 0;
        call.onResponseTimeout();
    }

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
