package dev.crossgate.server.config;

/**
 * One problem in the configuration: its path (such as {@code cors.allowedOrigins[1]}), where it was set
 * (file and line, or environment variable), the value, what is wrong and the fix.
 *
 * <p>The path, value and message quote the file, which may hold anything: control characters in them are
 * written as escapes ({@link #visible}), so that a problem is one line on a terminal and a hostile file cannot
 * send escape sequences to the terminal of whoever runs {@code crossgate check}.
 */
public record ConfigProblem(Severity severity, String path, Source source, String value, String message, String fix) {
    public enum Severity { ERROR, WARNING }

    public ConfigProblem {
        path = visible(path);
        value = visible(value);
        message = visible(message);
        fix = visible(fix);
    }

    public boolean isError() {
        return severity == Severity.ERROR;
    }

    /** {@code error: cors.allowedOrigins[1] (crossgate.yaml:7): <message>} and on the next line the fix. */
    public String describe() {
        String where = source == null || source.kind() == Source.Kind.DEFAULT ? "" : " (" + source + ")";
        return (isError() ? "error: " : "warning: ") + path + where + ": " + message + "\n    fix: " + fix;
    }

    @Override
    public String toString() {
        return describe();
    }

    /**
     * The text with C0 and C1 control characters, DEL, the line and paragraph separators and the bidirectional
     * overrides and isolates (which reorder what a terminal shows, CVE-2021-42574) written as {@code \n}, {@code \t},
     * {@code \r} or {@code \\uXXXX}. Returns the same string when there is nothing to escape.
     */
    public static String visible(String s) {
        if (s == null) {
            return null;
        }
        int i = 0;
        while (i < s.length() && !hidden(s.charAt(i))) {
            i++;
        }
        if (i == s.length()) {
            return s;
        }
        StringBuilder b = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (!hidden(c)) {
                b.append(c);
            } else if (c == '\n') {
                b.append("\\n");
            } else if (c == '\t') {
                b.append("\\t");
            } else if (c == '\r') {
                b.append("\\r");
            } else {
                b.append(String.format("\\u%04X", (int) c));
            }
        }
        return b.toString();
    }

    private static boolean hidden(char c) {
        return c < 0x20 || (c >= 0x7f && c < 0xa0) || c == '\u2028' || c == '\u2029'
                || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069');
    }
}
