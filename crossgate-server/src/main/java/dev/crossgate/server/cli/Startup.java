package dev.crossgate.server.cli;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.ConfigProblem;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.edge.ListenException;
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

    /**
     * The started edge, or null after one line on {@code err}: the address, the cause and the option to change
     * (issue 13: a busy port ended in a 30-line stack trace that named no option). Never a stack trace.
     */
    static EdgeServer start(CrossgateConfig c, AccessLog log, PrintWriter err) {
        try {
            return new EdgeServer(c, log).start();
        } catch (ListenException e) {
            err.println(describe(e));
        } catch (Exception e) {
            // Anything else that stops the start (a TLS file that cannot be read, ...): its message, on one line.
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage().lines().findFirst().orElse("");
            err.println("crossgate: cannot start: " + ConfigProblem.visible(m));
        }
        err.flush();
        return null;
    }

    /** {@code crossgate: cannot listen on 127.0.0.1:9090 (admin.listen): <cause>; set admin.listen ... to a free address}. */
    static String describe(ListenException e) {
        String option = e.option();
        String env = option.equals("listen") ? "CROSSGATE_LISTEN, --listen" : "CROSSGATE_" + option.toUpperCase(java.util.Locale.ROOT).replace('.', '_');
        return "crossgate: cannot listen on " + ConfigProblem.visible(e.address().toString()) + " (" + option + "): "
                + ConfigProblem.visible(e.reason()) + "; set " + option + " (or " + env + ") to a free address"
                + (option.equals("admin.listen") ? ", or admin.enabled: false" : "");
    }

    /**
     * A URL for a bound address, as a browser's address bar takes it: IPv6 in brackets and in the RFC 5952 text form
     * ({@code http://[::]:8080}, not {@code http://0:0:0:0:0:0:0:0:8080}); a wildcard address says so.
     */
    static String url(String scheme, java.net.InetSocketAddress a) {
        java.net.InetAddress ip = a.getAddress();
        String host = ip == null ? a.getHostString() : ip instanceof java.net.Inet6Address ? "[" + rfc5952(ip.getHostAddress()) + "]" : ip.getHostAddress();
        return scheme + "://" + host + ":" + a.getPort() + (ip != null && ip.isAnyLocalAddress() ? " (all interfaces)" : "");
    }

    /** RFC 5952 section 4: groups without leading zeros, the longest run of two or more zero groups as "::", lower case. */
    static String rfc5952(String full) {
        int pct = full.indexOf('%');
        String scope = pct < 0 ? "" : full.substring(pct);
        String[] g = (pct < 0 ? full : full.substring(0, pct)).split(":");
        if (g.length != 8) {
            return full;
        }
        int bestStart = -1;
        int bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (Integer.parseInt(g[i], 16) != 0) {
                i++;
                continue;
            }
            int j = i;
            while (j < 8 && Integer.parseInt(g[j], 16) == 0) {
                j++;
            }
            if (j - i > bestLen) { // 4.2.3: the first of equally long runs
                bestStart = i;
                bestLen = j - i;
            }
            i = j;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (bestLen >= 2 && i == bestStart) { // 4.2.2: a single zero group is not shortened
                b.append("::");
                i += bestLen - 1;
                continue;
            }
            if (b.length() > 0 && b.charAt(b.length() - 1) != ':') {
                b.append(':');
            }
            b.append(Integer.toHexString(Integer.parseInt(g[i], 16)));
        }
        return b.append(scope).toString();
    }
}
