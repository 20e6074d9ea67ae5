package dev.crossgate.server.edge;

import dev.crossgate.cors.CorsDecision;
import dev.crossgate.server.observe.Json;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The one exit: every response head that leaves Crossgate — proxied, preflight, locally generated error,
 * health — passes through {@link #prepare}, which applies the exchange's CORS decision (and Vary),
 * removes the upstream's own Access-Control-* headers so a browser never sees two, and sets the
 * request id, the reason code and the connection header.
 */
public final class ResponseWriter {
    public static final AsciiString X_REQUEST_ID = AsciiString.cached("x-request-id");
    public static final AsciiString X_CROSSGATE_REASON = AsciiString.cached("x-crossgate-reason");

    /**
     * Headers of locally generated answers are not validated again on every set: their names are
     * constants and their values are built here or come from values already checked (an Origin the
     * policy parsed, a request id of safe characters).
     */
    private static final io.netty.handler.codec.http.HttpHeadersFactory TRUSTED =
            io.netty.handler.codec.http.DefaultHttpHeadersFactory.headersFactory().withValidation(false);

    private ResponseWriter() {}

    /** Applies the exchange's decisions to a response head about to be written. */
    static void prepare(Exchange ex, HttpResponse res, boolean fromUpstream) {
        HttpHeaders h = res.headers();
        CorsDecision d = ex.cors;
        if (d != null && d.kind() != CorsDecision.Kind.DISABLED) {
            if (fromUpstream) {
                removeAccessControl(h);
            }
            for (int i = 0; i < d.headerCount(); i++) {
                String name = d.headerName(i);
                if (name.equals("Vary")) {
                    mergeVary(h, d.headerValue(i));
                } else {
                    h.set(name, d.headerValue(i));
                }
            }
        }
        h.set(X_REQUEST_ID, ex.requestId);
        if (ex.hsts != null) {
            h.set("strict-transport-security", ex.hsts);
        }
        if (ex.reason != null) {
            h.set(X_CROSSGATE_REASON, ex.reason);
        }
        ex.status = res.status().code();
        ex.responseStarted = true;
        if (!ex.keepAlive || ex.closeAfter) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ex.closeAfter = true;
        } else if (res.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
            h.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        } else {
            h.remove(HttpHeaderNames.CONNECTION);
        }
    }

    static void removeAccessControl(HttpHeaders h) {
        List<String> names = null;
        for (Iterator<Map.Entry<CharSequence, CharSequence>> it = h.iteratorCharSequence(); it.hasNext(); ) {
            CharSequence name = it.next().getKey();
            if (name.length() > 15 && AsciiString.regionMatches(name, true, 0, "access-control-", 0, 15)) {
                if (names == null) {
                    names = new ArrayList<>(4);
                }
                names.add(name.toString());
            }
        }
        if (names != null) {
            for (String n : names) {
                h.remove(n);
            }
        }
    }

    /** Adds the decision's Vary tokens to the upstream's Vary without repeating a token. */
    private static void mergeVary(HttpHeaders h, String tokens) {
        List<String> existing = h.getAll(HttpHeaderNames.VARY);
        if (existing.isEmpty()) {
            h.set(HttpHeaderNames.VARY, tokens);
            return;
        }
        StringBuilder merged = new StringBuilder();
        List<String> seen = new ArrayList<>();
        for (String line : existing) {
            for (String t : line.split(",")) {
                String token = t.trim();
                if (!token.isEmpty() && !seen.contains(token.toLowerCase(Locale.ROOT))) {
                    seen.add(token.toLowerCase(Locale.ROOT));
                    merged.append(merged.length() == 0 ? "" : ", ").append(token);
                }
            }
        }
        if (seen.contains("*")) {
            h.set(HttpHeaderNames.VARY, "*");
            return;
        }
        for (String t : tokens.split(",")) {
            String token = t.trim();
            if (!seen.contains(token.toLowerCase(Locale.ROOT))) {
                seen.add(token.toLowerCase(Locale.ROOT));
                merged.append(merged.length() == 0 ? "" : ", ").append(token);
            }
        }
        h.set(HttpHeaderNames.VARY, merged.toString());
    }

    /**
     * Writes a locally generated answer: status, the JSON body {@code {"error","reason","requestId"}}
     * (none for 204 and HEAD), through {@link #prepare}. Closes the connection afterwards when the
     * exchange says so.
     */
    static ChannelFuture writeLocal(ChannelHandlerContext ctx, Exchange ex, int status, String reason, String message, boolean head) {
        ex.reason = reason;
        HttpResponseStatus st = HttpResponseStatus.valueOf(status);
        ByteBuf body;
        if (status == 204 || status == 304 || message == null) {
            body = Unpooled.EMPTY_BUFFER;
        } else {
            String json = "{\"error\":" + Json.string(message) + ",\"reason\":" + Json.string(reason)
                    + ",\"requestId\":" + Json.string(ex.requestId) + "}\n";
            body = Unpooled.copiedBuffer(json, StandardCharsets.UTF_8);
        }
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, st, head ? Unpooled.EMPTY_BUFFER : body, TRUSTED, TRUSTED);
        if (head && body != Unpooled.EMPTY_BUFFER) {
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
            body.release();
        } else {
            res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, res.content().readableBytes());
        }
        if (res.content().isReadable() || (head && status != 204)) {
            res.headers().set(HttpHeaderNames.CONTENT_TYPE, "application/json; charset=utf-8");
        }
        res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        if (ex.extraHeaders != null) {
            for (int i = 0; i + 1 < ex.extraHeaders.length; i += 2) {
                res.headers().set(ex.extraHeaders[i], ex.extraHeaders[i + 1]);
            }
        }
        prepare(ex, res, false);
        ex.bytesOut += res.content().readableBytes();
        ChannelFuture f = ctx.writeAndFlush(res);
        if (ex.closeAfter && !ex.linger) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
        return f;
    }

    /** Writes a locally generated answer with a body of its own (health, metrics), through {@link #prepare}. */
    static ChannelFuture writeBody(ChannelHandlerContext ctx, Exchange ex, int status, String contentType, String text, boolean head) {
        ByteBuf body = Unpooled.copiedBuffer(text, StandardCharsets.UTF_8);
        FullHttpResponse res = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status),
                head ? Unpooled.EMPTY_BUFFER : body, TRUSTED, TRUSTED);
        res.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        if (head) {
            body.release();
        }
        res.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        res.headers().set(HttpHeaderNames.CACHE_CONTROL, "no-store");
        if (ex.extraHeaders != null) {
            for (int i = 0; i + 1 < ex.extraHeaders.length; i += 2) {
                res.headers().add(ex.extraHeaders[i], ex.extraHeaders[i + 1]);
            }
        }
        prepare(ex, res, false);
        ex.bytesOut += res.content().readableBytes();
        ChannelFuture f = ctx.writeAndFlush(res);
        if (ex.closeAfter) {
            f.addListener(ChannelFutureListener.CLOSE);
        }
        return f;
    }
}
