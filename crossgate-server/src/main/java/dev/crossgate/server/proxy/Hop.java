package dev.crossgate.server.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;

/** Hop-by-hop headers (RFC 9110 section 7.6.1): they describe one connection and are never forwarded. */
public final class Hop {
    private Hop() {}

    /**
     * Removes the hop-by-hop headers and every header named in Connection, except the ones that frame or address
     * the message: Connection can never remove Content-Length, Transfer-Encoding or Host (naming them there is how a
     * request hides a second one in its body). The framing of a forwarded message is the edge's own decision in
     * any case; these stay so that the codec and the peer read the message as it was decoded.
     */
    public static void removeHopByHop(HttpHeaders h) {
        List<String> connection = h.contains(HttpHeaderNames.CONNECTION) ? h.getAll(HttpHeaderNames.CONNECTION) : List.of();
        for (String line : connection) {
            for (String token : line.split(",")) {
                String name = token.trim();
                if (!name.isEmpty() && !name.equalsIgnoreCase("transfer-encoding") && !name.equalsIgnoreCase("content-length")
                        && !name.equalsIgnoreCase("host")) {
                    h.remove(name);
                }
            }
        }
        h.remove(HttpHeaderNames.CONNECTION);
        h.remove(HttpHeaderNames.KEEP_ALIVE);
        h.remove("proxy-connection");
        h.remove(HttpHeaderNames.TE);
        h.remove(HttpHeaderNames.TRAILER);
        h.remove(HttpHeaderNames.UPGRADE);
        h.remove(HttpHeaderNames.PROXY_AUTHENTICATE);
        h.remove(HttpHeaderNames.PROXY_AUTHORIZATION);
    }
}
