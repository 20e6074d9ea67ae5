package dev.crossgate.cors.internal;

import dev.crossgate.cors.OriginParseException;
import java.net.IDN;
import java.util.Locale;

/**
 * Parsing and normalisation of serialized origins and origin patterns, following the URL standard's
 * host parser and origin serialization, but stricter: anything a browser would never send as an
 * Origin (paths, user info, percent-encoding, shorthand IPv4 such as {@code 127.1}) is an error here.
 *
 * <p>Two entry points: {@link #parse} (allocates, reports the reason for failure) and {@link #scan}
 * (allocation-free; recognises only the canonical form browsers send and returns the positions of its
 * parts), so that the request path never allocates for a well-formed Origin header.
 */
public final class OriginSyntax {
    /** Longest origin accepted. Host names are at most 253 characters; schemes and ports add little. */
    public static final int MAX_LENGTH = 1024;

    private OriginSyntax() {}

    /** The result of {@link #parse}: normalised parts; {@code port} is -1 for the default port. */
    public record Parsed(String scheme, String host, int port, boolean subdomains, boolean anyPort) {
        public String serialized() {
            return scheme + "://" + (subdomains ? "*." : "") + host
                    + (anyPort ? ":*" : port < 0 ? "" : ":" + port);
        }
    }

    public static int defaultPort(String scheme) {
        switch (scheme) {
            case "http":
            case "ws":
                return 80;
            case "https":
            case "wss":
                return 443;
            default:
                return -1;
        }
    }

