package dev.crossgate.server.edge;

import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;

/**
 * The pipeline of a client connection, in order. The request path itself (host check, limits, CORS,
 * local answers, proxying) is read top to bottom in {@link RequestStages#run}.
 */
final class EdgeInitializer extends ChannelInitializer<SocketChannel> {
    /** Longest request line (414 beyond). */
    static final int MAX_INITIAL_LINE = 8192;
    /** Largest header block (431 beyond). */
    static final int MAX_HEADER_SIZE = 16384;

    private final EdgeServer.Shared shared;

    EdgeInitializer(EdgeServer.Shared shared) {
        this.shared = shared;
    }

    @Override
    protected void initChannel(SocketChannel ch) {
        ChannelPipeline p = ch.pipeline();
        io.netty.handler.ssl.SslContext ssl = shared.ssl; // read once: a reload may replace it (a renewed certificate)
        if (ssl != null) {
            p.addLast("tls", ssl.newHandler(ch.alloc()));
        }
        // Marks that bytes of a request head arrived, for the request-head deadline (408).
        p.addLast("activity", new ByteActivity());
        // Netty's strict HTTP/1.1 decoder, configured explicitly: header validation on, duplicate
        // Content-Length refused, lengths bounded (414 / 431 are told apart from the failure cause).
        p.addLast("codec", new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(MAX_INITIAL_LINE)
                .setMaxHeaderSize(MAX_HEADER_SIZE)
                .setMaxChunkSize(65536)
                .setValidateHeaders(true)
                .setAllowDuplicateContentLengths(false)
                .setAllowPartialChunks(true)));
        p.addLast("edge", new EdgeHandler(shared));
    }
}
