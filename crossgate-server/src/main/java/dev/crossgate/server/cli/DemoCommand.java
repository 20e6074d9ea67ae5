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

    DemoCommand(Main.Context context) {
        this.context = context;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", backendPort)) {
            CrossgateConfig c = Startup.load(new ConfigLoader.Options(null, null, context.env(), context.workingDirectory())
                    .with("listen", listen).with("upstream", "http://127.0.0.1:" + backend.port()), err);
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
            try (DemoPage page = DemoPage.start("127.0.0.1", pagePort, api)) {
                err.println("crossgate demo (profile " + c.profile() + "):");
                err.println("  demo API (the backend)   http://127.0.0.1:" + backend.port());
                err.println("  Crossgate (the edge)     " + api + "  -> forwards to the demo API, applies the CORS policy");
                err.println("  demo page (other origin) http://127.0.0.1:" + page.port() + "  <- open this in a browser");
                if (edge.adminAddress() != null) {
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
