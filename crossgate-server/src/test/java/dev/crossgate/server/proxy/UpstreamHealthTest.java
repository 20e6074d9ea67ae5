package dev.crossgate.server.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawHttp.Response;
import java.io.ByteArrayOutputStream;
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
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Passive health through the edge on loopback: only what the upstream itself did (connect failures,
 * resets and response timeouts once the whole request was sent) counts toward ejection; a slow client
 * never does; a route whose every upstream is ejected still tries them (panic); a retry after a stale
 * pooled connection takes a new one; ejections and health are in the metrics.
 */
@ExtendWith(LeakCheck.class)
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class UpstreamHealthTest {
    @TempDir
    Path dir;

    EdgeServer edge;
    final List<AutoCloseable> closeables = new ArrayList<>();
    final ExecutorService clients = Executors.newCachedThreadPool();

    @AfterEach
    void stop() throws Exception {
        clients.shutdownNow();
        if (edge != null) {
            edge.close();
        }
        for (AutoCloseable c : closeables) {
            c.close();
        }
    }

    /** The edge with one route, {@code /}, to the upstream at {@code port}. */
    private void start(int port, String responseTimeout, int ejectAfter) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%1$d
                hosts: [api.example.com]
                admin:
                  enabled: false
                http:
                  upstreamResponseTimeout: %2$s
                  upstreamConnectTimeout: 1s
                cors:
                  allowedOrigins: [https://app.example.com]
                routes:
                  - path: /
                    upstreams: [http://127.0.0.1:%1$d]
                    ejectAfter: %3$d
                    ejectFor: 1m
                """.formatted(port, responseTimeout, ejectAfter));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    private double ejections(int port) {
        return metric("crossgate_upstream_ejections_total{route=\"/\",upstream=\"127.0.0.1:" + port + "\"}");
    }

    private double healthy(int port) {
        return metric("crossgate_upstream_healthy{route=\"/\",upstream=\"127.0.0.1:" + port + "\"}");
    }

    private double metric(String series) {
        for (String line : edge.metrics().scrape().split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        throw new AssertionError(series + " is not in the metrics");
    }

    private Response get(String path) throws IOException {
        try (RawHttp c = new RawHttp(edge.port())) {
            return c.send(RawHttp.get(path, "api.example.com")).read();
        }
    }

    /** Polls {@code condition} until it holds, failing after {@code max} (Awaitility). */
    private static void await(Duration max, BooleanSupplier condition, String what) {
        org.awaitility.Awaitility.await(what).atMost(max).pollInterval(Duration.ofMillis(10)).until(condition::getAsBoolean);
    }

    // ---------------------------------------------------------------- slow clients

    @Test
    void slowBodyClientsPastTheResponseTimeoutDoNotEjectTheUpstream() throws Exception {
        HttpServer upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        upstream.setExecutor(Executors.newFixedThreadPool(16));
        upstream.createContext("/", ex -> {
            // Answers once it has the whole body.
            byte[] body = ("body-bytes=" + ex.getRequestBody().readAllBytes().length).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        upstream.start();
        closeables.add(() -> upstream.stop(0));
        int port = upstream.getAddress().getPort();
        // ejectAfter 1: a single failure counted against the upstream would take it out.
        start(port, "1s", 1);

        // Three clients each send an 8-byte body at one byte per 300 ms: 2.4 s, more than twice the
        // response timeout, before the upstream can answer.
        int bodyBytes = 8;
        List<Future<Response>> slow = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            slow.add(clients.submit(() -> {
                try (RawHttp c = new RawHttp(edge.port())) {
                    c.send("POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: " + bodyBytes + "\r\n\r\n");
                    for (int b = 0; b < bodyBytes; b++) {
                        Thread.sleep(300);
                        c.send("x");
                    }
                    return c.read();
                }
            }));
        }
        // Meanwhile, everyone else is served.
        List<Integer> others = new ArrayList<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (slow.stream().anyMatch(s -> !s.isDone()) && System.nanoTime() - end < 0) {
            Response r = get("/other");
            others.add(r.status());
            assertThat(r.header("x-crossgate-reason")).as("reason of a concurrent GET").isNull();
            Thread.sleep(100);
        }
        for (Future<Response> s : slow) {
            Response r = s.get(15, TimeUnit.SECONDS);
            assertThat(r.status()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("body-bytes=" + bodyBytes);
        }
        // The uploads outlasted the response timeout several times over while others were served.
        assertThat(others).hasSizeGreaterThan(10).containsOnly(200);
        // And afterwards.
        assertThat(get("/after").status()).isEqualTo(200);
        assertThat(ejections(port)).isZero();
        assertThat(healthy(port)).isEqualTo(1.0);
    }

    @Test
    void aResetWhileTheRequestBodyIsStillBeingSentIsNotCountedAgainstTheUpstream() throws Exception {
        // As an upstream does whose own body timeout gives up on a slow client: it resets mid-upload.
        RawUpstream upstream = new RawUpstream((index, s, in, out) -> {
            readHead(in);
            reset(s);
        });
        start(upstream.port(), "1s", 1);
        try (RawHttp c = new RawHttp(edge.port())) {
            c.send("POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 100\r\n\r\nx");
            Response r = c.read();
            assertThat(r.status()).isEqualTo(502);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.reset");
        }
        assertThat(ejections(upstream.port())).isZero();
        assertThat(healthy(upstream.port())).isEqualTo(1.0);
    }

    // ---------------------------------------------------------------- stale pool

    @Test
    void everyPooledConnectionStaleTheRequestStillSucceedsOnANewConnection() throws Exception {
        // More pooled connections than event loops (the pool keeps one idle stack per loop), so that
        // every loop holds several stale ones: a retry on another pooled connection would fail as well.
        int n = Math.max(6, 3 * Runtime.getRuntime().availableProcessors());
        CountDownLatch allIn = new CountDownLatch(n);
        AtomicBoolean stale = new AtomicBoolean();
        RawUpstream upstream = new RawUpstream((index, s, in, out) -> {
            boolean old = !stale.get();
            while (true) {
                readHead(in);
                if (old && stale.get()) {
                    // The keep-alive race: the connection was reused just as the upstream gave it up.
                    return; // closed by RawUpstream, without an answer
                }
                if (old) {
                    allIn.countDown();
                    allIn.await(5, TimeUnit.SECONDS); // hold the answers until n connections are open
                }
                String body = "conn-" + index;
                out.write(("HTTP/1.1 200 OK\r\nContent-Length: " + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            }
        });
        start(upstream.port(), "5s", 1);
        List<Future<Response>> fill = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            fill.add(clients.submit(() -> get("/fill")));
        }
        for (Future<Response> f : fill) {
            assertThat(f.get(10, TimeUnit.SECONDS).status()).isEqualTo(200);
        }
        UpstreamPool pool = edge.groups().get(0).upstreams().get(0).pool();
        await(Duration.ofSeconds(5), () -> pool.idleConnections() == n, "the pool holds the " + n + " connections");
        assertThat(upstream.accepted()).isEqualTo(n);

        stale.set(true);
        // One request per event loop at least (client connections are spread round robin over them).
        for (int i = 0; i < 4; i++) {
            Response r = get("/after");
            assertThat(r.status()).as("request %d after the pool went stale", i).isEqualTo(200);
            int conn = Integer.parseInt(r.body().substring("conn-".length()));
            assertThat(conn).as("the connection that answered").isGreaterThan(n);
        }
        assertThat(upstream.accepted()).isGreaterThan(n);
        // The keep-alive race is not the upstream failing.
        assertThat(ejections(upstream.port())).isZero();
        assertThat(healthy(upstream.port())).isEqualTo(1.0);
    }

    @Test
    void aPooledConnectionNearTheUpstreamsAnnouncedKeepAliveTimeoutIsNotReused() throws Exception {
        List<String> requests = new CopyOnWriteArrayList<>();
        RawUpstream upstream = new RawUpstream((index, s, in, out) -> {
            while (true) {
                String head = readHead(in);
                requests.add(index + " " + head.substring(0, head.indexOf('\r')));
                String body = "conn-" + index;
                // It would close an idle connection after 1 s (as Node.js does after 5 s by default).
                out.write(("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                        .getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            }
        });
        start(upstream.port(), "5s", 1);
        try (RawHttp c = new RawHttp(edge.port())) {
            assertThat(c.send(RawHttp.get("/a", "api.example.com")).read().body()).isEqualTo("conn-1");
            assertThat(c.send(RawHttp.get("/b", "api.example.com")).read().body()).isEqualTo("conn-1"); // reused at once
            // Idle for more than half of the announced 1 s (the margin left for a request to arrive):
            // the time passing is what is tested, not a state to wait for.
            Thread.sleep(700);
            assertThat(c.send(RawHttp.get("/c", "api.example.com")).read().body()).isEqualTo("conn-2");
        }
        assertThat(requests).containsExactly("1 GET /a HTTP/1.1", "1 GET /b HTTP/1.1", "2 GET /c HTTP/1.1");
    }

    @Test
    void theKeepAliveTimeoutParameterIsReadLeniently() {
        long s = TimeUnit.SECONDS.toNanos(1);
        assertThat(ProxyCall.keepAliveTimeoutNanos(null)).isZero();
        assertThat(ProxyCall.keepAliveTimeoutNanos("timeout=5")).isEqualTo(5 * s);
        assertThat(ProxyCall.keepAliveTimeoutNanos("max=100, Timeout = 5")).isZero(); // no spaces around = in the grammar
        assertThat(ProxyCall.keepAliveTimeoutNanos("max=100, TIMEOUT=7")).isEqualTo(7 * s);
        assertThat(ProxyCall.keepAliveTimeoutNanos("timeout=0")).isZero();
        assertThat(ProxyCall.keepAliveTimeoutNanos("timeout=-3")).isZero();
        assertThat(ProxyCall.keepAliveTimeoutNanos("timeout=5s")).isZero();
        assertThat(ProxyCall.keepAliveTimeoutNanos("timeout=99999999999999999999")).isZero();
    }

    // ---------------------------------------------------------------- real failures, panic

    @Test
    void anUpstreamThatResetsIsEjectedAfterEjectAfterFailuresYetStillTriedAndBackWhenItAnswers() throws Exception {
        AtomicBoolean failing = new AtomicBoolean(true);
        RawUpstream upstream = new RawUpstream((index, s, in, out) -> {
            while (true) {
                readHead(in);
                if (failing.get()) {
                    reset(s);
                    return;
                }
                out.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".getBytes(StandardCharsets.ISO_8859_1));
                out.flush();
            }
        });
        int port = upstream.port();
        start(port, "1s", 2);
        assertThat(healthy(port)).isEqualTo(1.0);

        Response first = get("/x");
        assertThat(first.status()).isEqualTo(502);
        assertThat(first.header("x-crossgate-reason")).isEqualTo("upstream.reset");
        assertThat(ejections(port)).isZero();
        assertThat(healthy(port)).isEqualTo(1.0);

        assertThat(get("/x").header("x-crossgate-reason")).isEqualTo("upstream.reset");
        assertThat(ejections(port)).isEqualTo(1.0);
        assertThat(healthy(port)).isZero();

        // The only upstream is ejected: the route panics and still tries it instead of answering 503.
        int before = upstream.accepted();
        Response panic = get("/x");
        assertThat(panic.status()).isEqualTo(502);
        assertThat(panic.header("x-crossgate-reason")).isEqualTo("upstream.reset");
        assertThat(upstream.accepted()).isEqualTo(before + 1);

        failing.set(false);
        Response back = get("/x");
        assertThat(back.status()).isEqualTo(200);
        assertThat(back.body()).isEqualTo("ok");
        // Its answer lifts the ejection; one ejection was counted.
        assertThat(healthy(port)).isEqualTo(1.0);
        assertThat(ejections(port)).isEqualTo(1.0);
    }

    @Test
    void anUnreachableUpstreamIsEjectedButStillTriedNever503() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: connections to it are refused
        }
        start(port, "1s", 2);
        for (int i = 0; i < 4; i++) {
            Response r = get("/x");
            assertThat(r.status()).isEqualTo(502);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.connect_failed");
        }
        // Four refusals, two in a row per ejection; the second ejection came while still ejected.
        assertThat(ejections(port)).isEqualTo(1.0);
        assertThat(healthy(port)).isZero();
    }

    @Test
    void aGenuineResponseTimeoutCountsTowardEjection() throws Exception {
        List<Socket> held = new CopyOnWriteArrayList<>();
        RawUpstream upstream = new RawUpstream((index, s, in, out) -> {
            String head = readHead(in);
            in.readNBytes(contentLength(head)); // the whole request, then silence
            held.add(s);
            Thread.sleep(30_000);
        });
        int port = upstream.port();
        start(port, "300ms", 2);
        for (int i = 0; i < 2; i++) {
            try (RawHttp c = new RawHttp(edge.port())) {
                long t0 = System.nanoTime();
                Response r = c.send("POST /x HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5\r\n\r\nhello").read();
                assertThat(r.status()).isEqualTo(504);
                assertThat(r.header("x-crossgate-reason")).isEqualTo("upstream.timeout");
                assertThat(Duration.ofNanos(System.nanoTime() - t0)).isGreaterThanOrEqualTo(Duration.ofMillis(300));
            }
            assertThat(ejections(port)).isEqualTo((double) i);
        }
        assertThat(held).hasSize(2);
        assertThat(ejections(port)).isEqualTo(1.0);
        assertThat(healthy(port)).isZero();
    }

    // ---------------------------------------------------------------- a raw upstream

    /** What a raw upstream does with one connection; {@code index} counts connections from 1. */
    interface ConnectionScript {
        void serve(int index, Socket socket, InputStream in, OutputStream out) throws Exception;
    }

    /** A loopback upstream that runs a script per accepted connection, each on its own thread. */
    final class RawUpstream implements AutoCloseable {
        private final ServerSocket server;
        private final AtomicInteger accepted = new AtomicInteger();
        private final List<Socket> sockets = new CopyOnWriteArrayList<>();

        RawUpstream(ConnectionScript script) throws IOException {
            server = new ServerSocket();
            server.bind(new InetSocketAddress("127.0.0.1", 0), 64);
            closeables.add(this);
            Thread acceptor = new Thread(() -> {
                while (!server.isClosed()) {
                    Socket s;
                    try {
                        s = server.accept();
                    } catch (IOException e) {
                        return;
                    }
                    int index = accepted.incrementAndGet();
                    sockets.add(s);
                    clients.submit(() -> {
                        try (s) {
                            script.serve(index, s, s.getInputStream(), s.getOutputStream());
                        } catch (Exception ignored) {
                            // the edge closed the connection, or the test ended
                        }
                        return null;
                    });
                }
            }, "raw-upstream");
            acceptor.setDaemon(true);
            acceptor.start();
        }

        int port() {
            return server.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        @Override
        public void close() throws IOException {
            server.close();
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    /** Closes with a TCP reset (SO_LINGER 0) rather than a FIN. */
    private static void reset(Socket s) throws IOException {
        s.setSoLinger(true, 0);
        s.close();
    }

    /** Reads one request head (through the blank line); throws at EOF. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int state = 0;
        int c;
        while ((c = in.read()) != -1) {
            head.write(c);
            state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
            if (state == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
        }
        throw new IOException("closed");
    }

    private static int contentLength(String head) {
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                return Integer.parseInt(line.substring("content-length:".length()).trim());
            }
        }
        return 0;
    }
}
