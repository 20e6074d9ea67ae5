package dev.crossgate.server.proxy;

import java.net.URI;
import java.time.Duration;

/**
 * One upstream server of a route: its connection pool and its health. It leaves the rotation when the
 * active health check fails, or (passive ejection) after {@code ejectAfter} consecutive transport
 * failures, for {@code ejectFor}. State is read on every request without locks (volatile fields).
 */
public final class Upstream {
    private final UpstreamPool pool;
    private final int ejectAfter;
    private final long ejectForNanos;
    private volatile boolean healthy = true;
    private volatile long ejectedUntil;
    private volatile int consecutiveFailures;

    public Upstream(URI uri, Duration connectTimeout, Duration idleTimeout, int ejectAfter, Duration ejectFor) {
        this.pool = new UpstreamPool(uri, connectTimeout, idleTimeout, 256);
        this.ejectAfter = ejectAfter;
        this.ejectForNanos = ejectFor.toNanos();
    }

    public UpstreamPool pool() {
        return pool;
    }

    /** In rotation: the health check passes and it is not ejected. */
    public boolean available() {
        return healthy && (ejectedUntil == 0 || System.nanoTime() - ejectedUntil >= 0);
    }

    public boolean healthy() {
        return healthy;
    }

    void setHealthy(boolean healthy) {
        this.healthy = healthy;
        if (healthy) {
            consecutiveFailures = 0;
        }
    }

    /** A transport failure (connect, reset, timeout); ejects after too many in a row. Races only blur the count. */
    public void failed() {
        int n = consecutiveFailures + 1;
        consecutiveFailures = n;
        if (n >= ejectAfter) {
            ejectedUntil = System.nanoTime() + ejectForNanos;
            consecutiveFailures = 0;
        }
    }

    /** An answer arrived: the failure streak ends. */
    public void succeeded() {
        if (consecutiveFailures != 0) {
            consecutiveFailures = 0;
        }
    }

    @Override
    public String toString() {
        return pool.authority();
    }
}
