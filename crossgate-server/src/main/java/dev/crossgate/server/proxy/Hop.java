package dev.crossgate.server.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;

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
        String connection = h.get(HttpHeaderNames.CONNECTION);
        if (connection != null) {
            if (h.getAll(HttpHeaderNames.CONNECTION).size() == 1) {
                removeNamedIn(h, connection);
            } else {
                for (String line : h.getAll(HttpHeaderNames.CONNECTION)) {
                    removeNamedIn(h, line);
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

    /**
     * Removes the headers a Connection line names (RFC 9110 section 7.6.1: a comma-separated list of tokens), scanning
     * the line in place: {@code keep-alive}, nearly every upstream's only token, names the Keep-Alive header, which the
     * fixed list removes anyway, and is skipped without a substring.
     */
    private static void removeNamedIn(HttpHeaders h, String line) {
        int n = line.length();
        int i = 0;
        while (i < n) {
            int end = line.indexOf(',', i);
            if (end < 0) {
                end = n;
            }
            int s = i;
            int e = end;
            while (s < e && (line.charAt(s) == ' ' || line.charAt(s) == '\t')) {
                s++;
            }
            while (e > s && (line.charAt(e - 1) == ' ' || line.charAt(e - 1) == '\t')) {
                e--;
            }
            if (e > s && !is(line, s, e, "keep-alive") && !is(line, s, e, "transfer-encoding")
                    && !is(line, s, e, "content-length") && !is(line, s, e, "host")) {
                h.remove(line.substring(s, e));
            }
            i = end + 1;
        }
    }

    private static boolean is(String line, int s, int e, String name) {
        return e - s == name.length() && line.regionMatches(true, s, name, 0, name.length());
    }
}
