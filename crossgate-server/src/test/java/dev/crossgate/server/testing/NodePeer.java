package dev.crossgate.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Predicate;

/**
 * A Node.js script of the tests (src/test/node) run as a peer: started with {@code NODE_PATH} on test-peers'
 * node_modules, driven by JSON lines on its stdin ({@code {id, op, ...}}) and read from its stdout on a daemon thread.
 * A line with an {@code id} is the answer to {@link #call}; every other JSON line is an event ({@link #events()},
 * {@link #awaitEvent}). Its stderr is kept (the last 64 KiB) for failure messages and echoed with the peer's name.
 * Only the process this object started is ever stopped ({@link #kill}, {@link #terminate}).
 *
 * <p>The scripts: sio-cluster-node.js (a socket.io 4.8 node with @socket.io/redis-adapter), sio-cluster-clients.js
 * (socket.io-client 4.8 clients), sio-emitter.js (@socket.io/redis-emitter); each documents its ops.
 */
public final class NodePeer implements AutoCloseable {
    public static final Path NODE_DIR = Path.of("src/test/node").toAbsolutePath();
    public static final Path NODE_MODULES = Path.of("..", "test-peers", "node_modules").toAbsolutePath().normalize();
    public static final ObjectMapper JSON = new ObjectMapper();
    private static final int STDERR_KEPT = 64 * 1024;

    private final String name;
    private final Process process;
    private final OutputStream stdin;
    private final AtomicLong ids = new AtomicLong();
    private final Object lock = new Object();
    private final List<JsonNode> events = new ArrayList<>(); // guarded by lock
    private final Map<Long, JsonNode> answers = new java.util.HashMap<>(); // guarded by lock
    private final StringBuilder stderr = new StringBuilder(); // guarded by itself
    private boolean ended; // guarded by lock: stdout reached its end (the process exited or closed it)

    private NodePeer(String name, Process process) {
        this.name = name;
        this.process = process;
        this.stdin = process.getOutputStream();
        daemon("node-out-" + name, this::readStdout);
        daemon("node-err-" + name, this::readStderr);
    }

    /** Starts {@code node src/test/node/SCRIPT ARGS...} with NODE_PATH and the given extra environment. */
    public static NodePeer start(String name, String script, List<String> args, Map<String, String> env) throws IOException {
        if (!Files.isDirectory(NODE_MODULES.resolve("socket.io"))) {
            throw new IllegalStateException(NODE_MODULES + " has no socket.io: run scripts/install-test-deps.sh");
        }
        List<String> cmd = new ArrayList<>(List.of("node", NODE_DIR.resolve(script).toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("NODE_PATH", NODE_MODULES.toString());
        pb.environment().putAll(env);
        return new NodePeer(name, pb.start());
    }

    /**
     * A socket.io node with the Redis adapter ({@code mode} classic or sharded, channels prefixed by {@code key}) on
     * 127.0.0.1:{@code port}; returns once it printed {@code listening} (its adapter's subscriptions confirmed).
     */
    public static NodePeer clusterNode(String name, int port, String redisUrl, String mode, String key, Duration timeout) throws IOException {
        NodePeer p = start(name, "sio-cluster-node.js", List.of(name, Integer.toString(port), redisUrl, mode), Map.of("KEY", key));
        return p.ready(e -> e.has("listening"), timeout);
    }

    /** A process of socket.io-client clients; returns once it is ready for ops. */
    public static NodePeer clients(String name, Duration timeout) throws IOException {
        NodePeer p = start(name, "sio-cluster-clients.js", List.of(), Map.of());
        return p.ready(e -> e.path("ready").asBoolean(), timeout);
    }

    /** The official Redis emitter on {@code redisUrl}, channels prefixed by {@code key}; returns once connected. */
    public static NodePeer emitter(String name, String redisUrl, String key, Duration timeout) throws IOException {
        NodePeer p = start(name, "sio-emitter.js", List.of(redisUrl), Map.of("KEY", key));
        return p.ready(e -> e.path("ready").asBoolean(), timeout);
    }

    /** Waits for the line that says the script is ready; stops the process when it does not come. */
    private NodePeer ready(Predicate<JsonNode> p, Duration timeout) {
        try {
            awaitEvent(p, timeout);
            return this;
        } catch (AssertionError e) {
            process.destroyForcibly(); // the process this object started
            throw e;
        }
    }

    public String name() {
        return name;
    }

    public Process process() {
        return process;
    }

    /** A new command {@code {"op": op}}; {@link #call} adds the id. */
    public static ObjectNode op(String op) {
        return JSON.createObjectNode().put("op", op);
    }

    /** An array of strings, for rooms and except. */
    public static ArrayNode strings(String... values) {
        ArrayNode a = JSON.createArrayNode();
        for (String v : values) {
            a.add(v);
        }
        return a;
    }

    /** A binary value as the scripts carry it: {@code {"$bin": base64}}. */
    public static ObjectNode bin(byte[] bytes) {
        return JSON.createObjectNode().put("$bin", Base64.getEncoder().encodeToString(bytes));
    }

    /** The bytes of a {@code {"$bin": base64}} value, or null when {@code v} is not one. */
    public static byte[] bytes(JsonNode v) {
        return v != null && v.isObject() && v.size() == 1 && v.path("$bin").isTextual() ? Base64.getDecoder().decode(v.get("$bin").asText()) : null;
    }

    /**
     * Sends {@code cmd} with a new id and waits (at most {@code timeout}) for its answer; returns its {@code result}.
     * A refusal ({@code ok: false}), no answer in time or the process ending fail with an AssertionError naming the op,
     * the error and the peer's stderr.
     */
    public JsonNode call(ObjectNode cmd, Duration timeout) {
        JsonNode a = answer(cmd, timeout);
        if (!a.path("ok").asBoolean()) {
            throw new AssertionError(name + ": " + cmd.path("op").asText() + " refused: " + a.path("error").asText() + stderrTail());
        }
        return a.path("result");
    }

    /** As {@link #call}, but returns the whole answer ({@code {id, ok, result | error}}), a refusal included. */
    public JsonNode answer(ObjectNode cmd, Duration timeout) {
        long id = ids.incrementAndGet();
        ObjectNode c = cmd.deepCopy().put("id", id);
        send(c);
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (true) {
                JsonNode a = answers.remove(id);
                if (a != null) {
                    return a;
                }
                long left = deadline - System.nanoTime();
                if (ended) {
                    throw new AssertionError(name + ": ended before answering " + c + exitStatus() + stderrTail());
                }
                if (left <= 0) {
                    throw new AssertionError(name + ": no answer to " + c + " within " + timeout.toMillis() + " ms" + stderrTail());
                }
                waitOn(left);
            }
        }
    }

    /** Every line that was not an answer, in order of arrival (a copy). */
    public List<JsonNode> events() {
        synchronized (lock) {
            return List.copyOf(events);
        }
    }

    /** The events that match, in order of arrival (a copy). */
    public List<JsonNode> events(Predicate<JsonNode> p) {
        synchronized (lock) {
            return events.stream().filter(p).toList();
        }
    }

    /** The first event (already received or to come) that matches; fails after {@code timeout}. */
    public JsonNode awaitEvent(Predicate<JsonNode> p, Duration timeout) {
        return awaitEvents(p, 1, timeout).get(0);
    }

    /** Waits until at least {@code count} events match; returns them all (in order); fails after {@code timeout}. */
    public List<JsonNode> awaitEvents(Predicate<JsonNode> p, int count, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            while (true) {
                List<JsonNode> found = events.stream().filter(p).toList();
                if (found.size() >= count) {
                    return found;
                }
                long left = deadline - System.nanoTime();
                if (ended) {
                    throw new AssertionError(name + ": ended with " + found.size() + " of " + count + " expected events; events: " + events
                            + exitStatus() + stderrTail());
                }
                if (left <= 0) {
                    throw new AssertionError(name + ": " + found.size() + " of " + count + " expected events within " + timeout.toMillis()
                            + " ms; events: " + events + stderrTail());
                }
                waitOn(left);
            }
        }
    }

