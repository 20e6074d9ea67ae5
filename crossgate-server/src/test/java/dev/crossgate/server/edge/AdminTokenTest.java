package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.cli.Main;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin listener's operator pages (the status page, its JSON and events, POST /reload) behind admin.token
 * (issue 13, Build 3): a listener beyond loopback does not start without a token; with one, those pages need it (as a
 * bearer token, or the cookie the status page's form sets) while /metrics, /healthz and /readyz stay open to probes and
 * scrapers; every refusal is answered with its reason code and counted.
 */
@ExtendWith(LeakCheck.class)
class AdminTokenTest {
    private static final String TOKEN = "admin-token-0123456789abcdefXYZ";

    @TempDir
    Path dir;

    private EdgeServer edge;

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
    }

    private Path file(String admin) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nadmin:\n" + admin
                + "cors:\n  allowedOrigins: [https://a.example.com]\n");
        return f;
    }

    private int run(StringWriter out, StringWriter err, String... args) {
        return Main.run(args, new PrintWriter(out, true), new PrintWriter(err, true), new Main.Context(Map.of(), dir));
    }

    @Test
    void anAdminListenerBeyondLoopbackWithoutATokenIsRefusedByCheckAndServe() throws Exception {
        Path f = file("  listen: 0.0.0.0:0\n");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        assertThat(run(out, err, "check", "--config", f.toString())).isEqualTo(2);
        assertThat(out + "" + err).contains("error: admin.token", "admin.listen 0.0.0.0:0", "is not on loopback",
                "set admin.token (or CROSSGATE_ADMIN_TOKEN)");
        StringWriter serveErr = new StringWriter();
        assertThat(run(new StringWriter(), serveErr, "serve", "--config", f.toString())).isEqualTo(2);
        assertThat(serveErr.toString()).contains("error: admin.token", "crossgate: refusing to start");

        // Loopback in every spelling needs no token; a name other than localhost is not taken for loopback.
        for (String host : new String[] {"127.0.0.1", "127.0.0.2", "\"[::1]", "localhost"}) {
            StringWriter o = new StringWriter();
            assertThat(run(o, new StringWriter(), "check", "--config", file("  listen: " + host + ":0" + (host.startsWith("\"") ? "\"" : "") + "\n").toString())).as(host + "\n" + o).isZero();
        }
        StringWriter named = new StringWriter();
        assertThat(run(named, new StringWriter(), "check", "--config", file("  listen: admin.internal:9090\n").toString())).isEqualTo(2);
        assertThat(named.toString()).contains("error: admin.token");
        // A token that is too short is refused too.
        StringWriter shortOne = new StringWriter();
        assertThat(run(shortOne, new StringWriter(), "check", "--config", file("  listen: 0.0.0.0:0\n  token: abc\n").toString())).isEqualTo(2);
        assertThat(shortOne.toString()).contains("error: admin.token", "3 characters").doesNotContain("abc\"");
    }

    private RawHttp.Response admin(String method, String path, String body, String... headers) throws Exception {
        try (RawHttp c = new RawHttp(edge.adminAddress().getPort())) {
            StringBuilder b = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: "
                    + body.length() + "\r\n");
            for (String h : headers) {
                b.append(h).append("\r\n");
            }
            return c.send(b.append("\r\n").append(body).toString()).read(method.equals("HEAD"));
        }
    }

    @Test
    void withATokenTheOperatorPagesNeedItAndProbesDoNot() throws Exception {
        // Beyond loopback (every address), reached here through 127.0.0.1 only.
        Path f = file("  listen: 0.0.0.0:0\n  token: " + TOKEN + "\n");
        edge = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)), AccessLog.discarding()).start();

        // Probes and the scraper: open.
        assertThat(admin("GET", "/healthz", "").status()).isEqualTo(200);
        assertThat(admin("GET", "/readyz", "").status()).isEqualTo(200);
        assertThat(admin("GET", "/metrics", "").status()).isEqualTo(200);

        // Operator pages without the token, or with a wrong one: 401 with the reason code.
        RawHttp.Response page = admin("GET", "/status", "");
        assertThat(page.status()).isEqualTo(401);
        assertThat(page.header("x-crossgate-reason")).isEqualTo("admin.unauthorized");
        assertThat(page.body()).contains("<form method=\"post\" action=\"/status/login\">", "name=\"token\"");
        for (String path : new String[] {"/status.json", "/status/events"}) {
            RawHttp.Response r = admin("GET", path, "", "Authorization: Bearer " + TOKEN + "x");
            assertThat(r.status()).as(path).isEqualTo(401);
            assertThat(r.header("www-authenticate")).isEqualTo("Bearer realm=\"crossgate-admin\"");
            assertThat(r.body()).contains("\"reason\":\"admin.unauthorized\"");
        }
        assertThat(admin("POST", "/reload", "").status()).isEqualTo(401);
        assertThat(admin("GET", "/status.json", "", "Cookie: crossgate_admin=" + "0".repeat(64)).status()).isEqualTo(401);

        // The form: a wrong token says so (without echoing it); the right one sets a session cookie, not the token.
        RawHttp.Response wrong = admin("POST", "/status/login", "token=nope-" + TOKEN.substring(0, 8), "Content-Type: application/x-www-form-urlencoded");
        assertThat(wrong.status()).isEqualTo(401);
        assertThat(wrong.body()).contains("that is not the admin token").doesNotContain("nope-");
        RawHttp.Response login = admin("POST", "/status/login", "token=" + TOKEN, "Content-Type: application/x-www-form-urlencoded");
        assertThat(login.status()).isEqualTo(303);
        assertThat(login.header("location")).isEqualTo("/status");
        String setCookie = login.header("set-cookie");
        assertThat(setCookie).startsWith("crossgate_admin=").contains("HttpOnly", "SameSite=Strict").doesNotContain(TOKEN);
        String cookie = setCookie.split(";", 2)[0];

        // With the cookie or the bearer token: the page, its JSON and its events.
        RawHttp.Response withCookie = admin("GET", "/status", "", "Cookie: other=1; " + cookie);
        assertThat(withCookie.status()).isEqualTo(200);
        assertThat(withCookie.body()).contains("Crossgate status", "/status/events");
        RawHttp.Response json = admin("GET", "/status.json", "", "Authorization: Bearer " + TOKEN);
        assertThat(json.status()).isEqualTo(200);
        assertThat(json.body()).contains("\"config\"").doesNotContain(TOKEN);
        try (RawHttp c = new RawHttp(edge.adminAddress().getPort())) {
            c.send("GET /status/events HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "Cookie: " + cookie + "\r\n\r\n");
            RawHttp.Response head = c.read(true); // the head of the stream: it goes on
            assertThat(head.status()).isEqualTo(200);
            assertThat(head.header("content-type")).startsWith("text/event-stream");
        }

        // Every refusal was counted by its reason.
        String metrics = admin("GET", "/metrics", "").body();
        assertThat(metrics).containsPattern("crossgate_admin_refused_total\\{reason=\"admin.unauthorized\",?\\} 6\\.0");
    }
}
