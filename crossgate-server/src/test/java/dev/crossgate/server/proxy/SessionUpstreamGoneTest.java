package dev.crossgate.server.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: the session of an upstream that left rotation is told it is unknown — 400 with reason
 * {@code realtime.session_upstream_gone}, as an Engine.IO server answers an unknown sid — instead of being sent to
 * another upstream (which would answer "Session ID unknown" anyway) or getting a 502; a new handshake then goes to a
 * healthy upstream. Two minimal Engine.IO upstreams whose sids name them.
 */
@ExtendWith(LeakCheck.class)
class SessionUpstreamGoneTest {
    @TempDir
    Path dir;

    /** An Engine.IO v4 polling endpoint: a handshake gets an open packet with a sid starting with {@code name}; a poll a noop. */
    private static HttpServer engineIo(String name) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        AtomicInteger n = new AtomicInteger();
        s.createContext("/socket.io/", x -> {
            String q = x.getRequestURI().getQuery() == null ? "" : x.getRequestURI().getQuery();
            if (q.contains("sid=") && !q.contains("sid=" + name + "-")) {
                // Another upstream's session: what an Engine.IO server answers (400, code 1).
                byte[] b = "{\"code\":1,\"message\":\"Session ID unknown\"}".getBytes(StandardCharsets.UTF_8);
                x.sendResponseHeaders(400, b.length);
                x.getResponseBody().write(b);
                x.close();
                return;
            }
            String body = q.contains("sid=") ? "6"
                    : "0{\"sid\":\"" + name + "-session-" + n.incrementAndGet() + "\",\"upgrades\":[],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}";
            byte[] b = body.getBytes(StandardCharsets.UTF_8);
            x.getResponseHeaders().set("Content-Type", "text/plain; charset=UTF-8");
            x.sendResponseHeaders(200, b.length);
            x.getResponseBody().write(b);
            x.close();
        });
        s.start();
        return s;
    }

    @Test
    void aSessionWhoseUpstreamLeftRotationIsToldItIsUnknownAndANewHandshakeGoesToTheOther() throws Exception {
        HttpServer a = engineIo("A");
        HttpServer b = engineIo("B");
        EdgeServer edge = null;
        try {
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, """
                    profile: dev
                    listen: 127.0.0.1:0
                    upstream: http://127.0.0.1:%1$d
                    admin:
                      listen: 127.0.0.1:0
                    routes:
                      - path: /
                        upstreams: [http://127.0.0.1:%1$d, http://127.0.0.1:%2$d]
                        ejectAfter: 1
                        ejectFor: 1m
                    """.formatted(a.getAddress().getPort(), b.getAddress().getPort()));
            CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
            edge = new EdgeServer(c, AccessLog.discarding()).start();

            // Handshakes are balanced over both; each session's requests then go to the upstream whose sid it has.
            Map<String, String> sidOf = new HashMap<>();
            Pattern sid = Pattern.compile("\"sid\":\"(([AB])-session-\\d+)\"");
            for (int i = 0; i < 4 && sidOf.size() < 2; i++) {
                RawHttp.Response r = request(edge.port(), "/socket.io/?EIO=4&transport=polling");
                assertThat(r.status()).isEqualTo(200);
                Matcher m = sid.matcher(r.body());
                assertThat(m.find()).as(r.body()).isTrue();
                sidOf.putIfAbsent(m.group(2), m.group(1));
            }
            assertThat(sidOf).containsKeys("A", "B");
            for (String name : List.of("A", "B")) {
                RawHttp.Response poll = request(edge.port(), "/socket.io/?EIO=4&transport=polling&sid=" + sidOf.get(name));
                assertThat(poll.status()).isEqualTo(200);
                assertThat(poll.body()).isEqualTo("6");
            }

            a.stop(0); // A goes away: its next request fails and ejects it (ejectAfter: 1)
            RawHttp.Response failed = request(edge.port(), "/socket.io/?EIO=4&transport=polling&sid=" + sidOf.get("A"));
            assertThat(failed.status()).isBetween(500, 599);

            RawHttp.Response gone = request(edge.port(), "/socket.io/?EIO=4&transport=polling&sid=" + sidOf.get("A"));
            assertThat(gone.status()).isEqualTo(400);
            assertThat(gone.header("x-crossgate-reason")).isEqualTo("realtime.session_upstream_gone");
            assertThat(gone.body()).contains("out of rotation");

            // B's session goes on, and the client's new handshake lands on B.
            assertThat(request(edge.port(), "/socket.io/?EIO=4&transport=polling&sid=" + sidOf.get("B")).body()).isEqualTo("6");
            RawHttp.Response again = request(edge.port(), "/socket.io/?EIO=4&transport=polling");
            assertThat(again.status()).isEqualTo(200);
            assertThat(again.body()).contains("\"sid\":\"B-session-");
        } finally {
            if (edge != null) {
                edge.close();
            }
            a.stop(0);
            b.stop(0);
        }
    }

    private static RawHttp.Response request(int port, String path) throws Exception {
        try (RawHttp h = new RawHttp(port)) {
            return h.send(RawHttp.get(path, "127.0.0.1")).read();
        }
    }

    private EdgeServer edge(HttpServer a, HttpServer b, boolean affinity) throws Exception {
        Path f = dir.resolve("crossgate-" + System.nanoTime() + ".yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%1$d
                admin:
                  listen: 127.0.0.1:0
                routes:
                  - path: /
                    upstreams: [http://127.0.0.1:%1$d, http://127.0.0.1:%2$d]
                    sessionAffinity: %3$s
                """.formatted(a.getAddress().getPort(), b.getAddress().getPort(), affinity));
        return new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)), AccessLog.discarding()).start();
    }

    /**
     * Two Crossgate nodes in front of the same two upstreams: a session learned by one is routed by the other through the
     * browser's cookie (the second key); without the cookie the other node cannot know it. With sessionAffinity: false
     * the route is plain round-robin again, and no cookie is set.
     */
    @Test
    void theCookieRoutesASessionThroughAnotherCrossgateNodeAndTheSettingTurnsAffinityOff() throws Exception {
        HttpServer a = engineIo("A");
        HttpServer b = engineIo("B");
        List<EdgeServer> edges = new java.util.ArrayList<>();
        try {
            EdgeServer one = edge(a, b, true);
            edges.add(one);
            EdgeServer two = edge(a, b, true);
            edges.add(two);
            RawHttp.Response hs = request(one.port(), "/socket.io/?EIO=4&transport=polling");
            Matcher m = Pattern.compile("\"sid\":\"([AB]-session-\\d+)\"").matcher(hs.body());
            assertThat(m.find()).isTrue();
            String sid = m.group(1);
            String setCookie = hs.header("set-cookie");
            assertThat(setCookie).startsWith(SessionAffinity.COOKIE + "=").contains("HttpOnly");
            String cookie = setCookie.substring(0, setCookie.indexOf(';'));
            int withCookie = 0;
            int withoutCookie = 0;
            for (int i = 0; i < 10; i++) {
                try (RawHttp h = new RawHttp(two.port())) {
                    if (h.send(RawHttp.get("/socket.io/?EIO=4&transport=polling&sid=" + sid, "127.0.0.1", "Cookie: " + cookie)).read().status() == 200) {
                        withCookie++;
                    }
                }
                if (request(two.port(), "/socket.io/?EIO=4&transport=polling&sid=" + sid).status() == 200) {
                    withoutCookie++;
                }
            }
            assertThat(withCookie).as("polls through the other node with the cookie").isEqualTo(10);
            assertThat(withoutCookie).as("without it, the other node round-robins").isLessThan(10);

            EdgeServer off = edge(a, b, false);
            edges.add(off);
            RawHttp.Response plain = request(off.port(), "/socket.io/?EIO=4&transport=polling");
            assertThat(plain.header("set-cookie")).isNull();
            Matcher m2 = Pattern.compile("\"sid\":\"([AB]-session-\\d+)\"").matcher(plain.body());
            assertThat(m2.find()).isTrue();
            int ok = 0;
            for (int i = 0; i < 10; i++) {
                if (request(off.port(), "/socket.io/?EIO=4&transport=polling&sid=" + m2.group(1)).status() == 200) {
                    ok++;
                }
            }
            assertThat(ok).as("sessionAffinity: false: round-robin, half the polls reach the other upstream").isLessThan(10);
        } finally {
            for (EdgeServer e : edges) {
                e.close();
            }
            a.stop(0);
            b.stop(0);
        }
    }
}
