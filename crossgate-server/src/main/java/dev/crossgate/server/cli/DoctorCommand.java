package dev.crossgate.server.cli;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.ConfigProblem;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.doctor.Doctor;
import dev.crossgate.server.doctor.Options;
import dev.crossgate.server.doctor.Output;
import dev.crossgate.server.doctor.Report;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code crossgate doctor URL}: probes a deployment from outside and reports, check by check, what passes,
 * what fails, the evidence and the fix. Exit 0 when nothing fails, 1 when something does, 2 when it cannot run.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Probe a deployment from outside, as browsers and mobile apps would, and say what is wrong:",
                "DNS (every address), TLS, redirects, Host handling, CORS (preflight and request, named as Chromium names",
                "its errors), CORS on error responses, hostile origins, WebSocket, Socket.IO, mobile clients.",
                "Works against any server, Crossgate or not."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:every check passed (warnings allowed)", "1:at least one check failed", "2:the doctor could not run (usage, configuration)"})
final class DoctorCommand implements Callable<Integer> {
    private final Main.Context context;

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "URL", description = "The deployment's URL (http or https), with the route to probe, such as https://api.example.com/api/items.")
    String url;

    @Option(names = "--origin", paramLabel = "O", description = "An origin your pages are served from (repeatable), such as https://app.example.com.")
    List<String> origins = new ArrayList<>();

    @Option(names = "--method", paramLabel = "M", description = "The method your pages use on the route (default: GET).")
    String method = "GET";

    @Option(names = "--header", paramLabel = "H", description = "A request header your pages send, as \"Name: value\" (repeatable).")
    List<String> headers = new ArrayList<>();

    @Option(names = "--credentials", description = "Requests carry cookies (fetch credentials: \"include\", axios withCredentials).")
    boolean credentials;

    @Option(names = "--ws", paramLabel = "PATH", description = "A WebSocket path to probe, such as /ws.")
    String ws;

    @Option(names = "--ws-protocol", paramLabel = "P", description = "A WebSocket subprotocol to offer (repeatable).")
    List<String> wsProtocols = new ArrayList<>();

    @Option(names = "--ws-hold", paramLabel = "DURATION", description = "How long to hold the WebSocket open without traffic (default: 70s, longer than the usual 60 s proxy timeout; 0 skips the hold).")
    String wsHold = "70s";

    @Option(names = "--socketio", paramLabel = "PATH", description = "The Socket.IO path to probe, such as /socket.io/.")
    String socketio;

    @Option(names = "--token", paramLabel = "T", description = "A bearer token sent where a probe should be let in (WebSocket, Socket.IO, the request).")
    String token;

    @Option(names = "--config", paramLabel = "FILE", description = "A crossgate.yaml: the origins, WebSocket and Socket.IO paths to probe come from it.")
    Path config;

    @Option(names = "--ca", paramLabel = "FILE", description = "PEM certificate(s) to trust besides the system's (a private CA).")
    Path ca;

    @Option(names = "--resolve", paramLabel = "HOST=ADDR[,ADDR]", description = "Use these addresses for HOST instead of DNS, as curl's --resolve (repeatable); a new server before its DNS, or one address of several.")
    List<String> resolve = new ArrayList<>();

    @Option(names = "--timeout", paramLabel = "DURATION", description = "Each probe's timeout (default: 5s).")
    String timeout = "5s";

    @Option(names = "--deadline", paramLabel = "DURATION", description = "The whole run's limit (default: 3m).")
    String deadline = "3m";

    @Option(names = "--json", description = "Print the report as JSON (schema: docs/doctor-report.schema.json).")
    boolean json;

    @Option(names = "--junit", paramLabel = "FILE", description = "Also write the report as JUnit XML, for CI.")
    Path junit;

    @Option(names = {"-v", "--verbose"}, description = "Show the evidence of passing checks too.")
    boolean verbose;

    DoctorCommand(Main.Context context) {
        this.context = context;
    }

    @Override
    public Integer call() {
        List<String> problems = new ArrayList<>();
        URI target = null;
        try {
            target = new URI(url);
            String scheme = target.getScheme() == null ? "" : target.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https") || target.getHost() == null) {
                problems.add("URL " + url + ": give an http:// or https:// URL with a host, such as https://api.example.com/api/items");
            }
        } catch (URISyntaxException e) {
            problems.add("URL " + url + " is not a URL: " + e.getMessage());
        }
        List<String[]> hs = new ArrayList<>();
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0 || !h.substring(0, colon).trim().matches("[!#$%&'*+.^_`|~0-9A-Za-z-]+")) {
                problems.add("--header " + h + ": write it as \"Name: value\", such as \"Authorization: Bearer x\"");
            } else {
                hs.add(new String[] {h.substring(0, colon).trim(), h.substring(colon + 1).trim()});
            }
        }
        if (!method.matches("[A-Z]+")) {
            problems.add("--method " + method + ": an HTTP method in capitals, such as PUT");
        }
        Duration probe = duration("--timeout", timeout, problems);
        Duration all = duration("--deadline", deadline, problems);
        Duration hold = duration("--ws-hold", wsHold, problems);
        if (probe.isZero() || all.isZero()) {
            problems.add("--timeout and --deadline must be more than 0");
        }
        LinkedHashSet<String> originSet = new LinkedHashSet<>();
        for (String o : origins) {
            // The origin as a browser serializes it (lower case, no default port), so it compares with what servers echo.
            String n = o.equals("null") ? o : dev.crossgate.cors.Origin.normalize(o);
            if (n == null) {
                problems.add("--origin " + o + ": an origin is a scheme, host and optional port, without a path, such as https://app.example.com");
            } else {
                originSet.add(n);
            }
        }
        String wsPath = ws;
        String sioPath = socketio;
        CrossgateConfig fromConfig = null;
        if (config != null && target != null) {
            ConfigLoader.Result r = ConfigLoader.inspect(new ConfigLoader.Options(config, null, context.env(), context.workingDirectory()));
            if (!r.valid()) {
                for (ConfigProblem p : r.errors()) {
                    problems.add(config + ": " + p.message());
                }
            } else {
                CrossgateConfig c = r.config();
                fromConfig = c;
                // The exact origins the configuration allows (patterns such as https://*.example.com name no one page).
                for (dev.crossgate.cors.OriginPattern op : c.cors().policyFor(target.getPath() == null || target.getPath().isEmpty() ? "/"
                        : target.getPath()).allowedOrigins()) {
                    if (op.kind() == dev.crossgate.cors.OriginPattern.Kind.EXACT) {
                        originSet.add(op.toString());
                    }
                }
                if (wsPath == null && !c.webSocket().paths().isEmpty()) {
                    wsPath = c.webSocket().paths().get(0);
                }
                if (sioPath == null && c.realtime().enabled()) {
                    sioPath = c.realtime().path();
                }
            }
        }
        List<X509Certificate> trust = new ArrayList<>();
        if (ca != null) {
            try (InputStream in = Files.newInputStream(ca)) {
                for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    trust.add((X509Certificate) c);
                }
            } catch (IOException | java.security.cert.CertificateException e) {
                problems.add("--ca " + ca + ": not PEM certificates (" + e.getMessage() + ")");
            }
        }
        if (wsPath != null && !wsPath.startsWith("/")) {
            problems.add("--ws " + wsPath + ": a path starting with /");
        }
        if (sioPath != null && !sioPath.startsWith("/")) {
            problems.add("--socketio " + sioPath + ": a path starting with /, such as /socket.io/");
        }
        java.util.Map<String, List<java.net.InetAddress>> resolved = new java.util.LinkedHashMap<>();
        for (String r : resolve) {
            int eq = r.indexOf('=');
            List<java.net.InetAddress> list = new ArrayList<>();
            if (eq > 0) {
                for (String a : r.substring(eq + 1).split(",")) {
                    String lit = a.trim().replaceAll("^\\[|\\]$", "");
                    if (!lit.matches("[0-9.]+|[0-9a-fA-F:]+")) {
                        list = null;
                        break;
                    }
                    try {
                        list.add(java.net.InetAddress.getByName(lit)); // a literal: no lookup
                    } catch (java.net.UnknownHostException e) {
                        list = null;
                        break;
                    }
                }
            }
            if (eq <= 0 || list == null || list.isEmpty()) {
                problems.add("--resolve " + r + ": write HOST=ADDRESS[,ADDRESS], such as api.example.com=203.0.113.7,2001:db8::7");
            } else {
                resolved.put(r.substring(0, eq).trim(), list);
            }
        }
        if (!problems.isEmpty()) {
            for (String p : problems) {
                spec.commandLine().getErr().println("crossgate doctor: " + p);
            }
            return 2;
        }
        Options o = Options.of(target).withOrigins(List.copyOf(originSet)).withMethod(method, hs, credentials)
                .withWebSocket(wsPath, wsProtocols, hold).withSocketIo(sioPath).withToken(token).withTimeouts(probe, all).withTrust(trust);
        for (var e : resolved.entrySet()) {
            o = o.withResolve(e.getKey(), e.getValue());
        }
        if (fromConfig != null && !originSet.isEmpty()) {
            // Each configured route, with what the configuration says of the first origin there.
            String first = originSet.iterator().next();
            List<Options.Route> routes = new ArrayList<>();
            for (CrossgateConfig.ProxyRoute pr : fromConfig.routes()) {
                routes.add(new Options.Route(pr.path(), allows(fromConfig.cors().policyFor(pr.path()), first)));
            }
            for (dev.crossgate.cors.CorsRoutes.Route cr : fromConfig.cors().routes()) {
                if (routes.stream().noneMatch(x -> x.path().equals(cr.path()))) {
                    routes.add(new Options.Route(cr.path(), allows(cr.policy(), first)));
                }
            }
            o = o.withRoutes(routes);
        }
        // Text mode: each verdict on stderr as soon as it is known, and the WebSocket hold's countdown, so a 70 s run is
        // not 70 s of silence; the report (stdout) follows at the end. JSON and JUnit modes stay quiet until the end.
        java.io.PrintWriter err = spec.commandLine().getErr();
        Doctor.Progress progress = json ? Doctor.Progress.NONE : new Doctor.Progress() {
            @Override
            public void verdict(dev.crossgate.server.doctor.Finding f) {
                synchronized (err) {
                    err.println("crossgate doctor: " + f.status().name().toLowerCase(java.util.Locale.ROOT) + " " + f.check() + " " + f.code()
                            + (f.name() == null || f.name().isEmpty() ? "" : " (" + f.name() + ")"));
                    err.flush();
                }
            }

            @Override
            public void waiting(String what) {
                synchronized (err) {
                    err.println("crossgate doctor: " + what);
                    err.flush();
                }
            }
        };
        Report report = Doctor.run(o, progress);
        if (json) {
            spec.commandLine().getOut().print(Output.json(report));
        } else {
            spec.commandLine().getOut().print(Output.text(report, verbose));
        }
        if (junit != null) {
            try {
                Files.writeString(junit, Output.junit(report), StandardCharsets.UTF_8);
            } catch (IOException e) {
                spec.commandLine().getErr().println("crossgate doctor: cannot write " + junit + ": " + e.getMessage());
                return 2;
            }
        }
        return report.exitCode();
    }

    /** Whether a page on {@code origin} can read answers under this policy (a CORS-off route allows no other origin). */
    private static boolean allows(dev.crossgate.cors.CorsPolicy policy, String origin) {
        return policy.enabled() && policy.actual(origin).allowed();
    }

    /** A duration as the configuration writes them (Units: ms, s, m, h, d; a bare number is seconds). */
    private static Duration duration(String option, String text, List<String> problems) {
        Duration d = dev.crossgate.server.config.Units.duration(text.trim());
        if (d == null) {
            problems.add(option + " " + text + ": a duration such as 5s, 500ms or 2m");
            return Duration.ofSeconds(5);
        }
        return d;
    }
}
