package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawHttp.Response;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The edge on loopback in front of a real upstream server, driven by a raw-socket client. */
@ExtendWith(LeakCheck.class)
class EdgeServerTest {
    static final String APP = "https://app.example.com";

    @TempDir
    Path dir;

    HttpServer upstream;
    EdgeServer edge;
    final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void startUpstream() throws IOException {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        upstream.setExecutor(Executors.newFixedThreadPool(8));
        upstream.createContext("/hello", ex -> {
            byte[] body = "{\"hello\":true}".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            // A backend with its own (wrong) CORS layer: Crossgate must remove it.
            ex.getResponseHeaders().add("Access-Control-Allow-Origin", "*");
            ex.getResponseHeaders().add("Access-Control-Allow-Credentials", "true");
            ex.getResponseHeaders().add("Vary", "Accept-Encoding");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        upstream.createContext("/echo", ex -> {
            StringBuilder b = new StringBuilder();
            ex.getRequestHeaders().forEach((k, v) -> b.append(k.toLowerCase()).append('=').append(String.join("|", v)).append('\n'));
            byte[] in = ex.getRequestBody().readAllBytes();
            b.append("body-bytes=").append(in.length).append('\n');
            byte[] body = b.toString().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        upstream.createContext("/slow", ex -> {
            try {
                Thread.sleep(3000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        upstream.createContext("/status/", ex -> {
            int code = Integer.parseInt(ex.getRequestURI().getPath().substring("/status/".length()));
            byte[] body = ("{\"status\":" + code + "}").getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(code, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        upstream.start();
    }

    @AfterEach
    void stop() throws Exception {
        if (edge != null) {
            edge.close();
        }
        upstream.stop(0);
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    private EdgeServer start(String yaml, int upstreamPort) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, yaml + "\nlisten: 127.0.0.1:0\nupstream: http://127.0.0.1:" + upstreamPort + "\n"
                + (yaml.contains("admin:") ? "" : "admin:\n  listen: 127.0.0.1:0\n"));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
        return edge;
    }

    private static final String PROD = """
            profile: prod
            hosts: [api.example.com, "10.0.2.2:8080"]
            http:
              maxBodySize: 1KB
              upstreamResponseTimeout: 500ms
              requestHeadTimeout: 500ms
            cors:
              allowedOrigins: [https://app.example.com]
              allowCredentials: true
              allowedMethods: [GET, PUT]
              allowedHeaders: [Authorization, X-Custom]
              exposedHeaders: [X-Request-Id]
            """;

    private EdgeServer prod() throws Exception {
        return start(PROD, upstream.getAddress().getPort());
    }

    @Test
    void aProxiedResponseCarriesTheEdgePolicyAndNotTheUpstreamsOwnCorsHeaders() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/hello", "api.example.com", "Origin: " + APP)).read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("{\"hello\":true}");
            assertThat(r.headers("access-control-allow-origin")).containsExactly(APP);
            assertThat(r.headers("access-control-allow-credentials")).containsExactly("true");
            assertThat(r.header("access-control-expose-headers")).isEqualTo("X-Request-Id");
            assertThat(r.headers("vary")).containsExactly("Accept-Encoding, Origin");
            assertThat(r.header("x-request-id")).hasSize(24);
        }
    }

    @Test
    void preflightsAreAnsweredAtTheEdgeWithTheirReason() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response ok = c.send("OPTIONS /hello HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " + APP
                    + "\r\nAccess-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: authorization, x-custom\r\n\r\n").read();
            assertThat(ok.status()).isEqualTo(204);
            assertThat(ok.header("access-control-allow-methods")).isEqualTo("GET, PUT");
            assertThat(ok.header("access-control-allow-headers")).isEqualTo("Authorization, X-Custom");
            Response refused = c.send("OPTIONS /hello HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " + APP
                    + "\r\nAccess-Control-Request-Method: DELETE\r\n\r\n").read();
            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.header("x-crossgate-reason")).isEqualTo("cors.method_not_allowed");
            assertThat(refused.header("access-control-allow-origin")).isNull();
        }
    }

    @Test
    void aRefusedOriginNeverReachesTheUpstreamAndGetsAJsonReason() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/hello", "api.example.com", "Origin: https://evil.example", "X-Request-Id: abc-123")).read();
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.header("content-type")).isEqualTo("application/json; charset=utf-8");
            assertThat(r.body()).isEqualTo("{\"error\":\"origin \\\"https://evil.example\\\" is not allowed by the CORS policy\","
                    + "\"reason\":\"cors.origin_not_allowed\",\"requestId\":\"abc-123\"}\n");
            assertThat(r.header("vary")).isEqualTo("Origin");
            assertThat(r.header("access-control-allow-origin")).isNull();
        }
    }

    @Test
    void hostsOutsideTheListAreMisdirectedAndTheEmulatorHostDependsOnTheProfile() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/hello", "evil.example", "Origin: " + APP)).read();
            assertThat(r.status()).isEqualTo(421);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("host.not_allowed");
            // CORS headers on the error so that the page can read why.
            assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
            assertThat(c.send(RawHttp.get("/hello", "10.0.2.2:8080")).read().status()).isEqualTo(200);
            assertThat(c.send(RawHttp.get("/hello", "10.0.2.2:8081")).read().status()).isEqualTo(421);
        }
        edge.close();
        start("profile: prod\nhosts: [api.example.com]\n", upstream.getAddress().getPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            assertThat(c.send(RawHttp.get("/hello", "10.0.2.2:8080")).read().status()).isEqualTo(421);
        }
        edge.close();
        start("profile: dev\n", upstream.getAddress().getPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            assertThat(c.send(RawHttp.get("/hello", "10.0.2.2:8080")).read().status()).isEqualTo(200);
        }
    }

