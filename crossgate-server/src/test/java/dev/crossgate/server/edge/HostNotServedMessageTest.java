package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** A 421 for a host that is not in {@code hosts} says which host and how to serve it (issue 13), without listing the hosts served. */
@ExtendWith(LeakCheck.class)
class HostNotServedMessageTest {
    @TempDir
    Path dir;

    EdgeServer edge;

    @AfterEach
    void stop() throws Exception {
        if (edge != null) {
            edge.close();
        }
    }

    @Test
    void theRefusalNamesTheHostAndTheSettingThatServesIt() throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nupstream: http://127.0.0.1:9\nadmin:\n  enabled: false\n");
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
        try (RawHttp http = new RawHttp(edge.port())) {
            RawHttp.Response r = http.send(RawHttp.get("/hello", "shop.example.com:8443")).read();
            assertThat(r.status()).isEqualTo(421);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("host.not_allowed");
            assertThat(r.body()).contains("this server does not serve that host (shop.example.com:8443); to serve it, add it to the hosts setting"
                    + " (hosts: [..., shop.example.com], or CROSSGATE_HOSTS) and restart");
            assertThat(r.body()).doesNotContain("api.example.com");
            RawHttp.Response v6 = http.send(RawHttp.get("/hello", "[2001:db8::1]")).read();
            assertThat(v6.status()).isEqualTo(421);
            assertThat(v6.body()).contains("([2001:db8::1]); to serve it, add it to the hosts setting (hosts: [..., [2001:db8::1]]");
        }
    }
}
