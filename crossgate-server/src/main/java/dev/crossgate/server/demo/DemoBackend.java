package dev.crossgate.server.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A small JSON API to put behind Crossgate in demos and browser tests: the kind of backend Crossgate
 * fronts, including its typical mistakes (error responses, its own CORS headers).
 *
 * <p>Built on the JDK's {@code com.sun.net.httpserver} so it needs nothing else. No endpoint sets CORS
 * headers except {@code /api/with-own-cors}, which sets wrong ones on purpose: Crossgate must strip them.
 *
 * <table>
 *   <caption>Endpoints (all answer {@code application/json})</caption>
 *   <tr><td>{@code GET /api/hello}</td><td>200 {@code {"message":...}}, headers {@code Authorization: Bearer
 *       demo-response-token} and {@code X-Demo: 1}</td></tr>
 *   <tr><td>{@code GET|POST|PUT|DELETE|PATCH /api/echo}</td><td>200 with method, path, query, headers
 *       (lower-case names), bodyBytes</td></tr>
 *   <tr><td>{@code GET|POST|PUT|DELETE|PATCH /api/status/{code}} (also for private, missing, error, slow)</td><td>that status (200-599; no body for 204 and 304)</td></tr>
 *   <tr><td>{@code GET /api/private}</td><td>401 with {@code WWW-Authenticate: Bearer} unless
 *       {@code Authorization: Bearer demo-token}, then 200</td></tr>
 *   <tr><td>{@code GET /api/missing}, {@code GET /api/error}</td><td>404, 500</td></tr>
 *   <tr><td>{@code GET /api/slow?ms=N}</td><td>waits N ms (at most 60000), then 200</td></tr>
 *   <tr><td>{@code POST|PUT /api/upload}</td><td>streams the body, 200 {@code {"bytes":N}}</td></tr>
 *   <tr><td>{@code GET|PUT|OPTIONS /api/with-own-cors}</td><td>200 with its own (wrong) CORS headers</td></tr>
 * </table>
 * Anything else answers 404 {@code {"error":"not found"}}; a known path with another method 405.
 */
public final class DemoBackend implements AutoCloseable {
    /** The token {@code /api/private} accepts. */
    public static final String DEMO_TOKEN = "demo-token";
    /** The value of the {@code Authorization} response header of {@code /api/hello}. */
    public static final String RESPONSE_TOKEN = "Bearer demo-response-token";
    /** Longest wait {@code /api/slow} accepts. */
    public static final long MAX_SLOW_MS = 60_000;

    /** The status endpoints answer any of these methods, so a browser test can reach them with a preflighted PUT. */
    private static final Set<String> ANY = Set.of("GET", "POST", "PUT", "DELETE", "PATCH");
    private static final int THREADS = 16;
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final HttpServer server;
    private final ExecutorService executor;

