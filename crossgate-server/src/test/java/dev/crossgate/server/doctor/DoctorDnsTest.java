package dev.crossgate.server.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * One name, several addresses, each probed on its own: an IPv6 address serving another deployment, and one
 * that does not answer at all, are failures that only some clients see. The name resolves through --resolve
 * to 127.0.0.1 and ::1 (loopback only).
 */
@ExtendWith(LeakCheck.class)
class DoctorDnsTest {
    HttpServer v4;
    HttpServer v6;

    @AfterEach
    void stop() {
        if (v4 != null) {
            v4.stop(0);
        }
        if (v6 != null) {
            v6.stop(0);
        }
    }

    private static HttpServer server(String address, int port, int status) throws Exception {
        HttpServer s = HttpServer.create(new InetSocketAddress(InetAddress.getByName(address), port), 16);
        s.createContext("/", ex -> {
            byte[] b = "{}".getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(status, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        s.start();
        return s;
    }

    private Report doctor(int port) throws Exception {
        return Doctor.run(Options.of(URI.create("http://api.test:" + port + "/health"))
                .withResolve("api.test", List.of(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("::1")))
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(30)));
    }

    @Test
    void anAddressThatServesAnotherDeploymentFails() throws Exception {
        v4 = server("127.0.0.1", 0, 200);
        int port = v4.getAddress().getPort();
        v6 = server("::1", port, 404); // a stale AAAA record pointing at an old server
        Report r = doctor(port);
        assertThat(r.in("dns")).anySatisfy(f -> {
            assertThat(f.code()).isEqualTo("dns.addresses_differ");
            assertThat(f.status()).isEqualTo(Finding.Status.FAIL);
            assertThat(String.join("\n", f.evidence())).contains("127.0.0.1:" + port + " -> HTTP 200").contains("[0:0:0:0:0:0:0:1]:" + port + " -> HTTP 404");
        });
    }

    @Test
    void anAddressThatDoesNotAnswerFailsAndTheOthersAreStillProbed() throws Exception {
        v4 = server("127.0.0.1", 0, 200);
        int port = v4.getAddress().getPort();
        Report r = doctor(port);
        assertThat(r.in("dns")).anySatisfy(f -> {
            assertThat(f.code()).isEqualTo("net.connect_failed");
            assertThat(f.status()).isEqualTo(Finding.Status.FAIL);
            assertThat(f.name()).contains(":" + port).contains("0:0:0:0:0:0:0:1");
        });
        assertThat(r.in("dns")).anySatisfy(f -> assertThat(f.code()).isEqualTo("net.connected"));
        assertThat(r.in("host")).isNotEmpty(); // the run went on with the address that answers
        assertThat(r.exitCode()).isEqualTo(1);
    }

    @Test
    void plainHttpToAPublicNameIsFlaggedForMobileApps() throws Exception {
        v4 = server("127.0.0.1", 0, 200);
        Report r = Doctor.run(Options.of(URI.create("http://api.test:" + v4.getAddress().getPort() + "/"))
                .withResolve("api.test", List.of(InetAddress.getByName("127.0.0.1"))).withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(30)));
        assertThat(r.in("mobile")).anySatisfy(f -> {
            assertThat(f.code()).isEqualTo("mobile.cleartext");
            assertThat(f.message()).contains("Android").contains("App Transport Security");
        });
    }
}
