package dev.crossgate.server.doctor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The Socket.IO checks, over Engine.IO v4 as the official client speaks it: the polling handshake (with CORS
 * for the origin), several requests of one session (each may land on another node behind a load balancer:
 * "Session ID unknown" means no stickiness), the time to the first byte of a poll that has data (a buffering
 * proxy holds it back), the ping interval the server announces and keeps, and the upgrade to WebSocket.
 */
final class SocketIoChecks {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Requests of one session: with two nodes and no stickiness, all of them reach the right one with probability 1/2^n. */
    static final int SESSION_REQUESTS = 6;
    /** A poll with data waiting answered later than this suggests a proxy buffering the response. */
    static final long BUFFERED_MILLIS = 1000;

    private final Probe p;

    SocketIoChecks(Probe p) {
        this.p = p;
    }

    void run(String path, String origin) {
        String base = (path.endsWith("/") ? path : path + "/") + "?EIO=4&transport=polling";
        List<String[]> common = Probe.headers("Origin", origin, "Authorization", p.options.token() == null ? null : "Bearer " + p.options.token());
        List<String> sent = new ArrayList<>();
        Http.Response hs;
        try {
            hs = p.request("GET", base + "&t=doctor1", common, sent);
        } catch (IOException e) {
            p.add(Finding.fail("socketio", "polling handshake", "sio.no_answer", "the handshake got no answer: " + e.getMessage(), sent, null));
            return;
        }
        List<String> ev = Probe.join(sent, hs.evidence("content-type", "access-control-*", "set-cookie", "x-crossgate-reason"));
        ev.add("< " + abbreviate(hs.bodyText()));
        String body = hs.bodyText();
        if (hs.status() != 200 || !body.startsWith("0{")) {
            p.add(Finding.fail("socketio", "polling handshake", "sio.handshake_failed", "the handshake was answered HTTP " + hs.status()
                    + (body.startsWith("{") ? " " + abbreviate(body) : "") + " instead of an open packet", ev,
                    hs.status() == 400 && body.contains("Unsupported protocol version") ? "the server speaks an older protocol: upgrade it to"
                            + " Socket.IO v4 / Engine.IO v4" : "check that " + path + " reaches the Socket.IO server (path option on both sides)"));
            return;
        }
        JsonNode open;
        try {
            open = JSON.readTree(body.substring(1).split("\u001e")[0]);
        } catch (IOException e) {
            p.add(Finding.fail("socketio", "polling handshake", "sio.handshake_invalid", "the open packet is not JSON", ev, null));
            return;
        }
        String sid = open.path("sid").asText();
        long pingInterval = open.path("pingInterval").asLong();
        long pingTimeout = open.path("pingTimeout").asLong();
        p.add(Finding.pass("socketio", "polling handshake", "sio.handshake", "session " + sid + ": pingInterval " + pingInterval + " ms, pingTimeout "
                + pingTimeout + " ms, upgrades " + open.path("upgrades") + ", maxPayload " + open.path("maxPayload"), ev));
        if (origin != null) {
            String err = CorsChecks.accessCheck(hs, origin, p.options.credentials(), false);
            if (err != null) {
                p.add(Finding.fail("socketio", "CORS on polling", err, "a page on " + origin + " cannot read the polling answers (" + err
                        + "), so the client never leaves polling's handshake", ev, "apply the CORS policy to the Socket.IO path too, with"
                        + " credentials (the client sends cookies with withCredentials)"));
            } else {
                p.add(Finding.pass("socketio", "CORS on polling", "sio.cors", "the polling answers carry CORS for " + origin, ev));
            }
        }
        String cookie = stickyCookie(hs);
        List<String[]> session = new ArrayList<>(common);
        if (cookie != null) {
            session.add(new String[] {"Cookie", cookie});
        }
        String q = base + "&sid=" + sid;
        // Several requests of the one session: the CONNECT to the main namespace, its answer, noops.
        int ok = 0;
        long connectAnswerMillis = -1;
        for (int i = 0; i < SESSION_REQUESTS && !p.outOfTime(); i++) {
            List<String> s2 = new ArrayList<>();
            try {
                Http.Response r;
                boolean poll = i == 1;
                if (i == 0) {
                    r = p.request("POST", q + "&t=doctor-c", p.target.authority(), withType(session), "40".getBytes(StandardCharsets.UTF_8), s2);
                } else if (poll) {
                    r = p.request("GET", q + "&t=doctor-p", session, s2);
                    connectAnswerMillis = r.firstByteNanos() / 1_000_000;
                } else {
                    r = p.request("POST", q + "&t=doctor-n" + i, p.target.authority(), withType(session), "6".getBytes(StandardCharsets.UTF_8), s2);
                }
                String b = r.bodyText();
                if (r.status() == 400 && b.contains("Session ID unknown")) {
                    p.add(Finding.fail("socketio", "one session, several requests", "sio.session_unknown", "request " + (i + 1) + " of session " + sid
                            + " was answered \"Session ID unknown\": it reached another server than the handshake", Probe.join(s2,
                            List.of("< HTTP 400 " + abbreviate(b))), sessionUnknownFix(path)));
                    return;
                }
                if (r.status() != 200) {
                    p.add(Finding.fail("socketio", "one session, several requests", "sio.request_failed", "request " + (i + 1) + " of the session"
                            + " was answered HTTP " + r.status() + " " + abbreviate(b), s2, null));
                    return;
                }
                ok++;
            } catch (SocketTimeoutException e) {
                if (i == 1) {
                    p.add(Finding.fail("socketio", "one session, several requests", "sio.poll_timeout", "a poll with data waiting got no answer"
                            + " within " + p.options.timeout().toMillis() + " ms: a proxy buffers the response", s2, "turn response buffering off"
                            + " for " + path + " (nginx: proxy_buffering off;)"));
                } else {
                    p.add(Finding.fail("socketio", "one session, several requests", "sio.request_failed", "request " + (i + 1) + " of the"
                            + " session got no answer within " + p.options.timeout().toMillis() + " ms", s2, null));
                }
                return;
            } catch (IOException e) {
                p.add(Finding.fail("socketio", "one session, several requests", "sio.request_failed", "request " + (i + 1) + ": " + e.getMessage(), s2, null));
                return;
            }
        }
        p.add(Finding.pass("socketio", "one session, several requests", "sio.sticky", ok + " requests of one session all reached its server",
                List.of("> POST 40, GET, POST noop x" + (SESSION_REQUESTS - 2) + " with sid=" + sid)));
        if (connectAnswerMillis > BUFFERED_MILLIS) {
            p.add(Finding.warn("socketio", "time to first byte of a poll", "sio.poll_slow", "a poll with data waiting took " + connectAnswerMillis
                    + " ms to its first byte: a proxy may buffer responses", List.of(), "turn response buffering off (nginx: proxy_buffering off;)"));
        } else {
            p.add(Finding.pass("socketio", "time to first byte of a poll", "sio.poll_fast", "a poll with data waiting answered in "
                    + Math.max(connectAnswerMillis, 0) + " ms", List.of()));
        }
        pingSeen(q, session, pingInterval);
        upgrade(path, sid, origin, cookie);
    }

