package dev.crossgate.cors;

import dev.crossgate.cors.internal.HttpTokens;
import dev.crossgate.cors.internal.OriginSyntax;
import dev.crossgate.cors.internal.TokenSet;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * An immutable, validated cross-origin policy. Build one with {@link #builder()}; ask it about a request
 * with {@link #decide}, which follows the Fetch standard's CORS protocol:
 * <ul>
 *   <li>a request without Origin is not a CORS request ({@link CorsDecision.Kind#NOT_CORS});</li>
 *   <li>OPTIONS with Origin and Access-Control-Request-Method is a preflight, answered at the edge;</li>
 *   <li>anything else with Origin is an actual CORS request.</li>
 * </ul>
 * Vary follows "CORS protocol and HTTP caches": {@code Vary: Origin} on every response whose headers
 * depend on the Origin (refused and non-CORS responses included); none for a fixed {@code *}, which is
 * then sent on every response.
 */
public final class CorsPolicy {
    /** A policy that adds nothing and answers nothing: for routes where CORS is handled elsewhere. */
    public static final CorsPolicy DISABLED = new CorsPolicy();

    static final String ACAO = "Access-Control-Allow-Origin";
    static final String ACAC = "Access-Control-Allow-Credentials";
    static final String ACAM = "Access-Control-Allow-Methods";
    static final String ACAH = "Access-Control-Allow-Headers";
    static final String ACEH = "Access-Control-Expose-Headers";
    static final String ACMA = "Access-Control-Max-Age";
    static final String VARY = "Vary";
    private static final String VARY_PREFLIGHT = "Access-Control-Request-Method, Access-Control-Request-Headers";
    private static final int EXACT_LINEAR_LIMIT = 8;
    private static final int PATTERN_CACHE_LIMIT = 1024;

    private final boolean enabled;
    private final String configPath;
    private final boolean credentials;
    private final boolean anyOrigin;
    private final boolean allowNull;
    private final boolean allowFile;
    private final boolean localDevelopment;
    private final List<OriginPattern> origins;
    private final String[] exactKeys;
    private final CorsDecision[] exactDecisions;
    private final Map<String, CorsDecision> exactMap;
    private final OriginPattern[] wildcards;
    private final ConcurrentHashMap<String, CorsDecision> patternCache = new ConcurrentHashMap<>();
    private final boolean anyMethod;
    private final List<String> methods;
    private final String allowMethodsValue;
    private final boolean anyHeader;
    private final TokenSet allowedHeaders;
    private final List<String> headers;
    private final String allowHeadersValue;
    private final List<String> exposed;
    private final String exposeValue;
    private final long maxAgeSeconds;
    private final String maxAgeValue;
    private final int preflightHeadersLimit;
    private final List<CorsProblem> warnings;

    private final CorsDecision disabled;
    private final CorsDecision notCors;
    private final CorsDecision anyActual;
    private final String[] varyActual;
    private final String varyPreflight;
    private final String[] refusedPreflightHeaders;

    private CorsPolicy() {
        enabled = false;
        configPath = "";
        credentials = anyOrigin = allowNull = allowFile = localDevelopment = anyMethod = anyHeader = false;
        origins = List.of();
        methods = headers = exposed = List.of();
        exactKeys = new String[0];
        exactDecisions = new CorsDecision[0];
        exactMap = Map.of();
        wildcards = new OriginPattern[0];
        allowMethodsValue = allowHeadersValue = exposeValue = maxAgeValue = null;
        allowedHeaders = new TokenSet(List.of());
        maxAgeSeconds = -1;
        preflightHeadersLimit = 0;
        warnings = List.of();
        disabled = new CorsDecision(CorsDecision.Kind.DISABLED, null, null, CorsDecision.NO_HEADERS, this);
        notCors = disabled;
        anyActual = disabled;
        varyActual = CorsDecision.NO_HEADERS;
        varyPreflight = null;
        refusedPreflightHeaders = CorsDecision.NO_HEADERS;
    }

    CorsPolicy(CorsPolicyBuilder.Validated v) {
        enabled = true;
        configPath = v.configPath;
        credentials = v.credentials;
        localDevelopment = v.localDevelopment;
        origins = List.copyOf(v.origins);
        boolean any = false;
        boolean nul = false;
        boolean file = false;
        List<String> exact = new ArrayList<>();
        List<OriginPattern> wild = new ArrayList<>();
        for (OriginPattern p : origins) {
            switch (p.kind()) {
                case ANY -> any = true;
                case NULL -> nul = true;
                case FILE -> file = true;
                case EXACT -> {
                    if (!exact.contains(p.toString())) {
                        exact.add(p.toString());
                    }
                }
                case WILDCARD -> wild.add(p);
            }
        }
        anyOrigin = any;
        allowNull = nul;
        allowFile = file;
        wildcards = wild.toArray(new OriginPattern[0]);
        anyMethod = v.anyMethod;
        methods = List.copyOf(v.methods);
        allowMethodsValue = anyMethod && !credentials ? "*" : String.join(", ", methods);
        anyHeader = v.anyHeader;
        headers = List.copyOf(v.headers);
        allowedHeaders = new TokenSet(headers);
        List<String> acah = new ArrayList<>();
        if (anyHeader && !credentials) {
            acah.add("*");
        }
        acah.addAll(headers);
        allowHeadersValue = String.join(", ", acah);
        exposed = List.copyOf(v.exposed);
        exposeValue = v.anyExposed ? "*" : exposed.isEmpty() ? null : String.join(", ", exposed);
        maxAgeSeconds = v.maxAgeSeconds;
        maxAgeValue = maxAgeSeconds < 0 ? null : Long.toString(maxAgeSeconds);
        preflightHeadersLimit = v.preflightHeadersLimit;
        warnings = List.copyOf(v.warnings);

        boolean originDependent = !anyOrigin;
        varyActual = originDependent ? new String[] {VARY, "Origin"} : CorsDecision.NO_HEADERS;
        varyPreflight = originDependent ? "Origin, " + VARY_PREFLIGHT : VARY_PREFLIGHT;
        refusedPreflightHeaders = new String[] {VARY, varyPreflight};
        disabled = null;
        if (anyOrigin) {
            // Fetch, "CORS protocol and HTTP caches": a fixed "*" goes on every response, without Vary.
            anyActual = new CorsDecision(CorsDecision.Kind.ACTUAL, null, null, actualHeaders("*"), this);
            notCors = new CorsDecision(CorsDecision.Kind.NOT_CORS, null, null, actualHeaders("*"), this);
        } else {
            anyActual = null;
            notCors = new CorsDecision(CorsDecision.Kind.NOT_CORS, null, null, varyActual, this);
        }
        exactKeys = exact.toArray(new String[0]);
        exactDecisions = new CorsDecision[exactKeys.length];
        Map<String, CorsDecision> map = new HashMap<>();
        for (int i = 0; i < exactKeys.length; i++) {
            exactDecisions[i] = allowedActual(exactKeys[i]);
            map.put(exactKeys[i], exactDecisions[i]);
        }
        exactMap = exactKeys.length > EXACT_LINEAR_LIMIT ? map : Map.of();
    }

    /** A builder with nothing allowed, credentials off, and methods GET, HEAD and POST. */
    public static CorsPolicyBuilder builder() {
        return new CorsPolicyBuilder();
    }

    /**
     * Decides a request. {@code origin} is the Origin header (null when absent); {@code requestMethod}
     * and {@code requestHeaderLines} are Access-Control-Request-Method and every line of
     * Access-Control-Request-Headers (null or empty when absent). Never throws for any input.
     */
    public CorsDecision decide(String method, String origin, String requestMethod, List<String> requestHeaderLines) {
        if (!enabled) {
            return disabled;
        }
        if (origin == null) {
            return notCors;
        }
        if (requestMethod != null && "OPTIONS".equals(method)) {
            return preflight(origin, requestMethod, requestHeaderLines);
        }
        return actual(origin);
    }

    /** The decision for an actual (non-preflight) request; {@code origin} null means not a CORS request. */
    public CorsDecision actual(String origin) {
        if (!enabled) {
            return disabled;
        }
        if (origin == null) {
            return notCors;
        }
        if (anyOrigin) {
            return anyActual;
        }
        // Fast path: browsers send origins in canonical form, so a listed origin is found as sent.
        CorsDecision d = exact(origin);
        return d != null ? d : actualSlow(origin);
    }

    private CorsDecision exact(String origin) {
        if (exactMap.isEmpty()) {
            String[] keys = exactKeys;
            for (int i = 0; i < keys.length; i++) {
                if (keys[i].equals(origin)) {
                    return exactDecisions[i];
                }
            }
            return null;
        }
        return exactMap.get(origin);
    }

    private CorsDecision actualSlow(String origin) {
        CorsReason refusal = originRefusal(origin);
        return refusal == null ? cached(origin) : refused(CorsDecision.Kind.ACTUAL, refusal, origin);
    }

    /**
     * Why an origin that is not listed exactly is refused, or null when another entry admits it.
     * Allocates nothing for a canonical origin.
     */
    private CorsReason originRefusal(String origin) {
        if (origin.equals("null")) {
            return allowNull ? null : CorsReason.ORIGIN_NOT_ALLOWED;
        }
        if (origin.equals("file://")) {
            return allowFile ? null : CorsReason.ORIGIN_NOT_ALLOWED;
        }
        String canonical = origin;
        long packed = OriginSyntax.scan(origin);
        if (packed < 0) {
            canonical = OriginSyntax.normalizeOrNull(origin);
            if (canonical == null) {
                return CorsReason.ORIGIN_MALFORMED;
            }
            // A non-canonical spelling of a listed origin: allowed, and the header echoes what was sent,
            // because the client compares Access-Control-Allow-Origin with its own serialization.
            if (exact(canonical) != null) {
                return null;
            }
            packed = OriginSyntax.scan(canonical);
        }
        for (OriginPattern p : wildcards) {
            if (p.matchesCanonical(canonical, packed)) {
                return null;
            }
        }
        return CorsReason.ORIGIN_NOT_ALLOWED;
    }

    private CorsDecision cached(String origin) {
        CorsDecision d = patternCache.get(origin);
        if (d == null) {
            d = allowedActual(origin);
            if (patternCache.size() < PATTERN_CACHE_LIMIT) {
                patternCache.putIfAbsent(origin, d);
            }
        }
        return d;
    }

    /**
     * What a browser concludes for a credentialed request (fetch with {@code credentials: "include"},
     * XMLHttpRequest with {@code withCredentials}) given this policy's decision: refused with
     * {@link CorsReason#CREDENTIALS_NOT_ALLOWED} when the policy does not allow credentials, because the
     * response then lacks {@code Access-Control-Allow-Credentials: true}. Used by check and doctor.
     */
    public CorsDecision forCredentialedRequest(String origin, CorsDecision decision) {
        if (!decision.allowed() || credentials || decision.kind() == CorsDecision.Kind.NOT_CORS
                || decision.kind() == CorsDecision.Kind.DISABLED) {
            return decision;
        }
        return refused(decision.kind(), CorsReason.CREDENTIALS_NOT_ALLOWED, origin == null ? "the page" : origin);
    }

    /** The decision for a preflight (OPTIONS with Origin and Access-Control-Request-Method). */
    public CorsDecision preflight(String origin, String requestMethod, List<String> requestHeaderLines) {
        // An allowed preflight's answer depends only on the origin, the requested method and the requested headers: a
        // browser repeats the same three, so the decision is kept in a direct-mapped table of PREFLIGHT_SLOTS entries
        // (bounded: a client that varies them only replaces entries) and found again without allocating. Refusals are
        // not kept (their detail quotes what was sent), nor requests with several Access-Control-Request-Headers lines.
        if (enabled && origin != null && requestMethod != null && (requestHeaderLines == null || requestHeaderLines.size() <= 1)) {
            String headers = requestHeaderLines == null || requestHeaderLines.isEmpty() ? null : requestHeaderLines.get(0);
            int slot = ((origin.hashCode() * 31 + requestMethod.hashCode()) * 31 + (headers == null ? 0 : headers.hashCode())) & (PREFLIGHT_SLOTS - 1);
            PreflightEntry e = preflightCache[slot];
            if (e != null && e.origin.equals(origin) && e.method.equals(requestMethod) && java.util.Objects.equals(e.headers, headers)) {
                return e.decision;
            }
            CorsDecision d = decidePreflight(origin, requestMethod, requestHeaderLines);
            if (d.allowed()) {
                preflightCache[slot] = new PreflightEntry(origin, requestMethod, headers, d); // immutable: safely shared between threads
            }
            return d;
        }
        return decidePreflight(origin, requestMethod, requestHeaderLines);
    }

    private static final int PREFLIGHT_SLOTS = 256;
    private final PreflightEntry[] preflightCache = new PreflightEntry[PREFLIGHT_SLOTS];

    private record PreflightEntry(String origin, String method, String headers, CorsDecision decision) {}

    private CorsDecision decidePreflight(String origin, String requestMethod, List<String> requestHeaderLines) {
        if (!enabled) {
            return disabled;
        }
        if (origin == null) {
            return notCors;
        }
        if (!anyOrigin && exact(origin) == null) {
            CorsReason refusal = originRefusal(origin);
            if (refusal != null) {
                return refused(CorsDecision.Kind.PREFLIGHT, refusal, origin);
            }
        }
        if (requestMethod == null || !HttpTokens.isToken(requestMethod)) {
            return refused(CorsDecision.Kind.PREFLIGHT, CorsReason.PREFLIGHT_MALFORMED,
                    "Access-Control-Request-Method: " + requestMethod);
        }
        String method = HttpTokens.normalizeMethod(requestMethod);
        if (!methodAllowed(method)) {
            return refused(CorsDecision.Kind.PREFLIGHT, CorsReason.METHOD_NOT_ALLOWED, method);
        }
        // Bounded work: the total length is checked before any header name is looked at.
        int total = 0;
        int lines = requestHeaderLines == null ? 0 : requestHeaderLines.size();
        for (int l = 0; l < lines; l++) {
            String line = requestHeaderLines.get(l);
            total += line == null ? 0 : line.length() + 1;
            if (total > preflightHeadersLimit + 1) {
                return refused(CorsDecision.Kind.PREFLIGHT, CorsReason.PREFLIGHT_TOO_LARGE, Long.toString(lengthOf(requestHeaderLines)));
            }
        }
        StringBuilder reflected = null;
        int requested = 0;
        if (total > 0) {
            for (int l = 0; l < lines; l++) {
                String line = requestHeaderLines.get(l);
                int n = line == null ? 0 : line.length();
                int i = 0;
                while (i < n) {
                    int end = line.indexOf(',', i);
                    if (end < 0) {
                        end = n;
                    }
                    int s = i;
                    int e = end;
                    while (s < e && isOws(line.charAt(s))) {
                        s++;
                    }
                    while (e > s && isOws(line.charAt(e - 1))) {
                        e--;
                    }
                    if (e > s) {
                        for (int k = s; k < e; k++) {
                            if (!HttpTokens.isTokenChar(line.charAt(k))) {
                                return refused(CorsDecision.Kind.PREFLIGHT, CorsReason.PREFLIGHT_MALFORMED,
                                        "Access-Control-Request-Headers: " + line.substring(s, e));
                            }
                        }
                        if (!headerAllowed(line, s, e)) {
                            return refused(CorsDecision.Kind.PREFLIGHT, CorsReason.HEADER_NOT_ALLOWED,
                                    line.substring(s, e).toLowerCase(Locale.ROOT));
                        }
                        requested++;
                        if (anyHeader && credentials) {
                            if (reflected == null) {
                                reflected = new StringBuilder(total);
                            } else {
                                reflected.append(", ");
                            }
                            for (int k = s; k < e; k++) {
                                char c = line.charAt(k);
                                reflected.append(c >= 'A' && c <= 'Z' ? (char) (c + 32) : c);
                            }
                        }
                    }
                    i = end + 1;
                }
            }
        }
        String acao = anyOrigin ? "*" : origin;
        String acam = anyMethod && credentials ? method : allowMethodsValue;
        String acah = requested == 0 ? null : reflected != null ? reflected.toString() : allowHeadersValue;
        String[] h = new String[14];
        int n = 0;
        h[n++] = ACAO;
        h[n++] = acao;
        if (credentials) {
            h[n++] = ACAC;
            h[n++] = "true";
        }
        if (!acam.isEmpty()) {
            h[n++] = ACAM;
            h[n++] = acam;
        }
        if (acah != null && !acah.isEmpty()) {
            h[n++] = ACAH;
            h[n++] = acah;
        }
        if (maxAgeValue != null) {
            h[n++] = ACMA;
            h[n++] = maxAgeValue;
        }
        h[n++] = VARY;
        h[n++] = varyPreflight;
        return new CorsDecision(CorsDecision.Kind.PREFLIGHT, null, null, java.util.Arrays.copyOf(h, n), this);
    }

    /** The total length of the lines, counting at most 1000 lines: past the limit the exact figure does not matter. */
    private static long lengthOf(List<String> lines) {
        long total = 0;
        for (int i = 0, n = Math.min(lines.size(), 1000); i < n; i++) {
            String line = lines.get(i);
            total += line == null ? 0 : line.length();
        }
        return total;
    }

    private static boolean isOws(char c) {
        return c == ' ' || c == '\t';
    }

    private boolean methodAllowed(String method) {
        if (HttpTokens.isSafelistedMethod(method)) {
            return true; // Fetch, CORS-preflight fetch: safelisted methods pass whatever the list says
        }
        if (anyMethod) {
            return !HttpTokens.isForbiddenMethod(method);
        }
        return methods.contains(method);
    }

    private boolean headerAllowed(String line, int s, int e) {
        if (allowedHeaders.contains(line, s, e)) {
            return true;
        }
        // Fetch: a "*" in Access-Control-Allow-Headers never covers Authorization; it must be listed.
        return anyHeader && !(e - s == 13 && line.regionMatches(true, s, "authorization", 0, 13));
    }

    private String[] actualHeaders(String acao) {
        List<String> h = new ArrayList<>(8);
        h.add(ACAO);
        h.add(acao);
        if (credentials) {
            h.add(ACAC);
            h.add("true");
        }
        if (exposeValue != null) {
            h.add(ACEH);
            h.add(exposeValue);
        }
        for (String s : varyActual) {
            h.add(s);
        }
        return h.toArray(new String[0]);
    }

    private CorsDecision allowedActual(String origin) {
        return new CorsDecision(CorsDecision.Kind.ACTUAL, null, null, actualHeaders(origin), this);
    }

    private CorsDecision refused(CorsDecision.Kind kind, CorsReason reason, String value) {
        return new CorsDecision(kind, reason, value, kind == CorsDecision.Kind.PREFLIGHT ? refusedPreflightHeaders : varyActual, this);
    }

    String describe(CorsReason reason, String value) {
        String v = OriginSyntax.quote(printable(value));
        return switch (reason) {
            case ORIGIN_NOT_ALLOWED -> value.equals("null")
                    ? "origin \"null\" (a sandboxed iframe, a file:// page or a redirect) is not allowed by the CORS policy"
                    : "origin " + v + " is not allowed by the CORS policy" + nearMiss(value);
            case ORIGIN_MALFORMED -> "the Origin header " + v + " is not a serialized origin (scheme://host[:port])";
            case METHOD_NOT_ALLOWED -> "method " + v + " is not allowed by the CORS policy (Access-Control-Request-Method)";
            case HEADER_NOT_ALLOWED -> "request header " + v + " is not allowed by the CORS policy (Access-Control-Request-Headers)"
                    + (anyHeader && value.equals("authorization") ? "; a \"*\" never covers Authorization" : "");
            case PREFLIGHT_TOO_LARGE -> "Access-Control-Request-Headers of " + value + " bytes is too long (expected: at most "
                    + preflightHeadersLimit + ")";
            case PREFLIGHT_MALFORMED -> v + " is not valid syntax (expected: a method token, or comma-separated header names)";
            case CREDENTIALS_NOT_ALLOWED -> "the request includes credentials (cookies or HTTP authentication) and the CORS policy does not"
                    + " allow credentials, so the browser hides the response from " + v;
        };
    }

    String suggestFix(CorsReason reason, String value) {
        String p = configPath.isEmpty() ? "" : configPath + ".";
        switch (reason) {
            case ORIGIN_NOT_ALLOWED: {
                if (value.equals("null") || value.equals("file://")) {
                    return "do not allow it: any site can send Origin: null from a sandboxed iframe; serve the page from a real origin"
                            + " (only if you accept that risk: " + p + "dangerouslyAllowNullOrigin: true and add \"" + value + "\" to "
                            + p + "allowedOrigins)";
                }
                String canonical = OriginSyntax.normalizeOrNull(value);
                Origin o = Origin.parse(canonical);
                if (credentials && o.scheme().equals("http") && !(localDevelopment && isLocalHost(o.host()))) {
                    return "do not allow it as it is: with " + p + "allowCredentials: true, plain-http origins are refused"
                            + " (a network attacker can inject script into them); serve that site over https and add \""
                            + "https://" + o.host() + (o.port() < 0 || o.port() == 80 ? "" : ":" + o.port()) + "\" to " + p + "allowedOrigins";
                }
                return "add \"" + canonical + "\" to " + p + "allowedOrigins";
            }
            case ORIGIN_MALFORMED:
                return "send a serialized origin such as https://app.example.com (browsers always do)";
            case METHOD_NOT_ALLOWED:
                if (HttpTokens.isForbiddenMethod(value)) {
                    return "do not allow it: " + value + " is a forbidden method that browsers never send";
                }
                return "add \"" + value + "\" to " + p + "allowedMethods";
            case HEADER_NOT_ALLOWED:
                if (value.equals("authorization") && anyHeader) {
                    return "add \"Authorization\" to " + p + "allowedHeaders explicitly (the \"*\" does not cover it, per the Fetch standard)";
                }
                return "add \"" + value + "\" to " + p + "allowedHeaders";
            case CREDENTIALS_NOT_ALLOWED:
                return anyOrigin
                        ? "list the exact origins instead of \"*\" in " + p + "allowedOrigins and set " + p + "allowCredentials: true"
                        : "set " + p + "allowCredentials: true, or send the request without credentials";
            case PREFLIGHT_TOO_LARGE:
                return "send fewer custom request headers; the limit is " + preflightHeadersLimit + " bytes of header names";
            default:
                return "send a valid Access-Control-Request-Method token and comma-separated header names";
        }
    }

    private String nearMiss(String value) {
        String canonical = OriginSyntax.normalizeOrNull(value);
        if (canonical == null) {
            return "";
        }
        Origin o = Origin.parse(canonical);
        for (OriginPattern p : origins) {
            if (p.host() != null && p.host().equals(o.host()) && (p.kind() == OriginPattern.Kind.EXACT || p.kind() == OriginPattern.Kind.WILDCARD)) {
                if (!p.scheme().equals(o.scheme())) {
                    return " (" + p + " is allowed: the scheme differs)";
                }
                return " (" + p + " is allowed: the port differs)";
            }
        }
        return "";
    }

    static boolean isLocalHost(String host) {
        return host.equals("localhost") || host.endsWith(".localhost") || host.equals("[::1]") || host.equals("10.0.2.2")
                || (OriginSyntax.isIpv4(host) && host.startsWith("127."));
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 120));
        for (int i = 0; i < s.length() && i < 100; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f || c == '"' ? '?' : c);
        }
        if (s.length() > 100) {
            b.append("...");
        }
        return b.toString();
    }

    public boolean enabled() {
        return enabled;
    }

    /** The configuration path this policy was built from (for messages), such as {@code cors.routes[0]}. */
    public String configPath() {
        return configPath;
    }

    public boolean allowCredentials() {
        return credentials;
    }

    /** The allowed-origins entries, normalised, in configuration order. */
    public List<OriginPattern> allowedOrigins() {
        return origins;
    }

    /** The allowed methods, normalised; {@code ["*"]} means any method but the forbidden ones. */
    public List<String> allowedMethods() {
        return anyMethod ? prepend("*", methods) : methods;
    }

    /** The allowed request headers; {@code "*"} means any header but Authorization, which must be listed. */
    public List<String> allowedHeaders() {
        return anyHeader ? prepend("*", headers) : headers;
    }

    public List<String> exposedHeaders() {
        return exposeValue != null && exposeValue.equals("*") ? List.of("*") : exposed;
    }

    /** Access-Control-Max-Age in seconds, or -1 when the header is not sent. */
    public long maxAgeSeconds() {
        return maxAgeSeconds;
    }

    public int preflightRequestHeadersLimit() {
        return preflightHeadersLimit;
    }

    public boolean localDevelopment() {
        return localDevelopment;
    }

    /** Problems that did not prevent building (risky but legal choices). */
    public List<CorsProblem> warnings() {
        return warnings;
    }

    private static List<String> prepend(String first, List<String> rest) {
        List<String> l = new ArrayList<>(rest.size() + 1);
        l.add(first);
        l.addAll(rest);
        return List.copyOf(l);
    }

    @Override
    public String toString() {
        if (!enabled) {
            return "CorsPolicy[disabled]";
        }
        return "CorsPolicy[origins=" + origins + ", credentials=" + credentials + ", methods=" + allowedMethods()
                + ", headers=" + allowedHeaders() + ", exposed=" + exposedHeaders() + ", maxAge=" + maxAgeSeconds + "]";
    }
}
