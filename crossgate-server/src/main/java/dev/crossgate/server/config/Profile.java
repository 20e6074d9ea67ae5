package dev.crossgate.server.config;

import java.util.Locale;

/**
 * A set of defaults. {@code dev} (the default when nothing is configured) allows loopback and the
 * Android emulator's 10.0.2.2 as origins and hosts; {@code prod} allows nothing implicitly.
 */
public enum Profile {
    DEV("dev"),
    PROD("prod");

    private final String id;

    Profile(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** The profile named {@code s} (case-insensitive), or null. */
    public static Profile parse(String s) {
        if (s == null) {
            return null;
        }
        for (Profile p : values()) {
            if (p.id.equals(s.trim().toLowerCase(Locale.ROOT))) {
                return p;
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return id;
    }
}
