package dev.crossgate.realtime.engine;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;

/**
 * The HTTP connection an Engine.IO request came on, as the {@link EngineServer} sees it: how an answer
 * leaves, and what the connection is told when it starts holding a poll or carrying a session's
 * WebSocket. {@link EngineHttpHandler} implements it for a standalone server; the Crossgate edge
 * implements it so that realtime answers leave through its one exit (CORS, request id, access log).
 */
public interface EngineConnection {
    /**
     * Writes the answer to {@code req}, exactly once per request. May be called from another event loop
     * (a session answers its held poll from its own loop) and after {@code req} was released; {@code keepAlive}
     * is what the request asked for; {@code reason} is the refusal's reason code ({@code realtime.session_unknown},
     * ...; see {@link EngineServer}), or null for an answer that is not a refusal.
     */
    void respond(ChannelHandlerContext ctx, boolean keepAlive, FullHttpResponse res, String reason);

    /** A GET of session {@code s} is held on this connection: its closing ends the session ({@link EngineSocket#pollConnectionClosed}). */
    void polling(EngineSocket s);

    /**
     * This connection answered a WebSocket handshake with 101 for session {@code s}: its frames now go to the
     * session through an {@link EngineFrameHandler} placed before {@code ctx}'s handler; the HTTP exchange is over.
     */
    void upgraded(ChannelHandlerContext ctx, EngineSocket s);
}
