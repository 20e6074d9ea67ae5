package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.limits.Limits;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Descriptors as a budget (issue 11): connections over the cap are closed at accept and counted, a listener
 * that runs out of descriptors pauses and resumes, and the admin listener keeps answering. The fault tests run
 * {@code crossgate serve} as a child process under {@code ulimit -n 512} and open twice as many connections.
 */
@ExtendWith(LeakCheck.class)
class DescriptorLimitTest {
    static final int DESCRIPTOR_LIMIT = 512;
    static final int FLOOD = 2 * DESCRIPTOR_LIMIT;

    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    // ---------------------------------------------------------------- the budget

    @Test
    void theCapIsHalfTheDescriptorsLeftAfterTheReserveAndNeverAboveMaxConnections() {
        // (512 - 100 open - 64 reserved) / 2
        assertThat(Limits.connectionCap(10_000, 512, 100)).isEqualTo(174);
        assertThat(Limits.connectionCap(0, 512, 100)).isEqualTo(174);
        assertThat(Limits.connectionCap(10_000, 1 << 20, 100)).isEqualTo(10_000);
        assertThat(Limits.connectionCap(50, -1, -1)).isEqualTo(50);
        assertThat(Limits.connectionCap(0, -1, -1)).isEqualTo(Integer.MAX_VALUE);
        assertThat(Limits.connectionCap(10_000, 100, 90)).isEqualTo(1);
    }

    // ---------------------------------------------------------------- in process

