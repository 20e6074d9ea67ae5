package dev.crossgate.server.edge;

import io.netty.handler.codec.http.HttpHeaders;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The forwarding headers: what a trusted proxy in front of the edge says about the client
 * ({@code X-Forwarded-For/-Proto/-Host}, RFC 7239 {@code Forwarded}), and what the edge tells the upstream.
 * Client-sent values are read only when the direct peer is a trusted proxy; the upstream always gets the
 * headers the edge writes, never the client's.
 */
final class ForwardedHeaders {
    private ForwardedHeaders() {}

    /** What a trusted proxy said, read before the headers are replaced. */
    record Chain(List<String> forwardedFor, List<Map<String, String>> forwarded, String host, String proto) {
        static final Chain NONE = new Chain(List.of(), List.of(), null, null);
    }

    /** Reads the chain a trusted peer sent ({@link Chain#NONE} for an untrusted peer). */
    static Chain read(HttpHeaders h, boolean trustedPeer) {
        if (!trustedPeer) {
            return Chain.NONE;
        }
        List<String> xff = new ArrayList<>();
        for (String line : h.getAll("x-forwarded-for")) {
            for (String part : line.split(",")) {
                if (!part.isBlank()) {
                    xff.add(part.trim());
                }
            }
        }
        List<Map<String, String>> fwd = parse(h.getAll("forwarded"));
        String proto = lastToken(h.getAll("x-forwarded-proto"));
        if (proto == null && fwd != null && !fwd.isEmpty()) {
            proto = fwd.get(fwd.size() - 1).get("proto");
        }
        if (proto != null) {
            proto = proto.toLowerCase(Locale.ROOT);
            if (!proto.equals("http") && !proto.equals("https")) {
                proto = null;
            }
        }
        return new Chain(xff, fwd == null ? List.of() : fwd, lastToken(h.getAll("x-forwarded-host")), proto);
    }

    /**
     * The client per X-Forwarded-For (or, without it, Forwarded {@code for=}): the right-most address that is
     * not a trusted proxy. An entry that is not an address ("unknown", an obfuscated node) is reported as given.
     */
    static String client(Chain chain, String peer, Predicate<InetAddress> trusted) {
        List<String> hops = chain.forwardedFor();
        if (hops.isEmpty()) {
            hops = new ArrayList<>();
            for (Map<String, String> e : chain.forwarded()) {
                String f = e.get("for");
                if (f != null) {
                    hops.add(stripNode(f));
                }
            }
        }
        for (int i = hops.size() - 1; i >= 0; i--) {
            String ip = hops.get(i);
            InetAddress a = literal(ip);
            if (a == null) {
                return ip.length() > 64 ? peer : ip;
            }
            if (!trusted.test(a) || i == 0) {
                String n = a.getHostAddress();
                return n.indexOf(':') >= 0 ? ip : n;
            }
        }
        return peer;
    }

    /**
     * Replaces the forwarding headers of {@code out} with the edge's: behind a trusted proxy the chain it
     * started is extended (its X-Forwarded-For entries become {@code for=} elements of Forwarded when it sent no
     * Forwarded, so the real client is in both); otherwise the chain starts at the peer.
     */
    static void write(HttpHeaders out, Chain chain, String peer, String scheme, String host) {
        write(out, chain, peer, scheme, host, null);
    }

    private static final io.netty.util.AsciiString XFF = io.netty.util.AsciiString.cached("x-forwarded-for");
    private static final io.netty.util.AsciiString XFP = io.netty.util.AsciiString.cached("x-forwarded-proto");
    private static final io.netty.util.AsciiString XFH = io.netty.util.AsciiString.cached("x-forwarded-host");
    private static final io.netty.util.AsciiString FORWARDED = io.netty.util.AsciiString.cached("forwarded");

    /**
     * The last values written for a request without a chain (an untrusted or chain-less peer): a connection's requests
     * nearly always come from one peer, over one scheme, for one host, so its values are built once per connection.
     */
    static final class Memo {
        private String peer;
        private String scheme;
        private String host;
        private String xff;
        private String forwarded;
    }

    /** As {@link #write(HttpHeaders, Chain, String, String, String)}, reusing {@code memo}'s values when they apply. */
    static void write(HttpHeaders out, Chain chain, String peer, String scheme, String host, Memo memo) {
        out.remove(XFF);
        out.remove(XFP);
        out.remove(XFH);
        out.remove(FORWARDED);
        if (memo != null && chain == Chain.NONE) {
            if (!peer.equals(memo.peer) || !scheme.equals(memo.scheme) || !java.util.Objects.equals(host, memo.host)) {
                memo.peer = peer;
                memo.scheme = scheme;
                memo.host = host;
                memo.xff = peer;
                memo.forwarded = "for=" + node(peer) + ";proto=" + scheme + (host != null ? ";host=" + quoted(host) : "");
            }
            out.set(XFF, memo.xff);
            out.set(FORWARDED, memo.forwarded);
            out.set(XFP, scheme);
            if (host != null) {
                out.set(XFH, host);
            }
            return;
        }
        if (chain.host() != null) {
            host = chain.host();
        }
        StringBuilder xff = new StringBuilder();
        StringBuilder fwd = new StringBuilder();
        for (String hop : chain.forwardedFor()) {
            xff.append(hop).append(", ");
        }
        if (!chain.forwarded().isEmpty()) {
            for (Map<String, String> e : chain.forwarded()) {
                fwd.append(element(e)).append(", ");
            }
        } else {
            for (String hop : chain.forwardedFor()) {
                fwd.append("for=").append(node(hop)).append(", ");
            }
        }
        xff.append(peer);
        fwd.append("for=").append(node(peer)).append(";proto=").append(scheme);
        if (host != null) {
            fwd.append(";host=").append(quoted(host));
        }
        out.set(XFF, xff.toString());
        out.set(FORWARDED, fwd.toString());
        out.set(XFP, scheme);
        if (host != null) {
            out.set(XFH, host);
        }
    }

