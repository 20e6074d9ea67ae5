package dev.crossgate.cors;

import dev.crossgate.cors.CorsProblem.Severity;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Per-route policies chosen by request path, first match wins, over a default policy. A route's path is
 * a prefix matched on segment boundaries: {@code /api} matches {@code /api} and {@code /api/users},
 * never {@code /apiary}.
 */
public final class CorsRoutes {
    /** One route: a path prefix and its policy ({@link CorsPolicy#DISABLED} to turn CORS off there). */
    public record Route(String path, CorsPolicy policy) {}

    private final CorsPolicy defaultPolicy;
    private final Route[] routes;

    private CorsRoutes(CorsPolicy defaultPolicy, List<Route> routes) {
        this.defaultPolicy = defaultPolicy;
        this.routes = routes.toArray(new Route[0]);
    }

    /** Routes with only a default policy. */
    public static CorsRoutes of(CorsPolicy defaultPolicy) {
        return new CorsRoutes(Objects.requireNonNull(defaultPolicy), List.of());
    }

    public static Builder builder(CorsPolicyBuilder defaultPolicy) {
        return new Builder(defaultPolicy);
    }

    /** The policy for a request path (without query); never null. */
    public CorsPolicy policyFor(String path) {
        for (Route r : routes) {
            if (matches(r.path, path)) {
                return r.policy;
            }
        }
        return defaultPolicy;
    }

    /** The path prefix of the route chosen for {@code path}, or {@code "*"} for the default policy (a metrics label). */
    public String routeFor(String path) {
        for (Route r : routes) {
            if (matches(r.path, path)) {
                return r.path;
            }
        }
        return "*";
    }

    static boolean matches(String prefix, String path) {
        if (prefix.equals("/")) {
            return true;
        }
        if (!path.startsWith(prefix)) {
            return false;
        }
        return path.length() == prefix.length() || prefix.endsWith("/") || path.charAt(prefix.length()) == '/';
    }

    public CorsPolicy defaultPolicy() {
        return defaultPolicy;
    }

    public List<Route> routes() {
        return List.of(routes);
    }

    /** Collects the default and route policies and validates them together. */
    public static final class Builder {
        private final CorsPolicyBuilder defaultPolicy;
        private final List<String> paths = new ArrayList<>();
        private final List<CorsPolicyBuilder> policies = new ArrayList<>();
        private final List<String> pathConfigPaths = new ArrayList<>();

        private Builder(CorsPolicyBuilder defaultPolicy) {
            this.defaultPolicy = Objects.requireNonNull(defaultPolicy);
        }

        /**
         * Adds a route. {@code policy} null turns CORS off on that route (responses pass through
         * untouched and preflights go to the upstream). {@code configPath} names the path's entry in
         * problems, such as {@code cors.routes[0].path}.
         */
        public Builder route(String path, CorsPolicyBuilder policy, String configPath) {
            paths.add(path);
            policies.add(policy);
            pathConfigPaths.add(configPath == null ? "routes[" + paths.size() + "].path" : configPath);
            return this;
        }

        public Builder route(String path, CorsPolicyBuilder policy) {
            return route(path, policy, null);
        }

        /** Every problem of every policy and route path, in order. */
        public List<CorsProblem> problems() {
            List<CorsProblem> out = new ArrayList<>(defaultPolicy.problems());
            for (int i = 0; i < paths.size(); i++) {
                out.addAll(pathProblems(i));
                if (policies.get(i) != null) {
                    out.addAll(policies.get(i).problems());
                }
            }
            return out;
        }

        private List<CorsProblem> pathProblems(int i) {
            String path = paths.get(i);
            String where = pathConfigPaths.get(i);
            List<CorsProblem> out = new ArrayList<>();
            if (path == null || path.isEmpty() || path.charAt(0) != '/') {
                out.add(new CorsProblem(Severity.ERROR, where, String.valueOf(path),
                        "route path " + quote(path) + " does not start with '/'", "write " + quote("/" + (path == null ? "" : path))));
                return out;
            }
            if (path.indexOf('?') >= 0 || path.indexOf('#') >= 0 || path.indexOf('*') >= 0) {
                out.add(new CorsProblem(Severity.ERROR, where, path,
                        "route path " + quote(path) + " contains '?', '#' or '*'; a route is a path prefix",
                        "write the prefix only, such as \"/api\""));
                return out;
            }
            for (int j = 0; j < i; j++) {
                String earlier = paths.get(j);
                if (earlier != null && earlier.startsWith("/") && matches(earlier, path)) {
                    out.add(new CorsProblem(Severity.WARNING, where, path, "route path " + quote(path) + " is never chosen: the earlier route "
                            + quote(earlier) + " matches first", "move it before " + quote(earlier) + " or remove it"));
                    break;
                }
            }
            return out;
        }

        /**
         * Validates everything and builds.
         *
         * @throws InvalidCorsPolicyException listing every problem when there is at least one error
         */
        public CorsRoutes build() {
            List<CorsProblem> problems = problems();
            if (problems.stream().anyMatch(CorsProblem::isError)) {
                throw new InvalidCorsPolicyException(problems);
            }
            CorsPolicy def = defaultPolicy.build();
            List<Route> routes = new ArrayList<>();
            for (int i = 0; i < paths.size(); i++) {
                CorsPolicyBuilder b = policies.get(i);
                routes.add(new Route(paths.get(i), b == null ? CorsPolicy.DISABLED : b.build()));
            }
            return new CorsRoutes(def, routes);
        }

        private static String quote(String s) {
            return '"' + String.valueOf(s) + '"';
        }
    }
}
