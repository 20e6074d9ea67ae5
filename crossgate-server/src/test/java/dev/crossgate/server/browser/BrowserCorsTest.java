package dev.crossgate.server.browser;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.realtime.testing.LeakCheck;
import java.io.File;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A page served on one origin calls Crossgate on another, in a real Chromium: allowed and refused
 * origins, simple and preflighted requests (PUT with Authorization, a custom header and credentials),
 * and answers 200, 401, 404, 413, 429, 500, 502 and 504. The page can read the status exactly when the
 * policy allows its origin; a response's Authorization header is readable only when exposed; and a
 * backend that sets its own CORS headers causes no duplicate-header failure.
 *
 * <p>Needs Debian's chromium and the harness's node_modules: {@code scripts/install-browser-deps.sh}
 * (run by {@code scripts/test.sh}). Missing ones fail the test rather than skip it.
 */
@ExtendWith(LeakCheck.class)
class BrowserCorsTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static DemoBackend backend;
    static HttpServer pages;
    static HttpServer refusedPages;
    static EdgeServer edge;
    static EdgeServer exposing;
    static EdgeServer dead;
    static String allowedPage;
    static String refusedPage;

    @BeforeAll
    static void start() throws Exception {
        assertThat(new File("/usr/bin/chromium")).as("Chromium: run scripts/install-browser-deps.sh").exists();
        assertThat(HARNESS.resolve("node_modules/playwright-core").toFile()).as("playwright-core: run scripts/install-browser-deps.sh").exists();
        backend = DemoBackend.start("127.0.0.1", 0);
        pages = blankPageServer();
        refusedPages = blankPageServer();
        allowedPage = "http://127.0.0.1:" + pages.getAddress().getPort();
        refusedPage = "http://localhost:" + refusedPages.getAddress().getPort();
        edge = edge(backend.port(), "[X-Crossgate-Reason]");
        exposing = edge(backend.port(), "[Authorization, X-Crossgate-Reason]");
        int deadPort;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadPort = s.getLocalPort();
        }
        dead = edge(deadPort, "[X-Crossgate-Reason]");
    }

    private static HttpServer blankPageServer() throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        s.createContext("/blank", ex -> {
            byte[] b = "<!doctype html><title>page</title><p>page".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "text/html");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        return s;
    }

    private static EdgeServer edge(int upstreamPort, String exposed) throws Exception {
        Path f = Files.createTempFile(dir, "crossgate", ".yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                admin:
                  enabled: false
                http:
                  maxBodySize: 1KB
                  upstreamResponseTimeout: 1s
                cors:
                  allowedOrigins: [%s]
                  allowCredentials: true
                  allowedMethods: [GET, POST, PUT]
                  allowedHeaders: [Authorization, X-Custom]
                  exposedHeaders: %s
                  maxAge: 0s
                """.formatted(upstreamPort, allowedPage, exposed));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        return new EdgeServer(c, AccessLog.discarding()).start();
    }

    @AfterAll
    static void stop() {
        for (EdgeServer e : new EdgeServer[] {edge, exposing, dead}) {
            if (e != null) {
                e.close();
            }
        }
        if (backend != null) {
            backend.close();
        }
        if (pages != null) {
            pages.stop(0);
        }
        if (refusedPages != null) {
            refusedPages.stop(0);
        }
    }

    /** One browser request of the matrix and the status Crossgate answers it with. */
    record Case(String name, EdgeServer via, String method, String path, boolean preflighted, int bodyBytes, int expected) {
        /**
         * Chromium's own name for the refusal of this request from a refused origin ({@code network::mojom::CorsError},
         * as the DevTools protocol reports it in {@code Network.loadingFailed.corsErrorStatus}): the edge answers the
         * actual request without Access-Control-Allow-Origin, and the preflight of a preflighted one the same way, so
         * Chromium never sends the request itself. Only an answer from the edge produces these: a dead edge or a
         * timeout gives a network error with no corsError.
         */
        String refusedCorsError() {
            return preflighted ? "PreflightMissingAllowOriginHeader" : "MissingAllowOriginHeader";
        }
    }

    private static List<Case> matrix() {
        List<Case> cases = new ArrayList<>();
        for (boolean pre : new boolean[] {false, true}) {
            String m = pre ? "PUT" : "GET";
            cases.add(new Case("200", edge, m, pre ? "/api/echo" : "/api/hello", pre, 0, 200));
            cases.add(new Case("401", edge, m, "/api/private", pre, 0, 401));
            cases.add(new Case("404", edge, m, "/api/missing", pre, 0, 404));
            cases.add(new Case("413", edge, pre ? "PUT" : "POST", "/api/upload", pre, 4096, 413));
            cases.add(new Case("429", edge, m, "/api/status/429", pre, 0, 429));
            cases.add(new Case("500", edge, m, "/api/error", pre, 0, 500));
            cases.add(new Case("502", dead, m, "/api/hello", pre, 0, 502));
            cases.add(new Case("504", edge, m, "/api/slow?ms=3000", pre, 0, 504));
            cases.add(new Case("own CORS headers", edge, m, "/api/with-own-cors", pre, 0, 200));
        }
        return cases;
    }

    @Test
    void thePageReadsTheStatusExactlyWhenThePolicyAllowsItsOrigin() throws Exception {
        List<Case> cases = matrix();
        ObjectNode config = JSON.createObjectNode();
        config.put("chromium", "/usr/bin/chromium");
        ArrayNode list = config.putArray("cases");
        List<String> labels = new ArrayList<>();
        for (String page : new String[] {allowedPage, refusedPage}) {
            for (Case c : cases) {
                ObjectNode item = list.addObject();
                item.put("pageUrl", page + "/blank");
                ObjectNode req = item.putObject("request");
                req.put("url", "http://127.0.0.1:" + c.via().port() + c.path());
                req.put("method", c.method());
                req.put("credentials", c.preflighted() ? "include" : "omit");
                if (c.preflighted()) {
                    req.putObject("headers").put("Authorization", "Bearer wrong-token").put("X-Custom", "1");
                }
                if (c.bodyBytes() > 0) {
                    req.put("bodyBytes", c.bodyBytes());
                }
                req.put("timeoutMs", 15000);
                labels.add((page.equals(allowedPage) ? "allowed " : "refused ") + (c.preflighted() ? "preflighted " : "simple ")
                        + c.method() + " " + c.path() + " -> " + c.name());
            }
        }
        // The Authorization response header: readable only through the edge that exposes it.
        for (EdgeServer e : new EdgeServer[] {edge, exposing}) {
            ObjectNode item = list.addObject();
            item.put("pageUrl", allowedPage + "/blank");
            item.putObject("request").put("url", "http://127.0.0.1:" + e.port() + "/api/hello").put("method", "GET")
                    .put("credentials", "include");
        }
        JsonNode results = run(config).get("results");
        assertThat(results.size()).isEqualTo(labels.size() + 2);
        List<String> failures = new ArrayList<>();
        for (int i = 0; i < labels.size(); i++) {
            JsonNode r = results.get(i);
            boolean allowedOrigin = labels.get(i).startsWith("allowed");
            Case c = cases.get(i % cases.size());
            if (!r.path("eventsSeen").asBoolean()) {
                failures.add(labels.get(i) + ": the request was not seen to end over the DevTools protocol, got " + r);
            } else if (allowedOrigin) {
                if (!r.path("ok").asBoolean() || r.path("status").asInt() != c.expected() || !r.path("corsError").isNull()) {
                    failures.add(labels.get(i) + ": expected a readable " + c.expected() + " and no CORS error, got " + r);
                }
            } else if (r.path("ok").asBoolean()) {
                failures.add(labels.get(i) + ": a refused origin must not read the answer, got status " + r.path("status"));
            } else if (!c.refusedCorsError().equals(r.path("corsError").asText(null))) {
                // Not merely a failed fetch: Chromium itself must name the CORS refusal (a dead edge names none).
                failures.add(labels.get(i) + ": expected Chromium's CORS error " + c.refusedCorsError() + ", got corsError "
                        + r.path("corsError") + " (" + r.path("errorText").asText() + ", preflight " + r.path("preflight") + ")");
            }
        }
        assertThat(failures).isEmpty();
        // Errors carry their reason, readable because the policy exposes X-Crossgate-Reason.
        JsonNode tooLarge = results.get(3);
        assertThat(tooLarge.path("headers").path("x-crossgate-reason").asText()).isEqualTo("http.body_too_large");
        JsonNode badGateway = results.get(6);
        assertThat(badGateway.path("headers").path("x-crossgate-reason").asText()).isEqualTo("upstream.connect_failed");
        assertThat(results.get(7).path("headers").path("x-crossgate-reason").asText()).isEqualTo("upstream.timeout");
        // A refused preflight is reported by Chromium as a CORS failure of the preflight, and the console says so.
        JsonNode refusedPreflight = results.get(cases.size() + 9);
        assertThat(refusedPreflight.path("ok").asBoolean()).isFalse();
        assertThat(refusedPreflight.path("corsError").asText()).isEqualTo("PreflightMissingAllowOriginHeader");
        assertThat(refusedPreflight.path("corsConsole").asText()).contains("preflight");
        // Authorization in the response: hidden unless exposed.
        JsonNode hidden = results.get(labels.size());
        JsonNode shown = results.get(labels.size() + 1);
        assertThat(hidden.path("ok").asBoolean()).isTrue();
        assertThat(hidden.path("headers").path("authorization").isNull()).isTrue();
        assertThat(shown.path("headers").path("authorization").asText()).isEqualTo(DemoBackend.RESPONSE_TOKEN);
    }

    private static JsonNode run(ObjectNode config) throws Exception {
        Path file = dir.resolve("matrix.json");
        Files.writeString(file, JSON.writeValueAsString(config));
        Process p = new ProcessBuilder("node", "cors-matrix.mjs", file.toString())
                .directory(HARNESS.toFile())
                .redirectError(dir.resolve("harness.err").toFile())
                .start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the browser harness did not finish in 5 minutes");
        }
        assertThat(p.exitValue()).as("harness exit status; stderr: " + Files.readString(dir.resolve("harness.err"))).isEqualTo(0);
        return JSON.readTree(out);
    }
}
