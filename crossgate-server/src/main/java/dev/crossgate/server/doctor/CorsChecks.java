package dev.crossgate.server.doctor;

import java.io.IOException;
import java.net.URI;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The CORS checks, judged as Chromium judges them and named with Chromium's own error names
 * ({@code network::mojom::CorsError}): a preflight and the actual request for each origin, CORS headers on
 * error responses, and origins an attacker controls.
 */
final class CorsChecks {
    /** Headers a page may send without a preflight (the Fetch standard's CORS-safelisted request headers). */
    private static final Set<String> SAFELISTED = Set.of("accept", "accept-language", "content-language", "content-type", "range");
    private static final Set<String> SIMPLE_CONTENT_TYPES = Set.of("application/x-www-form-urlencoded", "multipart/form-data", "text/plain");
    /** The preflight cache limits browsers apply to Access-Control-Max-Age, in seconds. */
    static final int CHROMIUM_MAX_AGE = 7200;
    static final int FIREFOX_MAX_AGE = 86400;
    static final int CHROMIUM_DEFAULT_MAX_AGE = 5;
    private static final String[] CORS_HEADERS = {"access-control-*", "vary", "location", "x-crossgate-reason"};

    private final Probe p;

    CorsChecks(Probe p) {
        this.p = p;
    }

