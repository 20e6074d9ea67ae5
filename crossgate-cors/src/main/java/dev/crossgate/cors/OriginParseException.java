package dev.crossgate.cors;

/**
 * Thrown when a string is not a valid serialized origin or origin pattern. The message names the value
 * and what was expected; {@link #fix()} suggests a corrected value when one can be derived.
 */
public final class OriginParseException extends IllegalArgumentException {
    private final String value;
    private final String fix;

    public OriginParseException(String value, String message, String fix) {
        super(message);
        this.value = value;
        this.fix = fix;
    }

    /** The string that failed to parse. */
    public String value() {
        return value;
    }

    /** A suggested correction, never null. */
    public String fix() {
        return fix;
    }
}