    /**
     * Parses an origin, or with {@code patterns} an origin pattern ({@code *.} before the host,
     * {@code :*} as the port).
     *
     * @throws OriginParseException with a message naming the value and what was expected
     */
    public static Parsed parse(String v, boolean patterns) {
        if (v == null || v.isEmpty()) {
            throw error("", "an empty origin (expected: scheme://host[:port], such as https://app.example.com)",
                    "https://app.example.com");
        }
        if (v.length() > MAX_LENGTH) {
            throw error(v, "an origin of " + v.length() + " characters (expected: at most " + MAX_LENGTH + ")",
                    "use the origin of the page, scheme://host[:port]");
        }
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c <= 0x20 || c == 0x7f) {
                throw error(v, quote(v) + " contains whitespace or a control character",
                        "write " + quote(v.replaceAll("[\\s\\p{Cntrl}]+", "")));
            }
        }
        try {
            return parseSyntax(v, patterns);
        } catch (OriginParseException e) {
            // Said only of values that are not origins anyway: "a.+b://x" is a valid (odd) origin.
            if (looksLikeRegex(v)) {
                throw error(v, quote(v) + " looks like a regular expression, and origins are not regular expressions",
                        "list exact origins, use http://host:* for any port or https://*.example.com for subdomains");
            }
            throw e;
        }
    }

    private static Parsed parseSyntax(String v, boolean patterns) {
        int sep = v.indexOf("://");
        if (sep < 0) {
            String guess = stripSlash(v.startsWith("//") ? v.substring(2) : v);
            throw error(v, quote(v) + " has no scheme (expected: scheme://host[:port])", "write " + quote("https://" + guess));
        }
        String scheme = v.substring(0, sep);
        if (!isScheme(scheme)) {
            throw error(v, quote(v) + " has an invalid scheme " + quote(scheme)
                    + " (expected: a letter followed by letters, digits, '+', '-' or '.')", "write https://... or http://...");
        }
        scheme = scheme.toLowerCase(Locale.ROOT);
        String rest = v.substring(sep + 3);
        int end = firstOf(rest, '/', '?', '#');
        if (end >= 0) {
            String authority = rest.substring(0, end);
            String tail = rest.substring(end);
            String fixed = scheme + "://" + authority;
            String what;
            if (tail.equals("/")) {
                what = quote(v) + " ends with a slash, and an origin has no path";
            } else if (tail.charAt(0) == '/') {
                int q = firstOf(tail, '?', '#');
                what = quote(v) + " has a path " + quote(q < 0 ? tail : tail.substring(0, q))
                        + ", and an origin is only scheme://host[:port]";
            } else if (tail.charAt(0) == '?') {
                what = quote(v) + " has a query, and an origin is only scheme://host[:port]";
            } else {
                what = quote(v) + " has a fragment, and an origin is only scheme://host[:port]";
            }
            throw error(v, what, "write " + quote(fixed));
        }
        if (rest.indexOf('@') >= 0) {
            throw error(v, quote(v) + " contains user information ('@'), which an origin never has",
                    "write " + quote(scheme + "://" + rest.substring(rest.lastIndexOf('@') + 1)));
        }
        if (rest.isEmpty()) {
            throw error(v, quote(v) + " has no host", "write " + quote(scheme + "://app.example.com"));
        }
        String hostPart;
        String portPart = null;
        if (rest.charAt(0) == '[') {
            int close = rest.indexOf(']');
            if (close < 0) {
                throw error(v, quote(v) + " has an unterminated IPv6 address (missing ']')", "write " + quote(scheme + "://[::1]"));
            }
            hostPart = rest.substring(0, close + 1);
            String after = rest.substring(close + 1);
            if (!after.isEmpty()) {
                if (after.charAt(0) != ':') {
                    throw error(v, quote(v) + " has characters after the IPv6 address (expected: ':' and a port)",
                            "write " + quote(scheme + "://" + hostPart));
                }
                portPart = after.substring(1);
            }
        } else if (rest.indexOf(':') != rest.lastIndexOf(':')) {
            throw error(v, quote(v) + " has an IPv6 address without brackets", "write " + quote(scheme + "://[" + rest + "]"));
        } else {
            int colon = rest.lastIndexOf(':');
            if (colon >= 0) {
                hostPart = rest.substring(0, colon);
                portPart = rest.substring(colon + 1);
            } else {
                hostPart = rest;
            }
        }
        boolean anyPort = false;
        int port = -1;
        if (portPart != null) {
            if (patterns && portPart.equals("*")) {
                anyPort = true;
            } else {
                port = parsePort(v, portPart, scheme, hostPart, patterns);
                if (port == defaultPort(scheme)) {
                    port = -1;
                }
            }
        }
        boolean subdomains = false;
        if (patterns && hostPart.startsWith("*.")) {
            subdomains = true;
            hostPart = hostPart.substring(2);
        }
        if (hostPart.indexOf('*') >= 0) {
            if (hostPart.equals("*")) {
                throw error(v, quote(v) + " uses '*' as the whole host", "write \"*\" alone to allow every origin, or https://*.example.com for subdomains");
            }
            throw error(v, quote(v) + (patterns
                            ? " has a '*' inside a host name; a wildcard may only stand for whole leading labels"
                            : " contains '*', and an origin has no wildcard"),
                    patterns ? "write " + quote(scheme + "://*." + hostPart.substring(hostPart.lastIndexOf('*') + 1).replaceFirst("^[.-]+", ""))
                             : "use the origin itself");
        }
        if (hostPart.isEmpty()) {
            throw error(v, quote(v) + " has no host", "write " + quote(scheme + "://app.example.com"));
        }
        String host = normalizeHost(v, hostPart);
        if (subdomains && (host.charAt(0) == '[' || isIpv4(host))) {
            throw error(v, quote(v) + " puts a subdomain wildcard before an IP address", "list the address exactly: " + quote(scheme + "://" + host));
        }
        return new Parsed(scheme, host, port, subdomains, anyPort);
    }

    private static int parsePort(String v, String portPart, String scheme, String host, boolean patterns) {
        if (portPart.isEmpty()) {
            throw error(v, quote(v) + " has an empty port after ':'", "write " + quote(scheme + "://" + host));
        }
        for (int i = 0; i < portPart.length(); i++) {
            char c = portPart.charAt(i);
            if (c < '0' || c > '9') {
                throw error(v, quote(v) + " has a port " + quote(portPart) + " that is not a number"
                        + (patterns ? " or '*'" : ""), "write a port from 1 to 65535" + (patterns ? ", or ':*' for any port" : ""));
            }
        }
        long port = portPart.length() > 9 ? Long.MAX_VALUE : Long.parseLong(portPart);
        if (port < 1 || port > 65535) {
            throw error(v, quote(v) + " has port " + portPart + ", which is out of range (expected: 1-65535)",
                    "use a port from 1 to 65535" + (patterns ? ", or " + quote(scheme + "://" + host + ":*") + " for any port" : ""));
        }
        return (int) port;
    }

    private static String normalizeHost(String v, String h) {
        if (h.charAt(0) == '[') {
            if (h.length() < 2 || h.charAt(h.length() - 1) != ']') {
                throw error(v, quote(v) + " has an invalid IPv6 address " + quote(h), "write a valid IPv6 address, such as [::1]");
            }
            String inner = h.substring(1, h.length() - 1);
            String canonical = Ipv6.canonical(inner);
            if (canonical == null) {
                throw error(v, quote(v) + " has an invalid IPv6 address " + quote(h), "write a valid IPv6 address, such as [::1]");
            }
            return "[" + canonical + "]";
        }
        if (h.indexOf('%') >= 0) {
            throw error(v, quote(v) + " has a percent-encoded host, which browsers never send in an Origin",
                    "write the host name without percent-encoding");
        }
        boolean nonAscii = false;
        for (int i = 0; i < h.length(); i++) {
            char d = h.charAt(i);
            if (d == '\u00df' || d == '\u03c2' || d == '\u200c' || d == '\u200d') {
                // UTS #46 "deviation" characters: browsers (non-transitional processing) keep them, while
                // IDNA2003 (java.net.IDN) maps them away, so "faß.example" would become another domain,
                // "fass.example". Refuse rather than guess.
                throw error(v, quote(v) + " contains " + quote(String.valueOf(d)) + " (U+" + String.format("%04X", (int) d)
                                + "), which IDNA versions encode differently", "write the host in punycode (xn--...) as the browser shows it");
            }
            nonAscii |= d >= 0x80;
        }
        String ascii = h;
        if (nonAscii) {
            try {
                ascii = IDN.toASCII(h, IDN.ALLOW_UNASSIGNED);
            } catch (IllegalArgumentException e) {
                throw error(v, quote(v) + " has a host that is not a valid internationalised domain name", "write the host in punycode (xn--...)");
            }
        }
        String host = ascii.toLowerCase(Locale.ROOT);
        if (host.length() > 253) {
            throw error(v, quote(v) + " has a host of " + host.length() + " characters (expected: at most 253)", "use the real host name");
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (!isHostChar(c)) {
                throw error(v, quote(v) + " has " + quote(String.valueOf(c)) + " in its host, which is not allowed in a host name",
                        "write the host with letters, digits, '-' and '.' only");
            }
        }
        if (host.endsWith(".")) {
            throw error(v, quote(v) + " has a host ending in '.'", "write " + quote(stripTrailingDots(v)));
        }
        if (host.startsWith(".") || host.contains("..")) {
            throw error(v, quote(v) + " has an empty label in its host", "remove the extra '.'");
        }
        int labelStart = 0;
        for (int i = 0; i <= host.length(); i++) {
            if (i == host.length() || host.charAt(i) == '.') {
                if (i - labelStart > 63) {
                    throw error(v, quote(v) + " has a host label of " + (i - labelStart) + " characters (expected: at most 63)", "use the real host name");
                }
                labelStart = i + 1;
            }
        }
        String last = host.substring(host.lastIndexOf('.') + 1);
        if (allDigits(last) || last.startsWith("0x")) {
            if (!isIpv4(host)) {
                throw error(v, quote(v) + " has " + quote(host) + ", which is not a valid IPv4 address (expected: four decimal numbers 0-255, such as 127.0.0.1)",
                        "write the address as four decimal numbers");
            }
        }
        return host;
    }

    /** True for a canonical dotted-quad IPv4 address: four decimal numbers 0-255, no leading zeros. */
    public static boolean isIpv4(CharSequence s) {
        return isIpv4(s, 0, s.length());
    }

    static boolean isIpv4(CharSequence s, int start, int end) {
        int parts = 0;
        int i = start;
        while (i <= end) {
            int j = i;
            int value = 0;
            while (j < end && s.charAt(j) != '.') {
                char c = s.charAt(j);
                if (c < '0' || c > '9' || j - i >= 3) {
                    return false;
                }
                value = value * 10 + (c - '0');
                j++;
            }
            if (j == i || value > 255 || (s.charAt(i) == '0' && j - i > 1)) {
                return false;
            }
            parts++;
            i = j + 1;
        }
        return parts == 4;
    }

    /**
     * Recognises an origin already in canonical form without allocating. Returns the packed positions
     * {@code schemeEnd | hostEnd << 16 | (port + 1) << 32} (the host starts at {@code schemeEnd + 3};
     * port -1 means the default), or -1 when the value is not canonical (it may still be a valid origin
     * in another form, or an IPv6 origin: {@link #parse} decides).
     */
    public static long scan(String s) {
        int n = s.length();
        if (n == 0 || n > MAX_LENGTH) {
            return -1;
        }
        char c = s.charAt(0);
        if (c < 'a' || c > 'z') {
            return -1;
        }
        int i = 1;
        while (i < n && (c = s.charAt(i)) != ':') {
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')) {
                return -1;
            }
            i++;
        }
        int schemeEnd = i;
        if (i + 3 > n || s.charAt(i + 1) != '/' || s.charAt(i + 2) != '/') {
            return -1;
        }
        int hostStart = i + 3;
        i = hostStart;
        int labelStart = i;
        int lastLabelStart = i;
        while (i < n && (c = s.charAt(i)) != ':') {
            if (c == '.') {
                if (i == labelStart || i - labelStart > 63) {
                    return -1;
                }
                labelStart = i + 1;
                lastLabelStart = labelStart;
            } else if (!isHostChar(c)) {
                return -1;
            }
            i++;
        }
        int hostEnd = i;
        if (hostEnd == labelStart || hostEnd - labelStart > 63 || hostEnd - hostStart > 253) {
            return -1; // empty host, trailing dot, or over-long label or host
        }
        if (endsInNumber(s, lastLabelStart, hostEnd) && !isIpv4(s, hostStart, hostEnd)) {
            // URL standard, "ends in a number": only a canonical dotted quad is accepted here.
            return -1;
        }
        int port = -1;
        if (i < n) {
            i++; // ':'
            int digits = n - i;
            if (digits < 1 || digits > 5 || s.charAt(i) == '0') {
                return -1;
            }
            port = 0;
            for (; i < n; i++) {
                c = s.charAt(i);
                if (c < '0' || c > '9') {
                    return -1;
                }
                port = port * 10 + (c - '0');
            }
            if (port > 65535 || port == defaultPort(s, schemeEnd)) {
                return -1;
            }
        }
        return schemeEnd | ((long) hostEnd << 16) | ((long) (port + 1) << 32);
    }

    /** URL standard, "ends in a number" checker, for the last label {@code s[start, end)}: all digits, or 0x... */
    private static boolean endsInNumber(String s, int start, int end) {
        if (end - start >= 2 && s.charAt(start) == '0' && s.charAt(start + 1) == 'x') {
            return true; // hexadecimal, or invalid: either way not a canonical host; parse decides
        }
        for (int i = start; i < end; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    private static int defaultPort(String s, int schemeEnd) {
        if (schemeEnd == 4 && s.startsWith("http")) {
            return 80;
        }
        if (schemeEnd == 5 && s.startsWith("https")) {
            return 443;
        }
        if (schemeEnd == 2 && s.startsWith("ws")) {
            return 80;
        }
        if (schemeEnd == 3 && s.startsWith("wss")) {
            return 443;
        }
        return -1;
    }

    public static int schemeEnd(long packed) {
        return (int) (packed & 0xFFFF);
    }

    public static int hostEnd(long packed) {
        return (int) ((packed >>> 16) & 0xFFFF);
    }

    public static int port(long packed) {
        return (int) (packed >>> 32) - 1;
    }

    /**
     * The canonical form of {@code value}: the value itself when it is canonical (without allocating,
     * except for IPv6 origins), its
     * normalisation when it is a valid origin in another form, or null.
     */
    public static String normalizeOrNull(String value) {
        if (value == null) {
            return null;
        }
        if (scan(value) >= 0) {
            return value;
        }
        try {
            String serialized = parse(value, false).serialized();
            return serialized.equals(value) ? value : serialized;
        } catch (OriginParseException e) {
            return null;
        }
    }

    static boolean isHostChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
    }

    private static boolean isScheme(String s) {
        if (s.isEmpty() || !Character.isLetter(s.charAt(0)) || s.charAt(0) >= 0x80) {
            return false;
        }
        for (int i = 1; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    private static boolean looksLikeRegex(String v) {
        return v.startsWith("^") || v.endsWith("$") || v.startsWith("/") && v.length() > 1 && v.lastIndexOf('/') > 0 && !v.startsWith("//")
                || v.contains("\\") || v.contains(".*") || v.contains(".+") || v.contains("(") || v.contains("|")
                || v.contains("[^") || v.contains("{") ;
    }

    private static boolean allDigits(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) < '0' || s.charAt(i) > '9') {
                return false;
            }
        }
        return true;
    }

    private static int firstOf(String s, char... chars) {
        int best = -1;
        for (char c : chars) {
            int i = s.indexOf(c);
            if (i >= 0 && (best < 0 || i < best)) {
                best = i;
            }
        }
        return best;
    }

    private static String stripSlash(String s) {
        int slash = s.indexOf('/');
        return slash < 0 ? s : s.substring(0, slash);
    }

    private static String stripTrailingDots(String v) {
        int colon = v.lastIndexOf(':');
        String tail = colon > v.indexOf("://") + 2 && v.indexOf(']') < colon ? v.substring(colon) : "";
        String head = tail.isEmpty() ? v : v.substring(0, colon);
        while (head.endsWith(".")) {
            head = head.substring(0, head.length() - 1);
        }
        return head + tail;
    }

    public static String quote(String s) {
        return '"' + s + '"';
    }

    private static OriginParseException error(String value, String message, String fix) {
        return new OriginParseException(value, message, fix);
    }
}
