package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.ListenException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A listener that cannot be bound ends {@code crossgate serve} with one line naming the address, the cause and the
 * option to change, exit status 2 and no stack trace (issue 13), with both transports: NIO's BindException and the
 * native epoll transport's NativeIoException ("bind(..) failed: Address already in use").
 */
class ListenFailureTest {
    @TempDir
    Path dir;

    private Process serve(String transport, Path config) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dcrossgate.transport=" + transport, "-cp", System.getProperty("java.class.path"),
                "dev.crossgate.server.cli.Main", "serve", "--config", config.toString()));
        return new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve("stdout.log").toFile()).start();
    }

    private static List<String> stderrLines(Process p) throws Exception {
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll"})
    void aBusyListenAddressIsOneLineNamingTheAddressTheCauseAndTheOption(String transport) throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:" + busy.getLocalPort() + "\nadmin:\n  enabled: false\n");
            Process p = serve(transport, f);
            try {
                List<String> err = stderrLines(p);
                assertThat(p.exitValue()).isEqualTo(2);
                assertThat(err).containsExactly("crossgate: cannot listen on 127.0.0.1:" + busy.getLocalPort()
                        + " (listen): the address is already in use (another process listens there); set listen (or CROSSGATE_LISTEN, --listen) to a free address");
                assertThat(Files.readString(dir.resolve("stdout.log"))).isEmpty();
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"nio", "epoll"})
    void aBusyAdminListenAddressNamesAdminListen(String transport) throws Exception {
        try (ServerSocket busy = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:" + busy.getLocalPort() + "\n");
            Process p = serve(transport, f);
            try {
                List<String> err = stderrLines(p);
                assertThat(p.exitValue()).isEqualTo(2);
                assertThat(err).containsExactly("crossgate: cannot listen on 127.0.0.1:" + busy.getLocalPort()
                        + " (admin.listen): the address is already in use (another process listens there); set admin.listen (or CROSSGATE_ADMIN_LISTEN) to a free address, or admin.enabled: false");
            } finally {
                p.destroyForcibly();
            }
        }
    }

    @Test
    void anAddressNoInterfaceHasIsNamedAsSuch() throws Exception {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): no interface of a test machine has it, so bind(2) fails with EADDRNOTAVAIL.
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 192.0.2.1:8080\nadmin:\n  enabled: false\n");
        Process p = serve("auto", f);
        try {
            List<String> err = stderrLines(p);
            assertThat(p.exitValue()).isEqualTo(2);
            assertThat(err).containsExactly("crossgate: cannot listen on 192.0.2.1:8080 (listen): no network interface of this machine has this address;"
                    + " set listen (or CROSSGATE_LISTEN, --listen) to a free address");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void aPortBelow1024WithoutThePrivilegeSaysWhatItNeeds() {
        // As root the kernel would grant the port, so the cause is built as bind(2) reports EACCES through each transport.
        for (Exception cause : List.of(new java.net.BindException("Permission denied"), new java.net.SocketException("bind(..) failed: Permission denied"))) {
            String line = Startup.describe(new ListenException("listen", new CrossgateConfig.Listen("0.0.0.0", 80), cause));
            assertThat(line).isEqualTo("crossgate: cannot listen on 0.0.0.0:80 (listen): permission denied (ports below 1024 need root or"
                    + " CAP_NET_BIND_SERVICE; use a port of 1024 or more behind a proxy or a port redirect); set listen (or CROSSGATE_LISTEN, --listen) to a free address");
        }
    }

    @Test
    void anUnknownCauseIsShownInTheTransportsWordsWithoutTheNativeCallsName() {
        String line = Startup.describe(new ListenException("admin.listen", new CrossgateConfig.Listen("::1", 9090),
                new java.net.SocketException("bind(..) failed: Protocol not available")));
        assertThat(line).isEqualTo("crossgate: cannot listen on [::1]:9090 (admin.listen): Protocol not available;"
                + " set admin.listen (or CROSSGATE_ADMIN_LISTEN) to a free address, or admin.enabled: false");
    }

    @Test
    void bannerUrlsWriteIpv6InBracketsInTheShortForm() throws Exception {
        assertThat(Startup.url("http", new java.net.InetSocketAddress(InetAddress.getByName("::"), 8080))).isEqualTo("http://[::]:8080 (all interfaces)");
        assertThat(Startup.url("http", new java.net.InetSocketAddress(InetAddress.getByName("0.0.0.0"), 8080))).isEqualTo("http://0.0.0.0:8080 (all interfaces)");
        assertThat(Startup.url("https", new java.net.InetSocketAddress(InetAddress.getByName("::1"), 443))).isEqualTo("https://[::1]:443");
        assertThat(Startup.url("http", new java.net.InetSocketAddress(InetAddress.getByName("127.0.0.1"), 80))).isEqualTo("http://127.0.0.1:80");
        assertThat(Startup.rfc5952("2001:db8:0:0:1:0:0:1")).isEqualTo("2001:db8::1:0:0:1"); // RFC 5952 4.2.3: the first of two equal runs
        assertThat(Startup.rfc5952("2001:db8:0:1:1:1:1:1")).isEqualTo("2001:db8:0:1:1:1:1:1"); // 4.2.2: one zero group stays
        assertThat(Startup.rfc5952("fe80:0:0:0:0:0:0:1%lo")).isEqualTo("fe80::1%lo");
    }
}