    private EdgeServer edge(String limits) throws Exception {
        HttpServer http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        http.createContext("/", ex -> {
            byte[] body = "ok".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        open.add(() -> http.stop(0));
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                hosts: [api.example.com]
                admin:
                  enabled: false
                http:
                  idleTimeout: 60s
                limits:
                %s
                """.formatted(http.getAddress().getPort(), limits.indent(2).stripTrailing()));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        EdgeServer edge = new EdgeServer(c, AccessLog.discarding()).start();
        open.add(edge);
        return edge;
    }

    private RawHttp connection(int port) throws IOException {
        RawHttp c = new RawHttp(port);
        open.add(c);
        return c;
    }

    private static int get(RawHttp c) throws IOException {
        return c.send(RawHttp.get("/x", "api.example.com")).read().status();
    }

    @Test
    void aConnectionOverMaxConnectionsIsClosedAtAcceptBeforeItSendsAnythingAndCounted() throws Exception {
        EdgeServer edge = edge("maxConnections: 2\nconnectionsPerAddress: 0\nnewConnectionsPerSecond: 0");
        RawHttp a = connection(edge.port());
        RawHttp b = connection(edge.port());
        assertThat(get(a)).isEqualTo(200);
        assertThat(get(b)).isEqualTo(200);

        RawHttp c = connection(edge.port());
        long t0 = System.nanoTime();
        assertThat(c.closedByServer(5000)).isTrue(); // EOF without a byte sent; the idle timeout is 60 s
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(2000);
        assertThat(edge.metrics().scrape())
                .contains("crossgate_connections_refused_total{listener=\"edge\",reason=\"limit.connections\"} 1.0")
                .contains("crossgate_connections_limit{listener=\"edge\"} 2.0");

        // A slot freed by a close is taken by the next connection.
        a.close();
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20)).untilAsserted(() -> {
            try (RawHttp d = new RawHttp(edge.port())) {
                assertThat(get(d)).isEqualTo(200);
            }
        });
    }

    @Test
    void aConnectionOverThePerAddressLimitHoldsItsDescriptorOnlyForTheGraceNotTheIdleTimeout() throws Exception {
        EdgeServer edge = edge("maxConnections: 100\nconnectionsPerAddress: 1\nnewConnectionsPerSecond: 0");
        RawHttp a = connection(edge.port());
        assertThat(get(a)).isEqualTo(200);
        RawHttp silent = connection(edge.port());
        long t0 = System.nanoTime();
        assertThat(silent.closedByServer(10_000)).isTrue();
        long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(waited).isBetween(Limits.REFUSED_GRACE.toMillis() - 500, Limits.REFUSED_GRACE.toMillis() + 3000);
        // One that asks in time is still told why (429 limit.connections, with Retry-After).
        RawHttp asking = connection(edge.port());
        RawHttp.Response r = asking.send(RawHttp.get("/x", "api.example.com")).read();
        assertThat(r.status()).isEqualTo(429);
        assertThat(r.body()).contains("\"reason\":\"limit.connections\"");
    }

    // ---------------------------------------------------------------- a child process at 512 descriptors

    /** A {@code crossgate serve} child under {@code ulimit -n 512}, with its standard error collected. */
    private final class Child implements AutoCloseable {
        final Process process;
        final StringBuffer err = new StringBuffer();
        final int port;
        final int adminPort;

        Child(DemoBackend backend, String... jvm) throws Exception {
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\n"
                    + "upstream: http://127.0.0.1:" + backend.port() + "\nlimits:\n  connectionsPerAddress: 0\n  newConnectionsPerSecond: 0\n");
            List<String> cmd = new ArrayList<>(List.of("bash", "-c", "ulimit -n " + DESCRIPTOR_LIMIT + " && exec \"$@\"", "crossgate",
                    Path.of(System.getProperty("java.home"), "bin", "java").toString()));
            cmd.addAll(List.of(jvm));
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), "dev.crossgate.server.cli.Main", "serve", "--config", f.toString()));
            process = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve("stdout.log").toFile()).start();
            BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8));
            String line = r.readLine();
            Matcher m = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+).*admin on http://127\\.0\\.0\\.1:(\\d+)")
                    .matcher(line == null ? "" : line);
            assertThat(m.find()).as(line).isTrue();
            port = Integer.parseInt(m.group(1));
            adminPort = Integer.parseInt(m.group(2));
            Thread drain = new Thread(() -> {
                try {
                    for (String l; (l = r.readLine()) != null; ) {
                        err.append(l).append('\n');
                    }
                } catch (IOException e) {
                    // the child is gone
                }
            }, "child-stderr");
            drain.setDaemon(true);
            drain.start();
        }

        int get(int port, String path, String host) throws IOException {
            try (RawHttp c = new RawHttp(port)) {
                return c.send(RawHttp.get(path, host, "Connection: close")).read().status();
            }
        }

        String metrics() throws IOException {
            try (RawHttp c = new RawHttp(adminPort)) {
                return c.send(RawHttp.get("/metrics", "127.0.0.1", "Connection: close")).read().body();
            }
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy(); // SIGTERM: drains and exits
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        }
    }

    private static double value(String metrics, String series) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Double.parseDouble(line.substring(series.length() + 1).trim());
            }
        }
        return 0;
    }

    /** Opens {@code n} connections and holds them, bounded in time: 30 s in all, 2 s per connect. */
    private List<Socket> flood(int port, int n) throws IOException {
        List<Socket> held = new ArrayList<>();
        open.add(() -> {
            for (Socket s : held) {
                s.close();
            }
        });
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (held.size() < n && System.nanoTime() < end) {
            Socket s = new Socket();
            held.add(s);
            s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
        }
        assertThat(held).hasSize(n);
        return held;
    }

    /** Polls {@code /healthz} on a fresh connection each time until stopped; records every answer that is not 200. */
    private static final class HealthPoller implements AutoCloseable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicInteger ok = new AtomicInteger();
        final List<String> failures = new CopyOnWriteArrayList<>();
        final Thread thread;

        HealthPoller(int adminPort) {
            thread = new Thread(() -> {
                while (!stop.get()) {
                    try (RawHttp c = new RawHttp(adminPort)) {
                        RawHttp.Response r = c.send(RawHttp.get("/healthz", "127.0.0.1", "Connection: close")).read();
                        if (r.status() == 200) {
                            ok.incrementAndGet();
                        } else {
                            failures.add("status " + r.status());
                        }
                    } catch (IOException e) {
                        failures.add(e.toString());
                    }
                    try {
                        Thread.sleep(50); // the polling interval, not a wait for a state
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "healthz-poller");
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(15_000);
        }
    }

    @Test
    void atADescriptorLimitOf512TwiceAsManyConnectionsAreRefusedAtAcceptHealthzAnswersThroughoutAndTheEdgeServesAtOnceAfter()
            throws Exception {
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", 0); Child child = new Child(backend)) {
            String before = child.metrics();
            int cap = (int) value(before, "crossgate_connections_limit{listener=\"edge\"}");
            // The budget, not limits.maxConnections (10000), is the cap: below the descriptor limit, with room for upstreams.
            assertThat(cap).isPositive().isLessThan(DESCRIPTOR_LIMIT / 2);
            await().atMost(Duration.ofSeconds(5)).until(() -> child.err.toString()
                    .contains("at most " + cap + " client connections at once (descriptor limit " + DESCRIPTOR_LIMIT));
            String refused = "crossgate_connections_refused_total{listener=\"edge\",reason=\"limit.connections\"}";

            HealthPoller health = new HealthPoller(child.adminPort);
            List<Socket> held;
            try {
                held = flood(child.port, FLOOD);
                // Every connection over the cap was accepted and closed at once, and counted.
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                        .until(() -> value(child.metrics(), refused) == FLOOD - cap);
                int okWhileHeld = health.ok.get();
                await().atMost(Duration.ofSeconds(5)).until(() -> health.ok.get() >= okWhileHeld + 5); // still answering, held
                for (Socket s : held) {
                    s.close();
                }
                long released = System.nanoTime();
                await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20))
                        .until(() -> child.get(child.port, "/api/hello", "api.example.com") == 200);
                System.out.println("DescriptorLimitTest: cap " + cap + ", served again " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released)
                        + " ms after release; /healthz answered " + health.ok.get() + " times during the flood");
            } finally {
                health.close();
            }
            assertThat(health.failures).isEmpty();
            assertThat(health.ok.get()).isGreaterThanOrEqualTo(10);
            assertThat(value(child.metrics(), refused)).isEqualTo(FLOOD - cap);
            assertThat(child.err.toString()).contains("refusing connections at accept on the edge listener")
                    .doesNotContain("Exception in thread", "NoClassDefFoundError");
        }
    }

    @Test
    void whenAcceptFailsForWantOfDescriptorsTheListenerPausesAndServesAgainOnceTheyAreFree() throws Exception {
        // Without the budget the edge takes descriptors until accept(2) fails with EMFILE: the path that used to
        // kill the event loop (logging the failure loaded time-zone data from a file).
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", 0);
                Child child = new Child(backend, "-D" + EdgeServer.IGNORE_DESCRIPTOR_LIMIT + "=true")) {
            List<Socket> held = flood(child.port, FLOOD);
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                    .until(() -> child.err.toString().contains("accept failed on the edge listener"));
            for (Socket s : held) {
                s.close();
            }
            long released = System.nanoTime();
            // The pause is at most 1 s: the listener accepts again within it, and proxies.
            await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20))
                    .until(() -> child.get(child.port, "/api/hello", "api.example.com") == 200);
            System.out.println("DescriptorLimitTest: after EMFILE, served again " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released)
                    + " ms after release");
            assertThat(child.get(child.adminPort, "/healthz", "127.0.0.1")).isEqualTo(200);
            assertThat(value(child.metrics(), "crossgate_accept_errors_total{listener=\"edge\"}")).isPositive();
            assertThat(child.err.toString()).contains("Too many open files").doesNotContain("Exception in thread", "NoClassDefFoundError");
        }
    }
}
