package dev.crossgate.server.limits;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.realtime.testing.RedisServer;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.observe.Metrics;
import dev.crossgate.server.testing.RawWs;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code limits.store: redis} with a real redis-server on loopback: two nodes (two edge servers, or two {@link Limits}
 * on one Redis) share the per-subject WebSocket quota and the request rates; a dead node's leases expire; with Redis
 * gone each node applies its own limits (counted), and sharing resumes when Redis is back.
 */
@ExtendWith(LeakCheck.class)
class SharedLimitsTest {
    static final String SITE = LimitsTest.SITE;

    @TempDir
    Path dir;

    RedisServer redis;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void redis() throws Exception {
        redis = RedisServer.start();
    }

    @AfterEach
    void stop() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        redis.close();
    }

    // ---------------------------------------------------------------- two edge servers

    private EdgeServer edge(int httpPort, int wsPort) throws Exception {
        Path f = Files.createTempFile(dir, "crossgate", ".yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                routes:
                  - path: /ws
                    upstreams: [http://127.0.0.1:%d]
                hosts: [api.example.com]
                admin:
                  listen: 127.0.0.1:0
                websocket:
                  paths: [/ws]
                cors:
                  allowedOrigins: [%s]
                auth:
                  paths: [/ws]
                  jwt:
                    secret: %s
                limits:
                  connectionsPerSubject: 2
                  newConnectionsPerSecond: 0
                  store: redis
                """.formatted(httpPort, wsPort, SITE, LimitsTest.SECRET));
        // The URL from the environment, as a deployment would pass it (a secret: not in the file).
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of("CROSSGATE_REALTIME_REDIS_URL", redis.url()), dir));
        EdgeServer e = new EdgeServer(c, AccessLog.discarding()).start();
        open.add(e);
        return e;
    }

    private String[] handshake(EdgeServer edge, String subject) throws Exception {
        RawWs c = new RawWs(edge.port());
        open.add(c);
        return c.request(RawWs.handshake("/ws", "api.example.com", "Origin: " + SITE, "Authorization: Bearer " + LimitsTest.token(subject)));
    }

    @Test
    void aSubjectsWebSocketsAreCountedAcrossNodesAndClosingOneFreesASlotOnTheOther() throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        http.createContext("/", ex -> {
            byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        open.add(() -> http.stop(0));
        WsEchoUpstream ws = new WsEchoUpstream();
        open.add(ws);
        EdgeServer a = edge(http.getAddress().getPort(), ws.port());
        EdgeServer b = edge(http.getAddress().getPort(), ws.port());

        assertThat(handshake(a, "alice")[0]).isEqualTo("101");
        RawWs onB = new RawWs(b.port());
        open.add(onB);
        assertThat(onB.request(RawWs.handshake("/ws", "api.example.com", "Origin: " + SITE, "Authorization: Bearer " + LimitsTest.token("alice")))[0])
                .isEqualTo("101");
        // The third, on either node: refused as the per-node quota refuses, 429 limit.connections.
        for (EdgeServer node : List.of(a, b)) {
            String[] third = handshake(node, "alice");
            assertThat(third[0]).isEqualTo("429");
            assertThat(third[1]).containsIgnoringCase("x-crossgate-reason: limit.connections").containsIgnoringCase("retry-after: 1")
                    .containsIgnoringCase("access-control-allow-origin: " + SITE);
        }
        assertThat(handshake(b, "bob")[0]).isEqualTo("101"); // another user is not affected

        onB.close(); // node B gives its lease back when the WebSocket ends
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> assertThat(handshake(a, "alice")[0]).isEqualTo("101"));
        assertThat(handshake(b, "alice")[0]).isEqualTo("429");
        assertThat(a.metrics().scrape()).doesNotContain("crossgate_limits_store_fallbacks_total");
    }

    private EdgeServer hosted() throws Exception {
        Path f = Files.createTempFile(dir, "crossgate", ".yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:9
                admin:
                  listen: 127.0.0.1:0
                websocket:
                  missingOrigin: allow
                auth:
                  jwt:
                    secret: %s
                limits:
                  connectionsPerSubject: 1
                  store: redis
                realtime:
                  token: required
                  namespaces: ["/", "/team-*"]
                  redis:
                    url: %s
                """.formatted(LimitsTest.SECRET, redis.url()));
        EdgeServer e = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)), AccessLog.discarding()).start();
        open.add(e);
        return e;
    }

    private io.socket.client.Socket sio(EdgeServer edge, String subject) throws Exception {
        io.socket.client.IO.Options o = io.socket.client.IO.Options.builder().setTransports(new String[] {io.socket.engineio.client.transports.WebSocket.NAME})
                .setAuth(Map.of("token", LimitsTest.token(subject))).setReconnection(false).setForceNew(true).build();
        io.socket.client.Socket s = io.socket.client.IO.socket(java.net.URI.create("http://127.0.0.1:" + edge.port()), o);
        open.add(s::close);
        return s;
    }

    /** Null when connected, else the connect_error's data.reason. */
    private static String connect(io.socket.client.Socket s) throws Exception {
        java.util.concurrent.CompletableFuture<Object[]> ok = new java.util.concurrent.CompletableFuture<>();
        java.util.concurrent.CompletableFuture<Object[]> err = new java.util.concurrent.CompletableFuture<>();
        s.once(io.socket.client.Socket.EVENT_CONNECT, ok::complete);
        s.once(io.socket.client.Socket.EVENT_CONNECT_ERROR, err::complete);
        s.connect();
        Object done = java.util.concurrent.CompletableFuture.anyOf(ok, err).get(10, TimeUnit.SECONDS);
        return ok.isDone() ? null : ((org.json.JSONObject) ((Object[]) done)[0]).getJSONObject("data").getString("reason");
    }

    @Test
    void hostedSocketIoCountsAUsersConnectionsAcrossNodes() throws Exception {
        EdgeServer a = hosted();
        EdgeServer b = hosted();
        io.socket.client.Socket alice = sio(a, "alice");
        assertThat(connect(alice)).isNull();
        // The same connection in a second namespace shares its one slot.
        io.socket.client.Socket team = alice.io().socket("/team-red", io.socket.client.IO.Options.builder()
                .setAuth(Map.of("token", LimitsTest.token("alice"))).build());
        open.add(team::close);
        assertThat(connect(team)).isNull();
        // Another connection of alice's, on the other node: over the shared quota, refused as the node's own quota refuses.
        assertThat(connect(sio(b, "alice"))).isEqualTo("limit.connections");
        assertThat(connect(sio(b, "bob"))).isNull();
        team.close();
        alice.close();
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertThat(connect(sio(b, "alice"))).isNull());
        assertThat(connect(sio(a, "alice"))).isEqualTo("limit.connections");
    }

    // ---------------------------------------------------------------- two Limits on one Redis

    private Limits node(int perSubject, Duration lease, Metrics metrics) {
        CrossgateConfig.Limits config = new CrossgateConfig.Limits(0, 0, perSubject, 0, 1,
                List.of(new CrossgateConfig.RateLimit("/login", 1, 3), new CrossgateConfig.RateLimit("/", 0, 1)), CrossgateConfig.LimitsStore.REDIS);
        Limits l = new Limits(config, new CrossgateConfig.RealtimeRedis(redis.url(), false, false, "socket.io", Duration.ofSeconds(5)),
                new RedisLimitStore.Options(lease, Duration.ofMillis(500)), metrics);
        open.add(l::close);
        return l;
    }

    private static Limits.SubjectSlot reserve(Limits l, String subject) throws Exception {
        return l.reserveSubject(subject).get(5, TimeUnit.SECONDS);
    }

    /** Waits until the node's store answers again (Lettuce reconnected): a probe reservation, given back at once. */
    private static void awaitSharing(Limits l) {
        await().atMost(20, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> {
            l.release(reserve(l, "probe"));
            l.request("/login", "198.51.100.1").get(5, TimeUnit.SECONDS);
            assertThat(l.sharing()).isTrue();
        });
    }

    @Test
    void aNodeThatDiesWithoutGivingItsLeasesBackFreesItsSlotsWhenTheLeasesExpire() throws Exception {
        Limits a = node(2, Duration.ofMillis(900), null);
        Limits b = node(2, Duration.ofMillis(900), null);
        awaitSharing(a);
        awaitSharing(b);
        assertThat(reserve(a, "carol")).isNotNull();
        assertThat(reserve(a, "carol")).isNotNull();
        assertThat(reserve(b, "carol")).isNull();
        // Renewed while node A lives: still refused after several leases' time.
        await().pollDelay(Duration.ofMillis(2000)).atMost(3, TimeUnit.SECONDS).untilAsserted(() -> assertThat(reserve(b, "carol")).isNull());

        a.abandon(); // as a crash: no release, no more renewals
        long died = System.nanoTime();
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> assertThat(reserve(b, "carol")).isNotNull());
        assertThat(System.nanoTime() - died).as("freed by expiry, not at once").isGreaterThan(TimeUnit.MILLISECONDS.toNanos(300));
        assertThat(b.sharing()).isTrue();
    }

    @Test
    void withRedisDownEachNodeAppliesItsOwnLimitCountsTheFallbackAndSharesAgainWhenRedisIsBack() throws Exception {
        Metrics metrics = new Metrics();
        Limits a = node(2, Duration.ofSeconds(3), metrics);
        Limits b = node(2, Duration.ofSeconds(3), null);
        awaitSharing(a);
        awaitSharing(b);

        redis.kill();
        // Per node: each admits up to the limit on its own (never everyone refused), and no more (never unbounded).
        List<Limits.SubjectSlot> held = new ArrayList<>();
        for (Limits node : List.of(a, b)) {
            held.add(reserve(node, "dave"));
            held.add(reserve(node, "dave"));
            assertThat(reserve(node, "dave")).isNull();
        }
        assertThat(held).doesNotContainNull();
        assertThat(a.sharing()).isFalse();
        assertThat(a.request("/login", "192.0.2.1").get(5, TimeUnit.SECONDS)).isNull(); // a rate too, from the node's own bucket
        assertThat(metrics.scrape()).contains("crossgate_limits_store_fallbacks_total{check=\"subject\"}")
                .contains("crossgate_limits_store_fallbacks_total{check=\"rate\"}").contains("crossgate_limits_store_shared 0.0");

        redis.restart(); // empty: no persistence
        awaitSharing(a);
        awaitSharing(b);
        assertThat(metrics.scrape()).contains("crossgate_limits_store_shared 1.0");
        // Shared again: a new subject's quota counts both nodes.
        assertThat(reserve(a, "erin")).isNotNull();
        assertThat(reserve(b, "erin")).isNotNull();
        assertThat(reserve(a, "erin")).isNull();
        assertThat(reserve(b, "erin")).isNull();
        // The slots admitted per node while Redis was away are added back by the heartbeat (Redis restarted empty).
        String dave = RedisLimitStore.PREFIX + "subject:dave";
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100)).untilAsserted(() -> assertThat(zcard(dave)).isEqualTo(4));
        a.release(held.get(0));
        b.release(held.get(2));
        b.release(held.get(3));
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).untilAsserted(() -> assertThat(zcard(dave)).isEqualTo(1));
        // Node B holds none of dave's now, so its own count allows two; Redis, counting node A's, allows one.
        assertThat(reserve(b, "dave")).isNotNull();
        assertThat(reserve(b, "dave")).isNull();
    }

    /** The members of a subject's set, read with a client of the test's own. */
    private long zcard(String key) throws Exception {
        io.lettuce.core.RedisClient client = io.lettuce.core.RedisClient.create(redis.url());
        try (var c = client.connect()) {
            return c.sync().zcard(key);
        } finally {
            client.shutdown(0, 1, TimeUnit.SECONDS);
        }
    }

    @Test
    void aRequestRateIsSharedAcrossNodes() throws Exception {
        Limits a = node(0, Duration.ofSeconds(3), null);
        Limits b = node(0, Duration.ofSeconds(3), null);
        awaitSharing(a);
        awaitSharing(b);
        // /login: 1 per second, bursts of 3, per client address, over both nodes.
        assertThat(a.request("/login", "192.0.2.7").get(5, TimeUnit.SECONDS)).isNull();
        assertThat(b.request("/login", "192.0.2.7").get(5, TimeUnit.SECONDS)).isNull();
        assertThat(a.request("/login", "192.0.2.7").get(5, TimeUnit.SECONDS)).isNull();
        Limits.Refusal refused = b.request("/login", "192.0.2.7").get(5, TimeUnit.SECONDS);
        assertThat(refused).isNotNull();
        assertThat(refused.reason()).isEqualTo("limit.rate");
        assertThat(refused.status()).isEqualTo(429);
        assertThat(refused.retryAfterSeconds()).isEqualTo(1);
        assertThat(refused.message()).isEqualTo("too many requests from this address on /login (limit 1/s, bursts of 3)");
        assertThat(a.request("/login", "192.0.2.7").get(5, TimeUnit.SECONDS)).isNotNull();
        assertThat(b.request("/login", "192.0.2.8").get(5, TimeUnit.SECONDS)).as("another address").isNull();
        assertThat(b.request("/other", "192.0.2.7").get(5, TimeUnit.SECONDS)).as("a path without a rate").isNull();
        // The bucket refills: one request a second later.
        await().atMost(3, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100))
                .untilAsserted(() -> assertThat(b.request("/login", "192.0.2.7").get(5, TimeUnit.SECONDS)).isNull());
        assertThat(a.sharing()).isTrue();
        assertThat(b.sharing()).isTrue();
    }
}
