package dev.crossgate.server.cli;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.demo.DemoPage;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code crossgate demo}: Crossgate on its defaults in front of a built-in JSON API, and a page on
 * another origin that calls the API cross-origin, so a newcomer sees the policy work in a browser.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run Crossgate on its defaults in front of a demo JSON API, and serve a page on another origin",
                "that calls it cross-origin (answers 200, 401, 404, 500, slowly, and a refused upload)."})
final class DemoCommand implements Callable<Integer> {
    private final Main.Context context;

    @Spec
    CommandSpec spec;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Where Crossgate listens (default: the profile's, 0.0.0.0:8080).")
    String listen;

    @Option(names = "--backend-port", defaultValue = "8000", description = "Port of the demo API on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 for any).")
    int backendPort;

    @Option(names = "--page-port", defaultValue = "3000", description = "Port of the demo page on 127.0.0.1 (default: ${DEFAULT-VALUE}; 0 for any).")
    int pagePort;

    /** An HS256 JWT for the demo's user, expired a minute ago (RFC 7519; the demo shows Crossgate's auth.expired). */
    static String expiredToken(String secret) throws java.security.GeneralSecurityException {
        java.util.Base64.Encoder b64 = java.util.Base64.getUrlEncoder().withoutPadding();
        long exp = System.currentTimeMillis() / 1000 - 60;
        String head = b64.encodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        String body = b64.encodeToString(("{\"sub\":\"demo\",\"exp\":" + exp + "}").getBytes(java.nio.charset.StandardCharsets.UTF_8));
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(secret.getBytes(java.nio.charset.StandardCharsets.UTF_8), "HmacSHA256"));
        return head + "." + body + "." + b64.encodeToString(mac.doFinal((head + "." + body).getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    DemoCommand(Main.Context context) {
        this.context = context;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", backendPort)) {
            // The demo shows a token refusal too: /api/private needs a JWT signed with a secret made for this run.
            byte[] secretBytes = new byte[32];
            new java.security.SecureRandom().nextBytes(secretBytes);
            String secret = java.util.HexFormat.of().formatHex(secretBytes);
            CrossgateConfig c = Startup.load(new ConfigLoader.Options(null, null, context.env(), context.workingDirectory())
                    .with("listen", listen).with("upstream", "http://127.0.0.1:" + backend.port())
                    .with("auth.paths", "/api/private").with("auth.jwt.secret", secret)
                    .with("realtime.enabled", "true"), err);
            if (c == null) {
                return 2;
            }
            AccessLog log = c.accessLog() ? new AccessLog(System.out) : AccessLog.discarding();
            EdgeServer edge = Startup.start(c, log, err);
            if (edge == null) {
                log.close();
                return 2;
            }
            String api = "http://localhost:" + edge.port();
            String status = edge.adminAddress() == null ? "" : "http://127.0.0.1:" + edge.adminAddress().getPort() + "/status";
            String expired = expiredToken(secret);
            // The same page on two origins: 127.0.0.1 (allowed by the dev profile's local origins) and 127.0.0.2 (a loopback
            // address no default allows), to show the same calls from both sides of the policy.
            int refusedPort = pagePort == 0 ? 0 : pagePort + 1;
            try (DemoPage refused = DemoPage.start("127.0.0.2", refusedPort, api, java.util.Map.of("__ROLE__", "refused",
                         "__STATUS__", status, "__EXPIRED__", expired));
                 DemoPage page = DemoPage.start("127.0.0.1", pagePort, api, java.util.Map.of("__ROLE__", "allowed",
                         "__OTHER__", "http://127.0.0.2:" + refused.port(), "__STATUS__", status, "__EXPIRED__", expired))) {
                err.println("crossgate demo (profile " + c.profile() + "):");
                err.println("  demo API (the backend)   http://127.0.0.1:" + backend.port());
                err.println("  Crossgate (the edge)     " + api + "  -> forwards to the demo API, applies the CORS policy");
                err.println("  demo page (allowed)      http://127.0.0.1:" + page.port() + "  <- open this in a browser");
                err.println("  demo page (refused)      http://127.0.0.2:" + refused.port() + "  <- the same calls from an origin the policy refuses");
                if (edge.adminAddress() != null) {
                    err.println("  status page              " + status);
                    err.println("  metrics                  http://127.0.0.1:" + edge.adminAddress().getPort() + "/metrics");
                }
                err.println("Access log (one JSON line per request) on standard output. Ctrl-C stops.");
                err.flush();
                Signals.awaitTermination();
                edge.drain(Duration.ofSeconds(5));
                log.close();
            }
        }
        return 0;
    }
}
