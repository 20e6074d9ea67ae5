package dev.crossgate.server.observe;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * The last minutes of traffic, per second, for the live status page (issue 13): exchanges, refusals by reason code, and
 * the origins seen (allowed and refused) with counts. Recording is lock-free and allocates nothing for a known reason or
 * origin: a ring of {@link #SECONDS} slots stamped with their second, reset by the first writer of a new second. Bounded:
 * at most {@link #MAX_REASONS} reason codes and {@link #MAX_ORIGINS} origins are told apart (the rest count under
 * "(other)"), so hostile Origin headers cannot grow it.
 */
public final class Activity {
    public static final int SECONDS = 300;
    public static final int MAX_REASONS = 64;
    public static final int MAX_ORIGINS = 256;
    static final String OTHER = "(other)";

    /** Per-second counts in a ring. */
    static final class Ring {
        final AtomicLongArray counts = new AtomicLongArray(SECONDS);
        final AtomicLongArray stamps = new AtomicLongArray(SECONDS);

        void add(long second) {
            int slot = (int) (second % SECONDS);
            long stamp = stamps.get(slot);
            if (stamp != second && stamps.compareAndSet(slot, stamp, second)) {
                counts.set(slot, 0); // a new second in this slot (a count racing with the reset may be lost: it is a picture)
            }
            counts.incrementAndGet(slot);
        }

        /** The counts of the {@code n} seconds up to {@code now} (oldest first). */
        long[] last(long now, int n) {
            long[] out = new long[n];
            for (int i = 0; i < n; i++) {
                long second = now - (n - 1 - i);
                int slot = (int) (Math.floorMod(second, SECONDS));
                out[i] = stamps.get(slot) == second ? counts.get(slot) : 0;
            }
            return out;
        }
    }

    /** An origin's totals since start. */
    public static final class OriginCount {
        final AtomicLong allowed = new AtomicLong();
        final AtomicLong refused = new AtomicLong();
    }

    private final LongSupplier clockSeconds;
    private final Ring exchanges = new Ring();
    private final ConcurrentHashMap<String, Ring> refusals = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, OriginCount> origins = new ConcurrentHashMap<>();

    public Activity() {
        this(() -> System.currentTimeMillis() / 1000);
    }

    Activity(LongSupplier clockSeconds) {
        this.clockSeconds = clockSeconds;
    }

    /** One finished exchange: its Origin (or null), and its reason code when it was refused (null when it was answered). */
    public void record(String origin, String refusalReason) {
        long now = clockSeconds.getAsLong();
        exchanges.add(now);
        if (refusalReason != null) {
            Ring r = refusals.get(refusalReason);
            if (r == null) {
                r = refusals.size() >= MAX_REASONS ? refusals.computeIfAbsent(OTHER, k -> new Ring())
                        : refusals.computeIfAbsent(refusalReason, k -> new Ring());
            }
            r.add(now);
        }
        if (origin != null) {
            OriginCount c = origins.get(origin);
            if (c == null) {
                c = origins.size() >= MAX_ORIGINS ? origins.computeIfAbsent(OTHER, k -> new OriginCount())
                        : origins.computeIfAbsent(origin, k -> new OriginCount());
            }
            (refusalReason == null ? c.allowed : c.refused).incrementAndGet();
        }
    }

    /** How many origins are told apart (bounded by MAX_ORIGINS, plus "(other)"). */
    int originsTracked() {
        return origins.size();
    }

    /**
     * A picture of the last {@code seconds} seconds: {@code exchanges} per second, {@code refusals} per reason per second,
     * and {@code origins} (the most seen first, at most 50) with their allowed and refused totals.
     */
    public Map<String, Object> snapshot(int seconds) {
        int n = Math.max(1, Math.min(seconds, SECONDS));
        long now = clockSeconds.getAsLong();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("until", now);
        out.put("seconds", n);
        out.put("exchanges", exchanges.last(now, n));
        Map<String, long[]> byReason = new LinkedHashMap<>();
        refusals.forEach((reason, ring) -> {
            long[] series = ring.last(now, n);
            for (long v : series) {
                if (v > 0) {
                    byReason.put(reason, series);
                    break;
                }
            }
        });
        out.put("refusals", byReason);
        List<Map<String, Object>> list = new ArrayList<>();
        origins.forEach((origin, c) -> {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("origin", origin);
            o.put("allowed", c.allowed.get());
            o.put("refused", c.refused.get());
            list.add(o);
        });
        list.sort((x, y) -> Long.compare((long) y.get("allowed") + (long) y.get("refused"), (long) x.get("allowed") + (long) x.get("refused")));
        out.put("origins", list.size() > 50 ? list.subList(0, 50) : list);
        return out;
    }
}
