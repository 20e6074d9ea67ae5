package dev.crossgate.server.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Debian's nginx ({@code /usr/sbin/nginx}) as a child process of the test, for tests that need the proxy teams
 * really deploy. One process ({@code daemon off; master_process off;}), its pid file, error log and temporary
 * paths in a directory of the test, listening on loopback only; {@link #close()} stops that process (SIGTERM
 * to its own PID, then SIGKILL after 5 s). {@code scripts/install-test-deps.sh} installs nginx.
 *
 * <pre>{@code
 * try (Nginx nginx = Nginx.start(tempDir, port -> """
 *         server {
 *             listen 127.0.0.1:%d;
 *             location / { proxy_pass http://127.0.0.1:8000; }
 *         }
 *         """.formatted(port))) {
 *     ... http://127.0.0.1:nginx.port()/ ...
 * }
 * }</pre>
 */
public final class Nginx implements AutoCloseable {
    public static final Path BINARY = Path.of("/usr/sbin/nginx");
    private static final Duration STARTUP = Duration.ofSeconds(10);
    private static final Pattern LISTEN = Pattern.compile("(?m)^\\s*listen\\s+([^\\s;]+)");

    private final Process process;
    private final int port;
    private final Path dir;

    private Nginx(Process process, int port, Path dir) {
        this.process = process;
        this.port = port;
        this.dir = dir;
    }

    /**
     * Starts nginx with {@code http} (given the free port to listen on) as the contents of its {@code http} block,
     * and returns once it accepts connections on 127.0.0.1 and that port. Every {@code listen} must be on 127.0.0.1.
     *
     * @throws AssertionError when nginx is not installed, or exits (its error log is in the message)
     */
    public static Nginx start(Path parent, IntFunction<String> http) throws IOException, InterruptedException {
        if (!Files.isExecutable(BINARY)) {
            throw new AssertionError(BINARY + " is missing: these tests run Debian's nginx; install it with scripts/install-test-deps.sh"
                    + " (apt-get install nginx)");
        }
        Path dir = Files.createTempDirectory(parent, "nginx-");
        for (String t : new String[] {"body", "proxy", "fastcgi", "uwsgi", "scgi"}) {
            Files.createDirectories(dir.resolve("temp").resolve(t));
        }
        AssertionError last = null;
        // A free port found by binding port 0 can be taken before nginx binds it: try a few times.
        for (int attempt = 0; attempt < 5; attempt++) {
            int port = freePort();
            String block = http.apply(port);
            Matcher m = LISTEN.matcher(block);
            while (m.find()) {
                if (!m.group(1).startsWith("127.0.0.1:")) {
                    throw new IllegalArgumentException("listen " + m.group(1) + " (expected: 127.0.0.1:PORT, loopback only)");
                }
            }
            Path conf = dir.resolve("nginx.conf");
            Files.writeString(conf, config(dir, block));
            Path errorLog = dir.resolve("error.log");
            Files.deleteIfExists(errorLog);
            Process p = new ProcessBuilder(BINARY.toString(), "-p", dir + "/", "-c", conf.toString())
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("stderr.log").toFile())
                    .start();
            Nginx nginx = new Nginx(p, port, dir);
            try {
                nginx.awaitListening();
                return nginx;
            } catch (AssertionError e) {
                nginx.close();
                last = e;
                if (!e.getMessage().contains("Address already in use")) {
                    throw e;
                }
            }
        }
        throw last;
    }

    private static String config(Path dir, String http) {
        return """
                daemon off;
                master_process off;
                worker_processes 1;
                pid %1$s/nginx.pid;
                error_log %1$s/error.log warn;
                events {
                    worker_connections 512;
                }
                http {
                    access_log off;
                    server_tokens off;
                    client_body_temp_path %1$s/temp/body;
                    proxy_temp_path %1$s/temp/proxy;
                    fastcgi_temp_path %1$s/temp/fastcgi;
                    uwsgi_temp_path %1$s/temp/uwsgi;
                    scgi_temp_path %1$s/temp/scgi;

                %2$s
                }
                """.formatted(dir, http.indent(4).stripTrailing());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    private void awaitListening() throws InterruptedException {
        long deadline = System.nanoTime() + STARTUP.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("nginx exited with status " + process.exitValue() + " before listening on 127.0.0.1:" + port
                        + "\n" + logs() + "\nconfiguration:\n" + configuration());
            }
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                return;
            } catch (IOException notYet) {
                Thread.sleep(20);
            }
        }
        throw new AssertionError("nginx did not listen on 127.0.0.1:" + port + " within " + STARTUP.toSeconds() + " s\n" + logs());
    }

    /** The port nginx listens on (127.0.0.1). */
    public int port() {
        return port;
    }

    /** The process id of this nginx. */
    public long pid() {
        return process.pid();
    }

    /** What nginx wrote to its error log and stderr so far, for diagnosing a failing test. */
    public String logs() {
        StringBuilder b = new StringBuilder();
        for (String f : new String[] {"stderr.log", "error.log"}) {
            Path p = dir.resolve(f);
            try {
                if (Files.exists(p)) {
                    b.append("--- ").append(f).append('\n').append(Files.readString(p, StandardCharsets.UTF_8));
                }
            } catch (IOException e) {
                b.append("--- ").append(f).append(": ").append(e.getMessage()).append('\n');
            }
        }
        return b.toString();
    }

    /** The generated nginx.conf. */
    public String configuration() {
        try {
            return Files.readString(dir.resolve("nginx.conf"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(unreadable: " + e.getMessage() + ")";
        }
    }

    /** Stops this nginx: SIGTERM to its PID (a fast shutdown), SIGKILL when it is still running 5 s later. */
    @Override
    public void close() {
        if (!process.isAlive()) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
