package dev.crossgate.server.proxy;

import dev.crossgate.server.edge.Reason;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.util.concurrent.TimeUnit;

/**
 * Forwards one exchange to the upstream: acquire a pooled connection (or connect), write the request
 * head, stream the body as the frontend delivers it, stream the response back with backpressure in both
 * directions, and return the connection to the pool only when both messages completed cleanly.
 *
 * <p>A request without a body on a reused pooled connection that the upstream closed before answering
 * (the keep-alive race behind "broken pipe") is retried once when its method is idempotent, always on a
 * new connection: when the upstream restarted or timed out its idle connections, every pooled one is
 * stale, and a retry on the next pooled connection would meet the same fate.
 *
 * <p>The response timeout runs from the moment the last byte of the request was written (its write
 * completed), never while the client is still sending the body: a client that uploads slowly delays
 * only itself. The call reports to its {@link Upstream} what the upstream did (passive health), by the
 * rule in {@link Upstream}'s class comment. Everything runs on the frontend connection's event loop.
 */
public final class ProxyCall {
    /** What the frontend connection does with the upstream's answer. */
    public interface Frontend {
        void responseHead(HttpResponse head);

        void responseContent(HttpContent content);

        /** The exchange failed before or during the response; {@code reason} tells which. */
        void failed(Reason reason);

        /** The request body may flow: the upstream connection is ready and writable. */
        void readyForBody();

        boolean clientWritable();
    }

    private enum State { CONNECTING, FORWARDING, DONE }

    private final Upstream upstream;
    private final UpstreamPool pool;
    private final EventLoop loop;
    private final Frontend frontend;
    private final long responseTimeoutMillis;
    private HttpRequest head;
    private boolean retryable;
    private boolean retried;
    private Channel channel;
    private boolean reused;
    private State state = State.CONNECTING;
    private boolean requestComplete;
    /** The last byte of the request was written to the current connection: the response deadline runs. */
    private boolean requestSent;
    private boolean responseStarted;
    private boolean responseComplete;
    private boolean upstreamKeepAlive;
    private long headWrittenNanos;
    private long firstByteNanos = -1;

    public ProxyCall(Upstream upstream, EventLoop loop, Frontend frontend, long responseTimeoutMillis) {
        this.upstream = upstream;
        this.pool = upstream.pool();
        this.loop = loop;
        this.frontend = frontend;
        this.responseTimeoutMillis = responseTimeoutMillis;
    }

    /** Starts the exchange. {@code head} must be a head without content (the body follows through {@link #sendBody}). */
    public void start(HttpRequest head, boolean hasBody) {
        this.head = head;
        this.retryable = !hasBody && isIdempotent(head);
        this.requestComplete = !hasBody;
        Channel idle = pool.pollIdle(loop);
        if (idle != null) {
            reused = true;
            attach(idle);
            return;
        }
        connect();
    }

    private static boolean isIdempotent(HttpRequest r) {
        String m = r.method().name();
        return m.equals("GET") || m.equals("HEAD") || m.equals("OPTIONS") || m.equals("PUT") || m.equals("DELETE") || m.equals("TRACE");
    }

    /** A new connection (the first try when nothing is pooled, and every retry). */
    private void connect() {
        reused = false;
        ChannelFuture f = pool.connect(loop);
        f.addListener(done -> {
            if (state == State.DONE) {
                if (done.isSuccess()) {
                    f.channel().close();
                }
                return;
            }
            if (!done.isSuccess()) {
                upstream.failed(); // unreachable: refused, timed out, no route
                finishWithFailure(Reason.UPSTREAM_CONNECT_FAILED);
                return;
            }
            attach(f.channel());
        });
    }

    private void attach(Channel ch) {
        channel = ch;
        ch.pipeline().get(UpstreamHandler.class).call = this;
        ch.config().setAutoRead(frontend.clientWritable());
        state = State.FORWARDING;
        requestSent = false;
        // The head is not consumed by writing it (it holds no buffer), so a retry can write it again.
        ChannelFuture w = requestComplete ? ch.write(head) : ch.writeAndFlush(head);
        if (requestComplete) {
            w = ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
        }
        headWrittenNanos = System.nanoTime();
        boolean whole = requestComplete;
        w.addListener(done -> {
            if (channel != ch || state != State.FORWARDING) {
                return; // a retry moved on to another connection, or the call ended
            }
            if (!done.isSuccess()) {
                if (!responseStarted) {
                    onUpstreamClosed(done.cause());
                }
            } else if (whole) {
                requestSent();
            }
        });
        if (!requestComplete && ch.isWritable()) {
            frontend.readyForBody();
        }
    }

    /** True when the frontend may deliver request body now. */
    public boolean canTakeBody() {
        return state == State.FORWARDING && channel != null && channel.isWritable();
    }

    /** Forwards a piece of the request body; takes ownership of {@code content}. */
    public void sendBody(HttpContent content) {
        if (state != State.FORWARDING || channel == null) {
            ReferenceCountUtil.release(content);
            return;
        }
        boolean last = content instanceof LastHttpContent;
        if (last) {
            requestComplete = true;
        }
        Channel ch = channel;
        ch.writeAndFlush(content).addListener(done -> {
            if (!done.isSuccess() || channel != ch || state != State.FORWARDING) {
                return; // a failed write closes the connection: onUpstreamClosed follows
            }
            if (last) {
                requestSent();
            } else if (ch.isWritable()) {
                frontend.readyForBody();
            }
        });
        maybeComplete();
    }

