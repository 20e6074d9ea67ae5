package dev.crossgate.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

/** The status page's picture of recent traffic: per-second counts in a ring, bounded reasons and origins. */
class ActivityTest {
    @Test
    void countsPerSecondRefusalsByReasonAndOriginsAllowedAndRefused() {
        AtomicLong clock = new AtomicLong(1_000_000);
        Activity a = new Activity(clock::get);
        a.record("https://app.example.com", null);
        a.record("https://app.example.com", null);
        a.record("https://evil.example", "cors.origin_not_allowed");
        clock.incrementAndGet();
        a.record(null, "limit.rate");
        Map<String, Object> s = a.snapshot(3);
        assertThat((long[]) s.get("exchanges")).containsExactly(0, 3, 1);
        @SuppressWarnings("unchecked")
        Map<String, long[]> refusals = (Map<String, long[]>) s.get("refusals");
        assertThat(refusals.get("cors.origin_not_allowed")).containsExactly(0, 1, 0);
        assertThat(refusals.get("limit.rate")).containsExactly(0, 0, 1);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> origins = (List<Map<String, Object>>) s.get("origins");
        assertThat(origins.get(0)).containsEntry("origin", "https://app.example.com").containsEntry("allowed", 2L).containsEntry("refused", 0L);
        assertThat(origins.get(1)).containsEntry("origin", "https://evil.example").containsEntry("refused", 1L);
        // A second that comes round again in the ring starts from zero; seconds out of the window are gone.
        clock.addAndGet(Activity.SECONDS);
        a.record(null, null);
        assertThat((long[]) a.snapshot(2).get("exchanges")).containsExactly(0, 1);
    }

    /** Whatever the clients send, the per-second totals are exact within the window and the maps stay bounded. */
    @Property(tries = 50)
    void totalsAreExactAndTheMapsBounded(@ForAll @Size(max = 400) List<@IntRange(min = 0, max = 599) Integer> seconds,
            @ForAll @Size(max = 700) List<String> headers) {
        AtomicLong clock = new AtomicLong(5_000);
        Activity a = new Activity(clock::get);
        long[] expected = new long[600];
        List<Integer> sorted = seconds.stream().sorted().toList();
        for (int i = 0; i < sorted.size(); i++) {
            clock.set(5_000 + sorted.get(i));
            String h = headers.isEmpty() ? null : headers.get(i % headers.size());
            a.record(h, h == null ? null : "r" + (h.hashCode() & 0xff));
            expected[sorted.get(i)]++;
        }
        clock.set(5_599);
        long[] got = (long[]) a.snapshot(Activity.SECONDS).get("exchanges");
        for (int i = 0; i < Activity.SECONDS; i++) {
            assertThat(got[i]).isEqualTo(expected[300 + i]);
        }
        @SuppressWarnings("unchecked")
        Map<String, long[]> refusals = (Map<String, long[]>) a.snapshot(Activity.SECONDS).get("refusals");
        assertThat(refusals.size()).isLessThanOrEqualTo(Activity.MAX_REASONS + 1);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> origins = (List<Map<String, Object>>) a.snapshot(10).get("origins");
        assertThat(origins.size()).isLessThanOrEqualTo(50);
        assertThat(a.originsTracked()).isLessThanOrEqualTo(Activity.MAX_ORIGINS + 1);
    }
}
