package dev.crossgate.cors.internal;

import java.util.Locale;
import java.util.Set;

/** RFC 9110 tokens and the Fetch standard's lists of forbidden names. */
public final class HttpTokens {
    private HttpTokens() {}

    private static final boolean[] TCHAR = new boolean[128];

    static {
        for (char c = '0'; c <= '9'; c++) {
            TCHAR[c] = true;
        }
        for (char c = 'a'; c <= 'z'; c++) {
            TCHAR[c] = true;
            TCHAR[c - 32] = true;
        }
        for (char c : "!#$%&'*+-.^_`|~".toCharArray()) {
            TCHAR[c] = true;
        }
    }

    /** Fetch standard, "forbidden request-header name" (exact names; see also the prefixes). */
    private static final Set<String> FORBIDDEN_REQUEST_HEADERS = Set.of(
            "accept-charset", "accept-encoding", "access-control-request-headers", "access-control-request-method",
            "connection", "content-length", "cookie", "cookie2", "date", "dnt", "expect", "host", "keep-alive",
            "origin", "referer", "set-cookie", "te", "trailer", "transfer-encoding", "upgrade", "via");

    /** Fetch standard, "forbidden method". */
    private static final Set<String> FORBIDDEN_METHODS = Set.of("CONNECT", "TRACE", "TRACK");

    /** Fetch standard, "normalize a method": these are upper-cased, every other method is case-sensitive. */
    private static final Set<String> NORMALIZED_METHODS = Set.of("DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT");

    public static boolean isTokenChar(char c) {
        return c < 128 && TCHAR[c];
    }

    public static boolean isToken(CharSequence s) {
        if (s.length() == 0) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (!isTokenChar(s.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    public static boolean isForbiddenRequestHeader(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return FORBIDDEN_REQUEST_HEADERS.contains(lower) || lower.startsWith("proxy-") || lower.startsWith("sec-");
    }

    public static boolean isForbiddenMethod(String method) {
        return FORBIDDEN_METHODS.contains(method.toUpperCase(Locale.ROOT));
    }

    /** GET, HEAD and POST: a preflight never needs to allow them (Fetch, "CORS-safelisted method"). */
    public static boolean isSafelistedMethod(String method) {
        return method.equals("GET") || method.equals("HEAD") || method.equals("POST");
    }

    /** Fetch standard, "normalize a method". */
    public static String normalizeMethod(String method) {
        String upper = method.toUpperCase(Locale.ROOT);
        return NORMALIZED_METHODS.contains(upper) ? upper : method;
    }
}
