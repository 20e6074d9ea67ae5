package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13: with admin.readyRequiresUpstream, /readyz is 503 while no upstream of the default route is in rotation (here
 * ejected after three failed connects), so a balancer sends traffic elsewhere; without it, /readyz stays 200.
 */
@ExtendWith(LeakCheck.class)
class ReadinessTest {
    @TempDir
    Path dir;

    private String readyAfterFailures(boolean requiresUpstream) throws Exception {
        int dead;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            dead = s.getLocalPort(); // closed again: connects to it are refused
        }
        Path f = dir.resolve("c" + requiresUpstream + ".yaml");
        Files.writeString(f, "profile: dev\nlisten: 127.0.0.1:0\nupstream: http://127.0.0.1:" + dead + "\nadmin:\n  listen: 127.0.0.1:0\n"
                + "  readyRequiresUpstream: " + requiresUpstream + "\n");
        EdgeServer edge = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)), AccessLog.discarding()).start();
        try (RawHttp admin = new RawHttp(edge.adminAddress().getPort())) {
            assertThat(admin.send(RawHttp.get("/readyz", "localhost")).read().status()).as("ready before any failure").isEqualTo(200);
            for (int i = 0; i < 3; i++) {
                try (RawHttp c = new RawHttp(edge.port())) {
                    assertThat(c.send(RawHttp.get("/x", "localhost")).read().status()).isEqualTo(502);
                }
            }
            RawHttp.Response r = admin.send(RawHttp.get("/readyz", "localhost")).read();
            return r.status() + " " + r.body().trim();
        } finally {
            edge.close();
        }
    }

    @Test
    void notReadyWhileNoUpstreamIsInRotationOnlyWhenAsked() throws Exception {
        assertThat(readyAfterFailures(true)).isEqualTo("503 {\"status\":\"upstream_unavailable\"}");
        assertThat(readyAfterFailures(false)).isEqualTo("200 {\"status\":\"ready\"}");
    }
}
