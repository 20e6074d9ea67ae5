package dev.crossgate.server.observe;

import java.io.PrintStream;
import java.time.Instant;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One JSON line per exchange, written by a background thread so that event loops never block on the
 * output. When the queue is full, lines are dropped and counted rather than slowing the edge down.
 */
public final class AccessLog implements AutoCloseable {
    /** What one line says. */
    public record Entry(long epochMillis, String requestId, String client, String method, String path, String host, String origin,
                        int status, String reason, long requestBytes, long bytes, long upstreamMicros, long totalMicros, String upstream) {
        public String toJson() {
            StringBuilder b = new StringBuilder(256);
            b.append("{\"time\":\"").append(Instant.ofEpochMilli(epochMillis)).append('"');
            // The process log's shape (JsonLineEncoder): time, level, logger, then the exchange's fields.
            b.append(",\"level\":\"INFO\",\"logger\":\"crossgate.access\"");
            field(b, "requestId", requestId);
            field(b, "client", client);
            field(b, "method", method);
            field(b, "path", path);
            field(b, "host", host);
            field(b, "origin", origin);
            b.append(",\"status\":").append(status);
            field(b, "reason", reason);
            b.append(",\"requestBytes\":").append(requestBytes);
            b.append(",\"bytes\":").append(bytes);
            if (upstreamMicros >= 0) {
                b.append(",\"upstreamMs\":").append(upstreamMicros / 1000.0);
            }
            b.append(",\"totalMs\":").append(totalMicros / 1000.0);
            field(b, "upstream", upstream);
            return b.append('}').toString();
        }

        private static void field(StringBuilder b, String name, String value) {
            if (value != null) {
                b.append(",\"").append(name).append("\":").append(Json.string(value.length() > 2048 ? value.substring(0, 2048) : value));
            }
        }
    }

    private final BlockingQueue<Entry> queue = new ArrayBlockingQueue<>(65_536);
    private final AtomicLong dropped = new AtomicLong();
    private final PrintStream out;
    private final Thread writer;
    private volatile boolean closed;

    public AccessLog(PrintStream out) {
        this.out = out;
        this.writer = new Thread(this::run, "crossgate-access-log");
        writer.setDaemon(true);
        if (out != null) {
            writer.start();
        }
    }

    /** A log that writes nothing (for embedding and benchmarks that do not want it). */
    public static AccessLog discarding() {
        return new AccessLog(null);
    }

    /** False for a discarding log: callers skip building entries. */
    public boolean enabled() {
        return out != null;
    }

    public void log(Entry e) {
        if (out != null && !queue.offer(e)) {
            dropped.incrementAndGet();
        }
    }

    public long dropped() {
        return dropped.get();
    }

    /**
     * Drains the queue in batches every 50 ms rather than waking for each line, so that the event loops
     * that enqueue never pay for a wake-up and the output gets one write per batch.
     */
    private void run() {
        java.util.ArrayList<Entry> batch = new java.util.ArrayList<>(1024);
        StringBuilder text = new StringBuilder(64 * 1024);
        while (true) {
            boolean last = closed;
            queue.drainTo(batch, 4096);
            if (!batch.isEmpty()) {
                text.setLength(0);
                for (Entry e : batch) {
                    text.append(e.toJson()).append('\n');
                }
                batch.clear();
                out.print(text);
                out.flush();
                continue;
            }
            if (last) {
                return;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        if (out == null) {
            return;
        }
        try {
            writer.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
