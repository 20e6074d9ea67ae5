package dev.crossgate.realtime.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * A real {@code redis-server} (Debian's, installed by scripts/install-test-deps.sh) for tests: on 127.0.0.1 and a
 * free port, no persistence, its files in a temporary directory. It can be killed and started again on the same
 * port (the "Redis down" tests). Only the process this class started is ever stopped.
 */
public final class RedisServer implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/bin/redis-server");

    private final int port;
    private final Path dir;
    private Process process;

    private RedisServer(int port, Path dir) {
        this.port = port;
        this.dir = dir;
    }

    /** Starts a redis-server on a free loopback port and waits (bounded) until it accepts connections. */
    public static RedisServer start() throws IOException, InterruptedException {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException(BINARY + " is missing: run scripts/install-test-deps.sh");
        }
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        RedisServer r = new RedisServer(port, Files.createTempDirectory("crossgate-redis"));
        r.restart();
        return r;
    }

    public int port() {
        return port;
    }

    /** {@code redis://127.0.0.1:<port>} */
    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    public boolean running() {
        return process != null && process.isAlive();
    }

    /** Starts the server again (on the same port) after {@link #kill}; waits until it accepts connections. */
    public synchronized void restart() throws IOException, InterruptedException {
        if (running()) {
            return;
        }
        List<String> cmd = new ArrayList<>(List.of(BINARY.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--protected-mode", "yes", "--loglevel", "warning"));
        process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("redis-server exited (" + process.exitValue() + "): " + Files.readString(dir.resolve("redis.log")));
            }
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
                s.getOutputStream().write("PING\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                byte[] b = new byte[7];
                int n = s.getInputStream().read(b);
                if (n > 0 && new String(b, 0, n, java.nio.charset.StandardCharsets.US_ASCII).startsWith("+PONG")) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet: poll again until the deadline
            }
            Thread.onSpinWait();
            Thread.sleep(20); // a poll interval with a deadline, not a wait for a state
        }
        throw new IllegalStateException("redis-server on port " + port + " did not answer PING within 20 s");
    }

    /** Kills the server at once (SIGKILL), as a crash would; waits until it is gone. */
    public synchronized void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