    private static List<String[]> withType(List<String[]> h) {
        List<String[]> out = new ArrayList<>(h);
        out.add(new String[] {"Content-Type", "text/plain;charset=UTF-8"});
        return out;
    }

    /** A poll waits for the server's ping: it should come about pingInterval after the last one. */
    private void pingSeen(String q, List<String[]> session, long pingInterval) {
        if (pingInterval <= 0 || pingInterval > 30_000 || p.nanosLeft() < (pingInterval + 5_000) * 1_000_000L) {
            p.add(Finding.skip("socketio", "ping", "sio.ping_not_waited", "pingInterval " + pingInterval + " ms: not waited for"));
            return;
        }
        List<String> sent = new ArrayList<>();
        long start = System.nanoTime();
        try {
            Http.Connection c = p.connect(java.time.Duration.ofMillis(pingInterval + p.options.timeout().toMillis()));
            try (c) {
                sent.add("> GET " + q + " (waiting for the ping)");
                Http.Response r = p.bounded(c, () -> Http.exchange(c, "GET", q + "&t=doctor-ping", p.target.authority(), session, null));
                long waited = (System.nanoTime() - start) / 1_000_000;
                if (r.status() == 200 && java.util.Arrays.asList(r.bodyText().split("\u001e")).contains("2")) {
                    p.add(Finding.pass("socketio", "ping", "sio.ping", "the server pinged after " + waited + " ms (pingInterval " + pingInterval
                            + " ms)", Probe.join(sent, List.of("< " + abbreviate(r.bodyText())))));
                    p.request("POST", q + "&t=doctor-pong", p.target.authority(), withType(session), "3".getBytes(StandardCharsets.UTF_8), null);
                } else {
                    p.add(Finding.warn("socketio", "ping", "sio.ping_unexpected", "the poll ended after " + waited + " ms with HTTP " + r.status()
                            + " " + abbreviate(r.bodyText()), sent, null));
                }
            }
        } catch (SocketTimeoutException e) {
            p.add(Finding.fail("socketio", "ping", "sio.ping_missing", "no ping within pingInterval + " + p.options.timeout().toMillis()
                    + " ms: a proxy holds the long-poll, or its timeout is shorter than pingInterval", sent,
                    "raise the proxy's read timeout above pingInterval + pingTimeout, and turn buffering off"));
        } catch (IOException e) {
            p.add(Finding.fail("socketio", "ping", "sio.ping_missing", "the poll failed: " + e.getMessage(), sent,
                    "raise the proxy's read timeout above pingInterval + pingTimeout"));
        }
    }