    private DemoBackend(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /** Starts the backend on {@code host:port} ({@code port} 0 picks a free port; see {@link #port()}). */
    public static DemoBackend start(String host, int port) {
        int instance = INSTANCES.incrementAndGet();
        AtomicInteger threads = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(THREADS, r -> {
            Thread t = new Thread(r, "demo-backend-" + instance + "-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 128);
            server.setExecutor(executor);
            server.createContext("/", DemoBackend::handle);
            server.start();
            return new DemoBackend(server, executor);
        } catch (IOException e) {
            executor.shutdownNow();
            throw new UncheckedIOException("demo backend: cannot listen on " + host + ":" + port, e);
        }
    }

    /** The port it listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** Stops listening and ends running requests (a request in {@code /api/slow} is interrupted). */
    @Override
    public void close() {
        server.stop(0);
        executor.shutdownNow();
        try {
            executor.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- routing ----

    private static void handle(HttpExchange ex) {
        try {
            String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
            String path = ex.getRequestURI().getRawPath();
            // Every request body is read to its end (and counted) before answering, so the connection
            // stays usable and /api/upload and /api/echo can report its size.
            long bodyBytes = drain(ex);
            if (path.startsWith("/api/status/")) {
                allow(ex, method, ANY, () -> status(ex, path.substring("/api/status/".length())));
                return;
            }
            switch (path) {
                case "/api/hello" -> allow(ex, method, Set.of("GET"), () -> hello(ex));
                case "/api/echo" -> allow(ex, method, Set.of("GET", "POST", "PUT", "DELETE", "PATCH"),
                        () -> echo(ex, path, bodyBytes));
                case "/api/private" -> allow(ex, method, ANY, () -> privateResource(ex));
                case "/api/missing" -> allow(ex, method, ANY,
                        () -> send(ex, 404, Map.of("error", "not found")));
                case "/api/error" -> allow(ex, method, ANY,
                        () -> send(ex, 500, Map.of("error", "boom")));
                case "/api/slow" -> allow(ex, method, ANY, () -> slow(ex));
                case "/api/upload" -> allow(ex, method, Set.of("POST", "PUT"),
                        () -> send(ex, 200, Map.of("bytes", bodyBytes)));
                case "/api/with-own-cors" -> allow(ex, method, Set.of("GET", "PUT", "OPTIONS"),
                        () -> withOwnCors(ex));
                default -> send(ex, 404, Map.of("error", "not found"));
            }
        } catch (IOException | RuntimeException e) {
            // The client went away, or a bug: answer 500 if nothing was sent yet, else just close.
            try {
                if (ex.getResponseCode() == -1) {
                    send(ex, 500, Map.of("error", "demo backend failed: " + e));
                }
            } catch (IOException | RuntimeException ignored) {
                // nothing more to do
            }
        } finally {
            ex.close();
        }
    }

    private interface Action {
        void run() throws IOException;
    }

    /** Runs {@code action} when {@code method} is one of {@code allowed} (HEAD counts as GET), else 405. */
    private static void allow(HttpExchange ex, String method, Set<String> allowed, Action action)
            throws IOException {
        if (allowed.contains(method) || (method.equals("HEAD") && allowed.contains("GET"))) {
            action.run();
        } else {
            ex.getResponseHeaders().set("Allow", String.join(", ", allowed.stream().sorted().toList()));
            send(ex, 405, Map.of("error", "method not allowed"));
        }
    }

    // ---- endpoints ----

    private static void hello(HttpExchange ex) throws IOException {
        ex.getResponseHeaders().set("Authorization", RESPONSE_TOKEN);
        ex.getResponseHeaders().set("X-Demo", "1");
        send(ex, 200, Map.of("message", "hello from the demo backend"));
    }

    private static void echo(HttpExchange ex, String path, long bodyBytes) throws IOException {
        Map<String, String> headers = new TreeMap<>();
        for (Map.Entry<String, List<String>> h : ex.getRequestHeaders().entrySet()) {
            headers.put(h.getKey().toLowerCase(Locale.ROOT), String.join(", ", h.getValue()));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("method", ex.getRequestMethod());
        body.put("path", path);
        String query = ex.getRequestURI().getRawQuery();
        body.put("query", query == null ? "" : query);
        body.put("headers", headers);
        body.put("bodyBytes", bodyBytes);
        send(ex, 200, body);
    }

    private static void status(HttpExchange ex, String codeText) throws IOException {
        int code;
        try {
            code = Integer.parseInt(codeText);
        } catch (NumberFormatException e) {
            code = -1;
        }
        if (code < 200 || code > 599) {
            // A 1xx cannot be a final response; anything outside 100-599 is not a status.
            send(ex, 400, Map.of("error", "status must be a number from 200 to 599, got '" + codeText + "'"));
            return;
        }
        if (code == 401) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
        }
        send(ex, code, Map.of("status", code));
    }

    private static void privateResource(HttpExchange ex) throws IOException {
        String auth = ex.getRequestHeaders().getFirst("Authorization");
        if (("Bearer " + DEMO_TOKEN).equals(auth)) {
            send(ex, 200, Map.of("message", "you may see this", "user", "demo"));
        } else {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            send(ex, 401, Map.of("error", "unauthorized"));
        }
    }

    private static void slow(HttpExchange ex) throws IOException {
        long ms;
        try {
            ms = Long.parseLong(queryParam(ex, "ms", "1000"));
        } catch (NumberFormatException e) {
            send(ex, 400, Map.of("error", "ms must be a whole number of milliseconds"));
            return;
        }
        ms = Math.max(0, Math.min(ms, MAX_SLOW_MS));
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return; // closing: the exchange is closed without a response
        }
        send(ex, 200, Map.of("sleptMs", ms));
    }

    private static void withOwnCors(HttpExchange ex) throws IOException {
        Headers h = ex.getResponseHeaders();
        h.set("Access-Control-Allow-Origin", "*");
        h.set("Access-Control-Allow-Credentials", "true");
        h.set("Access-Control-Allow-Methods", "GET, PUT");
        h.set("Access-Control-Allow-Headers", "*");
        send(ex, 200, Map.of("message", "this backend sets its own CORS headers; Crossgate must replace them"));
    }

    // ---- helpers ----

    private static String queryParam(HttpExchange ex, String name, String fallback) {
        String query = ex.getRequestURI().getRawQuery();
        if (query != null) {
            for (String pair : query.split("&")) {
                int eq = pair.indexOf('=');
                String key = eq < 0 ? pair : pair.substring(0, eq);
                if (key.equals(name)) {
                    return eq < 0 ? "" : pair.substring(eq + 1);
                }
            }
        }
        return fallback;
    }

    /** Reads the whole request body, keeping nothing; returns its length. */
    private static long drain(HttpExchange ex) throws IOException {
        long total = 0;
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = ex.getRequestBody()) {
            for (int n; (n = in.read(buffer)) != -1; ) {
                total += n;
            }
        }
        return total;
    }

    private static void send(HttpExchange ex, int status, Object body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        boolean noBody = status == 204 || status == 304 || ex.getRequestMethod().equalsIgnoreCase("HEAD");
        if (noBody) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        byte[] bytes = JSON.writeValueAsBytes(body);
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }
}
