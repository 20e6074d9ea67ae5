package dev.crossgate.server.observe;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * What this build of Crossgate is: its version, the Git commit it was built from and when. Read from
 * {@code dev/crossgate/server/build.properties}, which the build writes (resources filtering in
 * crossgate-server/pom.xml); a value the build could not know is {@code unknown}, and outside a Maven build
 * (an IDE's classes) the version is {@code development build}.
 *
 * @param version the Maven project version, such as 0.1.0
 * @param commit  {@code git rev-parse --short HEAD} at build time, or {@code unknown} (not built from a Git checkout)
 * @param date    the build time in UTC, ISO 8601 (2026-12-05T20:17:14Z), or {@code unknown}
 */
public record BuildInfo(String version, String commit, String date) {
    private static final String RESOURCE = "/dev/crossgate/server/build.properties";
    private static final BuildInfo CURRENT = load();

    /** This build's information, read once. */
    public static BuildInfo current() {
        return CURRENT;
    }

    private static BuildInfo load() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            // The same as a missing file: the values below say what is not known.
        }
        return new BuildInfo(value(p, "version", "development build"), value(p, "commit", "unknown"), value(p, "date", "unknown"));
    }

    /** A property, or {@code fallback} when absent, blank or left unfiltered ({@code ${...}}: resources copied without Maven). */
    private static String value(Properties p, String key, String fallback) {
        String v = p.getProperty(key);
        return v == null || v.isBlank() || v.contains("${") ? fallback : v.trim();
    }
}
