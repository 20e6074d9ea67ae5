package dev.crossgate.server.config;

/** Path prefixes matched on segment boundaries: {@code /ws} matches {@code /ws} and {@code /ws/chat}, not {@code /wsx}. */
public final class PathPrefix {
    private PathPrefix() {}

    public static boolean matches(String prefix, String path) {
        if (prefix.equals("/")) {
            return true;
        }
        if (!path.startsWith(prefix)) {
            return false;
        }
        return path.length() == prefix.length() || prefix.endsWith("/") || path.charAt(prefix.length()) == '/';
    }
}
