package dev.crossgate.server.cli;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code crossgate serve}: the edge in front of an upstream, with one validated CORS policy on every response. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the edge: a reverse proxy that answers preflights, checks Host and applies the CORS policy",
                "to every response (dev defaults: listen on 0.0.0.0:8080, forward to http://127.0.0.1:8000)."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:stopped (SIGTERM drains in-flight exchanges first)", "2:invalid configuration or usage"},
        footerHeading = "%nSignals:%n",
        footer = {"SIGHUP re-reads the configuration (as crossgate reload does); an invalid file changes nothing."})
final class ServeCommand implements Callable<Integer> {
    /**
     * The process's lifecycle log: JSON lines with levels on stderr (logback.xml, {@link dev.crossgate.server.observe.JsonLineEncoder}),
     * in the access log's shape. What refuses the start (an invalid configuration, a busy port) stays the command's own
     * answer on stderr, in text, since it is read by whoever typed the command.
     */
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("crossgate.serve");
    private final Main.Context context;

    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (default: $CROSSGATE_CONFIG, else ./crossgate.yaml if present).")
    Path config;

    @Option(names = "--profile", paramLabel = "P", description = "dev or prod.")
    String profile;

    @Option(names = "--listen", paramLabel = "HOST:PORT", description = "Listening address (also CROSSGATE_LISTEN).")
    String listen;

    @Option(names = "--upstream", paramLabel = "URL", description = "The backend to forward to (also CROSSGATE_UPSTREAM).")
    String upstream;

    @Option(names = "--tls-self-signed", description = "Serve HTTPS with a fresh self-signed certificate for localhost, 127.0.0.1, ::1 and 10.0.2.2.")
    boolean tlsSelfSigned;

    @Option(names = "--drain-timeout", paramLabel = "DURATION", defaultValue = "30s", description = "How long SIGTERM waits for in-flight exchanges (default: ${DEFAULT-VALUE}).")
    String drainTimeout;

    ServeCommand(Main.Context context) {
        this.context = context;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        // SIGHUP reloads (never exits, not even before the server is up): installed first.
        java.util.concurrent.atomic.AtomicReference<EdgeServer> running = new java.util.concurrent.atomic.AtomicReference<>();
        Signals.onHangup(() -> {
            EdgeServer s = running.get();
            if (s == null) {
                LOG.warn("SIGHUP: not serving yet, nothing reloaded");
                return;
            }
            LOG.info("SIGHUP: reloading the configuration");
            s.reload();
        });
        // A reload reads the configuration as it was found at start: the same file, profile, environment and options.
        ConfigLoader.Options options = new ConfigLoader.Options(config, profile, context.env(), context.workingDirectory())
                .with("listen", listen).with("upstream", upstream).with("tls.selfSigned", tlsSelfSigned ? "true" : null);
        CrossgateConfig c = Startup.load(options, err);
        if (c == null) {
            return 2;
        }
        Duration drain = dev.crossgate.server.config.Units.duration(drainTimeout);
        if (drain == null) {
            err.println("crossgate: --drain-timeout \"" + drainTimeout + "\" is not a duration (expected: such as 30s)");
            return 2;
        }
        AccessLog log = c.accessLog() ? new AccessLog(System.out) : AccessLog.discarding();
        EdgeServer server = Startup.start(c, log, err);
        if (server == null) {
            log.close();
            return 2;
        }
        LOG.info("profile " + c.profile() + ", listening on " + Startup.url(server.secure() ? "https" : "http", server.address())
                + ", forwarding to " + c.upstream() + (c.routes().isEmpty() ? "" : " and " + c.routes().size() + " route(s)")
                + (server.adminAddress() == null ? "" : ", admin on " + Startup.url("http", server.adminAddress())));
        int configured = c.limits().maxConnections();
        if (server.descriptorLimit() > 0 && (configured == 0 || server.maxConnections() < configured)) {
            // The descriptor budget is the binding limit: say so, since limits.maxConnections alone would mislead.
            LOG.info("at most " + server.maxConnections() + " client connections at once (descriptor limit "
                    + server.descriptorLimit() + ", half of what is left after a reserve goes to upstream connections; limits.maxConnections "
                    + configured + "); more are closed at accept");
        }
        server.reloadFrom(() -> ConfigLoader.inspect(options), line -> {}); // its lines go to the log
        running.set(server);
        Signals.awaitTermination();
        LOG.info("draining (up to " + drainTimeout + ")");
        server.drain(drain);
        log.close();
        LOG.info("stopped");
        return 0;
    }
}
