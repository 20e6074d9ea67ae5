package dev.crossgate.bench.ws;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Closed-loop WebSocket echo load: C connections to a {@code ws://127.0.0.1} URL, each sending one text
 * message of S bytes, waiting for its echo, checking that the echo equals what was sent, and sending the
 * next. Round-trip times (System.nanoTime, send to echo) are recorded for echoes that arrive in the
 * measured window, which starts W seconds after every connection has completed its handshake and lasts D
 * seconds; the warm-up before it is not recorded. Messages/s is the number of echoes in the window over D.
 *
 * <p>Prints one line of JSON on stdout; problems (failed handshakes, wrong echoes, connections closed or
 * stalled before the end) are counted in {@code errors} and described on stderr, where the lines
 * {@code load: window started} and {@code load: window ended} also mark the measured window. The run is
 * bounded: the process gives up W + D + 10 seconds after it started, counting connections still waiting
 * as errors.
 */
final class LoadClient {
    private static final long HANDSHAKE_TIMEOUT_MILLIS = 5_000;
    private static final long CLOSE_GRACE_NANOS = TimeUnit.SECONDS.toNanos(2);
    /** Digits of the per-connection message counter written at the start of each message. */
    private static final int COUNTER_DIGITS = 12;

    private final URI uri;
    private final int connections;
    private final int size;
    private final int warmupSeconds;
    private final int durationSeconds;
    private final int threads;
    private final String origin;
    private final long startNanos = System.nanoTime();
    private final long deadlineNanos;

    private final AtomicLong errors = new AtomicLong();
    private final Map<EventLoop, LatencyHistogram> histograms = new ConcurrentHashMap<>();
    private final CountDownLatch finished;
    private volatile long windowStart;
    private volatile long windowEnd;

    private LoadClient(URI uri, int connections, int size, int warmupSeconds, int durationSeconds, int threads, String origin) {
        this.uri = uri;
        this.connections = connections;
        this.size = size;
        this.warmupSeconds = warmupSeconds;
        this.durationSeconds = durationSeconds;
        this.threads = threads;
        this.origin = origin;
        this.deadlineNanos = startNanos + TimeUnit.SECONDS.toNanos(warmupSeconds + durationSeconds + 10L);
        this.finished = new CountDownLatch(connections);
    }

    static void main(String[] args) throws InterruptedException {
        Options options = new Options(args);
        URI uri = loopbackWebSocketUri(options.string("url", null));
        int connections = options.integer("connections", 50, 1, 10_000);
        int size = options.integer("size", 64, 1, 1 << 20);
        int warmup = options.integer("warmup", 0, 0, 3600);
        int duration = options.integer("duration", 10, 1, 3600);
        int threads = options.integer("threads", 1, 1, 64);
        String origin = options.string("origin", "https://app.example.com");
        options.noOthers();
        Epoll.ensureAvailability();
        System.out.println(new LoadClient(uri, connections, size, warmup, duration, threads, origin).run());
    }

    /** The URL as a URI, refused unless it is {@code ws://127.0.0.1:PORT/...}: the benchmark stays on loopback. */
    static URI loopbackWebSocketUri(String url) {
        URI uri;
        try {
            uri = new URI(url);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("--url " + url + ": " + e.getMessage());
        }
        if (!"ws".equals(uri.getScheme()) || !"127.0.0.1".equals(uri.getHost()) || uri.getPort() <= 0) {
            throw new IllegalArgumentException("--url " + url + ": only ws://127.0.0.1:PORT/... is allowed");
        }
        return uri;
    }

    private String run() throws InterruptedException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        List<Connection> open = new ArrayList<>();
        try {
            List<Connection> all = connectAll(group);
            for (Connection c : all) {
                if (awaitHandshake(c)) {
                    open.add(c);
                } else {
                    finished.countDown();
                }
            }
            long now = System.nanoTime();
            windowStart = now + TimeUnit.SECONDS.toNanos(warmupSeconds);
            windowEnd = windowStart + TimeUnit.SECONDS.toNanos(durationSeconds);
            for (Connection c : open) {
                c.channel().eventLoop().execute(c::sendNext);
            }
            // For a caller that measures something else over the same window (bench/ws-echo.sh: CPU use).
            TimeUnit.NANOSECONDS.sleep(windowStart - System.nanoTime());
            System.err.println("load: window started");
            TimeUnit.NANOSECONDS.sleep(windowEnd - System.nanoTime());
            System.err.println("load: window ended");
            long left = deadlineNanos - CLOSE_GRACE_NANOS - System.nanoTime();
            if (!finished.await(Math.max(left, 0), TimeUnit.NANOSECONDS)) {
                for (Connection c : open) {
                    c.channel().eventLoop().execute(c::giveUp);
                }
            }
            closeAll(open);
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).await(5, TimeUnit.SECONDS);
        }
        LatencyHistogram total = new LatencyHistogram();
        histograms.values().forEach(total::add);
        return report(total);
    }

    private List<Connection> connectAll(EventLoopGroup group) {
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        headers.set(HttpHeaderNames.ORIGIN, origin);
        WebSocketClientProtocolConfig config = WebSocketClientProtocolConfig.newBuilder()
                .webSocketUri(uri)
                .version(WebSocketVersion.V13)
                .customHeaders(headers)
                .generateOriginHeader(false)
                .allowExtensions(false)
                .maxFramePayloadLength(Math.max(size, 64 * 1024))
                .handshakeTimeoutMillis(HANDSHAKE_TIMEOUT_MILLIS)
                .withUTF8Validator(false) // the echo is compared byte for byte instead
                .build();
        Bootstrap bootstrap = new Bootstrap()
                .group(group)
                .channel(EpollSocketChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) HANDSHAKE_TIMEOUT_MILLIS);
        List<Connection> all = new ArrayList<>(connections);
        for (int i = 0; i < connections; i++) {
            Connection c = new Connection(i);
            all.add(c);
            c.connecting = bootstrap.clone().handler(new ChannelInitializer<SocketChannel>() {
                @Override
                protected void initChannel(SocketChannel ch) {
                    ch.pipeline().addLast(
                            new HttpClientCodec(),
                            new HttpObjectAggregator(64 * 1024),
                            new WebSocketClientProtocolHandler(config),
                            new WebSocketFrameAggregator(Math.max(size, 64 * 1024)),
                            c);
                }
            }).connect(uri.getHost(), uri.getPort()).addListener(f -> {
                if (!f.isSuccess()) {
                    c.handshakeFailed("connect: " + f.cause());
                }
            });
        }
        return all;
    }

    /** Waits (at most 5 s after the start, for all connections together) for the connection's handshake; whether it succeeded. */
    private boolean awaitHandshake(Connection c) throws InterruptedException {
        long until = startNanos + TimeUnit.MILLISECONDS.toNanos(HANDSHAKE_TIMEOUT_MILLIS);
        try {
            return c.handshake.get(Math.max(until - System.nanoTime(), 0), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            c.handshakeFailed("no handshake in time");
            if (c.handshake.join()) {
                return true; // it completed just now after all
            }
            c.channel().close();
            return false;
        } catch (ExecutionException e) {
            throw new IllegalStateException(e); // never: the future is only ever completed with a value
        }
    }

    /** Sends a Close to every connection still open and waits (until the deadline) for the peers to close. */
    private void closeAll(List<Connection> open) throws InterruptedException {
        for (Connection c : open) {
            if (c.channel().isActive()) {
                c.channel().writeAndFlush(new CloseWebSocketFrame(WebSocketCloseStatus.NORMAL_CLOSURE));
            }
        }
        long until = Math.min(deadlineNanos, System.nanoTime() + CLOSE_GRACE_NANOS);
        for (Connection c : open) {
            c.channel().closeFuture().await(Math.max(until - System.nanoTime(), 0), TimeUnit.NANOSECONDS);
            c.channel().close();
        }
    }

    private String report(LatencyHistogram h) {
        long messages = h.count();
        return String.format(Locale.ROOT,
                "{\"connections\":%d,\"size\":%d,\"seconds\":%d,\"messages\":%d,\"messagesPerSec\":%.1f,"
                        + "\"p50Ms\":%.3f,\"p90Ms\":%.3f,\"p99Ms\":%.3f,\"maxMs\":%.3f,\"errors\":%d}",
                connections, size, durationSeconds, messages, (double) messages / durationSeconds,
                h.percentile(50) / 1e6, h.percentile(90) / 1e6, h.percentile(99) / 1e6, h.max() / 1e6, errors.get());
    }

    private void error(String what) {
        errors.incrementAndGet();
        System.err.println("load: " + what);
    }

    /**
     * One connection's closed loop, on its event loop: one message in flight at a time. The message is
     * text: a zero-padded counter of the messages this connection sent, then filler letters.
     */
    private final class Connection extends SimpleChannelInboundHandler<WebSocketFrame> {
        final int id;
        /** Completed with true once the handshake is done, or false when it failed (the first outcome wins). */
        final CompletableFuture<Boolean> handshake = new CompletableFuture<>();
        /** The connect, for the main thread; the handler itself uses {@link #ctx}. */
        ChannelFuture connecting;
        private final byte[] message = new byte[size];
        private final ByteBuf expected = Unpooled.wrappedBuffer(message);
        private ChannelHandlerContext ctx;
        private LatencyHistogram histogram;
        private long sent;
        private long sentAt;
        private boolean waiting;
        private boolean done;

        Connection(int id) {
            this.id = id;
            for (int i = 0; i < size; i++) {
                message[i] = (byte) ('a' + (id + i) % 26);
            }
        }

        Channel channel() {
            return connecting.channel();
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            histogram = histograms.computeIfAbsent(ctx.channel().eventLoop(), l -> new LatencyHistogram());
        }

        void sendNext() {
            if (done || !ctx.channel().isActive()) {
                return;
            }
            long n = ++sent;
            for (int i = Math.min(COUNTER_DIGITS, size) - 1; i >= 0; i--, n /= 10) {
                message[i] = (byte) ('0' + n % 10);
            }
            ByteBuf payload = ctx.alloc().buffer(size).writeBytes(message);
            waiting = true;
            sentAt = System.nanoTime();
            ctx.writeAndFlush(new TextWebSocketFrame(payload)).addListener(f -> {
                if (!f.isSuccess()) {
                    stop("write failed: " + f.cause());
                }
            });
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            long now = System.nanoTime();
            if (done) {
                return; // a late frame after the window
            }
            if (!waiting || !(frame instanceof TextWebSocketFrame)) {
                stop("unexpected " + frame.getClass().getSimpleName() + (waiting ? "" : " (no message in flight)"));
                return;
            }
            waiting = false;
            if (!ByteBufUtil.equals(frame.content(), expected)) {
                stop("echo of message " + sent + " differs from what was sent (" + frame.content().readableBytes()
                        + " bytes for " + size + ")");
                return;
            }
            if (now >= windowStart && now < windowEnd) {
                histogram.record(now - sentAt);
            }
            if (now >= windowEnd) {
                finish();
            } else {
                sendNext();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                handshake.complete(true);
            } else if (evt == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_TIMEOUT) {
                handshakeFailed("handshake timed out");
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            failed("closed by the peer");
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failed(cause.toString());
            ctx.close();
        }

        /** Counts an error unless the handshake already failed or succeeded (safe from any thread). */
        void handshakeFailed(String why) {
            if (handshake.complete(false)) {
                error("connection " + id + ": " + why);
            }
        }

        /** The deadline passed with this connection still in its loop (an echo that never came). */
        void giveUp() {
            stop(waiting ? "no echo of message " + sent + " by the deadline" : "still running at the deadline");
        }

        private void failed(String why) {
            if (handshake.getNow(false)) {
                stop(why);
            } else {
                handshakeFailed(why + " during the handshake");
            }
        }

        private void stop(String why) {
            if (done) {
                return;
            }
            error("connection " + id + ": " + why);
            finish();
            ctx.close();
        }

        private void finish() {
            if (!done) {
                done = true;
                finished.countDown();
            }
        }
    }
}
