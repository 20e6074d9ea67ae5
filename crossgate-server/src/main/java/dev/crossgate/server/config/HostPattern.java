package dev.crossgate.server.config;

import dev.crossgate.cors.Origin;
import dev.crossgate.cors.OriginParseException;
import java.util.Locale;

/**
 * One entry of the {@code hosts} allow-list, matched against the Host header:
 * {@code api.example.com} (any port), {@code api.example.com:8443} (that port only),
 * {@code .example.com} (the domain and its subdomains, as Django's ALLOWED_HOSTS),
 * {@code *.example.com} (subdomains only), {@code [::1]}, {@code 10.0.2.2}, or {@code *} (any host).
 */
public final class HostPattern {
    private final String text;
    private final String host;
    private final int port;
    private final boolean any;
    private final boolean subdomains;
    private final boolean includeSelf;

    private HostPattern(String text, String host, int port, boolean any, boolean subdomains, boolean includeSelf) {
        this.text = text;
        this.host = host;
        this.port = port;
        this.any = any;
        this.subdomains = subdomains;
        this.includeSelf = includeSelf;
    }

    /** Parsing failure: a message naming the value and a fix. */
    public static final class Invalid extends Exception {
        private final String fix;

        Invalid(String message, String fix) {
            super(message);
            this.fix = fix;
        }

        public String fix() {
            return fix;
        }
    }

    public static HostPattern parse(String raw) throws Invalid {
        String s = raw == null ? "" : raw.trim();
        if (s.isEmpty()) {
            throw new Invalid("an empty host entry", "remove it, or write a host name such as api.example.com");
        }
        if (s.equals("*")) {
            return new HostPattern("*", null, -1, true, false, false);
        }
        if (s.contains("://")) {
            String rest = s.substring(s.indexOf("://") + 3);
            int slash = rest.indexOf('/');
            throw new Invalid('"' + raw + "\" is a URL; hosts are names as sent in the Host header",
                    "write \"" + (slash < 0 ? rest : rest.substring(0, slash)) + '"');
        }
        if (s.indexOf('/') >= 0) {
            throw new Invalid('"' + raw + "\" has a path; hosts are names as sent in the Host header", "write \"" + s.substring(0, s.indexOf('/')) + '"');
        }
        boolean subdomains = false;
        boolean includeSelf = false;
        if (s.startsWith("*.")) {
            subdomains = true;
            s = s.substring(2);
        } else if (s.startsWith(".")) {
            subdomains = true;
            includeSelf = true;
            s = s.substring(1);
        }
        // Reuse the origin parser's host and port rules (IDN, IPv6, IPv4, ranges).
        Origin o;
        try {
            o = Origin.parse("http://" + s);
        } catch (OriginParseException e) {
            throw new Invalid('"' + raw + "\" is not a valid host: " + e.getMessage().replace("\"http://" + s + "\"", "it"),
                    "write a host name such as api.example.com, optionally with :port");
        }
        int port = s.endsWith(":80") ? 80 : o.port();
        if (subdomains && (o.host().startsWith("[") || Character.isDigit(o.host().charAt(o.host().length() - 1)))) {
            throw new Invalid('"' + raw + "\" puts a subdomain wildcard before an IP address", "list the address exactly");
        }
        String text = (subdomains ? (includeSelf ? "." : "*.") : "") + o.host() + (port < 0 ? "" : ":" + port);
        return new HostPattern(text, o.host(), port, false, subdomains, includeSelf);
    }

    /** Whether a request for {@code host} (lower-case, IPv6 in brackets) on {@code port} is admitted. */
    public boolean matches(String requestHost, int requestPort) {
        if (any) {
            return true;
        }
        if (port >= 0 && port != requestPort) {
            return false;
        }
        String h = requestHost.toLowerCase(Locale.ROOT);
        if (h.endsWith(".")) {
            h = h.substring(0, h.length() - 1);
        }
        if (subdomains) {
            return (includeSelf && h.equals(host)) || (h.endsWith(host) && h.length() > host.length() + 1
                    && h.charAt(h.length() - host.length() - 1) == '.');
        }
        return h.equals(host);
    }

    public boolean isAny() {
        return any;
    }

    @Override
    public String toString() {
        return text;
    }
}