    /** Whether a browser sends a preflight before this request. */
    static boolean needsPreflight(String method, List<String[]> headers) {
        if (!Set.of("GET", "HEAD", "POST").contains(method)) {
            return true;
        }
        for (String[] h : headers) {
            if (!safelisted(h)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a request header (name and value) is CORS-safelisted: Content-Type only with one of the three simple types. */
    static boolean safelisted(String[] h) {
        String n = h[0].toLowerCase(Locale.ROOT);
        return SAFELISTED.contains(n)
                && (!n.equals("content-type") || SIMPLE_CONTENT_TYPES.contains(h[1].split(";")[0].trim().toLowerCase(Locale.ROOT)));
    }

    /** Chromium's verdict on a response's Access-Control-Allow-Origin and -Credentials for an origin, or null when allowed. */
    static String accessCheck(Http.Response r, String origin, boolean credentials, boolean preflight) {
        String prefix = preflight ? "Preflight" : "";
        List<String> values = r.headers("access-control-allow-origin");
        if (values.isEmpty()) {
            return prefix + "MissingAllowOriginHeader";
        }
        if (values.size() > 1 || values.get(0).contains(",")) {
            return prefix + "MultipleAllowOriginValues";
        }
        String v = values.get(0).trim();
        if (v.equals("*")) {
            if (credentials) {
                return prefix + "WildcardOriginNotAllowed";
            }
            return null;
        }
        if (!v.equals("null") && !v.matches("[a-zA-Z][a-zA-Z0-9+.-]*://[^/]+")) {
            return prefix + "InvalidAllowOriginValue";
        }
        if (!v.equals(origin)) {
            return prefix + "AllowOriginMismatch";
        }
        if (credentials && !"true".equals(r.header("access-control-allow-credentials"))) {
            return prefix + "InvalidAllowCredentials";
        }
        return null;
    }

    private static String explain(String error, String origin, Http.Response r) {
        String acao = String.join(", ", r.headers("access-control-allow-origin"));
        return switch (error.replace("Preflight", "")) {
            case "MissingAllowOriginHeader" -> "no Access-Control-Allow-Origin in the answer (HTTP " + r.status() + ") for " + origin;
            case "MultipleAllowOriginValues" -> "Access-Control-Allow-Origin has several values (" + acao + "): two layers (proxy and backend) both add CORS";
            case "WildcardOriginNotAllowed" -> "Access-Control-Allow-Origin is * but the request carries credentials; browsers refuse *"
                    + " with credentials";
            case "InvalidAllowOriginValue" -> "Access-Control-Allow-Origin is not an origin: " + acao;
            case "AllowOriginMismatch" -> "Access-Control-Allow-Origin is " + acao + ", not the page's origin " + origin;
            case "InvalidAllowCredentials" -> "the request carries credentials but Access-Control-Allow-Credentials is "
                    + (r.header("access-control-allow-credentials") == null ? "missing" : "\"" + r.header("access-control-allow-credentials") + "\"")
                    + " (it must be exactly true)";
            default -> error;
        };
    }

    private static String fixFor(String error, String origin) {
        return switch (error.replace("Preflight", "")) {
            case "MissingAllowOriginHeader" -> "allow " + origin + " in the CORS policy of this route (with Crossgate: cors.allowedOrigins), and make sure"
                    + " every response carries it";
            case "MultipleAllowOriginValues" -> "let one layer answer CORS: remove it from the backend (or the proxy); Crossgate removes the"
                    + " upstream's Access-Control-* headers and sets its own";
            case "WildcardOriginNotAllowed" -> "list the origins instead of *, and echo the request's origin when it is allowed (with Vary: Origin)";
            case "InvalidAllowOriginValue", "AllowOriginMismatch" -> "answer with the request's own origin when it is allowed (and Vary: Origin)";
            case "InvalidAllowCredentials" -> "send Access-Control-Allow-Credentials: true (cors.allowCredentials: true), or do not send credentials";
            default -> null;
        };
    }

    // ---------------------------------------------------------------- preflight and actual request

    /** The preflight (when a browser would send one) and the actual request, for each origin; returns the origins allowed. */
    List<String> preflightAndActual() {
        List<String> allowed = new ArrayList<>();
        Options o = p.options;
        if (o.origins().isEmpty()) {
            p.add(Finding.skip("cors", "preflight and request", "cors.no_origin",
                    "no --origin given: say which origins your pages are served from (--origin https://app.example.com), or use --config"));
            return allowed;
        }
        boolean preflight = needsPreflight(o.method(), o.headers());
        for (String origin : o.origins()) {
            if (p.outOfTime()) {
                return allowed;
            }
            if (preflight && !preflight(origin)) {
                // As in the browser: a failed preflight means the request itself is never sent.
                p.add(Finding.skip("cors", o.method() + " from " + origin, "cors.not_sent", "not sent: the browser stops at the failed preflight"));
                continue;
            }
            if (!preflight) {
                p.add(Finding.pass("cors", "preflight " + o.method() + " from " + origin, "cors.no_preflight",
                        "a browser sends " + o.method() + (o.headers().isEmpty() ? "" : " with these headers") + " without a preflight", List.of()));
            }
            if (actual(origin)) {
                allowed.add(origin);
            }
        }
        return allowed;
    }

    private boolean preflight(String origin) {
        Options o = p.options;
        String name = "preflight " + o.method() + " from " + origin;
        TreeSet<String> requested = new TreeSet<>();
        for (String[] h : o.headers()) {
            if (!safelisted(h)) {
                requested.add(h[0].toLowerCase(Locale.ROOT)); // as Chromium lists them: lower case, sorted, unsafe ones only
            }
        }
        List<String> sent = new ArrayList<>();
        Http.Response r;
        try {
            r = p.request("OPTIONS", p.pathAndQuery(), Probe.headers("Origin", origin, "Access-Control-Request-Method", o.method(),
                    "Access-Control-Request-Headers", requested.isEmpty() ? null : String.join(",", requested)), sent);
        } catch (IOException e) {
            p.add(Finding.fail("cors", name, "cors.preflight_failed", "the preflight got no answer: " + e.getMessage(), sent,
                    "make the server (or the proxy in front of it) answer OPTIONS"));
            return false;
        }
        List<String> ev = Probe.join(sent, r.evidence(CORS_HEADERS));
        if (r.status() >= 300 && r.status() < 400) {
            p.add(Finding.fail("cors", name, "PreflightDisallowedRedirect", "the preflight was answered with a redirect (HTTP " + r.status()
                    + " to " + r.header("location") + "); browsers do not follow redirects on preflights", ev,
                    "call the final URL directly (scheme, host and trailing slash included), and answer OPTIONS there without redirecting"));
            return false;
        }
        // Chromium's order: the preflight's Allow-Origin and Allow-Credentials, then its status.
        String err = accessCheck(r, origin, o.credentials(), true);
        if (err != null) {
            p.add(Finding.fail("cors", name, err, explain(err, origin, r) + (r.status() / 100 != 2 ? " (and the status is not 2xx)" : ""), ev,
                    r.status() / 100 != 2 ? "answer OPTIONS with 204 and the CORS headers (Crossgate answers preflights itself)" : fixFor(err, origin)));
            return false;
        }
        if (r.status() < 200 || r.status() >= 300) {
            p.add(Finding.fail("cors", name, "PreflightInvalidStatus", "the preflight was answered HTTP " + r.status()
                    + "; browsers require a 2xx", ev, "answer OPTIONS with 204 and the CORS headers (Crossgate answers preflights itself)"));
            return false;
        }
        // The method and headers the preflight must allow.
        List<String> methods = tokens(r.header("access-control-allow-methods"));
        boolean wildcard = !o.credentials();
        if (!Set.of("GET", "HEAD", "POST").contains(o.method()) && !methods.contains(o.method())
                && !(wildcard && methods.contains("*"))) {
            p.add(Finding.fail("cors", name, "MethodDisallowedByPreflightResponse", "Access-Control-Allow-Methods ("
                    + String.join(", ", methods) + ") does not allow " + o.method(), ev, "allow " + o.method() + " (cors.allowedMethods)"));
            return false;
        }
        List<String> allowedHeaders = tokens(r.header("access-control-allow-headers")).stream().map(s -> s.toLowerCase(Locale.ROOT)).toList();
        for (String h : requested) {
            boolean star = wildcard && allowedHeaders.contains("*") && !h.equals("authorization");
            if (!allowedHeaders.contains(h) && !star) {
                p.add(Finding.fail("cors", name, "HeaderDisallowedByPreflightResponse", "Access-Control-Allow-Headers ("
                        + String.join(", ", allowedHeaders) + ") does not allow the request header " + h
                        + (h.equals("authorization") && allowedHeaders.contains("*") ? " (* never covers Authorization)" : ""), ev,
                        "allow " + h + " (cors.allowedHeaders)"));
                return false;
            }
        }
        p.add(Finding.pass("cors", name, "cors.preflight_allowed", "the preflight allows " + o.method() + " from " + origin, ev));
        varyAndMaxAge(name, r, ev);
        return true;
    }

    private void varyAndMaxAge(String name, Http.Response r, List<String> ev) {
        String maxAge = r.header("access-control-max-age");
        if (maxAge == null) {
            p.add(Finding.warn("cors", name, "cors.max_age_missing", "no Access-Control-Max-Age: Chromium caches the preflight for "
                    + CHROMIUM_DEFAULT_MAX_AGE + " s, so nearly every such request costs a preflight round trip", ev,
                    "send Access-Control-Max-Age: 600 or more (cors.maxAge)"));
        } else {
            try {
                long s = Long.parseLong(maxAge.trim());
                if (s > CHROMIUM_MAX_AGE) {
                    p.add(Finding.warn("cors", name, "cors.max_age_capped", "Access-Control-Max-Age is " + s + " s; Chromium caps it at "
                            + CHROMIUM_MAX_AGE + " s and Firefox at " + FIREFOX_MAX_AGE + " s, so the rest is never used", ev,
                            "use at most 7200 (2 h)"));
                }
            } catch (NumberFormatException e) {
                p.add(Finding.warn("cors", name, "cors.max_age_invalid", "Access-Control-Max-Age \"" + maxAge + "\" is not a number of seconds;"
                        + " browsers ignore it", ev, "send a number of seconds such as 600"));
            }
        }
    }

    private boolean actual(String origin) {
        Options o = p.options;
        String name = o.method() + " from " + origin;
        List<String[]> h = new ArrayList<>();
        h.add(new String[] {"Origin", origin});
        h.addAll(o.headers());
        if (o.token() != null) {
            h.add(new String[] {"Authorization", "Bearer " + o.token()});
        }
        List<String> sent = new ArrayList<>();
        Http.Response r;
        try {
            boolean body = o.method().equals("POST") || o.method().equals("PUT") || o.method().equals("PATCH");
            r = p.request(o.method(), p.pathAndQuery(), p.target.authority(), h, body ? new byte[0] : null, sent);
        } catch (IOException e) {
            p.add(Finding.fail("cors", name, "cors.request_failed", "the request got no answer: " + e.getMessage(), sent, null));
            return false;
        }
        List<String> ev = Probe.join(sent, r.evidence(CORS_HEADERS));
        String err = accessCheck(r, origin, o.credentials(), false);
        if (err != null) {
            p.add(Finding.fail("cors", name, err, explain(err, origin, r), ev, fixFor(err, origin)));
            return false;
        }
        p.add(Finding.pass("cors", name, "cors.allowed", "a page on " + origin + " can read this answer (HTTP " + r.status() + ")", ev));
        String acao = r.header("access-control-allow-origin");
        if (!"*".equals(acao) && !hasVaryOrigin(r)) {
            p.add(Finding.warn("cors", name, "cors.vary_missing", "the answer depends on Origin but has no Vary: Origin; a cache (CDN,"
                    + " browser) can serve one origin's answer to another", ev, "add Vary: Origin to every response that echoes an origin"));
        }
        return true;
    }

    private static boolean hasVaryOrigin(Http.Response r) {
        for (String v : r.headers("vary")) {
            for (String t : v.split(",")) {
                if (t.trim().equalsIgnoreCase("origin") || t.trim().equals("*")) {
                    return true;
                }
            }
        }
        return false;
    }

    private static List<String> tokens(String header) {
        List<String> out = new ArrayList<>();
        if (header != null) {
            for (String t : header.split(",")) {
                if (!t.isBlank()) {
                    out.add(t.trim());
                }
            }
        }
        return out;
    }

    /** The configuration's routes: each must allow the origin where its policy does, and refuse it where it does not. */
    void routes(String origin) {
        for (Options.Route route : p.options.routes()) {
            if (p.outOfTime() || origin == null) {
                return;
            }
            String name = "GET " + route.path() + " from " + origin + " (as configured: " + (route.allowed() ? "allowed" : "refused") + ")";
            List<String> sent = new ArrayList<>();
            Http.Response r;
            try {
                r = p.request("GET", route.path(), Probe.headers("Origin", origin), sent);
            } catch (IOException e) {
                p.add(Finding.fail("cors", name, "cors.request_failed", "no answer: " + e.getMessage(), sent, null));
                continue;
            }
            List<String> ev = Probe.join(sent, r.evidence(CORS_HEADERS));
            String err = accessCheck(r, origin, p.options.credentials(), false);
            if (route.allowed() && err != null) {
                p.add(Finding.fail("cors", name, err, "the configuration allows " + origin + " here, but the deployment does not: " + explain(err, origin, r),
                        ev, "check that this path reaches the server with this configuration (a proxy or route in front may answer instead)"));
            } else if (!route.allowed() && err == null) {
                p.add(Finding.fail("cors", name, "cors.allowed_unexpectedly", "the configuration refuses " + origin + " here, but the deployment"
                        + " allows it: another layer adds CORS", ev, "remove the CORS headers the backend or another proxy adds"));
            } else {
                p.add(Finding.pass("cors", name, "cors.as_configured", "as configured (HTTP " + r.status() + ")", ev));
            }
        }
    }

    // ---------------------------------------------------------------- CORS on errors

    /** Error responses (404, 401, 405, 413, 5xx when one can be provoked) must still carry CORS for an allowed origin. */
    void onErrors(String origin) {
        if (origin == null) {
            p.add(Finding.skip("cors-errors", "CORS on error responses", "cors.no_allowed_origin",
                    "no origin was allowed on the route itself, so errors cannot be judged (see the cors check)"));
            return;
        }
        String base = p.pathAndQuery().split("\\?")[0];
        String missing = (base.endsWith("/") ? base : base + "/") + "crossgate-doctor-" + Long.toHexString(System.nanoTime()) + "-missing";
        Map<Integer, Attempt> attempts = new LinkedHashMap<>();
        attempts.put(404, new Attempt("GET", missing, Probe.headers("Origin", origin), null));
        attempts.put(401, new Attempt("GET", p.pathAndQuery(), Probe.headers("Origin", origin, "Authorization",
                "Bearer crossgate-doctor.invalid.token"), null));
        attempts.put(405, new Attempt("DELETE", p.pathAndQuery(), Probe.headers("Origin", origin), null));
        // Announced, not sent: servers that check Content-Length answer 413 before reading (nginx, Crossgate).
        attempts.put(413, new Attempt("POST", p.pathAndQuery(), Probe.headers("Origin", origin, "Content-Type", "text/plain",
                "Content-Length", Long.toString(1L << 30)), null));
        for (Map.Entry<Integer, Attempt> e : attempts.entrySet()) {
            if (p.outOfTime()) {
                return;
            }
            int want = e.getKey();
            Attempt a = e.getValue();
            List<String> sent = new ArrayList<>();
            Http.Response r;
            try {
                r = p.request(a.method, a.path, p.target.authority(), a.headers, a.body, sent);
            } catch (IOException ex) {
                p.add(Finding.skip("cors-errors", "HTTP " + want, "cors.error_not_provoked", "could not provoke a " + want + ": " + ex.getMessage()));
                continue;
            }
            check(want, r, origin, sent);
        }
    }

    private void check(int want, Http.Response r, String origin, List<String> sent) {
        boolean got = r.status() == want || (want == 401 && r.status() == 403);
        if (!got) {
            p.add(Finding.skip("cors-errors", "HTTP " + want, "cors.error_not_provoked", "the probe for a " + want + " was answered HTTP "
                    + r.status() + ", so this case was not seen"));
            if (r.status() >= 500) {
                judge("HTTP " + r.status(), r, origin, sent);
            }
            return;
        }
        judge("HTTP " + r.status(), r, origin, sent);
    }

    private void judge(String name, Http.Response r, String origin, List<String> sent) {
        List<String> ev = Probe.join(sent, r.evidence(CORS_HEADERS));
        String err = accessCheck(r, origin, p.options.credentials(), false);
        if (err != null) {
            p.add(Finding.fail("cors-errors", name, err, "the " + r.status() + " answer has no usable CORS for " + origin + " ("
                    + explain(err, origin, r) + "): the browser hides the real error and reports a CORS failure", ev,
                    err.endsWith("MissingAllowOriginHeader") ? "add the CORS headers to error responses too (nginx: add_header ... always;"
                            + " Crossgate applies them to every response)" : fixFor(err, origin)));
        } else {
            p.add(Finding.pass("cors-errors", name, "cors.error_readable", "a page on " + origin + " can read the " + r.status() + " answer", ev));
        }
    }

    private record Attempt(String method, String path, List<String[]> headers, byte[] body) {}

    // ---------------------------------------------------------------- hostile origins

    /** One origin per class of the origin validation mistakes attackers look for, built from the site's own origin. */
    static Map<String, String> hostileOrigins(String siteOrigin, URI api) {
        URI o = URI.create(siteOrigin.equals("null") ? api.getScheme() + "://" + api.getHost() : siteOrigin);
        String scheme = o.getScheme();
        String host = o.getHost();
        String port = o.getPort() > 0 ? ":" + o.getPort() : "";
        Map<String, String> m = new LinkedHashMap<>();
        m.put("reflection", scheme + "://crossgate-doctor-evil.example" + port);
        m.put("prefix", scheme + "://" + host + ".crossgate-doctor-evil.example" + port);
        m.put("suffix", scheme + "://crossgatedoctorevil" + host + port);
        m.put("substring", scheme + "://" + host.substring(1) + port);
        int dot = host.indexOf('.');
        if (dot > 0) {
            m.put("unescaped-dot", scheme + "://" + host.substring(0, dot) + "x" + host.substring(dot + 1) + port);
        }
        m.put("null", "null");
        if (scheme.equals("https")) {
            m.put("http-on-https", "http://" + host + port);
        }
        m.put("any-subdomain", scheme + "://crossgate-doctor-evil." + host + port);
        m.put("third-party-hosting", "https://crossgate-doctor-evil.github.io");
        m.put("special-characters", scheme + "://" + host + "_.crossgate-doctor-evil.example" + port);
        return m;
    }

    /** Each hostile origin over HTTP: an answer a page on it could read is a failure, named by its class. */
    void hostile(String siteOrigin) {
        String base = siteOrigin != null ? siteOrigin : p.url.getScheme() + "://" + p.url.getHost() + (p.url.getPort() > 0 ? ":" + p.url.getPort() : "");
        for (Map.Entry<String, String> e : hostileOrigins(base, p.url).entrySet()) {
            if (p.outOfTime()) {
                return;
            }
            String cls = e.getKey();
            String evil = e.getValue();
            List<String> sent = new ArrayList<>();
            Http.Response r;
            try {
                r = p.request(p.options.method().equals("HEAD") ? "HEAD" : "GET", p.pathAndQuery(), Probe.headers("Origin", evil), sent);
            } catch (IOException ex) {
                p.add(Finding.skip("hostile-origins", cls + " over HTTP", "cors.hostile_not_probed", "no answer: " + ex.getMessage()));
                continue;
            }
            List<String> ev = Probe.join(sent, r.evidence(CORS_HEADERS));
            String acao = r.header("access-control-allow-origin");
            boolean reflected = acao != null && acao.trim().equals(evil);
            boolean credentialed = "true".equals(r.header("access-control-allow-credentials"));
            if (reflected) {
                p.add(Finding.fail("hostile-origins", cls + " over HTTP", "cors.hostile_accepted", "the " + cls + " origin " + evil
                        + " is allowed" + (credentialed ? " with credentials: a page there can read your users' data with their cookies" : ""), ev,
                        "allow exact origins only (no reflection of the request's Origin, no unanchored patterns); Crossgate's policy is "
                                + "validated at start"));
            } else {
                p.add(Finding.pass("hostile-origins", cls + " over HTTP", "cors.hostile_refused", "the " + cls + " origin " + evil
                        + " is not allowed" + ("*".equals(acao) ? " (the answer is public: Access-Control-Allow-Origin: *, without credentials)" : ""), ev));
            }
        }
    }
}
