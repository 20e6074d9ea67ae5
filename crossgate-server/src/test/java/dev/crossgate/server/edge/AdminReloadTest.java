package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.proxy.UpstreamGroup;
import dev.crossgate.server.testing.RawHttp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** POST /reload on the admin listener with admin.token, and which route groups a reload keeps. */
@ExtendWith(LeakCheck.class)
class AdminReloadTest {
    private static final String TOKEN = "reload-token-0123456789abcdef";

    @TempDir
    Path dir;

    private EdgeServer edge;
    private final List<String> log = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
    }

    private String config(String routeUpstreams) {
        return """
                profile: prod
                hosts: [api.example.com]
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:9
                admin:
                  listen: 127.0.0.1:0
                  token: %s
                routes:
                  - path: /a
                    upstreams: [http://127.0.0.1:10]
                  - path: /b
                    upstreams: [%s]
                cors:
                  allowedOrigins: [https://a.example.com]
                """.formatted(TOKEN, routeUpstreams);
    }

    private void start(String yaml) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, yaml);
        ConfigLoader.Options options = new ConfigLoader.Options(f, null, Map.of(), dir);
        edge = new EdgeServer(ConfigLoader.load(options), AccessLog.discarding()).start();
        edge.reloadFrom(() -> ConfigLoader.inspect(options), log::add);
    }

    private RawHttp.Response reload(String method, String... headers) throws Exception {
        try (RawHttp c = new RawHttp(edge.adminAddress().getPort())) {
            StringBuilder b = new StringBuilder(method + " /reload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n");
            for (String h : headers) {
                b.append(h).append("\r\n");
            }
            return c.send(b.append("\r\n").toString()).read();
        }
    }

    @Test
    void withAnAdminTokenReloadRequiresItAsABearerToken() throws Exception {
        start(config("http://127.0.0.1:11"));
        RawHttp.Response none = reload("POST");
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.header("www-authenticate")).isEqualTo("Bearer realm=\"crossgate-admin\"");
        assertThat(none.body()).contains("admin.unauthorized").doesNotContain(TOKEN);
        assertThat(reload("POST", "Authorization: Bearer wrong-token-0123456789abcdef").status()).isEqualTo(401);
        assertThat(log).isEmpty(); // refused before anything was read
        assertThat(reload("GET", "Authorization: Bearer " + TOKEN).status()).isEqualTo(405);
        RawHttp.Response ok = reload("POST", "Authorization: Bearer " + TOKEN);
        assertThat(ok.status()).isEqualTo(200);
        assertThat(ok.body()).contains("\"result\":\"ok\"").doesNotContain(TOKEN);
        // The token is never shown as a setting (check prints these).
        assertThat(edge.config().settings()).noneMatch(s -> String.valueOf(s).contains(TOKEN));
    }

    @Test
    void aReloadKeepsTheGroupsWhoseUpstreamsDidNotChangeAndReplacesTheOthers() throws Exception {
        start(config("http://127.0.0.1:11"));
        List<UpstreamGroup> before = edge.groups();
        Files.writeString(dir.resolve("crossgate.yaml"), config("http://127.0.0.1:11, http://127.0.0.1:12"));
        EdgeServer.Reload r = edge.reload();
        assertThat(r.ok()).isTrue();
        assertThat(r.restartToApply()).isEmpty();
        List<UpstreamGroup> after = edge.groups();
        assertThat(after.get(0)).isSameAs(before.get(0)); // /a unchanged: its health state and pool survive
        assertThat(after.get(1)).isNotSameAs(before.get(1));
        // The upstream /b already had is the same object (its pool and ejection state); the added one is new.
        assertThat(after.get(1).upstreams().get(0)).isSameAs(before.get(1).upstreams().get(0));
        assertThat(after.get(1).upstreams().get(1).authority()).isEqualTo("127.0.0.1:12");
        assertThat(log).contains("configuration reloaded from " + dir.resolve("crossgate.yaml") + " (changed live: routes)");
    }
}
