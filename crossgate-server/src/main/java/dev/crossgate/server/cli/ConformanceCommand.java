package dev.crossgate.server.cli;

import dev.crossgate.realtime.conformance.ConformanceApp;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code crossgate conformance --port 3000}: the application the official Engine.IO v4 and Socket.IO v5
 * protocol test suites run against (raw Engine.IO echo at /engine.io/, Socket.IO at /socket.io/).
 */
@Command(name = "conformance", mixinStandardHelpOptions = true,
        description = {"Serve the application the official Engine.IO v4 and Socket.IO v5 protocol suites expect:",
                "an Engine.IO echo at /engine.io/ and a Socket.IO server at /socket.io/ (ping 300 ms / 200 ms)."})
final class ConformanceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--port", defaultValue = "3000", description = "Port (default: ${DEFAULT-VALUE}; 0 for any).")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        RealtimeHttpServer app;
        try {
            app = ConformanceApp.start(host, port);
        } catch (Exception e) {
            err.println("crossgate: cannot listen on " + host + ":" + port + ": " + e.getMessage());
            return 2;
        }
        err.println("crossgate conformance: http://" + host + ":" + app.port() + "/engine.io/ and /socket.io/. Ctrl-C stops.");
        err.flush();
        Signals.awaitTermination();
        app.close();
        return 0;
    }
}
