package dev.crossgate.server.ws;

import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.Reason;
import dev.crossgate.server.proxy.Upstream;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The upstream half of a WebSocket handshake: a new (never pooled) connection on the client's event loop,
 * the client's upgrade request sent on it, and the answer judged. A 101 that completes the handshake
 * (the right {@code Sec-WebSocket-Accept}, {@code Upgrade: websocket}, an offered subprotocol) switches
 * the connection to frames and hands it to the frontend; any other answer is relayed as an HTTP response
 * (with CORS, through the edge's one exit) and the connection is closed after it.
 *
 * <p>Passive health, by the rule in {@link Upstream}'s class comment: a connect failure, a reset before
 * the answer, and no answer within the timeout (measured from the moment the handshake request was
 * written) count against the upstream; any answer, 101 or not, counts for it; an invalid 101 or a
 * malformed answer counts neither way.
 */
public final class WsProxy {
    /** The client side of the edge. */
    public interface Frontend {
        /** The upstream accepted: {@code upstream} now encodes and decodes frames; the frontend answers 101 and opens the tunnel. */
        void switched(HttpResponse upstream101, Channel upstream);

        /** The upstream answered with something other than 101: relayed as an HTTP response. */
        void responseHead(HttpResponse head);

        void responseContent(HttpContent content);

        void failed(Reason reason);
    }

    private final Upstream upstream;
    private final EventLoop loop;
    private final Frontend frontend;
    private final CrossgateConfig.WebSocket settings;
    private final long timeoutMillis;
    private final String key;
    private final List<String> offered;
    private Channel channel;
    private ScheduledFuture<?> timer;
    private boolean done;
    private boolean relaying;
    /** The upstream answered (a final response head): later failures are not the upstream's to count. */
    private boolean answered;

    public WsProxy(Upstream upstream, EventLoop loop, Frontend frontend, CrossgateConfig.WebSocket settings, long timeoutMillis,
                   HttpRequest request) {
        this.upstream = upstream;
        this.loop = loop;
        this.frontend = frontend;
        this.settings = settings;
        this.timeoutMillis = timeoutMillis;
        this.key = request.headers().get(HttpHeaderNames.SEC_WEBSOCKET_KEY).trim();
        this.offered = WsHandshake.protocols(request.headers());
    }

    /** Connects and sends {@code request} (the client's handshake, already rewritten for the upstream). */
    public void start(HttpRequest request) {
        ChannelFuture f = upstream.pool().connectUnpooled(loop, new Handshake());
        f.addListener(c -> {
            if (!c.isSuccess()) {
                ReferenceCountUtil.release(request);
                if (!done) {
                    upstream.failed();
                }
                fail(Reason.UPSTREAM_CONNECT_FAILED);
                return;
            }
            channel = f.channel();
            if (done) {
                ReferenceCountUtil.release(request);
                channel.close();
                return;
            }
            channel.writeAndFlush(request).addListener(w -> {
                if (!w.isSuccess()) {
                    failByUpstream(Reason.UPSTREAM_RESET);
                } else if (!done) {
                    // The handshake has no body: the whole request is sent, the response deadline starts.
                    timer = loop.schedule(() -> failByUpstream(Reason.UPSTREAM_TIMEOUT), timeoutMillis, TimeUnit.MILLISECONDS);
                }
            });
        });
    }

    /** The client went away or was answered otherwise: the upstream connection is closed unless it became a tunnel. */
    public void abort() {
        if (done) {
            return;
        }
        done = true;
        cancelTimer();
        if (channel != null) {
            channel.close();
        }
    }

    /** A failure of the upstream's making (reset or timeout before any answer): counted for passive health. */
    private void failByUpstream(Reason reason) {
        if (!done && !answered) {
            upstream.failed();
        }
        fail(reason);
    }

    private void fail(Reason reason) {
        if (done) {
            return;
        }
        done = true;
        cancelTimer();
        if (channel != null) {
            channel.close();
        }
        frontend.failed(reason);
    }

    private void cancelTimer() {
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
    }

    private final class Handshake extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (done && !relaying) {
                ReferenceCountUtil.release(msg);
                return;
            }
            if (msg instanceof HttpResponse res && !relaying) {
                int code = res.status().code();
                if (code == 101) {
                    switchToFrames(ctx, res);
                    return;
                }
                if (code < 200) {
                    ReferenceCountUtil.release(msg); // another interim answer (100, 103): the final one follows
                    return;
                }
                answered = true;
                upstream.succeeded();
                cancelTimer();
                relaying = true;
                done = true;
                frontend.responseHead(res);
                if (!(res instanceof HttpContent)) {
                    return;
                }
            }
            if (msg instanceof HttpContent content && relaying) {
                boolean last = content instanceof LastHttpContent;
                frontend.responseContent(content);
                if (last) {
                    relaying = false;
                    ctx.close();
                }
                return;
            }
            ReferenceCountUtil.release(msg);
        }

        private void switchToFrames(ChannelHandlerContext ctx, HttpResponse res) {
            cancelTimer();
            String bad = WsHandshake.checkSwitch(res, key, offered);
            if (bad != null) {
                ReferenceCountUtil.release(res);
                fail(Reason.UPSTREAM_WS_HANDSHAKE_INVALID);
                return;
            }
            done = true;
            answered = true;
            upstream.succeeded();
            ChannelPipeline p = ctx.pipeline();
            HttpClientCodec codec = p.get(HttpClientCodec.class);
            // Encoder nearer the socket than the decoder, so that a Close the decoder sends is encoded.
            p.addAfter("codec", "ws-encoder", WsTunnel.encoder(false));
            p.addAfter("ws-encoder", "ws-decoder", WsTunnel.decoder(settings, false,
                    res.headers().contains(HttpHeaderNames.SEC_WEBSOCKET_EXTENSIONS)));
            codec.removeOutboundHandler();
            p.remove(this);
            // The HTTP decoder is in its upgraded state: what it still holds of this read flows on as bytes
            // to the frame decoder; it leaves the pipeline once this read is done.
            ctx.channel().eventLoop().execute(() -> {
                if (p.get(HttpClientCodec.class) != null) {
                    p.remove(codec);
                }
            });
            frontend.switched(res, ctx.channel());
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (relaying) {
                relaying = false;
                frontend.failed(Reason.UPSTREAM_RESET);
            }
            failByUpstream(Reason.UPSTREAM_RESET);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (relaying) {
                relaying = false;
                frontend.failed(Reason.UPSTREAM_MALFORMED);
            }
            if (cause instanceof io.netty.handler.codec.DecoderException) {
                fail(Reason.UPSTREAM_MALFORMED);
            } else {
                failByUpstream(Reason.UPSTREAM_RESET);
            }
            ctx.close();
        }
    }
}
