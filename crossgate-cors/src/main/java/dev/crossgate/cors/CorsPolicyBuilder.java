package dev.crossgate.cors;

import com.google.common.net.InternetDomainName;
import dev.crossgate.cors.CorsProblem.Severity;
import dev.crossgate.cors.internal.HttpTokens;
import dev.crossgate.cors.internal.OriginSyntax;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Builds an immutable {@link CorsPolicy}. Every value is copied; {@link #build()} validates the whole
 * policy and throws {@link InvalidCorsPolicyException} listing every error at once (with warnings),
 * each with its configuration path, the value, what is wrong and the fix. {@link #problems()} returns the
 * same list without throwing.
 *
 * <pre>{@code
 * CorsPolicy policy = CorsPolicy.builder()
 *     .allowOrigins("https://app.example.com", "http://localhost:*")
 *     .allowCredentials(true)
 *     .allowMethods("GET", "POST", "PUT", "DELETE")
 *     .allowHeaders("Content-Type", "Authorization")
 *     .exposeHeaders("X-Request-Id")
 *     .maxAge(Duration.ofMinutes(10))
 *     .build();
 * }</pre>
 */
public final class CorsPolicyBuilder {
    /** Firefox's cap on Access-Control-Max-Age; no browser honours more. */
    public static final long MAX_AGE_LIMIT = 86_400;
    /** Chromium's cap on Access-Control-Max-Age. */
    public static final long MAX_AGE_CHROMIUM = 7_200;
    /** Safari's (WebKit's) cap on Access-Control-Max-Age. */
    public static final long MAX_AGE_SAFARI = 600;
    /** Default limit on the length of Access-Control-Request-Headers: 4096 bytes of header names. */
    public static final int DEFAULT_PREFLIGHT_HEADERS_LIMIT = 4096;

    private final List<String> origins = new ArrayList<>();
    private boolean credentials;
    private List<String> methods = List.of("GET", "HEAD", "POST");
    private final List<String> headers = new ArrayList<>();
    private final List<String> exposed = new ArrayList<>();
    private Long maxAgeSeconds;
    private boolean dangerouslyAllowNullOrigin;
    private boolean localDevelopment;
    private String configPath = "";
    private int preflightHeadersLimit = DEFAULT_PREFLIGHT_HEADERS_LIMIT;

    CorsPolicyBuilder() {}

    /**
     * Adds allowed origins ({@code Access-Control-Allow-Origin}): exact origins, {@code http://host:*},
     * {@code https://*.example.com}, or {@code *}. Default: none (every cross-origin request refused).
     */
    public CorsPolicyBuilder allowOrigins(String... origins) {
        return allowOrigins(Arrays.asList(origins));
    }

    public CorsPolicyBuilder allowOrigins(Collection<String> origins) {
        this.origins.addAll(origins);
        return this;
    }

    /**
     * Sends {@code Access-Control-Allow-Credentials: true}, letting pages send cookies and read the
     * answers. Default: false. Then {@code *} is refused in origins, and in methods and request headers it
     * is answered by echoing the request, because browsers take {@code *} literally on credentialed requests.
     */
    public CorsPolicyBuilder allowCredentials(boolean credentials) {
        this.credentials = credentials;
        return this;
    }

    /**
     * Sets the allowed methods ({@code Access-Control-Allow-Methods}), replacing the default
     * {@code GET, HEAD, POST}; {@code *} allows any method except the forbidden CONNECT, TRACE and TRACK.
     * Example: {@code allowMethods("GET", "POST", "PUT", "PATCH", "DELETE")}.
     */
    public CorsPolicyBuilder allowMethods(String... methods) {
        return allowMethods(Arrays.asList(methods));
    }

    public CorsPolicyBuilder allowMethods(Collection<String> methods) {
        this.methods = List.copyOf(methods);
        return this;
    }

    /**
     * Adds allowed request headers ({@code Access-Control-Allow-Headers}). Default: none. {@code *} allows
     * any header except {@code Authorization}, which the Fetch standard requires to be listed by name.
     * Example: {@code allowHeaders("Content-Type", "Authorization")}.
     */
    public CorsPolicyBuilder allowHeaders(String... headers) {
        return allowHeaders(Arrays.asList(headers));
    }

    public CorsPolicyBuilder allowHeaders(Collection<String> headers) {
        this.headers.addAll(headers);
        return this;
    }

    /**
     * Adds response headers that scripts may read ({@code Access-Control-Expose-Headers}). Default: none
     * (only the CORS-safelisted response headers). Example: {@code exposeHeaders("X-Request-Id")}.
     */
    public CorsPolicyBuilder exposeHeaders(String... headers) {
        return exposeHeaders(Arrays.asList(headers));
    }

    public CorsPolicyBuilder exposeHeaders(Collection<String> headers) {
        this.exposed.addAll(headers);
        return this;
    }

    /**
     * How long browsers may cache a preflight ({@code Access-Control-Max-Age}, whole seconds, 0 to
     * 86400). Default: not sent (Chromium then caches 5 s). Browsers cap it: Chromium 7200 s, Firefox
     * 86400 s, Safari 600 s. Example: {@code maxAge(Duration.ofMinutes(10))}.
     */
    public CorsPolicyBuilder maxAge(Duration maxAge) {
        this.maxAgeSeconds = maxAge == null ? null : maxAge.getSeconds();
        return this;
    }

    public CorsPolicyBuilder maxAgeSeconds(long seconds) {
        this.maxAgeSeconds = seconds;
        return this;
    }

    /**
     * Accepts {@code null} and {@code file://} entries in the allowed origins. They are the opaque
     * origins of sandboxed iframes, local files and some redirects, which any site can produce: allowing
     * them is almost always a mistake. Default: false.
     */
    public CorsPolicyBuilder dangerouslyAllowNullOrigin(boolean allow) {
        this.dangerouslyAllowNullOrigin = allow;
        return this;
    }

    /**
     * Marks this as a local-development policy: {@code http://} origins on loopback ({@code localhost},
     * {@code 127.0.0.0/8}, {@code [::1]}) and the Android emulator's {@code 10.0.2.2} may be used with
     * credentials. Crossgate's {@code dev} profile sets it; production policies must not. Default: false.
     */
    public CorsPolicyBuilder localDevelopment(boolean local) {
        this.localDevelopment = local;
        return this;
    }

    /** The configuration path reported in problems and fixes, such as {@code cors} or {@code cors.routes[2]}. */
    public CorsPolicyBuilder configPath(String path) {
        this.configPath = path == null ? "" : path;
        return this;
    }

    /**
     * The longest Access-Control-Request-Headers a preflight may carry, in bytes (256 to 65536); a longer
     * one is refused before any name is examined ({@code cors.preflight_too_large}). Default: 4096.
     */
    public CorsPolicyBuilder preflightRequestHeadersLimit(int bytes) {
        this.preflightHeadersLimit = bytes;
        return this;
    }

    /** Every problem with this policy, errors and warnings, in configuration order. */
    public List<CorsProblem> problems() {
        return validate().problems;
    }

    /**
     * Validates and builds the policy.
     *
     * @throws InvalidCorsPolicyException listing every problem when there is at least one error
     */
    public CorsPolicy build() {
        Validated v = validate();
        if (v.problems.stream().anyMatch(CorsProblem::isError)) {
            throw new InvalidCorsPolicyException(v.problems);
        }
        return new CorsPolicy(v);
    }

    /** The validated, normalised values a policy is made of. */
    static final class Validated {
        final List<CorsProblem> problems = new ArrayList<>();
        final List<CorsProblem> warnings = new ArrayList<>();
        final List<OriginPattern> origins = new ArrayList<>();
        final List<String> methods = new ArrayList<>();
        final List<String> headers = new ArrayList<>();
        final List<String> exposed = new ArrayList<>();
        boolean credentials;
        boolean localDevelopment;
        boolean anyMethod;
        boolean anyHeader;
        boolean anyExposed;
        long maxAgeSeconds = -1;
        int preflightHeadersLimit;
        String configPath;

        void error(String path, String value, String message, String fix) {
            problems.add(new CorsProblem(Severity.ERROR, path, value, message, fix));
        }

        void warn(String path, String value, String message, String fix) {
            CorsProblem p = new CorsProblem(Severity.WARNING, path, value, message, fix);
            problems.add(p);
            warnings.add(p);
        }
    }

    private String path(String key) {
        return configPath.isEmpty() ? key : configPath + "." + key;
    }

    private Validated validate() {
        Validated v = new Validated();
        v.configPath = configPath;
        v.credentials = credentials;
        v.localDevelopment = localDevelopment;
        v.preflightHeadersLimit = preflightHeadersLimit;
        validateOrigins(v);
        validateMethods(v);
        validateHeaders(v);
        validateExposed(v);
        validateMaxAge(v);
        if (preflightHeadersLimit < 256 || preflightHeadersLimit > 65_536) {
            v.error(path("preflightRequestHeadersLimit"), Integer.toString(preflightHeadersLimit),
                    "preflightRequestHeadersLimit: " + preflightHeadersLimit + " (expected: 256 to 65536 bytes)",
                    "use " + DEFAULT_PREFLIGHT_HEADERS_LIMIT);
        }
        return v;
    }

    private void validateOrigins(Validated v) {
        Set<String> seen = new LinkedHashSet<>();
        String credentialsPath = path("allowCredentials");
        for (int i = 0; i < origins.size(); i++) {
            String raw = origins.get(i);
            String p = path("allowedOrigins[" + i + "]");
            if (raw == null) {
                v.error(p, "null", "an empty entry", "remove it");
                continue;
            }
            OriginPattern o;
            try {
                o = OriginPattern.parse(raw);
            } catch (OriginParseException e) {
                v.error(p, raw, e.getMessage(), e.fix());
                continue;
            }
            if (!seen.add(o.toString())) {
                v.warn(p, raw, OriginSyntax.quote(raw) + " is listed twice (as " + o + ")", "remove the repeated entry");
                continue;
            }
            switch (o.kind()) {
                case ANY -> {
                    if (credentials) {
                        v.error(p, raw, "\"*\" cannot be used with allowCredentials: true: browsers refuse a wildcard origin on"
                                        + " credentialed requests, and reflecting every origin instead would let any site read your users' data",
                                "list the exact origins that need credentials, or set " + credentialsPath + ": false");
                    } else if (origins.size() > 1) {
                        v.warn(p, raw, "\"*\" allows every origin, so the other entries have no effect", "remove \"*\" or the other entries");
                    }
                }
                case NULL, FILE -> {
                    String what = o.kind() == OriginPattern.Kind.NULL
                            ? "\"null\" is the opaque origin of sandboxed iframes, file:// pages, data: URLs and some redirects; any site can send it"
                            : "\"file://\" is the origin of pages opened from the local file system; any local HTML file could call your API";
                    if (!dangerouslyAllowNullOrigin) {
                        v.error(p, raw, what, "serve the page from a real origin such as http://localhost:3000; if you accept the risk, set "
                                + path("dangerouslyAllowNullOrigin") + ": true");
                    } else {
                        v.warn(p, raw, what + " (allowed by dangerouslyAllowNullOrigin)", "serve the page from a real origin and remove this entry");
                    }
                }
                case EXACT, WILDCARD -> {
                    checkPlainHttp(v, p, raw, o);
                    if (o.subdomains()) {
                        checkPublicSuffix(v, p, raw, o);
                    }
                }
            }
            v.origins.add(o);
        }
    }

    private void checkPlainHttp(Validated v, String p, String raw, OriginPattern o) {
        if (!credentials || !o.scheme().equals("http")) {
            return;
        }
        boolean local = CorsPolicy.isLocalHost(o.host()) && !o.subdomains()
                || o.subdomains() && o.host().equals("localhost");
        if (local && localDevelopment) {
            return;
        }
        if (local) {
            v.error(p, raw, OriginSyntax.quote(raw) + " is a plain-http origin, which is allowed with credentials only in the dev profile",
                    "use the dev profile for local development, or an https origin");
        } else {
            v.error(p, raw, OriginSyntax.quote(raw) + " is a plain-http origin with allowCredentials: true: a network attacker can inject"
                            + " script into an http page and act with your users' credentials",
                    "write " + OriginSyntax.quote("https" + o.toString().substring(4)));
        }
    }

    private void checkPublicSuffix(Validated v, String p, String raw, OriginPattern o) {
        String domain = o.host();
        boolean suffix;
        try {
            suffix = InternetDomainName.isValid(domain) && InternetDomainName.from(domain).isPublicSuffix();
        } catch (IllegalArgumentException e) {
            suffix = false;
        }
        if (!suffix) {
            return;
        }
        String what = OriginSyntax.quote(raw) + " admits every site under " + domain
                + ", a public suffix (Public Suffix List) where anyone can register or deploy a site";
        String fix = "list your own sites exactly, such as " + OriginSyntax.quote(o.scheme() + "://myapp." + domain);
        if (credentials) {
            v.error(p, raw, what + ", and with allowCredentials: true any of them could read your users' data", fix);
        } else {
            v.warn(p, raw, what + ", and any of them can read your responses", fix);
        }
    }

    private void validateMethods(Validated v) {
        Set<String> seen = new LinkedHashSet<>();
        for (int i = 0; i < methods.size(); i++) {
            String raw = methods.get(i);
            String p = path("allowedMethods[" + i + "]");
            if ("*".equals(raw)) {
                v.anyMethod = true;
                continue;
            }
            if (raw == null || !HttpTokens.isToken(raw)) {
                v.error(p, String.valueOf(raw), OriginSyntax.quote(String.valueOf(raw)) + " is not a valid method name (expected: an HTTP token such as PATCH)",
                        "list one method per entry, such as \"PATCH\"");
                continue;
            }
            if (HttpTokens.isForbiddenMethod(raw)) {
                v.error(p, raw, OriginSyntax.quote(raw) + " is a forbidden method (Fetch standard): browsers never send it, and allowing it"
                        + " only widens what a cross-site page could try", "remove it");
                continue;
            }
            String m = HttpTokens.normalizeMethod(raw);
            if (!m.equals(m.toUpperCase(Locale.ROOT))) {
                v.warn(p, raw, OriginSyntax.quote(raw) + " is not upper-case; methods other than DELETE, GET, HEAD, OPTIONS, POST and PUT"
                        + " are case-sensitive, so fetch() must send exactly " + OriginSyntax.quote(raw), "write " + OriginSyntax.quote(m.toUpperCase(Locale.ROOT)));
            }
            if (seen.add(m)) {
                v.methods.add(m);
            }
        }
    }

    private void validateHeaders(Validated v) {
        Set<String> seen = new LinkedHashSet<>();
        for (int i = 0; i < headers.size(); i++) {
            String raw = headers.get(i);
            String p = path("allowedHeaders[" + i + "]");
            if ("*".equals(raw)) {
                v.anyHeader = true;
                continue;
            }
            if (raw == null || !HttpTokens.isToken(raw)) {
                v.error(p, String.valueOf(raw), OriginSyntax.quote(String.valueOf(raw)) + " is not a valid header name (expected: an HTTP token such as X-Api-Key)",
                        "list one header name per entry");
                continue;
            }
            String lower = raw.toLowerCase(Locale.ROOT);
            if (lower.startsWith("access-control-")) {
                v.error(p, raw, OriginSyntax.quote(raw) + " is a CORS protocol header, never a header a page asks to send; listing it"
                        + " here is a common mistake that does nothing", "remove it; Crossgate sets the Access-Control-* response headers itself");
                continue;
            }
            if (HttpTokens.isForbiddenRequestHeader(raw)) {
                v.error(p, raw, OriginSyntax.quote(raw) + " is a forbidden request header (Fetch standard): browsers set it themselves"
                        + " and never ask for it in a preflight", lower.equals("cookie")
                        ? "remove it; cookies are sent when allowCredentials is true" : "remove it");
                continue;
            }
            if (seen.add(lower)) {
                v.headers.add(raw);
            }
        }
    }

    private void validateExposed(Validated v) {
        Set<String> seen = new LinkedHashSet<>();
        for (int i = 0; i < exposed.size(); i++) {
            String raw = exposed.get(i);
            String p = path("exposedHeaders[" + i + "]");
            if ("*".equals(raw)) {
                if (credentials) {
                    v.error(p, raw, "\"*\" in exposedHeaders is taken literally on credentialed requests (allowCredentials: true),"
                            + " so no header would be exposed", "list the headers to expose, such as \"X-Request-Id\"");
                } else {
                    v.anyExposed = true;
                }
                continue;
            }
            if (raw == null || !HttpTokens.isToken(raw)) {
                v.error(p, String.valueOf(raw), OriginSyntax.quote(String.valueOf(raw)) + " is not a valid header name (expected: an HTTP token such as X-Request-Id)",
                        "list one header name per entry");
                continue;
            }
            String lower = raw.toLowerCase(Locale.ROOT);
            if (lower.equals("set-cookie") || lower.equals("set-cookie2")) {
                v.error(p, raw, OriginSyntax.quote(raw) + " can never be exposed to scripts (Fetch standard, forbidden response header name)",
                        "remove it; the browser stores cookies itself, and HttpOnly cookies exist so that scripts cannot read them");
                continue;
            }
            if (seen.add(lower)) {
                v.exposed.add(raw);
            }
        }
    }

    private void validateMaxAge(Validated v) {
        if (maxAgeSeconds == null) {
            return;
        }
        long s = maxAgeSeconds;
        String p = path("maxAge");
        if (s < 0) {
            v.error(p, s + "s", "maxAge: " + s + " s (expected: 0 or more)", "use 600 s, or 0 to disable preflight caching");
            return;
        }
        if (s > MAX_AGE_LIMIT) {
            v.error(p, s + "s", "maxAge: " + s + " s is out of range (expected: at most 86400 s, Firefox's cap; no browser honours more)",
                    "use 7200 s (Chromium's cap) or less");
            return;
        }
        if (s > MAX_AGE_CHROMIUM) {
            v.warn(p, s + "s", "maxAge: " + s + " s is above what Chromium (7200 s) and Safari (600 s) honour; only Firefox caches that long",
                    "use 7200 s or less for the same behaviour everywhere but Safari");
        } else if (s > MAX_AGE_SAFARI) {
            v.warn(p, s + "s", "maxAge: " + s + " s is above what Safari honours (600 s); Safari will preflight again after 600 s",
                    "nothing to do if that is acceptable; 600 s behaves the same in every browser");
        }
        v.maxAgeSeconds = s;
    }
}
