package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.realtime.testing.RedisServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, "recovery that survives a node": two {@code crossgate serve} processes (hosted Socket.IO, recovery on,
 * {@code realtime.redis.url} on one real redis-server). Official JavaScript clients on node A receive a message every
 * 100 ms, published on node B (text and binary, alternately); node A is stopped with SIGTERM; its clients reconnect to
 * node B (as a balancer in front of both would send them) and recover: the same socket id, {@code recovered} true, and
 * every message exactly once, in order, the binary ones intact.
 */
class ClusterHandoverTest {
    static final Path NODE_DIR = Path.of("src/test/node").toAbsolutePath();
    static final Path PEERS = Path.of("..", "test-peers", "node_modules").toAbsolutePath().normalize();
    static final ObjectMapper JSON = new ObjectMapper();
    static final String TOKEN = "publish-0123456789abcdef-token";
    static final int CLIENTS = 5;
    static final int MESSAGES = 60;

    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Process serve(String name, int port, int admin, String redisUrl) throws Exception {
        Path f = dir.resolve(name + ".yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:%d
                upstream: http://127.0.0.1:9
                admin:
                  listen: 127.0.0.1:%d
                realtime:
                  recovery: 2m
                  publish:
                    token: %s
                  redis:
                    url: %s
                """.formatted(port, admin, TOKEN, redisUrl));
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dio.netty.leakDetection.level=paranoid", "-cp", System.getProperty("java.class.path"),
                "dev.crossgate.server.cli.Main", "serve", "--config", f.toString(), "--drain-timeout", "5s");
        return new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve(name + ".out").toFile())
                .redirectError(dir.resolve(name + ".err").toFile()).start();
    }

    private String log(String name) throws Exception {
        Path p = dir.resolve(name + ".err");
        return Files.exists(p) ? Files.readString(p) : "";
    }

    @Test
    void clientsOfANodeStoppedWithSigtermRecoverEveryMessageOnTheOtherNodeWithTheSameId() throws Exception {
        assertThat(PEERS.resolve("socket.io-client").toFile()).as("run scripts/install-test-deps.sh").exists();
        HttpClient http = HttpClient.newHttpClient();
        List<Process> started = new ArrayList<>();
        try (RedisServer redis = RedisServer.start()) {
            int portA = freePort(), adminA = freePort(), portB = freePort(), adminB = freePort();
            Process a = serve("a", portA, adminA, redis.url());
            Process b = serve("b", portB, adminB, redis.url());
            started.add(a);
            started.add(b);
            for (String n : List.of("a", "b")) {
                await().atMost(Duration.ofSeconds(60)).until(() -> log(n).contains("joined the cluster"));
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> log("a").contains("listening on") && log("b").contains("listening on"));

            ProcessBuilder pb = new ProcessBuilder("node", NODE_DIR.resolve("sio-handover-clients.js").toString(),
                    "http://127.0.0.1:" + portA, "http://127.0.0.1:" + portB, Integer.toString(CLIENTS), "feed")
                    .redirectError(dir.resolve("clients.err").toFile());
            pb.environment().put("NODE_PATH", PEERS.toString());
            Process clients = pb.start();
            started.add(clients);
            List<JsonNode> lines = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(clients.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        lines.add(JSON.readTree(l));
                    }
                } catch (java.io.IOException e) {
                    // the clients ended
                }
            }, "handover-clients");
            reader.setDaemon(true);
            reader.start();
            await().atMost(Duration.ofSeconds(30)).until(() -> lines.stream().anyMatch(l -> l.has("ready")));
            Map<Integer, String> firstIds = new ConcurrentHashMap<>();
            for (JsonNode l : lines) {
                if (l.has("connected")) {
                    firstIds.putIfAbsent(l.get("connected").asInt(), l.get("id").asText());
                }
            }
            assertThat(firstIds).hasSize(CLIENTS);

            // A message every 100 ms, published on node B: reaching A's clients through Redis, kept in the shared log.
            long next = System.nanoTime();
            for (int seq = 1; seq <= MESSAGES; seq++) {
                String args = seq % 2 == 0
                        ? "[" + seq + ",{\"$binary\":\"" + Base64.getEncoder().encodeToString(Integer.toString(seq).getBytes(StandardCharsets.UTF_8)) + "\"}]"
                        : "[" + seq + "]";
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminB + "/realtime/publish"))
                        .header("Authorization", "Bearer " + TOKEN).POST(HttpRequest.BodyPublishers.ofString("{\"event\":\"tick\",\"args\":" + args + "}"))
                        .build(), HttpResponse.BodyHandlers.ofString());
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                if (seq == 20) {
                    a.destroy(); // SIGTERM: node A drains and hands its sessions over through Redis
                }
                next += TimeUnit.MILLISECONDS.toNanos(100);
                long wait = next - System.nanoTime();
                if (wait > 0) {
                    TimeUnit.NANOSECONDS.sleep(wait); // the publisher's pace (a message every 100 ms), not a wait for a state
                }
            }
            assertThat(a.waitFor(30, TimeUnit.SECONDS)).as("node A exits after SIGTERM").isTrue();
            assertThat(a.exitValue()).isZero();

            // Every client: back with its id, recovered, and every message once, in order, binary intact.
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                for (int i = 0; i < CLIENTS; i++) {
                    int c = i;
                    if (lines.stream().filter(l -> l.has("tick") && l.get("tick").asInt() == c).count() < MESSAGES) {
                        return false;
                    }
                }
                return true;
            });
            for (int i = 0; i < CLIENTS; i++) {
                int c = i;
                List<Integer> seqs = lines.stream().filter(l -> l.has("tick") && l.get("tick").asInt() == c).map(l -> l.get("seq").asInt()).toList();
                List<Integer> expected = new ArrayList<>();
                for (int s = 1; s <= MESSAGES; s++) {
                    expected.add(s);
                }
                assertThat(seqs).as("client " + c + ": every message once, in order").isEqualTo(expected);
                assertThat(lines.stream().filter(l -> l.has("tick") && l.get("tick").asInt() == c && l.has("corrupt"))).isEmpty();
                Set<Boolean> binary = new TreeSet<>();
                lines.stream().filter(l -> l.has("tick") && l.get("tick").asInt() == c).forEach(l -> binary.add(l.get("binary").asBoolean()));
                assertThat(binary).containsExactly(false, true);
                List<JsonNode> connects = lines.stream().filter(l -> l.has("connected") && l.get("connected").asInt() == c).toList();
                assertThat(connects).as("client " + c + " connected to A, then recovered on B").hasSizeGreaterThanOrEqualTo(2);
                JsonNode last = connects.get(connects.size() - 1);
                assertThat(last.get("recovered").asBoolean()).as(last.toString()).isTrue();
                assertThat(last.get("id").asText()).isEqualTo(firstIds.get(c));
            }
            assertThat(log("a")).contains("draining");
        } finally {
            for (Process p : started) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