    /**
     * RFC 7239 §4: {@code Forwarded = 1#forwarded-element}, {@code forwarded-element = [ forwarded-pair ] *( ";"
     * [ forwarded-pair ] )}, {@code forwarded-pair = token "=" value}, {@code value = token / quoted-string}. Commas and
     * semicolons inside a quoted string do not separate. Returns null when a line does not parse.
     */
    static List<Map<String, String>> parse(List<String> lines) {
        List<Map<String, String>> out = new ArrayList<>();
        for (String line : lines) {
            Map<String, String> element = new LinkedHashMap<>();
            int i = 0;
            int n = line.length();
            while (i <= n) {
                while (i < n && (line.charAt(i) == ' ' || line.charAt(i) == '\t')) {
                    i++;
                }
                if (i >= n) {
                    if (!element.isEmpty()) {
                        out.add(element);
                    }
                    break;
                }
                char c = line.charAt(i);
                if (c == ',' || c == ';') {
                    if (c == ',' && !element.isEmpty()) {
                        out.add(element);
                        element = new LinkedHashMap<>();
                    }
                    i++;
                    continue;
                }
                int eq = line.indexOf('=', i);
                if (eq < 0) {
                    return null;
                }
                String name = line.substring(i, eq).trim().toLowerCase(Locale.ROOT);
                if (name.isEmpty() || !isToken(name)) {
                    return null;
                }
                i = eq + 1;
                String value;
                if (i < n && line.charAt(i) == '"') {
                    StringBuilder v = new StringBuilder();
                    i++;
                    boolean closed = false;
                    while (i < n) {
                        char q = line.charAt(i++);
                        if (q == '\\' && i < n) {
                            v.append(line.charAt(i++)); // quoted-pair
                        } else if (q == '"') {
                            closed = true;
                            break;
                        } else {
                            v.append(q);
                        }
                    }
                    if (!closed) {
                        return null;
                    }
                    value = v.toString();
                } else {
                    int end = i;
                    while (end < n && line.charAt(end) != ',' && line.charAt(end) != ';') {
                        end++;
                    }
                    value = line.substring(i, end).trim();
                    i = end;
                }
                element.putIfAbsent(name, value);
            }
        }
        return out;
    }

    private static String element(Map<String, String> e) {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, String> p : e.entrySet()) {
            if (b.length() > 0) {
                b.append(';');
            }
            b.append(p.getKey()).append('=');
            String v = p.getValue();
            b.append(isToken(v) && !v.isEmpty() ? v : quoted(v));
        }
        return b.toString();
    }

    /** A node for Forwarded: an IPv6 address is quoted and bracketed (RFC 7239 §6). */
    private static String node(String ip) {
        if (ip.indexOf(':') >= 0 && !ip.startsWith("[")) {
            return "\"[" + ip + "]\"";
        }
        return isToken(ip) && !ip.isEmpty() ? ip : quoted(ip);
    }

    private static String quoted(String v) {
        StringBuilder b = new StringBuilder(v.length() + 2).append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\');
            }
            if (c >= 0x20 && c != 0x7f) {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    /** RFC 9110 §5.6.2 token characters. */
    private static boolean isToken(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    /** A for= node without its brackets and port ({@code [2001:db8::1]:4711} to {@code 2001:db8::1}). */
    private static String stripNode(String f) {
        if (f.startsWith("[")) {
            int close = f.indexOf(']');
            return close < 0 ? f : f.substring(1, close);
        }
        int colon = f.indexOf(':');
        return colon >= 0 && f.indexOf(':', colon + 1) < 0 ? f.substring(0, colon) : f;
    }

    /** An IP literal, or null; never a name lookup (Netty's parser, not InetAddress.getByName). */
    private static InetAddress literal(String ip) {
        return ip.isEmpty() || ip.length() > 45 ? null : io.netty.util.NetUtil.createInetAddressFromIpAddressString(ip);
    }

    private static String lastToken(List<String> lines) {
        if (lines.isEmpty()) {
            return null;
        }
        String last = lines.get(lines.size() - 1);
        String token = last.substring(last.lastIndexOf(',') + 1).trim();
        return token.isEmpty() ? null : token;
    }
}
