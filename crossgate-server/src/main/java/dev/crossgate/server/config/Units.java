package dev.crossgate.server.config;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parsing of durations ({@code 10s}, {@code 5m}, {@code 250ms}; a bare number is seconds) and sizes ({@code 5MB}, {@code 512KiB}). */
public final class Units {
    private static final Pattern DURATION = Pattern.compile("(\\d{1,12})\\s*(ms|s|m|h|d)?");
    private static final Pattern SIZE = Pattern.compile("(\\d{1,15})\\s*(b|kb|kib|mb|mib|gb|gib)?");

    private Units() {}

    /** The duration, or null when {@code s} is not one. */
    public static Duration duration(String s) {
        Matcher m = DURATION.matcher(s.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            return null;
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    /** The size in bytes (KB, MB, GB are powers of 1000; KiB, MiB, GiB powers of 1024), or -1 when {@code s} is not one. */
    public static long size(String s) {
        Matcher m = SIZE.matcher(s.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            return -1;
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2);
        long factor = switch (unit) {
            case "kb" -> 1_000L;
            case "kib" -> 1_024L;
            case "mb" -> 1_000_000L;
            case "mib" -> 1_048_576L;
            case "gb" -> 1_000_000_000L;
            case "gib" -> 1_073_741_824L;
            default -> 1L;
        };
        if (n > Long.MAX_VALUE / factor) {
            return -1;
        }
        return n * factor;
    }

    /**
     * A duration in the largest unit that holds it exactly, as people write it: {@code 250ms}, {@code 90s},
     * {@code 5m}, {@code 2h}, {@code 365d} (issue 13: {@code 365d} was shown as {@code 8760h}).
     */
    public static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 != 0) {
            return ms + "ms";
        }
        long s = ms / 1000;
        if (s != 0 && s % 86_400 == 0) {
            return s / 86_400 + "d";
        }
        if (s != 0 && s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s != 0 && s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }

    /** A size as people write it: {@code 5MB}, {@code 512KiB}, {@code 100B}. */
    public static String formatSize(long bytes) {
        if (bytes >= 1_000_000 && bytes % 1_000_000 == 0) {
            return bytes / 1_000_000 + "MB";
        }
        if (bytes >= 1_048_576 && bytes % 1_048_576 == 0) {
            return bytes / 1_048_576 + "MiB";
        }
        if (bytes >= 1_000 && bytes % 1_000 == 0) {
            return bytes / 1_000 + "KB";
        }
        if (bytes >= 1_024 && bytes % 1_024 == 0) {
            return bytes / 1_024 + "KiB";
        }
        return bytes + "B";
    }
}
