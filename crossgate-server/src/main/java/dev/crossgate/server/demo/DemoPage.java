package dev.crossgate.server.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Serves the demo page ({@code GET /}) on its own origin: a page that calls the API through Crossgate
 * cross-origin with {@code fetch} and shows what the browser let it see. Everything else is 404.
 *
 * <p>The page is {@code /demo/index.html} on the class path with its {@code __API__} placeholder replaced
 * by the API base URL as a JavaScript string literal.
 */
public final class DemoPage implements AutoCloseable {
    static final String RESOURCE = "/demo/index.html";
    static final String PLACEHOLDER = "__API__";
    private static final AtomicInteger INSTANCES = new AtomicInteger();

    private final HttpServer server;
    private final ExecutorService executor;

    private DemoPage(HttpServer server, ExecutorService executor) {
        this.server = server;
        this.executor = executor;
    }

    /**
     * Starts serving the page on {@code host:port} ({@code port} 0 picks a free port).
     *
     * @param apiBaseUrl where the page sends its requests, for example {@code http://127.0.0.1:8080}
     *                   (a trailing slash is removed)
     */
    public static DemoPage start(String host, int port, String apiBaseUrl) {
        return start(host, port, apiBaseUrl, Map.of());
    }

    /**
     * The same, with the page's other placeholders: {@code __ROLE__} ("allowed" or "refused": which side of the policy
     * this origin is on), {@code __OTHER__} (the other side's page), {@code __STATUS__} (the status page),
     * {@code __EXPIRED__} (an expired token for the "expired token" call). Also serves {@code GET /explain?method=M&path=P}:
     * the same request made from this server with this page's Origin, answered with Crossgate's status and reason code
     * (what the browser hides from a refused page, shown beside what its console says).
     */
    public static DemoPage start(String host, int port, String apiBaseUrl, Map<String, String> vars) {
        Objects.requireNonNull(apiBaseUrl, "apiBaseUrl");
        String rendered = render(apiBaseUrl);
        for (String k : List.of("__ROLE__", "__OTHER__", "__STATUS__", "__EXPIRED__")) {
            rendered = rendered.replace(k, jsString(vars.getOrDefault(k, "")));
        }
        byte[] html = rendered.getBytes(StandardCharsets.UTF_8);
        String api = apiBaseUrl.strip().replaceAll("/+$", "");
        int instance = INSTANCES.incrementAndGet();
        AtomicInteger threads = new AtomicInteger();
        ExecutorService executor = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "demo-page-" + instance + "-" + threads.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 64);
            server.setExecutor(executor);
            server.createContext("/", ex -> serve(ex, html));
            server.createContext("/explain", ex -> explain(ex, api));
            server.start();
            return new DemoPage(server, executor);
        } catch (IOException e) {
            executor.shutdownNow();
            throw new UncheckedIOException("demo page: cannot listen on " + host + ":" + port, e);
        }
    }

    /** The port it listens on. */
    public int port() {
        return server.getAddress().getPort();
    }

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

    /** The page's HTML with {@code apiBaseUrl} in place. */
    static String render(String apiBaseUrl) {
        String base = apiBaseUrl.strip();
        while (base.endsWith("/")) {
            base = base.substring(0, base.length() - 1);
        }
        try (InputStream in = DemoPage.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("missing class path resource " + RESOURCE);
            }
            String template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return template.replace(PLACEHOLDER, jsString(base));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * {@code value} as a double-quoted JavaScript string literal that is also safe inside an HTML
     * {@code <script>} element (no {@code <}, {@code >}, {@code &}, quotes or line terminators appear raw).
     */
    static String jsString(String value) {
        StringBuilder sb = new StringBuilder(value.length() + 2).append('"');
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == '\'' || c == '\u2028'
                            || c == '\u2029' || c > 0x7e) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    private static void serve(HttpExchange ex, byte[] html) throws IOException {
        try (ex) {
            ex.getRequestBody().readAllBytes();
            String method = ex.getRequestMethod();
            boolean head = method.equalsIgnoreCase("HEAD");
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
            if (!ex.getRequestURI().getRawPath().equals("/")) {
                byte[] body = "not found\n".getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
                ex.sendResponseHeaders(404, head ? -1 : body.length);
                write(ex, head ? null : body);
            } else if (!head && !method.equalsIgnoreCase("GET")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
                byte[] body = "method not allowed\n".getBytes(StandardCharsets.UTF_8);
                ex.sendResponseHeaders(405, body.length);
                write(ex, body);
            } else {
                ex.getResponseHeaders().set("Content-Type", "text/html; charset=utf-8");
                ex.sendResponseHeaders(200, head ? -1 : html.length);
                write(ex, head ? null : html);
            }
        }
    }

    private static final java.net.http.HttpClient CLIENT = java.net.http.HttpClient.newBuilder()
            .connectTimeout(java.time.Duration.ofSeconds(5)).build();

    /** What Crossgate answers this page's origin for one call: {"status", "reason"} (the reason from X-Crossgate-Reason). */
    private static void explain(HttpExchange ex, String api) throws IOException {
        try (ex) {
            Map<String, List<String>> q = new io.netty.handler.codec.http.QueryStringDecoder(ex.getRequestURI().toString()).parameters();
            String method = q.getOrDefault("method", List.of("GET")).get(0).toUpperCase(java.util.Locale.ROOT);
            String path = q.getOrDefault("path", List.of("/")).get(0);
            String origin = "http://" + ex.getRequestHeaders().getFirst("Host");
            String answer;
            if (!path.startsWith("/api/") || !method.matches("GET|POST|PUT|OPTIONS")) {
                answer = "{\"error\":\"only GET, POST, PUT or OPTIONS of /api/ paths\"}";
            } else {
                try {
                    var b = java.net.http.HttpRequest.newBuilder(java.net.URI.create(api + path)).timeout(java.time.Duration.ofSeconds(10))
                            .header("Origin", origin);
                    if (method.equals("OPTIONS")) {
                        b.header("Access-Control-Request-Method", "PUT");
                    }
                    var r = CLIENT.send(b.method(method, java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                            java.net.http.HttpResponse.BodyHandlers.discarding());
                    String reason = r.headers().firstValue("X-Crossgate-Reason").orElse("");
                    answer = "{\"status\":" + r.statusCode() + ",\"reason\":" + jsString(reason) + "}";
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    answer = "{\"error\":\"interrupted\"}";
                } catch (IOException | IllegalArgumentException e) {
                    answer = "{\"error\":" + jsString(String.valueOf(e.getMessage())) + "}";
                }
            }
            byte[] body = answer.getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.getResponseHeaders().set("Cache-Control", "no-store");
            ex.sendResponseHeaders(200, body.length);
            write(ex, body);
        }
    }

    private static void write(HttpExchange ex, byte[] body) throws IOException {
        if (body != null) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
