package dev.crossgate.server.limits;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawWs;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Connection and request limits on loopback: each answers with its status, reason, Retry-After and CORS headers. */
@ExtendWith(LeakCheck.class)
class LimitsTest {
    static final String SITE = "https://app.example.com";
    static final String SECRET = "limits-test-secret-0123456789abcdefghijklmnop";

    @TempDir
    Path dir;

    HttpServer http;
    WsEchoUpstream ws;
    EdgeServer edge;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void upstreams() throws Exception {
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        http.createContext("/", ex -> {
            byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        ws = new WsEchoUpstream();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        if (edge != null) {
            edge.close();
        }
        http.stop(0);
        ws.close();
    }

    private void start(String limits) throws Exception {
        start(limits, "10.9.9.9/32");
    }

    private void start(String limits, String trustedProxy) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
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
                http:
                  trustedProxies: [%s]
                websocket:
                  paths: [/ws]
                cors:
                  allowedOrigins: [%s]
                auth:
                  paths: [/ws]
                  jwt:
                    secret: %s
                limits:
                %s
                """.formatted(http.getAddress().getPort(), ws.port(), trustedProxy, SITE, SECRET, limits.indent(2).stripTrailing()));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    private RawHttp connection() throws Exception {
        RawHttp c = new RawHttp(edge.port());
        open.add(c);
        return c;
    }

    private RawHttp.Response get(RawHttp c, String path, String... more) throws Exception {
        List<String> h = new ArrayList<>(List.of("Origin: " + SITE));
        h.addAll(List.of(more));
        return c.send(RawHttp.get(path, "api.example.com", h.toArray(new String[0]))).read();
    }

    private static void assertRefused(RawHttp.Response r, int status, String reason) {
        assertThat(r.status()).isEqualTo(status);
        assertThat(r.body()).contains("\"reason\":\"" + reason + "\"");
        assertThat(Integer.parseInt(r.header("retry-after"))).isPositive();
        assertThat(r.header("access-control-allow-origin")).isEqualTo(SITE);
    }

    @Test
    void connectionsPerAddressAreCountedWhileOpenAndFreedWhenClosed() throws Exception {
        start("connectionsPerAddress: 3\nnewConnectionsPerSecond: 0");
        List<RawHttp> held = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            RawHttp c = connection();
            assertThat(get(c, "/x").status()).isEqualTo(200); // keep-alive: still open
            held.add(c);
        }
        RawHttp fourth = connection();
        assertRefused(get(fourth, "/x"), 429, "limit.connections");
        assertThat(fourth.closedByServer(2000)).isTrue();
        held.get(0).close();
        Thread.sleep(200);
        assertThat(get(connection(), "/x").status()).isEqualTo(200);
    }

    @Test
    void theGlobalConnectionLimitClosesTheConnectionAtAccept() throws Exception {
        start("maxConnections: 2\nconnectionsPerAddress: 0\nnewConnectionsPerSecond: 0");
        assertThat(get(connection(), "/x").status()).isEqualTo(200);
        assertThat(get(connection(), "/x").status()).isEqualTo(200);
        // Closed before it holds a pipeline (issue 11: descriptors are a budget); see edge.DescriptorLimitTest.
        assertThat(connection().closedByServer(5000)).isTrue();
        assertThat(edge.metrics().scrape()).contains("crossgate_connections_refused_total{listener=\"edge\",reason=\"limit.connections\"} 1.0");
    }

    @Test
    void newConnectionsPerAddressAreRateLimited() throws Exception {
        start("newConnectionsPerSecond: 2\nnewConnectionsBurst: 4");
        int ok = 0;
        RawHttp.Response refused = null;
        for (int i = 0; i < 8; i++) {
            try (RawHttp c = new RawHttp(edge.port())) {
                RawHttp.Response r = get(c, "/x");
                if (r.status() == 200) {
                    ok++;
                } else {
                    refused = r;
                }
            }
        }
        assertThat(ok).isBetween(4, 5); // the burst, plus at most one refilled while the loop ran
        assertRefused(refused, 429, "limit.rate");
    }

    @Test
    void requestRatesArePerRouteAndPerClientAddressBehindATrustedProxy() throws Exception {
        start("""
                newConnectionsPerSecond: 0
                routes:
                  - path: /login
                    requestsPerSecond: 1
                    burst: 2
                """, "127.0.0.1/32");
        RawHttp c = connection();
        String a = "X-Forwarded-For: 203.0.113.5";
        assertThat(get(c, "/login", a).status()).isEqualTo(200);
        assertThat(get(c, "/login", a).status()).isEqualTo(200);
        RawHttp.Response third = get(c, "/login", a);
        assertRefused(third, 429, "limit.rate");
        assertThat(third.header("retry-after")).isEqualTo("1");
        assertThat(get(c, "/login", "X-Forwarded-For: 203.0.113.6").status()).isEqualTo(200); // another client behind the proxy
        assertThat(get(c, "/other", a).status()).isEqualTo(200); // another route is not limited
        try (RawHttp admin = new RawHttp(edge.adminAddress().getPort())) {
            String metrics = admin.send(RawHttp.get("/metrics", "127.0.0.1")).read().body();
            assertThat(metrics).contains("crossgate_limit_refusals_total{reason=\"limit.rate\"} 1.0");
        }
        Thread.sleep(1100);
        assertThat(get(c, "/login", a).status()).isEqualTo(200); // refilled
    }

    static String token(String subject) throws Exception {
        SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), new JWTClaimsSet.Builder().subject(subject)
                .expirationTime(new Date(System.currentTimeMillis() + 60_000)).build());
        jwt.sign(new MACSigner(SECRET));
        return jwt.serialize();
    }

    private String[] handshake(String subject) throws Exception {
        RawWs c = new RawWs(edge.port());
        open.add(c);
        return c.request(RawWs.handshake("/ws", "api.example.com", "Origin: " + SITE, "Authorization: Bearer " + token(subject)));
    }

    @Test
    void openWebSocketsPerSubjectAreLimitedAndFreedWhenOneCloses() throws Exception {
        start("connectionsPerSubject: 2\nnewConnectionsPerSecond: 0");
        assertThat(handshake("alice")[0]).isEqualTo("101");
        RawWs second = new RawWs(edge.port());
        assertThat(second.request(RawWs.handshake("/ws", "api.example.com", "Origin: " + SITE, "Authorization: Bearer " + token("alice")))[0])
                .isEqualTo("101");
        String[] third = handshake("alice");
        assertThat(third[0]).isEqualTo("429");
        assertThat(third[1]).containsIgnoringCase("x-crossgate-reason: limit.connections").containsIgnoringCase("retry-after: 1")
                .containsIgnoringCase("access-control-allow-origin: " + SITE);
        assertThat(handshake("bob")[0]).isEqualTo("101"); // another user is not affected
        second.close();
        Thread.sleep(300);
        assertThat(handshake("alice")[0]).isEqualTo("101");
    }
}
