package dev.crossgate.cors;

import dev.crossgate.cors.internal.OriginSyntax;

/**
 * One entry of an allowed-origins list. The grammar has no regular expressions:
 * <ul>
 *   <li>an exact origin, {@code https://app.example.com} (normalised: {@code https://APP.example.com:443}
 *       is the same entry);</li>
 *   <li>any port, {@code http://localhost:*} (the default port included);</li>
 *   <li>subdomains, {@code https://*.example.com}: one or more labels before {@code example.com}, never
 *       {@code example.com} itself (list it too if it is meant);</li>
 *   <li>{@code *}: every origin (never with credentials);</li>
 *   <li>{@code null} and {@code file://}: the opaque origins of sandboxed and local pages, accepted by
 *       the policy only with {@code dangerouslyAllowNullOrigin}.</li>
 * </ul>
 */
public final class OriginPattern {
    /** What an entry stands for. */
    public enum Kind { ANY, NULL, FILE, EXACT, WILDCARD }

    private final Kind kind;
    private final String scheme;
    private final String host;
    private final int port;
    private final boolean subdomains;
    private final boolean anyPort;
    private final String text;

    private OriginPattern(Kind kind, String scheme, String host, int port, boolean subdomains, boolean anyPort, String text) {
        this.kind = kind;
        this.scheme = scheme;
        this.host = host;
        this.port = port;
        this.subdomains = subdomains;
        this.anyPort = anyPort;
        this.text = text;
    }

    /**
     * Parses one allowed-origins entry.
     *
     * @throws OriginParseException naming the value, what is wrong, and a fix
     */
    public static OriginPattern parse(String value) {
        if ("*".equals(value)) {
            return new OriginPattern(Kind.ANY, null, null, -1, false, false, "*");
        }
        if ("null".equals(value)) {
            return new OriginPattern(Kind.NULL, null, null, -1, false, false, "null");
        }
        if (value != null && (value.equals("file://") || value.equals("file:///"))) {
            return new OriginPattern(Kind.FILE, "file", "", -1, false, false, "file://");
        }
        OriginSyntax.Parsed p = OriginSyntax.parse(value, true);
        Kind kind = p.subdomains() || p.anyPort() ? Kind.WILDCARD : Kind.EXACT;
        return new OriginPattern(kind, p.scheme(), p.host(), p.port(), p.subdomains(), p.anyPort(), p.serialized());
    }

    public Kind kind() {
        return kind;
    }

    /** The scheme, or null for {@code *} and {@code null}. */
    public String scheme() {
        return scheme;
    }

    /** The host, or for a subdomain pattern the domain after {@code *.}; null for {@code *} and {@code null}. */
    public String host() {
        return host;
    }

    /** The explicit port, or -1 for the scheme's default port (or any port, see {@link #anyPort()}). */
    public int port() {
        return port;
    }

    public boolean subdomains() {
        return subdomains;
    }

    public boolean anyPort() {
        return anyPort;
    }

    /**
     * Whether the request origin {@code origin} (as sent in an Origin header) is admitted by this entry.
     * {@code *} admits any value; the other entries never admit an invalid origin.
     */
    public boolean matches(String origin) {
        if (origin == null) {
            return false;
        }
        switch (kind) {
            case ANY:
                return true;
            case NULL:
                return origin.equals("null");
            case FILE:
                return origin.equals("file://");
            default:
                String canonical = OriginSyntax.normalizeOrNull(origin);
                return canonical != null && matchesCanonical(canonical, OriginSyntax.scan(canonical));
        }
    }

    /**
     * Matches an origin in canonical form given its positions from {@link OriginSyntax#scan}; never
     * allocates. For EXACT and WILDCARD entries only.
     */
    boolean matchesCanonical(String s, long packed) {
        if (packed < 0) {
            // Canonical IPv6 origins are not recognised by the allocation-free scanner.
            return matchesParsed(s);
        }
        int schemeEnd = OriginSyntax.schemeEnd(packed);
        if (schemeEnd != scheme.length() || !s.startsWith(scheme)) {
            return false;
        }
        if (!anyPort && OriginSyntax.port(packed) != port) {
            return false;
        }
        int hostStart = schemeEnd + 3;
        int hostEnd = OriginSyntax.hostEnd(packed);
        int hostLen = hostEnd - hostStart;
        int len = host.length();
        if (subdomains) {
            // One or more labels before ".host": the character before the suffix must be the dot.
            return hostLen > len + 1 && s.charAt(hostEnd - len - 1) == '.' && s.regionMatches(hostEnd - len, host, 0, len);
        }
        return hostLen == len && s.regionMatches(hostStart, host, 0, len);
    }

    private boolean matchesParsed(String canonical) {
        Origin o;
        try {
            o = Origin.parse(canonical);
        } catch (OriginParseException e) {
            return false;
        }
        if (!o.scheme().equals(scheme) || (!anyPort && o.port() != port)) {
            return false;
        }
        if (subdomains) {
            return o.host().endsWith("." + host) && o.host().length() > host.length() + 1;
        }
        return o.host().equals(host);
    }

    /** The normalised text of this entry, for example {@code https://*.example.com:*}. */
    @Override
    public String toString() {
        return text;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OriginPattern other && other.text.equals(text);
    }

    @Override
    public int hashCode() {
        return text.hashCode();
    }
}
