package dev.crossgate.server.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients decide: the doctor names CORS failures with Chromium's own {@code CorsError} names, so each
 * misconfiguration is requested both by a real Chromium (a page on {@code http://localhost:P1} fetching
 * {@code http://127.0.0.1:P2/...}, the error name read from the DevTools protocol by {@code cors-errors.mjs}) and
 * by the doctor (the same URL, origin, method, headers and credentials), and the doctor's one failing code in
 * the cors check must be the name Chromium reports (after a failed preflight, neither sends the request itself);
 * where Chromium lets the page read the answer, the doctor must find nothing failing.
 *
 * <p>One API server covers every case, its behaviour chosen by the path. Needs Debian's chromium and the
 * harness's node_modules ({@code scripts/install-browser-deps.sh}); missing ones fail the test rather than skip it.
 */
@ExtendWith(LeakCheck.class)
class DoctorAgreesWithChromiumTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();
    static final ObjectMapper JSON = new ObjectMapper();
    static final String OTHER_ORIGIN = "http://other.example";
    static final List<String[]> API_KEY = List.<String[]>of(new String[] {"X-Api-Key", "k-123"});

    @TempDir
    static Path dir;

    static HttpServer pages;
    static HttpServer api;
    static ExecutorService apiThreads;
    static String pageOrigin;
    static String apiBase;

    @BeforeAll
    static void start() throws Exception {
        assertThat(new File("/usr/bin/chromium")).as("Chromium: run scripts/install-browser-deps.sh").exists();
        assertThat(HARNESS.resolve("node_modules/playwright-core").toFile()).as("playwright-core: run scripts/install-browser-deps.sh").exists();
        pages = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        pages.createContext("/", ex -> {
            try (ex) {
                byte[] b = "<!doctype html><title>page</title><p>page".getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().add("Content-Type", "text/html");
                ex.sendResponseHeaders(200, b.length);
                ex.getResponseBody().write(b);
            }
        });
        pages.start();
        pageOrigin = "http://localhost:" + pages.getAddress().getPort();
        apiThreads = Executors.newFixedThreadPool(8, r -> {
            Thread t = new Thread(r, "doctor-vs-chromium-api");
            t.setDaemon(true);
            return t;
        });
        api = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        api.setExecutor(apiThreads);
        api.createContext("/", DoctorAgreesWithChromiumTest::handle);
        api.start();
        apiBase = "http://127.0.0.1:" + api.getAddress().getPort();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (pages != null) {
            pages.stop(0);
        }
        if (api != null) {
            api.stop(0);
        }
        if (apiThreads != null) {
            apiThreads.shutdownNow();
            apiThreads.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    // ---------------------------------------------------------------- the API, one behaviour per path

    private static void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String path = ex.getRequestURI().getPath();
            String method = ex.getRequestMethod();
            boolean preflight = method.equals("OPTIONS") && ex.getRequestHeaders().containsKey("Access-Control-Request-Method");
            String origin = ex.getRequestHeaders().getFirst("Origin");
            Headers h = ex.getResponseHeaders();
            // The doctor announces a huge body (to provoke a 413) without sending it: answer without reading it.
            String length = ex.getRequestHeaders().getFirst("Content-Length");
            if (length != null && Long.parseLong(length.trim()) > 65536) {
                h.add("Connection", "close");
                send(ex, 413);
                return;
            }
            ex.getRequestBody().readAllBytes();
            switch (path) {
                case "/no-cors" -> send(ex, preflight ? 204 : 200);
                case "/preflight-404" -> {
                    if (preflight) {
                        send(ex, 404);
                    } else {
                        allow(h, origin, false);
                        send(ex, 200);
                    }
                }
                case "/preflight-404-with-cors" -> {
                    allow(h, origin, preflight);
                    send(ex, preflight ? 404 : 200);
                }
                case "/preflight-redirect" -> {
                    if (preflight) {
                        h.add("Location", apiBase + "/ok");
                        send(ex, 301);
                    } else {
                        allow(h, origin, false);
                        send(ex, 200);
                    }
                }
                case "/wildcard" -> {
                    h.add("Access-Control-Allow-Origin", "*");
                    h.add("Access-Control-Allow-Credentials", "true");
                    preflightAnswers(h, preflight, "GET, PUT", "X-Api-Key");
                    send(ex, preflight ? 204 : 200);
                }
                case "/two-values" -> {
                    // Proxy and backend both add CORS: the same origin, twice.
                    allow(h, origin, preflight);
                    if (origin != null) {
                        h.add("Access-Control-Allow-Origin", origin);
                    }
                    send(ex, preflight ? 204 : 200);
                }
                case "/mismatch" -> {
                    h.add("Access-Control-Allow-Origin", OTHER_ORIGIN);
                    h.add("Access-Control-Allow-Credentials", "true");
                    h.add("Vary", "Origin");
                    preflightAnswers(h, preflight, "GET, PUT", "X-Api-Key");
                    send(ex, preflight ? 204 : 200);
                }
                case "/no-credentials-flag" -> {
                    if (origin != null) {
                        h.add("Access-Control-Allow-Origin", origin);
                    }
                    h.add("Vary", "Origin");
                    preflightAnswers(h, preflight, "GET, PUT", "X-Api-Key");
                    send(ex, preflight ? 204 : 200);
                }
                case "/method-not-allowed" -> {
                    allow(h, origin, false);
                    preflightAnswers(h, preflight, "GET", "X-Api-Key");
                    send(ex, preflight ? 204 : 200);
                }
                case "/header-not-allowed" -> {
                    allow(h, origin, false);
                    preflightAnswers(h, preflight, "GET, PUT", null);
                    send(ex, preflight ? 204 : 200);
                }
                case "/ok" -> {
                    allow(h, origin, preflight);
                    send(ex, preflight ? 204 : 200);
                }
                default -> send(ex, 404);
            }
        }
    }

    /** A correct answer for this origin: echoed, with credentials, Vary: Origin; for a preflight, PUT and X-Api-Key allowed. */
    private static void allow(Headers h, String origin, boolean preflight) {
        if (origin != null) {
            h.add("Access-Control-Allow-Origin", origin);
        }
        h.add("Access-Control-Allow-Credentials", "true");
        h.add("Vary", "Origin");
        preflightAnswers(h, preflight, "GET, PUT", "X-Api-Key");
    }

    private static void preflightAnswers(Headers h, boolean preflight, String methods, String headers) {
        if (preflight) {
            h.add("Access-Control-Allow-Methods", methods);
            if (headers != null) {
                h.add("Access-Control-Allow-Headers", headers);
            }
            h.add("Access-Control-Max-Age", "600");
        }
    }

    private static void send(HttpExchange ex, int status) throws IOException {
        boolean empty = status == 204 || status == 301 || ex.getRequestMethod().equals("HEAD") || ex.getRequestMethod().equals("OPTIONS")
                || status == 413;
        byte[] b = ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
        if (!empty) {
            ex.getResponseHeaders().add("Content-Type", "application/json");
        }
        ex.sendResponseHeaders(status, empty ? -1 : b.length);
        if (!empty) {
            ex.getResponseBody().write(b);
        }
    }

    // ---------------------------------------------------------------- the cases

    /** One request, made by Chromium and by the doctor alike. */
    record Case(String path, String method, List<String[]> headers, boolean credentials) {
        String label() {
            return method + " " + path + (headers.isEmpty() ? "" : " +X-Api-Key") + (credentials ? " (credentials)" : "");
        }
    }

    private static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        // Simple requests: no preflight, the answer itself is judged.
        c.add(new Case("/no-cors", "GET", List.of(), false));
        c.add(new Case("/wildcard", "GET", List.of(), true));
        c.add(new Case("/two-values", "GET", List.of(), false));
        c.add(new Case("/mismatch", "GET", List.of(), false));
        c.add(new Case("/no-credentials-flag", "GET", List.of(), true));
        c.add(new Case("/ok", "GET", List.of(), false));
        c.add(new Case("/ok", "GET", List.of(), true));
        // PUT with a custom header: preflighted.
        c.add(new Case("/no-cors", "PUT", API_KEY, false));
        c.add(new Case("/preflight-404", "PUT", API_KEY, false));
        c.add(new Case("/preflight-404-with-cors", "PUT", API_KEY, false));
        c.add(new Case("/preflight-redirect", "PUT", API_KEY, false));
        c.add(new Case("/wildcard", "PUT", API_KEY, true));
        c.add(new Case("/two-values", "PUT", API_KEY, false));
        c.add(new Case("/mismatch", "PUT", API_KEY, false));
        c.add(new Case("/no-credentials-flag", "PUT", API_KEY, true));
        c.add(new Case("/method-not-allowed", "PUT", API_KEY, false));
        c.add(new Case("/header-not-allowed", "PUT", API_KEY, false));
        c.add(new Case("/ok", "PUT", API_KEY, true));
        return c;
    }

    @Test
    void theDoctorNamesEachCorsFailureAsChromiumDoes() throws Exception {
        List<Case> cases = cases();
        // Chromium runs all the cases in one browser while the doctor runs them here.
        CompletableFuture<List<JsonNode>> chromium = CompletableFuture.supplyAsync(() -> {
            try {
                return chromium(cases);
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        List<List<String>> doctorFails = new ArrayList<>();
        List<String> reports = new ArrayList<>();
        for (Case c : cases) {
            Report r = Doctor.run(Options.of(URI.create(apiBase + c.path()))
                    .withOrigins(List.of(pageOrigin))
                    .withMethod(c.method(), c.headers(), c.credentials())
                    .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(30)));
            doctorFails.add(r.in("cors").stream().filter(f -> f.status() == Finding.Status.FAIL).map(Finding::code).toList());
            reports.add(describe(c, r));
        }
        List<JsonNode> browser = chromium.get(90, TimeUnit.SECONDS);
        assertThat(browser).as("one line per case from cors-errors.mjs").hasSize(cases.size());

        StringBuilder table = new StringBuilder(String.format("%-50s %-38s %s%n", "case", "Chromium corsError", "doctor (cors FAIL codes)"));
        List<String> problems = new ArrayList<>();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            JsonNode b = browser.get(i);
            String chromiumError = b.path("corsError").isTextual() ? b.path("corsError").asText() : null;
            List<String> fails = doctorFails.get(i);
            String doctorError = fails.isEmpty() ? null : fails.get(0);
            table.append(String.format("%-50s %-38s %s%n", c.label(), chromiumError == null ? (b.path("ok").asBoolean() ? "(ok, HTTP "
                    + b.path("status").asInt() + ")" : "(failed without corsError)") : chromiumError, fails.isEmpty() ? "(none)" : fails));
            boolean shouldPass = c.path().equals("/ok");
            if (shouldPass && !(b.path("ok").asBoolean() && chromiumError == null)) {
                problems.add(c.label() + ": Chromium should read the answer, got " + b);
            }
            if (!shouldPass && chromiumError == null) {
                problems.add(c.label() + ": Chromium should report a CORS error, got " + b);
            }
            if (fails.size() > 1 || (chromiumError == null ? doctorError != null : !chromiumError.equals(doctorError))) {
                problems.add(c.label() + ": Chromium says " + chromiumError + ", the doctor says " + doctorError + "\n" + reports.get(i));
            }
        }
        System.out.println("Chromium and the doctor, case by case:\n" + table);
        assertThat(problems).as("Chromium and the doctor disagree:\n" + table).isEmpty();
    }

    // ---------------------------------------------------------------- Chromium

    private static List<JsonNode> chromium(List<Case> cases) throws Exception {
        ObjectNode input = JSON.createObjectNode();
        input.put("chromium", "/usr/bin/chromium");
        ArrayNode list = input.putArray("cases");
        for (Case c : cases) {
            ObjectNode item = list.addObject();
            item.put("id", c.label());
            item.put("pageUrl", pageOrigin + "/page");
            item.put("url", apiBase + c.path());
            item.put("method", c.method());
            ArrayNode headers = item.putArray("headers");
            for (String[] h : c.headers()) {
                headers.addArray().add(h[0]).add(h[1]);
            }
            item.put("credentials", c.credentials());
        }
        Path file = dir.resolve("cases.json");
        Files.writeString(file, JSON.writeValueAsString(input));
        Path err = dir.resolve("cors-errors.err");
        Process p = new ProcessBuilder("node", "cors-errors.mjs", file.toString())
                .directory(HARNESS.toFile())
                .redirectError(err.toFile())
                .start();
        try {
            InputStream out = p.getInputStream();
            CompletableFuture<byte[]> read = CompletableFuture.supplyAsync(() -> {
                try {
                    return out.readAllBytes();
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("cors-errors.mjs did not finish in 60 s; stderr: " + Files.readString(err));
            }
            String stdout = new String(read.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8);
            assertThat(p.exitValue()).as("cors-errors.mjs exit status; stderr: " + Files.readString(err) + "\nstdout: " + stdout).isEqualTo(0);
            List<JsonNode> lines = new ArrayList<>();
            for (String line : stdout.split("\n")) {
                if (!line.isBlank()) {
                    lines.add(JSON.readTree(line));
                }
            }
            return lines;
        } finally {
            if (p.isAlive()) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
    }

    private static String describe(Case c, Report r) {
        StringBuilder b = new StringBuilder("  doctor, " + c.label() + " (" + r.took().toMillis() + " ms):\n");
        for (Finding f : r.in("cors")) {
            b.append(String.format("    %-4s %-45s %s: %s%n", f.status(), f.name(), f.code(), f.message()));
            for (String e : f.evidence()) {
                b.append("           ").append(e).append('\n');
            }
        }
        return b.toString();
    }
}
