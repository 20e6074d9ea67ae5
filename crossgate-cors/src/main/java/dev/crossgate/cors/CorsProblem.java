package dev.crossgate.cors;

/**
 * One problem found while validating a policy: where it is (the configuration path, such as
 * {@code cors.allowedOrigins[1]}), the offending value, what is wrong, and how to fix it.
 */
public record CorsProblem(Severity severity, String path, String value, String message, String fix) {
    public enum Severity { ERROR, WARNING }

    public boolean isError() {
        return severity == Severity.ERROR;
    }

    @Override
    public String toString() {
        return (severity == Severity.ERROR ? "error: " : "warning: ") + path + ": " + message + " (fix: " + fix + ")";
    }
}