    private void upgrade(String path, String sid, String origin, String cookie) {
        String q = (path.endsWith("/") ? path : path + "/") + "?EIO=4&transport=websocket&sid=" + sid;
        List<String> sent = new ArrayList<>();
        try {
            WsChecks.Open open = WsChecks.handshake(p, q, origin, List.of(), WsChecks.key(), sent);
            List<String> ev = Probe.join(sent, open.response().evidence("upgrade", "connection", "x-crossgate-reason"));
            if (open.connection() == null) {
                p.add(Finding.fail("socketio", "upgrade to WebSocket", "sio.upgrade_failed", "the upgrade was answered HTTP "
                        + open.response().status() + ": clients stay on polling (slower, and every message is a request)", ev,
                        "pass the Upgrade and Connection headers for " + path + " (nginx: proxy_http_version 1.1; proxy_set_header Upgrade"
                                + " $http_upgrade; proxy_set_header Connection \"upgrade\";)"));
                return;
            }
            try (Http.Connection c = open.connection()) {
                WsChecks.send(c.out, 1, "2probe".getBytes(StandardCharsets.UTF_8));
                WsChecks.Frame f = WsChecks.read(c.in);
                if (f != null && f.opcode() == 1 && f.text().equals("3probe")) {
                    WsChecks.send(c.out, 1, "5".getBytes(StandardCharsets.UTF_8));
                    p.add(Finding.pass("socketio", "upgrade to WebSocket", "sio.upgraded", "the probe was answered and the session moved to"
                            + " WebSocket", Probe.join(ev, List.of("> 2probe", "< 3probe", "> 5"))));
                    WsChecks.send(c.out, 1, "1".getBytes(StandardCharsets.UTF_8)); // close the session politely
                } else {
                    p.add(Finding.fail("socketio", "upgrade to WebSocket", "sio.upgrade_failed", "the probe got " + (f == null ? "nothing"
                            : "\"" + abbreviate(f.text()) + "\"") + " instead of 3probe", ev, null));
                }
            }
        } catch (IOException e) {
            p.add(Finding.fail("socketio", "upgrade to WebSocket", "sio.upgrade_failed", "the upgrade failed: " + e.getMessage(), sent, null));
        }
    }

    /** The sticky cookie a load balancer or the server set on the handshake ("name=value"), or null. */
    private static String stickyCookie(Http.Response r) {
        List<String> pairs = new ArrayList<>();
        for (String c : r.headers("set-cookie")) {
            pairs.add(c.split(";", 2)[0].trim());
        }
        return pairs.isEmpty() ? null : String.join("; ", pairs);
    }

    static String abbreviate(String s) {
        String one = s.replace("\u001e", "\\x1e").replace("\n", " ");
        return one.length() > 160 ? one.substring(0, 160) + "..." : one;
    }

    /**
     * The fix for {@code sio.session_unknown}, for each setup that produces it (issue 12): the setting that helps
     * depends on who spreads one session's requests over several servers.
     */
    static String sessionUnknownFix(String path) {
        return "if Crossgate balances several Socket.IO upstreams (routes[].upstreams), it keeps each session on its upstream"
                + " by itself (learned from the handshake; no setting needed, unless routes[].sessionAffinity is false): with several"
                + " Crossgate nodes in front of the same upstreams, browsers are routed by the crossgate_eio_upstream cookie and"
                + " native clients need a balancer sticky by client address; if a load balancer in front of several servers or Crossgate nodes spreads them,"
                + " make it sticky for " + path + " (by cookie: the cookie option of your Socket.IO servers, realtime.stickyCookie"
                + " on hosted Crossgate nodes; or by client address, which also holds for native clients without cookies),"
                + " or use the WebSocket transport only";
    }
}
