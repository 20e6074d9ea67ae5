package dev.crossgate.server.doctor;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * What every check shares: the options, the address being probed, the findings so far, and requests that
 * record what was sent (for evidence) and respect the run's deadline.
 */
final class Probe {
    final Options options;
    final URI url;
    final Http.Target target;
    final List<Finding> findings;
    private final long deadlineNanos;

    Probe(Options options, Http.Target target, List<Finding> findings, long deadlineNanos) {
        this.options = options;
        this.url = options.url();
        this.target = target;
        this.findings = findings;
        this.deadlineNanos = deadlineNanos;
    }

    boolean outOfTime() {
        return System.nanoTime() > deadlineNanos;
    }

    long nanosLeft() {
        return deadlineNanos - System.nanoTime();
    }

    /** Told of long waits as they happen (verdicts are told by the findings lists themselves). */
    volatile Doctor.Progress progress = Doctor.Progress.NONE;

    void add(Finding f) {
        findings.add(f);
    }

    /** The URL's path and query, or "/" (the route the CORS checks probe). */
    String pathAndQuery() {
        String p = url.getRawPath() == null || url.getRawPath().isEmpty() ? "/" : url.getRawPath();
        return url.getRawQuery() == null ? p : p + "?" + url.getRawQuery();
    }

    /** Closes connections still busy at the run's deadline: a server trickling bytes cannot stretch a probe past it. */
    private static final java.util.concurrent.ScheduledExecutorService WATCHDOG = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "doctor-deadline");
        t.setDaemon(true);
        return t;
    });

    /** Work on a connection that may throw IOException. */
    @FunctionalInterface
    interface Exchange<T> {
        T run() throws IOException;
    }

    /** A new connection to the target (HTTP/1.1), each read bounded by {@code timeout} and by what is left of the run. */
    Http.Connection connect(java.time.Duration timeout) throws IOException {
        long left = nanosLeft();
        if (left <= 0) {
            throw new IOException("the run's deadline (" + options.deadline().toSeconds() + " s) was reached");
        }
        return Http.connect(target, java.time.Duration.ofNanos(Math.max(1_000_000, Math.min(timeout.toNanos(), left))), options.trust(),
                List.of("http/1.1"));
    }

    /** Runs {@code work} on {@code c}, which is closed if the run's deadline comes first. */
    <T> T bounded(Http.Connection c, Exchange<T> work) throws IOException {
        java.util.concurrent.ScheduledFuture<?> kill = WATCHDOG.schedule(c::close, Math.max(0, nanosLeft()), java.util.concurrent.TimeUnit.NANOSECONDS);
        try {
            return work.run();
        } finally {
            kill.cancel(false);
        }
    }

    /** One request on a new connection; {@code sent} receives the request lines for evidence. */
    Http.Response request(String method, String pathAndQuery, String host, List<String[]> headers, byte[] body, List<String> sent)
            throws IOException {
        if (outOfTime()) {
            throw new IOException("the run's deadline (" + options.deadline().toSeconds() + " s) was reached");
        }
        if (sent != null) {
            sent.add("> " + method + " " + pathAndQuery + " (" + target.scheme() + "://" + target.where() + ")");
            sent.add("> Host: " + host);
            for (String[] h : headers) {
                sent.add("> " + h[0] + ": " + (h[0].equalsIgnoreCase("authorization") ? "Bearer (given, not shown)" : h[1]));
            }
        }
        try (Http.Connection c = connect(options.timeout())) {
            return bounded(c, () -> Http.exchange(c, method, pathAndQuery, host, headers, body));
        }
    }

    Http.Response request(String method, String pathAndQuery, List<String[]> headers, List<String> sent) throws IOException {
        return request(method, pathAndQuery, target.authority(), headers, null, sent);
    }

    static List<String[]> headers(String... nameValues) {
        List<String[]> out = new ArrayList<>();
        for (int i = 0; i + 1 < nameValues.length; i += 2) {
            if (nameValues[i + 1] != null) {
                out.add(new String[] {nameValues[i], nameValues[i + 1]});
            }
        }
        return out;
    }

    static List<String> join(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }
}
