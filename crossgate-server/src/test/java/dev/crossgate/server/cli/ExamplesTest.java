package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Issue 13: every {@code examples/*.yaml} (the setups of docs/deploy.md) passes {@code crossgate check} without an error or
 * a warning, and serves: the listener and the admin listener start (moved to free loopback ports by the environment, as an
 * operator's CROSSGATE_LISTEN would) and /readyz answers. Secrets come from the environment, as the examples say.
 */
@ExtendWith(LeakCheck.class)
class ExamplesTest {
    static final Path EXAMPLES = Path.of("..", "examples").toAbsolutePath().normalize();
    static final Map<String, String> ENV = Map.of(
            "CROSSGATE_LISTEN", "127.0.0.1:0",
            "CROSSGATE_ADMIN_LISTEN", "127.0.0.1:0",
            "CROSSGATE_JWT_SECRET", "an-example-secret-of-more-than-32-bytes-0123456789",
            "CROSSGATE_REALTIME_HOOKS_SECRET", "an-example-hook-secret-0123456789",
            "CROSSGATE_REALTIME_PUBLISH_TOKEN", "an-example-publish-token-0123456789");

    @TempDir
    Path dir;

    static Stream<Path> examples() throws Exception {
        try (Stream<Path> s = Files.list(EXAMPLES)) {
            return s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList().stream();
        }
    }

    @Test
    void thereAreExamplesForEverySetupOfTheDeployGuide() throws Exception {
        assertThat(examples().map(p -> p.getFileName().toString()).toList()).contains("django-react.yaml", "flutter-mobile.yaml",
                "flask-socketio.yaml", "node-chat-hosted.yaml", "two-socketio-workers.yaml");
        String guide = Files.readString(EXAMPLES.resolveSibling("docs").resolve("deploy.md"));
        for (Path p : examples().toList()) {
            assertThat(guide).as("docs/deploy.md explains " + p.getFileName()).contains("examples/" + p.getFileName());
        }
    }

    @ParameterizedTest
    @MethodSource("examples")
    void passesCheckWithoutProblemsAndServes(Path example) throws Exception {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new String[] {"check", "--config", example.toString()}, new PrintWriter(out), new PrintWriter(err),
                new Main.Context(ENV, dir));
        assertThat(status).as(out + "\n" + err).isZero();
        assertThat(out + err.toString()).as("no warning").doesNotContainIgnoringCase("warning");

        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(example, null, ENV, dir));
        EdgeServer edge = new EdgeServer(c, AccessLog.discarding()).start();
        try (RawHttp admin = new RawHttp(edge.adminAddress().getPort())) {
            RawHttp.Response ready = admin.send(RawHttp.get("/readyz", "localhost")).read();
            assertThat(ready.status()).isEqualTo(200);
            assertThat(ready.body()).contains("\"status\":\"ready\"");
        } finally {
            edge.close();
        }
        assertThat(List.of(c.listen())).isNotEmpty();
    }
}
