package dev.crossgate.server.doctor;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The WebSocket checks: the upgrade through every hop (101 and a correct Sec-WebSocket-Accept), the
 * subprotocol, one echo, the connection held without traffic (a proxy's idle timeout closes it early),
 * and the Origin check (hostile origins must not get a 101).
 */
final class WsChecks {
    private final Probe p;

    WsChecks(Probe p) {
        this.p = p;
    }

    /** A frame as read: opcode and payload. */
    record Frame(int opcode, byte[] payload) {
        String text() {
            return new String(payload, StandardCharsets.UTF_8);
        }
    }

    /** An open WebSocket (after a 101) on a connection the caller closes. */
    record Open(Http.Connection connection, Http.Response response) {}

    static String key() {
        byte[] b = new byte[16];
        ThreadLocalRandom.current().nextBytes(b);
        return Base64.getEncoder().encodeToString(b);
    }

    /** Sends a handshake on a new connection; the connection stays open when the answer is 101 (the caller closes it). */
    static Open handshake(Probe p, String pathAndQuery, String origin, List<String> protocols, String key, List<String> sent) throws IOException {
        Http.Connection c = p.connect(p.options.timeout());
        boolean keep = false;
        try {
            List<String[]> h = Probe.headers("Upgrade", "websocket", "Connection", "Upgrade", "Sec-WebSocket-Key", key,
                    "Sec-WebSocket-Version", "13", "Origin", origin,
                    "Sec-WebSocket-Protocol", protocols.isEmpty() ? null : String.join(", ", protocols),
                    "Authorization", p.options.token() == null ? null : "Bearer " + p.options.token());
            if (sent != null) {
                sent.add("> GET " + pathAndQuery + " (upgrade to websocket, " + p.target.scheme() + "://" + p.target.where() + ")");
                if (origin != null) {
                    sent.add("> Origin: " + origin);
                }
            }
            Http.Response r = p.bounded(c, () -> Http.exchange(c, "GET", pathAndQuery, p.target.authority(), h, null));
            keep = r.status() == 101;
            return new Open(keep ? c : null, r);
        } finally {
            if (!keep) {
                c.close();
            }
        }
    }

    static void send(OutputStream out, int opcode, byte[] payload) throws IOException {
        byte[] mask = new byte[4];
        ThreadLocalRandom.current().nextBytes(mask);
        int n = payload.length;
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.write(0x80 | opcode);
        if (n < 126) {
            b.write(0x80 | n);
        } else if (n < 65536) {
            b.write(0x80 | 126);
            b.write(n >>> 8);
            b.write(n & 0xff);
        } else {
            b.write(0x80 | 127);
            for (int i = 7; i >= 0; i--) {
                b.write((int) ((long) n >>> (8 * i)) & 0xff);
            }
        }
        b.write(mask);
        for (int i = 0; i < n; i++) {
            b.write(payload[i] ^ mask[i & 3]);
        }
        out.write(b.toByteArray());
        out.flush();
    }

    static Frame read(InputStream in) throws IOException {
        int b0 = in.read();
        int b1 = in.read();
        if (b0 < 0 || b1 < 0) {
            return null;
        }
        long n = b1 & 0x7f;
        if (n == 126) {
            n = (byteOf(in) << 8) | byteOf(in);
        } else if (n == 127) {
            n = 0;
            for (int i = 0; i < 8; i++) {
                n = (n << 8) | byteOf(in);
            }
        }
        byte[] mask = (b1 & 0x80) != 0 ? in.readNBytes(4) : null;
        if (n < 0 || n > Http.MAX_BODY) {
            throw new IOException("a frame of " + n + " bytes");
        }
        byte[] payload = in.readNBytes((int) n);
        if (payload.length < n || (mask != null && mask.length < 4)) {
            throw new java.io.EOFException("the connection ended inside a frame");
        }
        if (mask != null) {
            for (int i = 0; i < payload.length; i++) {
                payload[i] ^= mask[i & 3];
            }
        }
        return new Frame(b0 & 0x0f, payload);
    }

    private static int byteOf(InputStream in) throws IOException {
        int b = in.read();
        if (b < 0) {
            throw new java.io.EOFException("the connection ended inside a frame header");
        }
        return b;
    }

    /** The checks on {@code path}: upgrade, subprotocol, echo, then a hold without traffic (in the calling thread). */
    void run(String path, String origin) {
        String key = key();
        List<String> sent = new ArrayList<>();
        Open open;
        try {
            open = handshake(p, path, origin, p.options.wsProtocols(), key, sent);
        } catch (IOException e) {
            p.add(Finding.fail("websocket", "upgrade " + path, "ws.no_answer", "the WebSocket handshake got no answer: " + e.getMessage(), sent,
                    "check that the path is routed to the WebSocket server"));
            return;
        }
        Http.Response r = open.response();
        List<String> ev = Probe.join(sent, r.evidence("upgrade", "connection", "sec-websocket-*", "x-crossgate-reason", "server"));
        if (r.status() != 101) {
            p.add(Finding.fail("websocket", "upgrade " + path, "ws.upgrade_refused", "the upgrade was answered HTTP " + r.status()
                    + " instead of 101", ev, r.status() == 400 || r.status() == 426 || r.status() == 200 || r.status() == 404
                    ? "a proxy on the way dropped the Upgrade and Connection headers (nginx: proxy_http_version 1.1; proxy_set_header Upgrade"
                    + " $http_upgrade; proxy_set_header Connection \"upgrade\";), or the path is not the WebSocket endpoint"
                    : r.status() == 403 ? "the server refused the origin " + origin + ": allow it for WebSocket handshakes" : null));
            return;
        }
        try (Http.Connection c = open.connection()) {
            String acceptHeader = r.header("sec-websocket-accept");
            if (acceptHeader == null || !acceptHeader.equals(dev.crossgate.server.ws.WsHandshake.accept(key))) {
                p.add(Finding.fail("websocket", "upgrade " + path, "ws.accept_invalid", "the 101 has " + (acceptHeader == null ? "no" : "a wrong")
                        + " Sec-WebSocket-Accept; browsers drop the connection", ev, "let the WebSocket server compute the answer; a hop must not"
                        + " rewrite it"));
                return;
            }
            p.add(Finding.pass("websocket", "upgrade " + path, "ws.upgraded", "101 Switching Protocols with a correct Sec-WebSocket-Accept", ev));
            String chosen = r.header("sec-websocket-protocol");
            if (!p.options.wsProtocols().isEmpty()) {
                if (chosen == null || !p.options.wsProtocols().contains(chosen)) {
                    p.add(Finding.fail("websocket", "subprotocol", "ws.subprotocol_missing", "offered " + String.join(", ", p.options.wsProtocols())
                            + ", the server chose " + (chosen == null ? "none" : chosen) + "; browsers close the connection when none of theirs is chosen",
                            ev, "answer with one of the offered subprotocols"));
                } else {
                    p.add(Finding.pass("websocket", "subprotocol", "ws.subprotocol", "the server chose " + chosen, ev));
                }
            } else if (chosen != null) {
                p.add(Finding.fail("websocket", "subprotocol", "ws.subprotocol_unrequested", "the server chose the subprotocol " + chosen
                        + " though none was offered; browsers fail the connection", ev, "send Sec-WebSocket-Protocol only when the client offered it"));
            }
            String probe = "crossgate-doctor-" + Long.toHexString(System.nanoTime());
            send(c.out, 1, probe.getBytes(StandardCharsets.UTF_8));
            Frame f = null;
            try {
                do {
                    f = read(c.in);
                } while (f != null && f.opcode() == 9 && pong(c, f));
            } catch (SocketTimeoutException e) {
                f = null;
            }
            if (f != null && f.opcode() == 1 && f.text().equals(probe)) {
                p.add(Finding.pass("websocket", "echo", "ws.echo", "a text message came back unchanged", List.of("> text " + probe, "< text " + probe)));
            } else if (f != null && f.opcode() == 8) {
                p.add(Finding.warn("websocket", "echo", "ws.closed_on_message", "the server closed the connection after a message ("
                        + closeText(f) + "); if this endpoint expects a protocol of its own, this is expected", List.of("> text " + probe), null));
                return;
            } else {
                p.add(Finding.pass("websocket", "echo", "ws.no_echo", "the endpoint does not echo (that is its protocol's business); the connection"
                        + " is open", List.of("> text " + probe)));
            }
            hold(c);
        } catch (IOException e) {
            p.add(Finding.fail("websocket", "echo", "ws.broken", "the WebSocket broke: " + e.getMessage(), ev, null));
        }
    }

    private static boolean pong(Http.Connection c, Frame ping) throws IOException {
        send(c.out, 10, ping.payload());
        return true;
    }

    private static String closeText(Frame f) {
        if (f.payload().length >= 2) {
            int code = ((f.payload()[0] & 0xff) << 8) | (f.payload()[1] & 0xff);
            return "close " + code + (f.payload().length > 2 ? " " + new String(f.payload(), 2, f.payload().length - 2, StandardCharsets.UTF_8) : "");
        }
        return "close";
    }

    /** Holds the connection without sending data (answering pings) for the hold time; closing earlier exposes an idle timeout. */
    private void hold(Http.Connection c) throws IOException {
        long holdNanos = Math.min(p.options.wsHold().toNanos(), Math.max(0, p.nanosLeft() - 2_000_000_000L));
        if (holdNanos <= 0) {
            p.add(Finding.skip("websocket", "held open", "ws.hold_skipped", p.options.wsHold().isZero() ? "not held (--ws-hold 0)"
                    : "no time left in the run to hold the connection"));
            return;
        }
        long start = System.nanoTime();
        int pings = 0;
        c.socket.setSoTimeout(1000);
        long told = -1;
        while (System.nanoTime() - start < holdNanos) {
            long left = (holdNanos - (System.nanoTime() - start)) / 1_000_000_000L;
            long step = left / 10; // the countdown every 10 s
            if (step != told) {
                told = step;
                p.progress.waiting("holding the WebSocket open without traffic: " + (left + 1) + " s left");
            }
            Frame f;
            try {
                f = read(c.in);
            } catch (SocketTimeoutException e) {
                continue;
            } catch (IOException e) {
                f = null;
            }
            if (f == null || f.opcode() == 8) {
                String lived = String.format(java.util.Locale.ROOT, "%.1f", (System.nanoTime() - start) / 1e9);
                p.add(Finding.fail("websocket", "held open " + p.options.wsHold().toSeconds() + " s", "ws.closed_when_idle",
                        "the connection was closed after " + lived + " s without traffic" + (f == null ? "" : " (" + closeText(f) + ")")
                                + (pings == 0 ? ", and the server sent no ping to keep it alive" : ""),
                        List.of("held from the echo on; " + pings + " pings from the server answered"),
                        "raise the proxy's idle timeout (nginx: proxy_read_timeout 3600s; proxy_send_timeout 3600s) or have the server ping"
                                + " more often than it (Crossgate: websocket.pingInterval)"));
                return;
            }
            if (f.opcode() == 9) {
                pings++;
                pong(c, f);
            }
        }
        p.add(Finding.pass("websocket", "held open " + p.options.wsHold().toSeconds() + " s", "ws.held", "the connection stayed open "
                + holdNanos / 1_000_000_000L + " s without traffic (" + pings + " pings from the server)", List.of()));
    }

    /** Hostile origins as WebSocket handshakes: a 101 to any of them is a failure. */
    void hostile(String path, String siteOrigin) {
        String base = siteOrigin != null ? siteOrigin : p.url.getScheme() + "://" + p.url.getHost() + (p.url.getPort() > 0 ? ":" + p.url.getPort() : "");
        for (Map.Entry<String, String> e : CorsChecks.hostileOrigins(base, p.url).entrySet()) {
            if (p.outOfTime()) {
                return;
            }
            List<String> sent = new ArrayList<>();
            try {
                Open open = handshake(p, path, e.getValue(), p.options.wsProtocols(), key(), sent);
                List<String> ev = Probe.join(sent, open.response().evidence("x-crossgate-reason"));
                if (open.connection() != null) {
                    open.connection().close();
                    p.add(Finding.fail("hostile-origins", e.getKey() + " over WebSocket", "ws.hostile_accepted", "a WebSocket from the "
                            + e.getKey() + " origin " + e.getValue() + " was accepted (101): any site can open it with your users' cookies"
                            + " (cross-site WebSocket hijacking)", ev, "check Origin on every handshake against the same list as CORS"
                            + " (Crossgate does: ws.origin_rejected)"));
                } else {
                    p.add(Finding.pass("hostile-origins", e.getKey() + " over WebSocket", "ws.hostile_refused", "refused (HTTP "
                            + open.response().status() + ")", ev));
                }
            } catch (IOException ex) {
                p.add(Finding.skip("hostile-origins", e.getKey() + " over WebSocket", "ws.hostile_not_probed", "no answer: " + ex.getMessage()));
            }
        }
    }
}
