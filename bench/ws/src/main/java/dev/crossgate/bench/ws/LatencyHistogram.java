package dev.crossgate.bench.ws;

/**
 * Latencies in nanoseconds counted in log-linear buckets, in the manner of HdrHistogram: values below 256 ns
 * exactly, larger ones in 128 buckets per power of two, so a percentile is off by less than 1% of its value.
 * Fixed memory (4,352 counters, 35 KiB) whatever the number of values; values of 2^40 ns (18 minutes) and more
 * are counted as 2^40 - 1. Not thread-safe: each event loop records into its own and they are {@link #add}ed
 * once the loops have stopped.
 */
final class LatencyHistogram {
    private static final int SUB_BITS = 7;
    private static final int SUB_COUNT = 1 << SUB_BITS;
    private static final long LARGEST = (1L << 40) - 1;

    private final long[] counts = new long[bucket(LARGEST) + 1];
    private long total;
    private long max;

    void record(long nanos) {
        long v = Math.min(Math.max(nanos, 0), LARGEST);
        counts[bucket(v)]++;
        total++;
        max = Math.max(max, v);
    }

    void add(LatencyHistogram other) {
        for (int i = 0; i < counts.length; i++) {
            counts[i] += other.counts[i];
        }
        total += other.total;
        max = Math.max(max, other.max);
    }

    long count() {
        return total;
    }

    long max() {
        return max;
    }

    /** The value at {@code percent} (0-100): the middle of the bucket holding it, at most {@link #max()}; 0 when empty. */
    long percentile(double percent) {
        if (total == 0) {
            return 0;
        }
        long rank = Math.max(1, (long) Math.ceil(percent / 100 * total));
        long seen = 0;
        for (int i = 0; i < counts.length; i++) {
            seen += counts[i];
            if (seen >= rank) {
                int shift = shift(i);
                long low = (long) (i - SUB_COUNT * shift) << shift;
                return Math.min(low + ((1L << shift) >> 1), max);
            }
        }
        return max;
    }

    /** Bucket {@code 128 * shift + (v >> shift)}, where {@code shift} keeps 8 significant bits of {@code v}. */
    private static int bucket(long v) {
        int shift = Math.max(0, 63 - Long.numberOfLeadingZeros(v) - SUB_BITS);
        return SUB_COUNT * shift + (int) (v >>> shift);
    }

    private static int shift(int bucket) {
        return Math.max(0, bucket / SUB_COUNT - 1);
    }
}
