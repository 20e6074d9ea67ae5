package dev.crossgate.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code crossgate reload}: asks a running {@code crossgate serve} to re-read its configuration, through the admin
 * listener's {@code POST /reload} (what SIGHUP does, with the answer printed here).
 */
@Command(name = "reload", mixinStandardHelpOptions = true,
        description = {"Make a running crossgate serve re-read its configuration file (as SIGHUP does), through the admin listener.",
                "An invalid file changes nothing: every problem is printed. Settings that need a restart are named."},
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:reloaded", "1:the configuration is invalid (nothing changed)", "2:the server could not be asked (unreachable, refused, usage)"})
final class ReloadCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE", description = "Configuration file whose admin.listen and admin.token to use (default: $CROSSGATE_CONFIG, else ./crossgate.yaml if present).")
    Path config;

    @Option(names = "--profile", paramLabel = "P", description = "dev or prod.")
    String profile;

    @Option(names = "--admin", paramLabel = "HOST:PORT", description = "The admin listener to ask (default: admin.listen of the configuration).")
    String admin;

    @Option(names = "--token", paramLabel = "TOKEN", description = "Bearer token for the admin listener (default: admin.token, also $CROSSGATE_ADMIN_TOKEN).")
    String token;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String address = admin;
        String bearer = token;
        if (address == null || bearer == null) {
            ConfigLoader.Result r = ConfigLoader.inspect(new ConfigLoader.Options(config, profile, System.getenv(), Path.of("")));
            CrossgateConfig c = r.config();
            if (c == null) {
                err.println("crossgate: cannot tell where the admin listener is: the configuration has errors (run crossgate check), or give --admin HOST:PORT");
                return 2;
            }
            if (address == null) {
                if (c.admin().listen() == null) {
                    err.println("crossgate: the admin listener is off (admin.enabled: false), so there is nothing to ask; send SIGHUP to the serve process instead");
                    return 2;
                }
                address = c.admin().listen().toString();
            }
            if (bearer == null) {
                bearer = c.admin().token();
            }
        }
        URI uri = URI.create("http://" + reachable(address) + "/reload");
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.noBody());
        if (bearer != null) {
            rb.header("Authorization", "Bearer " + bearer);
        }
        HttpResponse<String> res;
        try {
            res = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build().send(rb.build(), HttpResponse.BodyHandlers.ofString());
        } catch (java.io.IOException e) {
            err.println("crossgate: cannot reach the admin listener at " + uri + ": " + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
                    + " (is crossgate serve running? --admin or admin.listen name the address)");
            return 2;
        }
        JsonNode body;
        try {
            body = new ObjectMapper().readTree(res.body());
        } catch (java.io.IOException e) {
            body = null;
        }
        if (body == null || !body.has("result")) {
            String why = body != null && body.has("error") ? body.get("error").asText() : "HTTP " + res.statusCode();
            err.println("crossgate: reload refused by " + uri + ": " + why);
            return 2;
        }
        for (JsonNode p : body.path("problems")) {
            String where = p.path("where").isNull() || p.path("where").isMissingNode() ? "" : " (" + p.get("where").asText() + ")";
            err.println(p.path("severity").asText() + ": " + p.path("path").asText() + where + ": " + p.path("message").asText()
                    + "\n    fix: " + p.path("fix").asText());
        }
        if (!"ok".equals(body.get("result").asText())) {
            err.println("crossgate: reload refused: " + body.path("source").asText("the configuration") + " is invalid; the running configuration is unchanged");
            return 1;
        }
        out.println("crossgate: configuration reloaded from " + body.path("source").asText());
        if (!body.path("restartToApply").isEmpty()) {
            StringBuilder b = new StringBuilder();
            for (JsonNode s : body.path("restartToApply")) {
                b.append(b.length() == 0 ? "" : ", ").append(s.asText());
            }
            out.println("crossgate: restart to apply: " + b + " (the old values stay until then)");
        }
        return 0;
    }

    /** A wildcard listen address (0.0.0.0, ::) is asked on loopback. */
    private static String reachable(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon);
        String port = hostPort.substring(colon + 1);
        if (host.equals("0.0.0.0") || host.isEmpty() || host.equals("*")) {
            host = "127.0.0.1";
        } else if (host.equals("::") || host.equals("[::]") || host.equals("0:0:0:0:0:0:0:0")) {
            host = "[::1]";
        } else if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
            host = "[" + host + "]";
        }
        return host + ":" + port;
    }
}
