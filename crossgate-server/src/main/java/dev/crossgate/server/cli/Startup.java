package dev.crossgate.server.cli;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.ConfigProblem;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.io.PrintWriter;

/** What the commands that run the edge share: load and report the configuration, then bind with a clean error. */
final class Startup {
    private Startup() {}

    /** The configuration, or null after printing every problem (the command then exits 2). Warnings are printed too. */
    static CrossgateConfig load(ConfigLoader.Options options, PrintWriter err) {
        ConfigLoader.Result r = ConfigLoader.inspect(options);
        for (ConfigProblem p : r.problems()) {
            err.println(p.describe());
        }
        if (!r.valid()) {
            err.println("crossgate: refusing to start: the configuration has " + r.errors().size() + (r.errors().size() == 1 ? " error" : " errors")
                    + " (run crossgate check for the whole configuration)");
            err.flush();
            return null;
        }
        return r.config();
    }

    /** The started edge, or null after saying which address could not be bound. */
    static EdgeServer start(CrossgateConfig c, AccessLog log, PrintWriter err) throws Exception {
        try {
            return new EdgeServer(c, log).start();
        } catch (java.io.IOException e) {
            // java.net.BindException from the NIO transport; the native epoll transport throws its own IOException
            // (Errors.NativeIoException, "bind(..) failed ... Address already in use"), which is no BindException.
            err.println("crossgate: cannot listen: " + e.getMessage() + " (listen " + c.listen()
                    + (c.admin().listen() == null ? "" : ", admin.listen " + c.admin().listen()) + "); choose a free port");
            err.flush();
            return null;
        }
    }
}
