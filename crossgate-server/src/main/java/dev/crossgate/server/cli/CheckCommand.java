package dev.crossgate.server.cli;

import dev.crossgate.cors.CorsDecision;
import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.cors.CorsRoutes;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.ConfigProblem;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.config.Setting;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code crossgate check}: prints the effective configuration with the source of every value and every
 * problem (exit 0 valid, 2 invalid); with {@code --origin}, the decision for one request (exit 0
 * allowed, 1 refused, 2 invalid configuration).
 */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Validate the configuration and print it with the source of every value.",
                "With --origin, print the CORS decision for one request, the headers that would be sent,",
                "and when refused the reason and the change that would allow it."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:valid (or: the request is allowed)", "1:the request is refused", "2:invalid configuration or usage"})
final class CheckCommand implements Callable<Integer> {
    /** Request headers a browser sends without a preflight (Fetch, CORS-safelisted request-header). */
    private static final Set<String> SAFELISTED = Set.of("accept", "accept-language", "content-language");

    private final Main.Context context;

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (default: $CROSSGATE_CONFIG, else ./crossgate.yaml if present).")
    Path config;

    @Option(names = "--profile", paramLabel = "P", description = "dev or prod (default: $CROSSGATE_PROFILE, else the file's profile, else dev).")
    String profile;

    @Option(names = "--origin", paramLabel = "O", description = "Decide a request from this origin, such as https://app.example.com.")
    String origin;

