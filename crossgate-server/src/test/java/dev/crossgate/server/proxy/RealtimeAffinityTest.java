package dev.crossgate.server.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import io.netty.buffer.Unpooled;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12: {@code crossgate serve} in front of two Node.js socket.io 4.8 upstreams keeps each Engine.IO session on
 * the upstream that created it, learned from the handshake's answer, without cookies (the Node client keeps none):
 * polling only, WebSocket only and the upgrade, 10 of 10 each; each session's requests reach one upstream (read from
 * the upstreams' own request logs); one upstream killed, its clients reconnect to the other.
 */
@ExtendWith(LeakCheck.class)
class RealtimeAffinityTest {
    static final Path NODE_DIR = Path.of("src/test/node").toAbsolutePath();
    static final Path PEERS = Path.of("..", "test-peers", "node_modules").toAbsolutePath().normalize();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static Process node(String script, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("node", NODE_DIR.resolve(script).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
        pb.environment().put("NODE_PATH", PEERS.toString());
        return pb.start();
    }

    /** Reads a process's JSON lines on a daemon thread into {@code lines}. */
    private static void lines(Process p, BlockingQueue<JsonNode> lines) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    if (l.startsWith("{")) {
                        lines.add(JSON.readTree(l));
                    }
                }
            } catch (java.io.IOException e) {
                // the process ended
            }
        }, "node-out");
        t.setDaemon(true);
        t.start();
    }

    /** Starts the Node upstreams A and B; their request logs fill {@code upstreamsBySid} (sid -> names of upstreams). */
    private static void startUpstreams(Map<String, Set<String>> upstreamsBySid, Map<String, Process> upstreams, Map<String, Integer> ports,
            List<Process> started) throws Exception {
        for (String name : List.of("A", "B")) {
            int port = freePort();
            Process p = node("sio-upstream.js", name, Integer.toString(port));
            started.add(p);
            upstreams.put(name, p);
            ports.put(name, port);
            BlockingQueue<JsonNode> out = new LinkedBlockingQueue<>();
            lines(p, out);
            JsonNode first = out.poll(20, TimeUnit.SECONDS);
            assertThat(first).as("upstream " + name + " listening").isNotNull();
            Thread t = new Thread(() -> {
                try {
                    while (true) {
                        JsonNode l = out.take();
                        if (l.hasNonNull("sid")) {
                            upstreamsBySid.computeIfAbsent(l.get("sid").asText(), k -> ConcurrentHashMap.newKeySet()).add(l.get("name").asText());
                        }
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, "upstream-log-" + name);
            t.setDaemon(true);
            t.start();
        }
    }

    /**
     * The same in real Chromium, whose cookies are on: the page comes through the same Crossgate (same origin), the
     * browser keeps the crossgate_eio_upstream cookie, and polling, WebSocket and upgrade sessions all work, 10 of 10,
     * each on one upstream.
     */
    @Test
    void everySessionStaysOnItsUpstreamInChromiumWithCookies() throws Exception {
        Path harness = Path.of("src/test/browser").toAbsolutePath();
        assertThat(harness.resolve("node_modules/playwright-core").toFile()).as("run scripts/install-browser-deps.sh").exists();
        Map<String, Set<String>> upstreamsBySid = new ConcurrentHashMap<>();
        List<Process> started = new ArrayList<>();
        byte[] bundle = Files.readAllBytes(harness.resolve("node_modules/socket.io-client/dist/socket.io.min.js"));
        com.sun.net.httpserver.HttpServer pages = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 16);
        pages.createContext("/page/", ex -> {
            boolean js = ex.getRequestURI().getPath().endsWith(".js");
            byte[] body = js ? bundle : "<!doctype html><title>affinity</title><script src=\"/page/socket.io.min.js\"></script>".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", js ? "text/javascript" : "text/html");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        pages.start();
        EdgeServer edge = null;
        try {
            Map<String, Integer> ports = new HashMap<>();
            startUpstreams(upstreamsBySid, new HashMap<>(), ports, started);
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, """
                    profile: dev
                    listen: 127.0.0.1:0
                    upstream: http://127.0.0.1:%1$d
                    admin:
                      listen: 127.0.0.1:0
                    websocket:
                      paths: [/socket.io/]
                    routes:
                      - path: /page/
                        upstreams: [http://127.0.0.1:%3$d]
                      - path: /
                        upstreams: [http://127.0.0.1:%1$d, http://127.0.0.1:%2$d]
                    """.formatted(ports.get("A"), ports.get("B"), pages.getAddress().getPort()));
            edge = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)), AccessLog.discarding()).start();
            Process p = new ProcessBuilder("node", "affinity-chromium.mjs", "http://127.0.0.1:" + edge.port() + "/page/", "10")
                    .directory(harness.toFile()).redirectError(dir.resolve("chromium.err").toFile()).start();
            started.add(p);
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
            JsonNode r = JSON.readTree(out);
            assertThat(r.has("error")).as(r.path("error").asText() + Files.readString(dir.resolve("chromium.err"))).isFalse();
            List<String> cookies = new ArrayList<>();
            r.path("cookies").forEach(c -> cookies.add(c.asText()));
            assertThat(cookies).contains(SessionAffinity.COOKIE);
            Set<String> names = new HashSet<>();
            for (String mode : List.of("polling", "websocket", "upgrade")) {
                JsonNode list = r.path("results").path(mode);
                assertThat(list.size()).isEqualTo(10);
                for (JsonNode s : list) {
                    assertThat(s.path("ok").asBoolean()).as(mode + ": " + s).isTrue();
                    assertThat(s.path("transport").asText()).isEqualTo(mode.equals("polling") ? "polling" : "websocket");
                    Set<String> seen = new HashSet<>();
                    s.path("names").forEach(n -> seen.add(n.asText()));
                    assertThat(seen).as("one session, one upstream").hasSize(1);
                    names.addAll(seen);
                    if (!mode.equals("websocket")) {
                        String sid = s.path("sid").asText();
                        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> upstreamsBySid.containsKey(sid));
                        assertThat(upstreamsBySid.get(sid)).as("the upstreams that received requests of session " + sid).hasSize(1);
                    }
                }
            }
            assertThat(names).containsExactlyInAnyOrder("A", "B");
        } finally {
            if (edge != null) {
                edge.close();
            }
            pages.stop(0);
            for (Process p : started) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void everySessionStaysOnItsUpstreamWithoutCookiesAndReconnectsToTheOtherWhenItsUpstreamDies() throws Exception {
        assertThat(PEERS.resolve("socket.io").toFile()).as("socket.io in test-peers: run scripts/install-test-deps.sh").exists();
        Map<String, Set<String>> upstreamsBySid = new ConcurrentHashMap<>();
        Map<String, Process> upstreams = new HashMap<>();
        Map<String, Integer> ports = new HashMap<>();
        List<Process> started = new ArrayList<>();
        EdgeServer edge = null;
        try {
            startUpstreams(upstreamsBySid, upstreams, ports, started);
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, """
                    profile: dev
                    listen: 127.0.0.1:0
                    upstream: http://127.0.0.1:%1$d
                    admin:
                      listen: 127.0.0.1:0
                    websocket:
                      paths: [/socket.io/]
                      missingOrigin: allow
                    routes:
                      - path: /
                        upstreams: [http://127.0.0.1:%1$d, http://127.0.0.1:%2$d]
                        ejectAfter: 1
                        ejectFor: 1m
                    """.formatted(ports.get("A"), ports.get("B")));
            CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
            edge = new EdgeServer(c, AccessLog.discarding()).start();

            Process clients = node("sio-affinity-clients.js", "http://127.0.0.1:" + edge.port(), "10");
            started.add(clients);
            BlockingQueue<JsonNode> out = new LinkedBlockingQueue<>();
            lines(clients, out);
            JsonNode sessions = out.poll(90, TimeUnit.SECONDS);
            assertThat(sessions).isNotNull();
            assertThat(sessions.has("error")).as(sessions.toString()).isFalse();
            Set<String> names = new HashSet<>();
            for (String mode : List.of("polling", "websocket", "upgrade")) {
                JsonNode list = sessions.path("results").path(mode);
                assertThat(list.size()).isEqualTo(10);
                for (JsonNode s : list) {
                    assertThat(s.path("ok").asBoolean()).as(mode + ": " + s).isTrue();
                    assertThat(s.path("transport").asText()).isEqualTo(mode.equals("polling") ? "polling" : "websocket");
                    Set<String> seen = new HashSet<>();
                    s.path("names").forEach(n -> seen.add(n.asText()));
                    assertThat(seen).as("one session, one upstream").hasSize(1);
                    names.addAll(seen);
                    if (mode.equals("websocket")) {
                        continue; // one connection, no request carries the sid: nothing to route
                    }
                    String sid = s.path("sid").asText();
                    // The upstreams' logs are read on other threads: wait (bounded) for this session's lines.
                    org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(10)).until(() -> upstreamsBySid.containsKey(sid));
                    assertThat(upstreamsBySid.get(sid)).as("the upstreams that received requests of session " + sid).hasSize(1);
                }
            }
            assertThat(names).as("new sessions are still balanced over both upstreams").containsExactlyInAnyOrder("A", "B");

            JsonNode holding = out.poll(60, TimeUnit.SECONDS);
            assertThat(holding).isNotNull();
            assertThat(holding.path("phase").asText()).as(holding.toString()).isEqualTo("holding");
            Process a = upstreams.get("A");
            a.destroyForcibly(); // the Node process this test started, by its handle (PID)
            assertThat(a.waitFor(10, TimeUnit.SECONDS)).isTrue();
            try (OutputStream o = clients.getOutputStream()) {
                o.write("A\n".getBytes(StandardCharsets.UTF_8));
            }
            JsonNode done = out.poll(90, TimeUnit.SECONDS);
            assertThat(done).isNotNull();
            assertThat(done.path("done").asBoolean()).as(done.toString()).isTrue();
            List<String> after = new ArrayList<>();
            done.path("after").forEach(n -> after.add(n.asText()));
            assertThat(after).as("every held session, after A died").hasSize(10).containsOnly("B");
        } finally {
            if (edge != null) {
                edge.close();
            }
            for (Process p : started) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void theOpenPacketSidIsReadFromAHandshakeAnswerOnly() {
        assertThat(SessionAffinity.openPacketSid(Unpooled.copiedBuffer("0{\"sid\":\"lv_VI97HAXpY6yYWAAAC\",\"upgrades\":[\"websocket\"]}", StandardCharsets.UTF_8)))
                .isEqualTo("lv_VI97HAXpY6yYWAAAC");
        assertThat(SessionAffinity.openPacketSid(Unpooled.copiedBuffer("4hello", StandardCharsets.UTF_8))).isNull();
        assertThat(SessionAffinity.openPacketSid(Unpooled.copiedBuffer("0{\"sid\":\"a b\"}", StandardCharsets.UTF_8))).isNull();
        assertThat(SessionAffinity.openPacketSid(Unpooled.copiedBuffer("0{\"sid\":\"" + "x".repeat(200) + "\"}", StandardCharsets.UTF_8))).isNull();
        assertThat(SessionAffinity.openPacketSid(Unpooled.copiedBuffer("0{\"nosid\":1}", StandardCharsets.UTF_8))).isNull();
    }

    @Test
    void theTableIsBoundedInCount() {
        SessionAffinity table = new SessionAffinity(100);
        Upstream u = new Upstream(java.net.URI.create("http://127.0.0.1:9"), java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(30), 3, java.time.Duration.ofSeconds(10));
        for (int i = 0; i < 1000; i++) {
            table.learn("sid-" + i, u);
        }
        assertThat(table.size()).isLessThanOrEqualTo(100);
        assertThat(table.route("sid-999")).isInstanceOf(SessionAffinity.Bound.class);
    }

    /** A sid the edge never learned (made up by a client) is routed like any request and never grows the table. */
    @Property(tries = 500)
    void aSidNeverLearnedIsUnknownAndDoesNotGrowTheTable(@ForAll @StringLength(max = 300) String sid) {
        SessionAffinity table = new SessionAffinity(100);
        Upstream u = new Upstream(java.net.URI.create("http://127.0.0.1:9"), java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(30), 3, java.time.Duration.ofSeconds(10));
        table.learn("known-sid", u);
        if (!sid.equals("known-sid")) {
            assertThat(table.route(sid)).isInstanceOf(SessionAffinity.Unknown.class);
        }
        assertThat(table.size()).isEqualTo(1);
    }
}
