package dev.crossgate.server.observe;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.testing.RawHttp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13: no secret — the JWT secret, the hook secret, the publish token, the Redis password — appears on the status
 * page's data or in /metrics, given from the file or from the environment.
 */
@ExtendWith(LeakCheck.class)
class StatusPageSecretsTest {
    static final String JWT = "jwt-secret-0123456789-abcdefghijklmnop";
    static final String HOOK = "hook-secret-0123456789-abcdef";
    static final String PUBLISH = "publish-token-0123456789-abcdef";
    static final String REDIS_PASSWORD = "redis-password-0123456789";

    @TempDir
    Path dir;

    @Test
    void noSecretOnTheStatusPageOrInMetricsFromTheFileOrTheEnvironment() throws Exception {
        String yaml = """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:9
                admin:
                  listen: 127.0.0.1:0
                auth:
                  jwt:
                    secret: %s
                realtime:
                  hooks:
                    connect: /connect
                    secret: %s
                  publish:
                    token: %s
                  redis:
                    url: redis://:%s@127.0.0.1:1
                """.formatted(JWT, HOOK, PUBLISH, REDIS_PASSWORD);
        for (boolean fromEnv : List.of(false, true)) {
            Path f = dir.resolve("c" + fromEnv + ".yaml");
            Map<String, String> env = Map.of();
            if (fromEnv) {
                Files.writeString(f, "profile: dev\nlisten: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nadmin:\n  listen: 127.0.0.1:0\n"
                        + "realtime:\n  hooks:\n    connect: /connect\n");
                env = Map.of("CROSSGATE_JWT_SECRET", JWT, "CROSSGATE_REALTIME_HOOKS_SECRET", HOOK, "CROSSGATE_REALTIME_PUBLISH_TOKEN", PUBLISH,
                        "CROSSGATE_REALTIME_REDIS_URL", "redis://:" + REDIS_PASSWORD + "@127.0.0.1:1");
            } else {
                Files.writeString(f, yaml);
            }
            EdgeServer edge = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, env, dir)), AccessLog.discarding()).start();
            try (RawHttp admin = new RawHttp(edge.adminAddress().getPort())) {
                for (String path : List.of("/status.json", "/metrics", "/status")) {
                    String body = admin.send(RawHttp.get(path, "localhost")).read().body();
                    assertThat(body).as(path + (fromEnv ? " (environment)" : " (file)")).doesNotContain(JWT, HOOK, PUBLISH, REDIS_PASSWORD);
                }
                // The settings are there, shown as set.
                assertThat(admin.send(RawHttp.get("/status.json", "localhost")).read().body()).contains("auth.jwt.secret", "realtime.publish.token");
            } finally {
                edge.close();
            }
        }
    }
}
