package dev.crossgate.server.limits;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A token bucket as the generic cell rate algorithm: one atomic "theoretical arrival time", advanced by a
 * compare-and-set, so that threads never wait on each other. {@code rate} per second, bursts of {@code burst}.
 */
final class RateGate {
    private final long intervalNanos;
    private final long toleranceNanos;
    private final AtomicLong tat = new AtomicLong(Long.MIN_VALUE);

    RateGate(double rate, int burst) {
        this.intervalNanos = Math.max(1, (long) (1_000_000_000L / rate));
        this.toleranceNanos = intervalNanos * (Math.max(1, burst) - 1L);
    }

    /** 0 when a request may pass now (and is counted), else the nanoseconds until one may. */
    long tryAcquire(long now) {
        while (true) {
            long stored = tat.get();
            long t = Math.max(stored, now);
            long wait = t - now - toleranceNanos;
            if (wait > 0) {
                return wait;
            }
            if (tat.compareAndSet(stored, t + intervalNanos)) {
                return 0;
            }
        }
    }

    /** True when the bucket is full again (nothing to remember). */
    boolean idle(long now) {
        return tat.get() <= now;
    }
}
