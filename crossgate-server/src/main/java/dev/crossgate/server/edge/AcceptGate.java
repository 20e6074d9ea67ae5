package dev.crossgate.server.edge;

import dev.crossgate.server.observe.Metrics;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.io.IOException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The first handler on a listener (server) channel: it sees each accepted connection before Netty's
 * {@code ServerBootstrapAcceptor} registers it, and keeps the listener alive when the process runs out of
 * descriptors.
 *
 * <ul>
 *   <li><b>A cap, enforced at accept.</b> A connection over {@code cap} is closed at once, before it is
 *       registered with an event loop or given a pipeline (as {@code ServerBootstrapAcceptor.forceClose}
 *       does), and counted as {@code crossgate_connections_refused_total{reason="limit.connections"}}: it never
 *       holds a descriptor past this call, and it costs no task, timer or buffer. The client sees the
 *       connection closed without a response (an HTTP response before the request would be read by no client).</li>
 *   <li><b>Accept failures pause accepting, then retry.</b> When {@code accept(2)} fails (EMFILE, ENFILE,
 *       ENOBUFS), reading from the listener stops for a short pause (50 ms, doubling up to 1 s while it keeps
 *       failing, as Tomcat's acceptor backs off and nginx disables accept events), then resumes. With the epoll
 *       transport, turning reading back on modifies the epoll registration ({@code EPOLL_CTL_MOD}), which
 *       reports a listener whose queue is still non-empty again even though epoll is edge-triggered.</li>
 *   <li><b>Nothing here needs a descriptor to report.</b> Refusals and failures are written to the already open
 *       standard error as a plain line (no time stamp, no formatter), at most one a second, with how many were
 *       not written; the exception is not passed on, so Netty does not log it (its logging formats a time,
 *       which loads time-zone data from a file: see {@link Preload}).</li>
 * </ul>
 *
 * One instance per listener; its state is touched on the listener's event loop, except the open count.
 */
@ChannelHandler.Sharable
final class AcceptGate extends ChannelInboundHandlerAdapter {
    static final long FIRST_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    static final long MAX_PAUSE_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long LINE_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final String listener;
    private final int cap;
    private final Metrics metrics;
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("crossgate.edge");
    private final AtomicInteger open = new AtomicInteger();
    private long pauseNanos = FIRST_PAUSE_NANOS;
    private long lastLine = System.nanoTime() - LINE_EVERY_NANOS;
    private int unwritten;

    /**
     * @param listener the listener's name in metrics and messages ({@code edge}, {@code admin})
     * @param cap      connections this listener holds at once; more are closed at accept
     */
    AcceptGate(String listener, int cap, Metrics metrics) {
        this.listener = listener;
        this.cap = cap;
        this.metrics = metrics;
        metrics.gauge("crossgate.connections.limit", "Connections a listener holds at once (more are closed at accept)",
                () -> this.cap, "listener", listener);
    }

    int cap() {
        return cap;
    }

    int open() {
        return open.get();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Channel child = (Channel) msg;
        pauseNanos = FIRST_PAUSE_NANOS; // accept works again
        if (open.incrementAndGet() > cap) {
            open.decrementAndGet();
            metrics.connectionRefused(listener, "limit.connections"); // counted before the client can see the close
            child.unsafe().closeForcibly(); // not registered: closing the socket is all there is to undo
            say("refusing connections at accept on the " + listener + " listener: " + cap + " open (limit.connections)");
            return;
        }
        // Completed on every close, including a registration that failed (AbstractUnsafe.register0).
        child.closeFuture().addListener(f -> open.decrementAndGet());
        ctx.fireChannelRead(child);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            ctx.fireExceptionCaught(cause);
            return;
        }
        // accept(2) failed: EMFILE/ENFILE (no descriptor left), ENOBUFS/ENOMEM. Retrying at once would fail
        // again (and spin with a level-triggered selector): pause, then retry.
        metrics.acceptError(listener);
        ChannelConfig config = ctx.channel().config();
        if (config.isAutoRead()) {
            config.setAutoRead(false);
            long pause = pauseNanos;
            pauseNanos = Math.min(pauseNanos * 2, MAX_PAUSE_NANOS);
            ctx.executor().schedule(() -> {
                if (ctx.channel().isOpen()) {
                    config.setAutoRead(true);
                }
            }, pause, TimeUnit.NANOSECONDS);
            say("accept failed on the " + listener + " listener (" + cause.getMessage() + "): pausing accepts for "
                    + TimeUnit.NANOSECONDS.toMillis(pause) + " ms (accept.failed)");
        }
    }

    /** One line on standard error, at most one a second (the others are counted in the next line). */
    private void say(String line) {
        long now = System.nanoTime();
        if (now - lastLine < LINE_EVERY_NANOS) {
            unwritten++;
            return;
        }
        lastLine = now;
        // The log's appender writes to stderr, open since the process started: no descriptor is needed (Preload has
        // loaded the logging classes while descriptors were free).
        LOG.warn(line + (unwritten == 0 ? "" : " (and " + unwritten + " more since the last such line)"));
        unwritten = 0;
    }
}