    /** Forgets the events received so far (answers are not events and are not affected). */
    public void clearEvents() {
        synchronized (lock) {
            events.clear();
        }
    }

    /** What the process wrote on stderr (its last 64 KiB). */
    public String stderr() {
        synchronized (stderr) {
            return stderr.toString();
        }
    }

    /** SIGKILL, as a crash; waits (bounded) until it is gone. */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    /** SIGTERM, as an orderly stop; SIGKILL when it has not ended within {@code grace}. */
    public void terminate(Duration grace) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
            kill();
        }
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }

    private void send(JsonNode c) {
        byte[] line = (c.toString() + "\n").getBytes(StandardCharsets.UTF_8);
        synchronized (stdin) {
            try {
                stdin.write(line);
                stdin.flush();
            } catch (IOException e) {
                throw new AssertionError(name + ": cannot send " + c + " (" + e.getMessage() + ")" + exitStatus() + stderrTail());
            }
        }
    }

    private void waitOn(long nanos) {
        try {
            TimeUnit.NANOSECONDS.timedWait(lock, nanos);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(name + ": interrupted");
        }
    }

    private void readStdout() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                if (!l.startsWith("{")) {
                    System.err.println("[" + name + " stdout] " + l);
                    continue;
                }
                JsonNode n;
                try {
                    n = JSON.readTree(l);
                } catch (IOException e) {
                    System.err.println("[" + name + " stdout, not JSON] " + l);
                    continue;
                }
                synchronized (lock) {
                    if (n.has("id") && n.has("ok")) {
                        answers.put(n.get("id").asLong(), n);
                    } else {
                        events.add(n);
                    }
                    lock.notifyAll();
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // the stream closed: the process ended
        } finally {
            synchronized (lock) {
                ended = true;
                lock.notifyAll();
            }
        }
    }

    private void readStderr() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                System.err.println("[" + name + "] " + l);
                synchronized (stderr) {
                    stderr.append(l).append('\n');
                    if (stderr.length() > STDERR_KEPT) {
                        stderr.delete(0, stderr.length() - STDERR_KEPT);
                    }
                }
            }
        } catch (IOException e) {
            // the stream closed: the process ended
        }
    }

    private String exitStatus() {
        try {
            return process.waitFor(1, TimeUnit.SECONDS) ? " (exit status " + process.exitValue() + ")" : "";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "";
        }
    }

    private String stderrTail() {
        String s = stderr();
        return s.isEmpty() ? "" : "; stderr:\n" + s;
    }

    private static void daemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }

    /** A free TCP port on the loopback interface. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
