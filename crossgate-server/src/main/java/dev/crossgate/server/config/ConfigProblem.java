package dev.crossgate.server.config;

/**
 * One problem in the configuration: its path (such as {@code cors.allowedOrigins[1]}), where it was set
 * (file and line, or environment variable), the value, what is wrong and the fix.
 */
public record ConfigProblem(Severity severity, String path, Source source, String value, String message, String fix) {
    public enum Severity { ERROR, WARNING }

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
}
