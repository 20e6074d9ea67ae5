package dev.crossgate.cors;

/**
 * Why a cross-origin request was refused. Each reason has one stable code, the same in the response,
 * the access log, the metrics and the doctor's report.
 */
public enum CorsReason {
    /** The Origin is well-formed but no entry of the policy admits it. */
    ORIGIN_NOT_ALLOWED("cors.origin_not_allowed"),
    /** The Origin header is not a serialized origin (browsers never send such a value). */
    ORIGIN_MALFORMED("cors.origin_malformed"),
    /** The preflight's Access-Control-Request-Method is not allowed. */
    METHOD_NOT_ALLOWED("cors.method_not_allowed"),
    /** A name in the preflight's Access-Control-Request-Headers is not allowed. */
    HEADER_NOT_ALLOWED("cors.header_not_allowed"),
    /** The preflight's Access-Control-Request-Headers is longer than the policy's limit. */
    PREFLIGHT_TOO_LARGE("cors.preflight_too_large"),
    /** The preflight's Access-Control-Request-Method or -Headers is not valid syntax. */
    PREFLIGHT_MALFORMED("cors.preflight_malformed"),
    /**
     * A credentialed request (cookies or HTTP authentication) where the policy does not allow credentials:
     * the browser refuses the answer because Access-Control-Allow-Credentials is missing. Only
     * {@link CorsPolicy#forCredentialedRequest} reports it; the server cannot see a request's credentials mode.
     */
    CREDENTIALS_NOT_ALLOWED("cors.credentials_not_allowed");

    private final String code;

    CorsReason(String code) {
        this.code = code;
    }

    /** The reason code, such as {@code cors.origin_not_allowed}. */
    public String code() {
        return code;
    }

    @Override
    public String toString() {
        return code;
    }
}