    /**
     * The whole request is on the wire: from now on the upstream alone decides when the answer comes,
     * so the response deadline starts here (not when the head was written, which would charge a slow
     * upload to the upstream).
     */
    private void requestSent() {
        requestSent = true;
        if (responseTimeoutMillis > 0 && !responseStarted) {
            channel.pipeline().get(UpstreamHandler.class).startDeadline(TimeUnit.MILLISECONDS.toNanos(responseTimeoutMillis));
        }
    }

    void onUpstreamWritabilityChanged(boolean writable) {
        if (writable && !requestComplete && state == State.FORWARDING) {
            frontend.readyForBody();
        }
    }

    /** The client's connection became (un)writable: stop or resume reading the upstream. */
    public void onClientWritabilityChanged(boolean writable) {
        if (channel != null && state == State.FORWARDING) {
            channel.config().setAutoRead(writable);
        }
    }

    void onUpstreamRead(HttpObject msg) {
        if (state != State.FORWARDING) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg.decoderResult().isFailure()) {
            ReferenceCountUtil.release(msg);
            closeUpstream();
            finishWithFailure(responseStarted ? Reason.UPSTREAM_RESET : Reason.UPSTREAM_MALFORMED);
            return;
        }
        if (msg instanceof HttpResponse res) {
            if (res.status().code() == 100) {
                ReferenceCountUtil.release(msg); // interim: the client's own Expect handling is not forwarded
                return;
            }
            channel.pipeline().get(UpstreamHandler.class).deadline = 0;
            firstByteNanos = System.nanoTime();
            responseStarted = true;
            upstream.succeeded(); // any status: the upstream answered
            upstreamKeepAlive = HttpUtil.isKeepAlive(res);
            channel.pipeline().get(UpstreamHandler.class).keepAliveNanos = keepAliveTimeoutNanos(res.headers().get("keep-alive"));
            Hop.removeHopByHop(res.headers());
            frontend.responseHead(res);
        }
        if (msg instanceof HttpContent content) {
            boolean last = content instanceof LastHttpContent;
            frontend.responseContent(content);
            if (last) {
                responseComplete = true;
                maybeComplete();
            }
        }
    }

    /**
     * The {@code timeout} parameter of a {@code Keep-Alive} response header (RFC 2068 section 19.7.1.1;
     * sent by Node.js, Apache and others), in nanoseconds, or 0 when absent or not a number.
     */
    static long keepAliveTimeoutNanos(String keepAlive) {
        if (keepAlive == null) {
            return 0;
        }
        for (String param : keepAlive.split(",")) {
            String p = param.trim();
            if (p.regionMatches(true, 0, "timeout=", 0, 8)) {
                try {
                    long seconds = Long.parseLong(p.substring(8).trim());
                    return seconds > 0 && seconds < 86_400 ? TimeUnit.SECONDS.toNanos(seconds) : 0;
                } catch (NumberFormatException e) {
                    return 0;
                }
            }
        }
        return 0;
    }

    void onUpstreamClosed(Throwable cause) {
        if (state == State.DONE) {
            return;
        }
        closeUpstream();
        if (!responseStarted && reused && retryable && !retried) {
            // The keep-alive race: the upstream closed an idle pooled connection as we sent on it. The
            // retry takes a new connection, never another pooled one: they are likely stale as well.
            retried = true;
            state = State.CONNECTING;
            connect();
            return;
        }
        // Counted only when the upstream had the whole request and no answer had begun, on a connection
        // opened for this request (see Upstream): a reset during the upload may be the upstream's own
        // body timeout against a slow client, and a close on a reused connection is the keep-alive race.
        if (requestSent && !responseStarted && !reused) {
            upstream.failed();
        }
        finishWithFailure(Reason.UPSTREAM_RESET);
    }

    void onResponseTimeout() {
        if (state != State.FORWARDING || responseStarted) {
            return;
        }
        closeUpstream();
        upstream.failed(); // the deadline runs only once the whole request was sent
        finishWithFailure(Reason.UPSTREAM_TIMEOUT);
    }

    private void maybeComplete() {
        if (state == State.FORWARDING && requestComplete && responseComplete) {
            state = State.DONE;
            Channel ch = channel;
            channel = null;
            if (ch != null) {
                ch.pipeline().get(UpstreamHandler.class).call = null;
                ch.config().setAutoRead(true);
                if (upstreamKeepAlive) {
                    pool.release(ch);
                } else {
                    ch.close();
                }
            }
        }
    }

    private void finishWithFailure(Reason reason) {
        if (state == State.DONE) {
            return;
        }
        state = State.DONE;
        frontend.failed(reason);
    }

    /**
     * The frontend gave up (client closed, request body malformed, response not wanted): the upstream
     * connection is closed, never returned to the pool, because its framing is in doubt.
     */
    public void abort() {
        if (state == State.DONE && channel == null) {
            return;
        }
        state = State.DONE;
        closeUpstream();
    }

    /** Detaches and closes the upstream connection: its framing is in doubt, so it never returns to the pool. */
    private void closeUpstream() {
        Channel ch = channel;
        channel = null;
        if (ch != null) {
            ch.pipeline().get(UpstreamHandler.class).call = null;
            if (ch instanceof io.netty.channel.socket.DuplexChannel d && ch.isActive()) {
                // Shut the socket down before closing it. Under io_uring a close while a write is still in the ring
                // released the descriptor but left the socket established, holding a partial request at the upstream
                // (SmugglingCorpusTest, shape chunk-size-junk-in-second-chunk); shutdown(2) ends it either way.
                d.shutdown().addListener(f -> ch.close());
            } else {
                ch.close();
            }
        }
    }

    /** Nanoseconds from writing the request head to the response head, or -1. */
    public long upstreamNanos() {
        return firstByteNanos < 0 ? -1 : firstByteNanos - headWrittenNanos;
    }

    public boolean responseStarted() {
        return responseStarted;
    }

}
