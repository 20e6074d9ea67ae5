package dev.crossgate.server.ws;

import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.Metrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.CorruptedWebSocketFrameException;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameDecoder;
import io.netty.handler.codec.http.websocketx.WebSocket13FrameEncoder;
import io.netty.handler.codec.http.websocketx.WebSocketDecoderConfig;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A WebSocket between a client and an upstream after both handshakes: frames are decoded on each side
 * (so limits, keep-alive and closes can be handled) and relayed as they are — opcodes, fragmentation and
 * the RSV bits of extensions negotiated end to end (permessage-deflate passes through compressed).
 *
 * <ul>
 *   <li>Backpressure: a side stops being read while the other cannot take more.</li>
 *   <li>Limits: a frame over {@code maxFrameSize} (the decoder's check) or a message over
 *       {@code maxMessageSize} (fragments together) closes the sender with 1009 and the other side with 1001.</li>
 *   <li>Keep-alive: a side quiet for {@code pingInterval} gets a Ping from the edge (its Pong is not
 *       relayed); a side quiet for {@code idleTimeout} is closed with 1001 {@code ws.idle_timeout}. A side
 *       that drains a backlog queued for it is not quiet (its Pong may be stuck behind that backlog).</li>
 *   <li>Closes are relayed with their code and reason; after both Close frames the edge closes both
 *       connections. A connection lost without a Close gives the other side 1001 {@code client.gone}
 *       (toward the upstream) or 1011 {@code upstream.reset} (toward the client).</li>
 *   <li>A side that breaks the protocol — a malformed frame, a Close whose code may not be sent (RFC 6455
 *       §7.4.1, §7.4.2) or whose reason is not UTF-8 (§5.5.1, §8.1) — is failed as §7.1.7 says: it gets a
 *       Close of its own (1002, or 1007 for bad UTF-8) and then its connection ends; the other side hears
 *       1001 (the upstream) or 1011 (the client) {@code ws.protocol_error}. Its bad Close is not relayed.</li>
 * </ul>
 * Both channels share one event loop (the upstream connection is made on the client's), so no state here
 * is shared between threads.
 */
public final class WsTunnel {
    /** Close code sent to a client whose token expired while connected: refresh the token and reconnect. */
    public static final int CLOSE_AUTH_EXPIRED = 4401;
    /** How long the edge waits for the other Close frame before closing the connections anyway. */
    private static final long CLOSE_GRACE_MILLIS = 5_000;

    private final CrossgateConfig.WebSocket settings;
    private final Metrics metrics;
    private final Side client;
    private final Side upstream;
    /** This tunnel's keep-alive Ping payload, so that its Pongs are told apart from the endpoints' own. */
    private final byte[] pingPayload = new byte[12];
    private boolean ended;

    private WsTunnel(CrossgateConfig.WebSocket settings, Metrics metrics, Channel clientChannel, Channel upstreamChannel) {
        this.settings = settings;
        this.metrics = metrics;
        ThreadLocalRandom.current().nextBytes(pingPayload);
        this.client = new Side(true, clientChannel);
        this.upstream = new Side(false, upstreamChannel);
    }

    /**
     * The decoder for frames arriving from a client (masked) or from the upstream (unmasked). With an
     * extension negotiated end to end its RSV bits pass through to the other end; without one, a frame
     * with an RSV bit set fails the connection here (1002).
     *
     * <p>The decoder does not close the connection itself on a protocol violation: after it has seen a
     * Close opcode (even one whose body it then rejects) Netty writes no Close and drops TCP, which
     * §7.1.7 does not allow. The tunnel answers the violation instead (see {@link Side#fail}).
     */
    public static WebSocket13FrameDecoder decoder(CrossgateConfig.WebSocket settings, boolean fromClient, boolean extensions) {
        return new WebSocket13FrameDecoder(WebSocketDecoderConfig.newBuilder()
                .expectMaskedFrames(fromClient)
                .allowMaskMismatch(false)
                .allowExtensions(extensions)
                .maxFramePayloadLength(settings.maxFrameSize())
                .closeOnProtocolViolation(false)
                .build());
    }

    /** The encoder toward a client (unmasked) or toward the upstream (masked, as a client must). */
    public static WebSocket13FrameEncoder encoder(boolean toClient) {
        return new WebSocket13FrameEncoder(!toClient);
    }

    /**
     * Joins the two channels. Each pipeline must already encode and decode frames (the encoder nearer the
     * socket than the decoder, so that a Close the decoder sends on a protocol violation is encoded); the
     * handlers are added before {@code beforeClient} and at the end of the upstream's pipeline.
     */
    public static WsTunnel open(CrossgateConfig.WebSocket settings, Metrics metrics, Channel clientChannel, String beforeClient,
                                Channel upstreamChannel) {
        WsTunnel t = new WsTunnel(settings, metrics, clientChannel, upstreamChannel);
        metrics.openWebSockets().incrementAndGet();
        upstreamChannel.pipeline().addLast("ws", t.upstream);
        clientChannel.pipeline().addBefore(beforeClient, "ws", t.client);
        clientChannel.config().setAutoRead(true);
        upstreamChannel.config().setAutoRead(true);
        return t;
    }

    /** Closes both sides with {@code code} and {@code reason} (the edge going away, a token that expired). */
    public void close(int code, String reason) {
        if (client.ctx.executor().inEventLoop()) {
            end(reason, code, reason, code, reason);
        } else {
            client.ctx.executor().execute(() -> close(code, reason));
        }
    }

    public boolean isOpen() {
        return !ended;
    }

    /**
     * Ends the tunnel: sends each side a Close (unless it already got one), then closes both connections
     * once the Close frames are written, or after a grace period while the endpoints still owe a Close.
     */
    private void end(String why, int clientCode, String clientReason, int upstreamCode, String upstreamReason) {
        if (ended) {
            return;
        }
        ended = true;
        metrics.openWebSockets().decrementAndGet();
        metrics.webSocketClosed(why);
        client.sendClose(clientCode, clientReason);
        upstream.sendClose(upstreamCode, upstreamReason);
        client.closeWhenDone();
        upstream.closeWhenDone();
    }

    /**
     * The codes an endpoint may send in a Close frame (RFC 6455 §7.4.1, §7.4.2 and the IANA "WebSocket Close
     * Code Number" registry, as Autobahn's cases 7.7 and 7.9 test): 1000-1003, 1007-1014 and the 3000-4999
     * ranges for libraries and applications. 1004 is reserved, 1005, 1006 and 1015 stand for "no code",
     * "no Close" and "TLS failed" in an API and are never on the wire, codes below 1000 are unused and
     * 1016-2999 and 5000 and above are unassigned. A Close without a body (no code) is allowed (§5.5.1).
     */
    static boolean sendableCloseCode(int code) {
        return code == -1 || (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
    }

    /** One side of the tunnel: the handler on that side's channel. */
    private final class Side extends ChannelDuplexHandler {
        final boolean isClient;
        final Channel channel;
        ChannelHandlerContext ctx;
        /** When this side last sent a frame or drained what was queued for it. */
        long lastReadNanos = System.nanoTime();
        long messageBytes;
        /** This side sent its Close; anything it sends after is dropped. */
        boolean closeReceived;
        /** A Close was written to this side. */
        boolean closeSent;
        ScheduledFuture<?> keepAlive;
        ScheduledFuture<?> grace;

        Side(boolean isClient, Channel channel) {
            this.isClient = isClient;
            this.channel = channel;
        }

        Side other() {
            return isClient ? upstream : client;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            long every = settings.pingInterval().toNanos();
            keepAlive = ctx.executor().scheduleAtFixedRate(this::keepAlive, every, every, TimeUnit.NANOSECONDS);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            cancelTimers();
        }

        private void cancelTimers() {
            if (keepAlive != null) {
                keepAlive.cancel(false);
            }
            if (grace != null) {
                grace.cancel(false);
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof WebSocketFrame frame)) {
                ReferenceCountUtil.release(msg); // the empty end of the upstream's 101, read before the switch
                return;
            }
            lastReadNanos = System.nanoTime();
            if (closeReceived) {
                frame.release(); // nothing counts after a side's own Close
                return;
            }
            if (frame instanceof PongWebSocketFrame && isKeepAlivePong(frame.content())) {
                frame.release();
                return;
            }
            if (frame instanceof CloseWebSocketFrame close) {
                closeFrom(close);
                return;
            }
            if (frame instanceof TextWebSocketFrame || frame instanceof BinaryWebSocketFrame) {
                messageBytes = frame.content().readableBytes();
            } else if (frame instanceof ContinuationWebSocketFrame) {
                messageBytes += frame.content().readableBytes();
            }
            if (messageBytes > settings.maxMessageSize()) {
                frame.release();
                String reason = "ws.message_too_large";
                if (isClient) {
                    end(reason, 1009, reason, 1001, reason);
                } else {
                    end(reason, 1001, reason, 1009, reason);
                }
                return;
            }
            Side to = other();
            if (to.closeSent) {
                frame.release(); // no data may follow the Close this edge sent to the other side
                return;
            }
            metrics.webSocketFrame(isClient);
            to.ctx.write(frame, to.ctx.voidPromise());
            if (!to.channel.isWritable()) {
                channel.config().setAutoRead(false); // resumed in the other side's channelWritabilityChanged
            }
        }

        /** This side's Close: relayed with its code and reason; when both have closed, both connections end. */
        private void closeFrom(CloseWebSocketFrame close) {
            if (!sendableCloseCode(close.statusCode())) {
                // Netty's decoder refuses most such codes itself (exceptionCaught); it lets 5000 and above through.
                close.release();
                fail(1002, "ws.protocol_error");
                return;
            }
            closeReceived = true;
            Side to = other();
            if (!ended) {
                ended = true;
                metrics.openWebSockets().decrementAndGet();
                metrics.webSocketClosed(isClient ? "client_close" : "upstream_close");
            }
            if (!to.closeSent) {
                to.closeSent = true;
                to.ctx.writeAndFlush(close, to.ctx.voidPromise());
            } else {
                close.release();
            }
            if (closeSent) {
                // The closing handshake is complete on this side: its connection can end.
                closeConnection();
            }
            if (to.closeReceived) {
                to.closeConnection();
            }
            to.closeWhenDone();
            closeWhenDone();
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            other().ctx.flush();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (channel.isWritable()) {
                lastReadNanos = System.nanoTime(); // it took what was queued for it: alive, if slow
            }
            Side from = other();
            if (from.channel.isActive()) {
                from.channel.config().setAutoRead(channel.isWritable());
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            cancelTimers();
            Side to = other();
            if (!ended) {
                // Lost without a Close: the other side hears why.
                if (isClient) {
                    end("client.gone", 1001, "client.gone", 1001, "client.gone");
                } else {
                    end("upstream.reset", 1011, "upstream.reset", 1011, "upstream.reset");
                }
            }
            to.closeWhenDone();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (cause instanceof CorruptedWebSocketFrameException e) {
                // The decoder's verdict (1002, 1007 or 1009); it discards whatever this side sends from now on.
                int code = e.closeStatus().code();
                fail(code, code == 1009 ? "ws.frame_too_large" : "ws.protocol_error");
                return;
            }
            channel.close(); // an I/O error: channelInactive tells the other side
        }

        /**
         * Fails this side (RFC 6455 §7.1.7): a Close with {@code code}, unless one was already sent, then the
         * end of its connection once that Close is written; it is not waited for, since nothing it sends is
         * read any more. The other side is closed as when a side goes away, with {@code why} as the reason.
         */
        private void fail(int code, String why) {
            closeReceived = true;
            if (!ended) {
                ended = true;
                metrics.openWebSockets().decrementAndGet();
                metrics.webSocketClosed(why);
            }
            sendClose(code, why);
            other().sendClose(isClient ? 1001 : 1011, why);
            closeWhenDone();
            other().closeWhenDone();
        }

        private void keepAlive() {
            if (!channel.isActive() || ended) {
                return;
            }
            if (!channel.config().isAutoRead()) {
                // Not read because the other side is slow (backpressure): its silence is not its own.
                lastReadNanos = System.nanoTime();
                return;
            }
            long quiet = System.nanoTime() - lastReadNanos;
            if (quiet >= settings.idleTimeout().toNanos()) {
                end("ws.idle_timeout", 1001, "ws.idle_timeout", 1001, "ws.idle_timeout");
            } else if (quiet >= settings.pingInterval().toNanos() - TimeUnit.MILLISECONDS.toNanos(50)) {
                ctx.writeAndFlush(new PingWebSocketFrame(Unpooled.wrappedBuffer(pingPayload)), ctx.voidPromise());
            }
        }

        private boolean isKeepAlivePong(ByteBuf content) {
            return content.readableBytes() == pingPayload.length
                    && ByteBufUtil.equals(content, content.readerIndex(), Unpooled.wrappedBuffer(pingPayload), 0, pingPayload.length);
        }

        void sendClose(int code, String reason) {
            if (closeSent || !channel.isActive()) {
                return;
            }
            closeSent = true;
            ctx.writeAndFlush(new CloseWebSocketFrame(code, reason), ctx.voidPromise());
        }

        /** Closes this connection once what was written is flushed; at the latest after the grace period. */
        void closeWhenDone() {
            if (closeSent && closeReceived) {
                closeConnection();
            } else if (grace == null && channel.isActive()) {
                grace = ctx.executor().schedule(this::closeConnection, CLOSE_GRACE_MILLIS, TimeUnit.MILLISECONDS);
            }
        }

        void closeConnection() {
            if (channel.isActive()) {
                ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
            }
        }
    }
}
