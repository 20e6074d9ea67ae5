package dev.crossgate.cors;

import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The answer of a {@link CorsPolicy} for one request: whether it is allowed, the exact response headers
 * to add (Access-Control-* and Vary), and when refused one {@link CorsReason} with a sentence naming the
 * value. Decisions for allowed requests from listed origins are computed once when the policy is built
 * and shared, so deciding allocates nothing.
 *
 * <p>Headers are read by index ({@link #headerCount()}, {@link #headerName(int)}, {@link #headerValue(int)})
 * so that writing them allocates nothing either.
 */
public final class CorsDecision {
    /** What kind of request was decided. */
    public enum Kind {
        /** The route's policy is off: add nothing, answer nothing, pass preflights through. */
        DISABLED,
        /** No Origin header: not a CORS request (Vary may still be needed). */
        NOT_CORS,
        /** A CORS request other than a preflight. */
        ACTUAL,
        /** A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method): answer it at the edge. */
        PREFLIGHT
    }

    static final String[] NO_HEADERS = new String[0];

    private final Kind kind;
    private final CorsReason reason;
    private final String value;
    private final String[] headers;
    private final CorsPolicy policy;

    CorsDecision(Kind kind, CorsReason reason, String value, String[] headers, CorsPolicy policy) {
        this.kind = kind;
        this.reason = reason;
        this.value = value;
        this.headers = headers;
        this.policy = policy;
    }

    public Kind kind() {
        return kind;
    }

    /** True unless the request was refused. Non-CORS requests and disabled routes are allowed. */
    public boolean allowed() {
        return reason == null;
    }

    public boolean isPreflight() {
        return kind == Kind.PREFLIGHT;
    }

    /**
     * The status to answer a preflight with at the edge: 204 when allowed, 403 when refused (the browser
     * then reports the failed preflight; the reason code travels in the response for people to read).
     */
    public int preflightStatus() {
        return allowed() ? 204 : 403;
    }

    /** The reason for a refusal, or null when allowed. */
    public CorsReason reason() {
        return reason;
    }

    /** The reason code for a refusal, such as {@code cors.method_not_allowed}, or null when allowed. */
    public String reasonCode() {
        return reason == null ? null : reason.code();
    }

    /** The value that caused the refusal (the origin, method or header name), or null when allowed. */
    public String refusedValue() {
        return value;
    }

    /** A sentence naming the refused value and why, or null when allowed. */
    public String message() {
        return reason == null ? null : policy.describe(reason, value);
    }

    /** For a refusal: the configuration change that would allow it, or why it must not be allowed. */
    public String fix() {
        return reason == null ? null : policy.suggestFix(reason, value);
    }

    public int headerCount() {
        return headers.length >> 1;
    }

    public String headerName(int i) {
        return headers[i << 1];
    }

    public String headerValue(int i) {
        return headers[(i << 1) + 1];
    }

    /** The value of one header this decision adds (case-insensitive name), or null. */
    public String header(String name) {
        for (int i = 0; i < headers.length; i += 2) {
            if (headers[i].equalsIgnoreCase(name)) {
                return headers[i + 1];
            }
        }
        return null;
    }

    /** The headers to add, in order, as a new list (convenient; the indexed accessors do not allocate). */
    public List<Map.Entry<String, String>> headers() {
        List<Map.Entry<String, String>> list = new ArrayList<>(headers.length >> 1);
        for (int i = 0; i < headers.length; i += 2) {
            list.add(new SimpleImmutableEntry<>(headers[i], headers[i + 1]));
        }
        return Collections.unmodifiableList(list);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(kind.name()).append(allowed() ? " allowed" : " refused " + reason.code());
        for (int i = 0; i < headers.length; i += 2) {
            b.append("\n  ").append(headers[i]).append(": ").append(headers[i + 1]);
        }
        return b.toString();
    }
}
