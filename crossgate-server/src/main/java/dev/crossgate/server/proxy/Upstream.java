package dev.crossgate.server.proxy;

import java.net.URI;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * One upstream server of a route: its connection pool and its health. It leaves the rotation when the
 * active health check fails, or (passive ejection) after {@code ejectAfter} consecutive failures, for
 * {@code ejectFor}. State is read on every request without locks.
 *
 * <p><b>What counts as a failure</b> is decided by the proxy ({@link ProxyCall}, and the WebSocket
 * handshake in {@code WsProxy}), and only what the upstream itself did counts, so that no client can
 * take an upstream out of rotation for everyone (issue 11, "ejection as denial of service"):
 * <ul>
 *   <li>counted: a connection that cannot be made; a reset or close before the response head on a new
 *       connection, once the whole request was sent; a response head that does not arrive within the
 *       response timeout, measured from the moment the last byte of the request was written;</li>
 *   <li>not counted: anything that happens while the request body is still being sent (a slow client
 *       uploading keeps the upstream waiting, and the upstream's own body timeout against that client
 *       would look like a reset); a close on a reused pooled connection before the response head (the
 *       keep-alive race: the upstream closed an idle connection as it was reused; an idempotent request
 *       is retried on a new connection, whose outcome counts); anything after the response head (the
 *       upstream answered, and a reset while streaming can be its send timeout against a client that
 *       reads slowly); a malformed response or handshake (a broken upstream, but not unreachable).</li>
 * </ul>
 * A response head (any status) ends the failure streak and lifts an ejection: the upstream demonstrably
 * answers (it can only receive requests while ejected in panic mode, see {@link UpstreamGroup#pick}).
 */
public final class Upstream {
    private static final Consumer<Upstream> NO_LISTENER = u -> { };

    private final UpstreamPool pool;
    private final int ejectAfter;
    private final long ejectForNanos;
    private final Consumer<Upstream> onEjected;
    private volatile boolean healthy = true;
    /** System.nanoTime() until which it is ejected; meaningful only while {@link #ejected} is true. */
    private volatile long ejectedUntil;
    private volatile boolean ejected;
    private final AtomicInteger consecutiveFailures = new AtomicInteger();

    public Upstream(URI uri, Duration connectTimeout, Duration idleTimeout, int ejectAfter, Duration ejectFor) {
        this(uri, connectTimeout, idleTimeout, ejectAfter, ejectFor, NO_LISTENER);
    }

    /** {@code onEjected} is told of every passive ejection (an upstream going out of rotation; for metrics). */
    public Upstream(URI uri, Duration connectTimeout, Duration idleTimeout, int ejectAfter, Duration ejectFor,
                    Consumer<Upstream> onEjected) {
        this.pool = new UpstreamPool(uri, connectTimeout, idleTimeout, 256);
        this.ejectAfter = ejectAfter;
        this.ejectForNanos = ejectFor.toNanos();
        this.onEjected = onEjected;
    }

    public UpstreamPool pool() {
        return pool;
    }

    /** host:port, as in logs and metric labels. */
    public String authority() {
        return pool.authority();
    }

    /** In rotation: the health check passes (or there is none) and it is not passively ejected. */
    public boolean available() {
        return healthy && !ejected();
    }

    /** Passively ejected now. */
    public boolean ejected() {
        return ejected && System.nanoTime() - ejectedUntil < 0;
    }

    /** The active health check passes (always true without one). */
    public boolean healthy() {
        return healthy;
    }

    void setHealthy(boolean healthy) {
        this.healthy = healthy;
        if (healthy) {
            consecutiveFailures.set(0);
        }
    }

    /**
     * A failure the upstream caused (see the class comment for which); ejects after {@code ejectAfter}
     * in a row. Exactly one caller sees the streak reach the limit, so one ejection is counted once; a
     * failure while already ejected (panic mode) extends the ejection without counting a new one.
     */
    public void failed() {
        int n = consecutiveFailures.incrementAndGet();
        if (n < ejectAfter || !consecutiveFailures.compareAndSet(n, 0)) {
            return;
        }
        boolean wasIn = !ejected();
        ejectedUntil = System.nanoTime() + ejectForNanos;
        ejected = true;
        if (wasIn) {
            onEjected.accept(this);
        }
    }

    /** A response head arrived: the failure streak ends, and an ejection with it. */
    public void succeeded() {
        // Reads first: the common case (no streak, not ejected) writes nothing shared.
        if (consecutiveFailures.get() != 0) {
            consecutiveFailures.set(0);
        }
        if (ejected) {
            ejected = false;
        }
    }

    @Override
    public String toString() {
        return pool.authority();
    }
}
