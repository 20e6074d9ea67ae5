package dev.crossgate.realtime.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real Redis Cluster for tests: three {@code redis-server} masters in cluster mode on free loopback ports (no
 * replicas, no persistence), joined by {@code redis-cli --cluster create}. Only the processes it started are stopped.
 */
public final class RedisCluster implements AutoCloseable {
    private final List<Process> servers = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();
    private final Path dir;

    private RedisCluster(Path dir) {
        this.dir = dir;
    }

    public static RedisCluster start() throws Exception {
        RedisCluster c = new RedisCluster(Files.createTempDirectory("crossgate-redis-cluster"));
        try {
            for (int i = 0; i < 3; i++) {
                int port;
                try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
                    port = s.getLocalPort();
                }
                Path d = Files.createDirectories(c.dir.resolve("n" + port));
                c.ports.add(port);
                c.servers.add(new ProcessBuilder(RedisServer.BINARY.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                        "--cluster-enabled", "yes", "--cluster-config-file", d.resolve("nodes.conf").toString(), "--save", "", "--appendonly", "no",
                        "--dir", d.toString(), "--loglevel", "warning").redirectErrorStream(true).redirectOutput(d.resolve("log").toFile()).start());
            }
            List<String> create = new ArrayList<>(List.of("/usr/bin/redis-cli", "--cluster", "create"));
            for (int p : c.ports) {
                create.add("127.0.0.1:" + p);
            }
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            String out = "";
            while (System.nanoTime() < deadline) {
                Process p = new ProcessBuilder(create).redirectErrorStream(true).start();
                out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (p.waitFor() == 0 && out.contains("All 16384 slots covered")) {
                    break;
                }
                Thread.sleep(100); // the servers are still starting: poll again until the deadline
            }
            // Ready when every node reports cluster_state:ok.
            for (int port : c.ports) {
                while (true) {
                    Process p = new ProcessBuilder("/usr/bin/redis-cli", "-p", Integer.toString(port), "cluster", "info").redirectErrorStream(true).start();
                    String info = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    p.waitFor();
                    if (info.contains("cluster_state:ok")) {
                        break;
                    }
                    if (System.nanoTime() > deadline) {
                        throw new IllegalStateException("the Redis Cluster did not form within 30 s: " + out + "\n" + info);
                    }
                    Thread.sleep(100); // poll with a deadline
                }
            }
            return c;
        } catch (Exception e) {
            c.close();
            throw e;
        }
    }

    /** {@code redis://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3}: the seed nodes. */
    public String seeds() {
        StringBuilder b = new StringBuilder("redis://");
        for (int i = 0; i < ports.size(); i++) {
            b.append(i == 0 ? "" : ",").append("127.0.0.1:").append(ports.get(i));
        }
        return b.toString();
    }

    @Override
    public void close() throws InterruptedException {
        for (Process p : servers) {
            p.destroyForcibly();
            p.waitFor();
        }
    }
}