    @Option(names = "--method", paramLabel = "M", defaultValue = "GET", description = "The request's method (default: ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--header", paramLabel = "H", description = "A request header name the page sets (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(names = "--credentials", description = "The request includes credentials (cookies, HTTP authentication).")
    boolean credentials;

    @Option(names = "--path", paramLabel = "P", defaultValue = "/", description = "The request path, which selects the route policy (default: ${DEFAULT-VALUE}).")
    String path;

    CheckCommand(Main.Context context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        ConfigLoader.Result r = ConfigLoader.inspect(new ConfigLoader.Options(config, profile, context.env(), context.workingDirectory()));
        if (origin == null) {
            printConfiguration(out, r);
            printProblems(out, r.problems());
            return r.valid() ? 0 : 2;
        }
        if (!r.valid()) {
            out.println("The configuration is invalid; no decision can be made.");
            printProblems(out, r.problems());
            return 2;
        }
        return decide(out, r.config());
    }

    private void printConfiguration(PrintWriter out, ConfigLoader.Result r) {
        long errors = r.errors().size();
        long warnings = r.problems().size() - errors;
        out.println("Configuration " + (r.fileName() == null ? "(no file: built-in defaults)" : r.fileName())
                + ", profile " + r.profile() + " (from " + (r.profileSource().kind() == dev.crossgate.server.config.Source.Kind.DEFAULT ? "default" : r.profileSource().toString()) + "): "
                + (errors == 0 ? "valid" : "INVALID, " + errors + (errors == 1 ? " error" : " errors"))
                + (warnings == 0 ? "" : ", " + warnings + (warnings == 1 ? " warning" : " warnings")));
        out.println();
        int width = 0;
        int valueWidth = 0;
        for (Setting s : r.settings()) {
            width = Math.max(width, s.path().length());
            valueWidth = Math.max(valueWidth, Math.min(60, s.value().length()));
        }
        for (Setting s : r.settings()) {
            String value = s.value();
            out.println("  " + pad(s.path(), width) + "  " + pad(value, valueWidth) + "  " + (s.source() == null ? "inherited from cors" : s.source()));
        }
    }

    private static void printProblems(PrintWriter out, List<ConfigProblem> problems) {
        if (problems.isEmpty()) {
            out.println();
            out.println("No problems.");
            return;
        }
        out.println();
        out.println("Problems (" + problems.size() + "):");
        for (ConfigProblem p : problems) {
            out.println(p.describe());
        }
    }

    private int decide(PrintWriter out, CrossgateConfig config) {
        CorsRoutes routes = config.cors();
        CorsPolicy policy = routes.policyFor(path);
        String m = method.toUpperCase(Locale.ROOT).equals(method) ? method : dev.crossgate.cors.internal.HttpTokens.normalizeMethod(method);
        out.println("Request: " + m + " " + path + " from " + origin
                + (headers.isEmpty() ? "" : ", headers " + String.join(", ", headers))
                + (credentials ? ", with credentials" : ", without credentials"));
        out.println("Policy:  " + describePolicy(routes, policy));
        if (!policy.enabled()) {
            out.println();
            out.println("CORS is off on this route: Crossgate adds no CORS headers and forwards preflights to the upstream.");
            return 0;
        }
        List<String> reasons = new ArrayList<>();
        if (!m.equals("GET") && !m.equals("HEAD") && !m.equals("POST")) {
            reasons.add(m + " is not a CORS-safelisted method");
        }
        List<String> preflightHeaders = new ArrayList<>();
        for (String h : headers) {
            String lower = h.toLowerCase(Locale.ROOT);
            if (!SAFELISTED.contains(lower)) {
                preflightHeaders.add(lower);
                reasons.add(h + " is not a CORS-safelisted request header"
                        + (lower.equals("content-type") ? " (assuming a type other than form data or text/plain)" : ""));
            }
        }
        CorsDecision result;
        if (!reasons.isEmpty()) {
            out.println();
            out.println("1. Preflight: OPTIONS " + path + " (" + String.join("; ", reasons) + ")");
            CorsDecision pre = policy.preflight(origin, m, preflightHeaders.isEmpty() ? List.of() : List.of(String.join(",", preflightHeaders)));
            if (credentials) {
                pre = policy.forCredentialedRequest(origin, pre);
            }
            printDecision(out, pre, "the edge answers " + pre.preflightStatus());
            if (!pre.allowed()) {
                out.println();
                out.println("Result: REFUSED (" + pre.reasonCode() + "); the browser does not send the " + m + " request.");
                return 1;
            }
            out.println();
            out.println("2. Actual request: " + m + " " + path);
        } else {
            out.println();
            out.println("No preflight: " + m + " with " + (headers.isEmpty() ? "no custom headers" : "only safelisted headers")
                    + " is sent directly.");
            out.println();
            out.println("Actual request: " + m + " " + path);
        }
        result = policy.actual(origin);
        if (credentials) {
            result = policy.forCredentialedRequest(origin, result);
        }
        printDecision(out, result, "headers added to the response");
        out.println();
        if (result.allowed()) {
            out.println("Result: ALLOWED; the page can read the response.");
            return 0;
        }
        out.println("Result: REFUSED (" + result.reasonCode() + "); the browser hides the response from the page.");
        return 1;
    }

    private static void printDecision(PrintWriter out, CorsDecision d, String what) {
        if (d.allowed()) {
            out.println("   allowed; " + what + ":");
        } else {
            out.println("   refused: " + d.reasonCode());
            out.println("   why:  " + d.message());
            out.println("   fix:  " + d.fix());
            out.println("   " + (d.isPreflight() ? "the edge answers " + d.preflightStatus() + " with" : "headers added to the response") + ":");
        }
        for (int i = 0; i < d.headerCount(); i++) {
            out.println("     " + d.headerName(i) + ": " + d.headerValue(i));
        }
        if (d.headerCount() == 0) {
            out.println("     (none)");
        }
    }

    private static String describePolicy(CorsRoutes routes, CorsPolicy policy) {
        for (CorsRoutes.Route r : routes.routes()) {
            if (r.policy() == policy) {
                return (policy.enabled() ? policy.configPath() : "route") + " (path prefix " + r.path() + ")";
            }
        }
        return "cors (the default policy)";
    }

    private static String pad(String s, int width) {
        if (s.length() >= width) {
            return s;
        }
        return s + " ".repeat(width - s.length());
    }
}