    @Test
    void malformedHostHeadersAreBadRequests() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            assertThat(c.send("GET /hello HTTP/1.1\r\n\r\n").read().header("x-crossgate-reason")).isEqualTo("host.missing");
        }
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("GET /hello HTTP/1.1\r\nHost: api.example.com\r\nHost: other.example\r\n\r\n").read();
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("host.duplicate");
        }
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("GET /hello HTTP/1.1\r\nHost: api.example.com:99999\r\n\r\n").read();
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("host.invalid");
        }
    }

    @Test
    void malformedRequestsGetTheirStatusAndTheConnectionIsClosed() throws Exception {
        prod();
        String[][] cases = {
                {"GET /hello HTTP/1.1\r\nHost: api.example.com\r\nBad Header\r\n\r\n", "400", "http.malformed"},
                {"GET /" + "a".repeat(9000) + " HTTP/1.1\r\nHost: api.example.com\r\n\r\n", "414", "http.uri_too_long"},
                {"GET /hello HTTP/1.1\r\nHost: api.example.com\r\nX-Big: " + "b".repeat(20000) + "\r\n\r\n", "431", "http.headers_too_large"},
                {"POST /echo HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "400", "http.malformed"},
        };
        for (String[] c : cases) {
            try (RawHttp client = new RawHttp(edge.port())) {
                Response r = client.send(c[0]).read();
                assertThat(r.status()).as(c[2]).isEqualTo(Integer.parseInt(c[1]));
                assertThat(r.header("x-crossgate-reason")).as(c[2]).isEqualTo(c[2]);
                assertThat(r.header("connection")).as(c[2]).isEqualTo("close");
                assertThat(client.closedByServer(2000)).as(c[2]).isTrue();
            }
        }
    }

    @Test
    void aDeclaredBodyOverTheLimitIsRefusedUnreadThenDiscardedBeforeClosing() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("POST /echo HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " + APP + "\r\nContent-Length: 5000\r\n\r\n").read();
            assertThat(r.status()).isEqualTo(413);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("http.body_too_large");
            assertThat(r.header("connection")).isEqualTo("close");
            assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
            assertThat(c.closedByServer(300)).isFalse();
            c.send("x".repeat(5000));
            assertThat(c.closedByServer(2000)).isTrue();
        }
    }

    @Test
    void anUnknownTransferCodingIsNotImplemented() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("POST /echo HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").read();
            assertThat(r.status()).isEqualTo(501); // RFC 9112 §6.1: a coding the server does not understand
            assertThat(r.header("x-crossgate-reason")).isEqualTo("http.transfer_coding_unsupported");
            assertThat(c.closedByServer(2000)).isTrue();
        }
    }

    @Test
    void aRequestHeadThatStallsGets408() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("GET /hello HTTP/1.1\r\nHost: api.exa").read();
            assertThat(r.status()).isEqualTo(408);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("http.request_timeout");
            assertThat(c.closedByServer(2000)).isTrue();
        }
    }

    @Test
    void upstreamFailuresAre502And504WithCorsHeaders() throws Exception {
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort();
        }
        start(PROD, deadPort);
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/hello", "api.example.com", "Origin: " + APP)).read();
            assertThat(r.status()).isEqualTo(502);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.connect_failed");
            assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
        }
        edge.close();
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/slow", "api.example.com", "Origin: " + APP)).read();
            assertThat(r.status()).isEqualTo(504);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.timeout");
            assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
            // The connection stays usable after a timeout.
            assertThat(c.send(RawHttp.get("/hello", "api.example.com")).read().status()).isEqualTo(200);
        }
    }

    @Test
    void upstreamErrorStatusesPassThroughWithCorsHeaders() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            for (int code : new int[] {401, 404, 429, 500}) {
                Response r = c.send(RawHttp.get("/status/" + code, "api.example.com", "Origin: " + APP)).read();
                assertThat(r.status()).isEqualTo(code);
                assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
                assertThat(r.body()).isEqualTo("{\"status\":" + code + "}");
            }
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            c.send(RawHttp.get("/status/404", "api.example.com") + RawHttp.get("/hello", "api.example.com")
                    + RawHttp.get("/status/500", "api.example.com"));
            assertThat(c.read().status()).isEqualTo(404);
            assertThat(c.read().status()).isEqualTo(200);
            assertThat(c.read().status()).isEqualTo(500);
        }
    }

    @Test
    void headersAreSanitisedAndForwardedHeadersAreSetByTheEdge() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("POST /echo HTTP/1.1\r\nHost: api.example.com\r\nX_Injected: 1\r\nX-Forwarded-For: 6.6.6.6\r\n"
                    + "Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nContent-Length: 3\r\n\r\nabc").read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).contains("x-forwarded-for=127.0.0.1\n", "x-forwarded-proto=http\n", "x-forwarded-host=api.example.com\n",
                    "forwarded=for=127.0.0.1;proto=http;host=\"api.example.com\"\n", "body-bytes=3\n", "x-request-id=");
            assertThat(r.body()).doesNotContain("x_injected", "6.6.6.6", "x-hop");
        }
    }

    @Test
    void chunkedUploadsAreStreamedAndOversizedOnesRefusedMidway() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send("POST /echo HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).contains("body-bytes=11\n");
        }
        try (RawHttp c = new RawHttp(edge.port())) {
            String chunk = "200\r\n" + "x".repeat(512) + "\r\n";
            Response r = c.send("POST /echo HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk.repeat(3)).read();
            assertThat(r.status()).isEqualTo(413);
            // Lingering close: the rest of the upload is read and discarded, then the connection closes.
            assertThat(c.closedByServer(300)).isFalse();
            c.send(chunk + "0\r\n\r\n");
            assertThat(c.closedByServer(2000)).isTrue();
        }
    }

    @Test
    void anIdempotentRequestIsRetriedOnceWhenThePooledConnectionWasClosedByTheUpstream() throws Exception {
        AtomicInteger connections = new AtomicInteger();
        ServerSocket racy = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        closeables.add(racy);
        Thread t = new Thread(() -> {
            while (!racy.isClosed()) {
                try {
                    Socket s = racy.accept();
                    connections.incrementAndGet();
                    new Thread(() -> serveOneThenDropNext(s)).start();
                } catch (IOException e) {
                    return;
                }
            }
        });
        t.setDaemon(true);
        t.start();
        start(PROD, racy.getLocalPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            for (int i = 0; i < 3; i++) {
                Response r = c.send(RawHttp.get("/x", "api.example.com")).read();
                assertThat(r.status()).as("request " + i).isEqualTo(200);
            }
        }
        assertThat(connections.get()).isEqualTo(3);
    }

    /** Answers one request with keep-alive, then reads the next and closes without answering: the keep-alive race. */
    private static void serveOneThenDropNext(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            readHead(in);
            out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            readHead(in);
        } catch (IOException ignored) {
            // the edge closed first
        }
    }

    private static void readHead(InputStream in) throws IOException {
        int state = 0;
        int c;
        while ((c = in.read()) != -1) {
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) {
                return;
            }
        }
        throw new IOException("closed");
    }

    @Test
    void theAdminListenerServesMetricsHealthAndReadinessWithReasonCodes() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            c.send(RawHttp.get("/hello", "api.example.com", "Origin: https://evil.example")).read();
            c.send(RawHttp.get("/hello", "api.example.com", "Origin: " + APP)).read();
            c.send("OPTIONS /hello HTTP/1.1\r\nHost: api.example.com\r\nOrigin: " + APP + "\r\nAccess-Control-Request-Method: PUT\r\n\r\n").read();
        }
        int admin = edge.adminAddress().getPort();
        try (RawHttp c = new RawHttp(admin)) {
            Response m = null;
            for (int i = 0; i < 50; i++) {
                m = c.send(RawHttp.get("/metrics", "localhost")).read();
                if (m.body().contains("crossgate_preflights_total{result=\"allowed\"} 1.0")) {
                    break;
                }
                Thread.sleep(20);
            }
            assertThat(m.status()).isEqualTo(200);
            assertThat(m.body()).contains(
                    "crossgate_requests_total{reason=\"cors.origin_not_allowed\",route=\"*\",status=\"403\"} 1.0",
                    "crossgate_requests_total{reason=\"\",route=\"*\",status=\"200\"} 1.0",
                    "crossgate_cors_refusals_total{reason=\"cors.origin_not_allowed\"} 1.0",
                    "crossgate_preflights_total{result=\"allowed\"} 1.0",
                    "crossgate_upstream_latency_seconds_count 1",
                    "crossgate_connections_open",
                    // issue 13: exchange durations by route (a histogram), the JVM and the process
                    "crossgate_request_duration_seconds_bucket{route=\"*\",le=",
                    "crossgate_request_duration_seconds_count{route=\"*\"} 3",
                    "jvm_memory_used_bytes{", "jvm_threads_live_threads", "process_uptime_seconds", "process_files_open_files",
                    "system_cpu_count");
            Response health = c.send(RawHttp.get("/healthz", "localhost", "Origin: " + APP)).read();
            assertThat(health.status()).isEqualTo(200);
            assertThat(health.header("access-control-allow-origin")).isEqualTo(APP);
            assertThat(c.send(RawHttp.get("/readyz", "localhost")).read().body()).isEqualTo("{\"status\":\"ready\"}\n");
            assertThat(c.send(RawHttp.get("/nope", "localhost")).read().status()).isEqualTo(404);
        }
    }

    @Test
    void aSelfSignedTlsListenerServesHttpsWithHstsAndTellsTheUpstream() throws Exception {
        start("profile: dev\ntls:\n  selfSigned: true\n  hsts: 1h\n", upstream.getAddress().getPort());
        assertThat(edge.secure()).isTrue();
        try (RawHttp c = RawHttp.tls(edge.port(), edge.selfSignedCertificate())) {
            Response r = c.send(RawHttp.get("/echo", "localhost:" + edge.port(), "Origin: https://localhost:3000")).read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.header("strict-transport-security")).isEqualTo("max-age=3600");
            assertThat(r.header("access-control-allow-origin")).isEqualTo("https://localhost:3000");
            assertThat(r.body()).contains("x-forwarded-proto=https\n");

        }
    }

    private HttpServer named(String name, java.util.concurrent.atomic.AtomicBoolean healthy) throws IOException {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        s.createContext("/", ex -> {
            boolean health = ex.getRequestURI().getPath().equals("/health");
            int code = health && !healthy.get() ? 500 : 200;
            byte[] b = name.getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(code, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        closeables.add(() -> s.stop(0));
        return s;
    }

    @Test
    void aRouteBalancesRoundRobinAndEjectsAnUpstreamThatFails() throws Exception {
        var okA = new java.util.concurrent.atomic.AtomicBoolean(true);
        HttpServer a = named("a", okA);
        HttpServer b = named("b", new java.util.concurrent.atomic.AtomicBoolean(true));
        start(PROD + """
                routes:
                  - path: /api
                    upstreams: [http://127.0.0.1:%d, http://127.0.0.1:%d]
                    ejectAfter: 1
                    ejectFor: 1m
                """.formatted(a.getAddress().getPort(), b.getAddress().getPort()), upstream.getAddress().getPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                seen.add(c.send(RawHttp.get("/api/x", "api.example.com")).read().body());
            }
            assertThat(seen).containsExactlyInAnyOrder("a", "b", "a", "b");
            assertThat(seen.get(0)).isNotEqualTo(seen.get(1));
            // Paths outside the route go to the default upstream.
            assertThat(c.send(RawHttp.get("/hello", "api.example.com")).read().body()).isEqualTo("{\"hello\":true}");
            a.stop(0);
            List<Integer> statuses = new ArrayList<>();
            List<String> bodies = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Response r = c.send(RawHttp.get("/api/x", "api.example.com")).read();
                statuses.add(r.status());
                bodies.add(r.body());
            }
            // At most one request meets the dead upstream (502); after that it is out of rotation.
            assertThat(statuses.stream().filter(st -> st == 502).count()).isLessThanOrEqualTo(1);
            assertThat(bodies.subList(2, 6)).containsOnly("b");
        }
    }

    @Test
    void theActiveHealthCheckTakesAnUpstreamOutAndAllOutIs503() throws Exception {
        var okA = new java.util.concurrent.atomic.AtomicBoolean(true);
        var okB = new java.util.concurrent.atomic.AtomicBoolean(true);
        HttpServer a = named("a", okA);
        HttpServer b = named("b", okB);
        start(PROD + """
                routes:
                  - path: /api
                    upstreams: [http://127.0.0.1:%d, http://127.0.0.1:%d]
                    healthCheck:
                      path: /health
                      interval: 100ms
                      timeout: 500ms
                """.formatted(a.getAddress().getPort(), b.getAddress().getPort()), upstream.getAddress().getPort());
        okA.set(false);
        Thread.sleep(400);
        try (RawHttp c = new RawHttp(edge.port())) {
            for (int i = 0; i < 4; i++) {
                assertThat(c.send(RawHttp.get("/api/x", "api.example.com")).read().body()).isEqualTo("b");
            }
            okB.set(false);
            Thread.sleep(400);
            Response r = c.send(RawHttp.get("/api/x", "api.example.com", "Origin: " + APP)).read();
            assertThat(r.status()).isEqualTo(503);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.unhealthy");
            assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
            okA.set(true);
            Thread.sleep(400);
            assertThat(c.send(RawHttp.get("/api/x", "api.example.com")).read().body()).isEqualTo("a");
        }
    }

    @Test
    void aBodyThatFailsToDecodeAfterTheHeadWasForwardedNeverReturnsItsUpstreamConnection() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            c.send("POST /echo HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
            Thread.sleep(200); // the head and first chunk are on their way upstream
            c.send("zz-not-hex\r\n\r\n");
            Response r = c.read();
            assertThat(r.status()).isEqualTo(400);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("http.malformed");
            assertThat(c.closedByServer(2000)).isTrue();
        }
        for (int i = 0; i < 50 && edge.pool().openConnections() > 0; i++) {
            Thread.sleep(20);
        }
        assertThat(edge.pool().openConnections()).isZero();
        assertThat(edge.pool().idleConnections()).isZero();
    }

    @Test
    void anH2cUpgradeIsNotPassedToTheUpstream() throws Exception {
        prod();
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/echo", "api.example.com", "Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
                    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA")).read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).doesNotContain("upgrade=", "http2-settings=");
        }
    }

    @Test
    void forwardedHeadersAreBelievedOnlyFromTrustedProxiesAndHttpsBehindOneIsSeen() throws Exception {
        start(PROD.replace("http:\n", "http:\n  trustedProxies: [127.0.0.0/8]\n  redirectHttps: true\n")
                + "tls:\n  hsts: 1d\n", upstream.getAddress().getPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            Response plain = c.send(RawHttp.get("/echo?x=1", "api.example.com")).read();
            assertThat(plain.status()).isEqualTo(308);
            assertThat(plain.header("location")).isEqualTo("https://api.example.com/echo?x=1");
            Response viaProxy = c.send(RawHttp.get("/echo", "api.example.com", "X-Forwarded-For: 203.0.113.7, 10.1.2.3",
                    "X-Forwarded-Proto: https", "X-Forwarded-Host: api.example.com", "Origin: " + APP)).read();
            assertThat(viaProxy.status()).isEqualTo(200);
            assertThat(viaProxy.header("strict-transport-security")).isEqualTo("max-age=86400");
            assertThat(viaProxy.body()).contains("x-forwarded-for=203.0.113.7, 10.1.2.3, 127.0.0.1\n", "x-forwarded-proto=https\n");
            assertThat(viaProxy.header("access-control-allow-origin")).isEqualTo(APP);
            // A same-origin request (a page of this very site, over https per the trusted proxy) is not a
            // CORS request: not refused although https://api.example.com is not in allowedOrigins.
            Response same = c.send(RawHttp.get("/echo", "api.example.com", "X-Forwarded-Proto: https",
                    "Origin: https://api.example.com")).read();
            assertThat(same.status()).isEqualTo(200);
            assertThat(same.header("access-control-allow-origin")).isNull();
            Response cross = c.send(RawHttp.get("/echo", "api.example.com", "X-Forwarded-Proto: https",
                    "Origin: http://api.example.com")).read();
            assertThat(cross.status()).isEqualTo(403);
        }
        edge.close();
        start(PROD + "tls:\n  hsts: 1d\n", upstream.getAddress().getPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            Response spoofed = c.send(RawHttp.get("/echo", "api.example.com", "X-Forwarded-For: 203.0.113.7", "X-Forwarded-Proto: https")).read();
            assertThat(spoofed.body()).contains("x-forwarded-for=127.0.0.1\n", "x-forwarded-proto=http\n");
            assertThat(spoofed.header("strict-transport-security")).isNull();
        }
    }

    @Test
    void onARouteWhereThePolicyIsOffTheUpstreamsOwnCorsHeadersPassThroughUntouched() throws Exception {
        start(PROD + "  routes:\n    - path: /hello\n      enabled: false\n", upstream.getAddress().getPort());
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/hello", "api.example.com", "Origin: https://elsewhere.example")).read();
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.headers("access-control-allow-origin")).containsExactly("*");
            assertThat(r.headers("vary")).containsExactly("Accept-Encoding");
        }
    }

    /** A raw upstream that answers every request with {@code response} and then closes the connection. */
    private int rawUpstream(String response) throws IOException {
        ServerSocket server = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
        closeables.add(server);
        Thread t = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    readHead(s.getInputStream());
                    s.getOutputStream().write(response.getBytes(StandardCharsets.ISO_8859_1));
                    s.getOutputStream().flush();
                } catch (IOException e) {
                    // next connection
                }
            }
        });
        t.setDaemon(true);
        t.start();
        return server.getLocalPort();
    }

    @Test
    void anUpstreamThatClosesBeforeAnsweringIs502ResetAndOneThatClosesMidBodyCutsTheClientOff() throws Exception {
        start(PROD, rawUpstream(""));
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/x", "api.example.com", "Origin: " + APP)).read();
            assertThat(r.status()).isEqualTo(502);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.reset");
            assertThat(r.header("access-control-allow-origin")).isEqualTo(APP);
        }
        edge.close();
        start(PROD, rawUpstream("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"));
        try (RawHttp c = new RawHttp(edge.port())) {
            Response r = c.send(RawHttp.get("/x", "api.example.com")).read();
            assertThat(r.status()).isEqualTo(200);
            // The head was already sent: the only honest signal left is to close before the promised length.
            assertThat(r.body()).isEqualTo("0123456789");
            assertThat(c.closedByServer(2000)).isTrue();
        }
    }

    @Test
    void aSlowClientSlowsTheUpstreamDownInsteadOfFillingTheEdgesMemory() throws Exception {
        java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
        long total = 64L * 1024 * 1024;
        upstream.createContext("/big", ex -> {
            ex.sendResponseHeaders(200, total);
            byte[] chunk = new byte[64 * 1024];
            try (OutputStream out = ex.getResponseBody()) {
                for (long sent = 0; sent < total; sent += chunk.length) {
                    out.write(chunk);
                    written.addAndGet(chunk.length);
                }
            }
        });
        prod();
        try (Socket s = new Socket("127.0.0.1", edge.port())) {
            s.setReceiveBufferSize(64 * 1024);
            s.getOutputStream().write(RawHttp.get("/big", "api.example.com").getBytes(StandardCharsets.ISO_8859_1));
            Thread.sleep(1500); // the client reads nothing
            long stalled = written.get();
            // Only socket buffers and Netty's write buffer sit between the two: far less than the 64 MiB body.
            assertThat(stalled).isLessThan(24L * 1024 * 1024);
            InputStream in = s.getInputStream();
            byte[] buf = new byte[256 * 1024];
            long received = 0;
            int n;
            s.setSoTimeout(20_000);
            while (received < total + 60 && (n = in.read(buf)) > 0) {
                received += n;
            }
            assertThat(written.get()).isEqualTo(total);
            assertThat(received).isGreaterThan(total);
        }
    }

    @Test
    void aSlowUpstreamSlowsAnUploadDownInsteadOfFillingTheEdgesMemory() throws Exception {
        java.util.concurrent.CountDownLatch startReading = new java.util.concurrent.CountDownLatch(1);
        long total = 64L * 1024 * 1024;
        upstream.createContext("/upload", ex -> {
            try {
                startReading.await(20, java.util.concurrent.TimeUnit.SECONDS); // the upstream reads nothing at first
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            long n = 0;
            byte[] buf = new byte[64 * 1024];
            int r;
            InputStream in = ex.getRequestBody();
            while ((r = in.read(buf)) > 0) {
                n += r;
            }
            byte[] body = ("read=" + n).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        start(PROD.replace("maxBodySize: 1KB", "maxBodySize: 100MB").replace("upstreamResponseTimeout: 500ms", "upstreamResponseTimeout: 30s"),
                upstream.getAddress().getPort());
        java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        try (Socket s = new Socket("127.0.0.1", edge.port())) {
            s.setSendBufferSize(64 * 1024);
            OutputStream out = s.getOutputStream();
            out.write(("POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: " + total + "\r\n\r\n")
                    .getBytes(StandardCharsets.ISO_8859_1));
            Thread writer = new Thread(() -> {
                byte[] chunk = new byte[64 * 1024];
                try {
                    for (long w = 0; w < total; w += chunk.length) {
                        out.write(chunk);
                        sent.addAndGet(chunk.length);
                    }
                } catch (IOException e) {
                    // the assertions below tell
                }
            });
            writer.start();
            Thread.sleep(1500);
            // Only socket buffers and a few chunks in the edge sit between the client and the stalled upstream.
            assertThat(sent.get()).isLessThan(24L * 1024 * 1024);
            startReading.countDown();
            writer.join(20_000);
            assertThat(sent.get()).isEqualTo(total);
            s.setSoTimeout(20_000);
            RawHttp.Response r = readResponse(s);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("read=" + total);
        }
    }

    private static RawHttp.Response readResponse(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        String text = "";
        while (!text.contains("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("closed: " + text);
            }
            b.write(c);
            text = b.toString(StandardCharsets.ISO_8859_1);
        }
        int len = 0;
        for (String line : text.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                len = Integer.parseInt(line.substring(15).trim());
            }
        }
        String body = new String(in.readNBytes(len), StandardCharsets.UTF_8);
        return new RawHttp.Response(Integer.parseInt(text.split(" ")[1]), Map.of(), body);
    }

    @Test
    void drainingClosesIdleConnectionsAndFinishesInFlightOnes() throws Exception {
        prod();
        RawHttp idle = new RawHttp(edge.port());
        closeables.add(idle);
        assertThat(idle.send(RawHttp.get("/hello", "api.example.com")).read().status()).isEqualTo(200);
        EdgeServer e = edge;
        edge = null;
        long t0 = System.nanoTime();
        e.drain(Duration.ofSeconds(5));
        assertThat(idle.closedByServer(1000)).isTrue();
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(4));
    }
}
