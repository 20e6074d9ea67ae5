package dev.crossgate.cors;

import dev.crossgate.cors.internal.OriginSyntax;
import java.util.Objects;

/**
 * A normalised tuple origin (scheme, host, port), as the URL standard serializes it: lower-case scheme
 * and host, IDN hosts as punycode, IPv6 hosts in brackets in their shortest form, and the scheme's
 * default port omitted. Two origins are the same origin exactly when their {@link #serialized()} forms
 * are equal.
 */
public final class Origin {
    private final String scheme;
    private final String host;
    private final int port;
    private final String serialized;

    Origin(String scheme, String host, int port) {
        this.scheme = scheme;
        this.host = host;
        this.port = port;
        this.serialized = scheme + "://" + host + (port < 0 ? "" : ":" + port);
    }

    /**
     * Parses and normalises a serialized origin such as {@code https://App.Example.com:443}
     * (normalised to {@code https://app.example.com}).
     *
     * @throws OriginParseException naming the value and what was expected
     */
    public static Origin parse(String value) {
        OriginSyntax.Parsed p = OriginSyntax.parse(value, false);
        return new Origin(p.scheme(), p.host(), p.port());
    }

    /**
     * Returns the normalised serialization of {@code value}, or {@code null} when it is not a valid
     * origin. Returns the argument itself when it is already normalised, which is the case for every
     * Origin header a browser sends (and then allocates nothing, unless the host is an IPv6 address).
     */
    public static String normalize(String value) {
        return OriginSyntax.normalizeOrNull(value);
    }

    public String scheme() {
        return scheme;
    }

    /** The host as serialized: lower-case ASCII, IPv6 in brackets. */
    public String host() {
        return host;
    }

    /** The explicit port, or -1 when the origin uses its scheme's default port. */
    public int port() {
        return port;
    }

    /** The port in effect: the explicit port, or the scheme's default (80, 443), or -1 if none is known. */
    public int effectivePort() {
        return port >= 0 ? port : OriginSyntax.defaultPort(scheme);
    }

    public String serialized() {
        return serialized;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Origin other && other.serialized.equals(serialized);
    }

    @Override
    public int hashCode() {
        return Objects.hashCode(serialized);
    }

    @Override
    public String toString() {
        return serialized;
    }
}
