package dev.crossgate.server.doctor;

import static dev.crossgate.server.doctor.DoctorBrokenNginxTest.codes;
import static dev.crossgate.server.doctor.DoctorBrokenNginxTest.describeReport;
import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.doctor.DoctorBrokenNginxTest.Backends;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The backends of {@link DoctorBrokenNginxTest} behind Crossgate, configured correctly (profile prod, the page's
 * origin allowed with credentials, the hosts listed): the doctor finds nothing failing, and it did probe every
 * check: CORS with and without a preflight, CORS on 404/401/405/413, hostile origins over HTTP and WebSocket, a
 * WebSocket held open, and Socket.IO both hosted by Crossgate and proxied to one Socket.IO node.
 */
@ExtendWith(LeakCheck.class)
class DoctorCrossgateTest {
    static final String ORIGIN = DoctorBrokenNginxTest.ORIGIN;

    static Backends backends;

    @TempDir
    Path dir;

    EdgeServer edge;

    @BeforeAll
    static void startBackends() throws Exception {
        backends = Backends.start();
    }

    @AfterAll
    static void stopBackends() {
        if (backends != null) {
            backends.close();
        }
    }

    @AfterEach
    void stopEdge() {
        if (edge != null) {
            edge.close();
        }
    }

    private void start(String routes, String webSocketPaths, String realtime) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                routes:
                  - path: /ws
                    upstreams: [http://127.0.0.1:%d]
                %s
                hosts: [api.example.com, 127.0.0.1]
                admin:
                  enabled: false
                http:
                  maxBodySize: 1MB
                websocket:
                  paths: %s
                cors:
                  allowedOrigins: [%s]
                  allowCredentials: true
                  allowedMethods: [GET, POST, PUT, DELETE]
                  allowedHeaders: [Authorization, Content-Type]
                  maxAge: 10m
                %s
                """.formatted(backends.api.getAddress().getPort(), backends.ws.port(), routes.indent(2).stripTrailing(), webSocketPaths,
                ORIGIN, realtime));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    private Report doctor(String method, List<String[]> headers) {
        return Doctor.run(Options.of(URI.create("http://127.0.0.1:" + edge.port() + "/api/private"))
                .withOrigins(List.of(ORIGIN))
                .withMethod(method, headers, true)
                .withToken(Backends.TOKEN)
                .withWebSocket("/ws", List.of(), Duration.ofSeconds(3))
                .withSocketIo("/socket.io/")
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(60)));
    }

    @Test
    void crossgateHostingSocketIoPassesEveryCheck() throws Exception {
        start("", "[/ws]", """
                realtime:
                  path: /socket.io/
                  pingInterval: 1s
                  pingTimeout: 2s
                """);
        Report r = doctor("PUT", List.<String[]>of(new String[] {"Content-Type", "application/json"}));

        assertNothingFailed(r);
        assertThat(codes(r, "cors", Finding.Status.PASS)).as(describeReport(r)).contains("cors.preflight_allowed", "cors.allowed");
        assertEveryCheckProbed(r);
    }

    @Test
    void crossgateInFrontOfOneSocketIoNodePassesEveryCheck() throws Exception {
        start("""
                - path: /socket.io
                  upstreams: [http://127.0.0.1:%d]
                """.formatted(backends.socketIo1.port()), "[/ws, /socket.io]", "");
        Report r = doctor("GET", List.of());

        assertNothingFailed(r);
        assertThat(codes(r, "cors", Finding.Status.PASS)).as(describeReport(r)).contains("cors.no_preflight", "cors.allowed");
        assertEveryCheckProbed(r);
    }

    private static void assertNothingFailed(Report r) {
        assertThat(r.failed()).as(describeReport(r)).isFalse();
        assertThat(r.deadlineReached()).as(describeReport(r)).isFalse();
    }

    private static void assertEveryCheckProbed(Report r) {
        String d = describeReport(r);
        assertThat(codes(r, "host", Finding.Status.PASS)).as(d).containsExactly("host.served", "host.wrong_host_refused");
        // 404, 401 and 405 from the backend, 413 from Crossgate: every one readable by the page.
        assertThat(r.in("cors-errors")).as(d).extracting(Finding::name).containsExactly("HTTP 404", "HTTP 401", "HTTP 405", "HTTP 413");
        assertThat(r.in("cors-errors")).as(d).allSatisfy(f -> assertThat(f.code()).isEqualTo("cors.error_readable"));
        assertThat(r.in("hostile-origins")).as(d).filteredOn(f -> f.name().endsWith("over HTTP")).hasSize(10)
                .allSatisfy(f -> assertThat(f.code()).isEqualTo("cors.hostile_refused"));
        assertThat(r.in("hostile-origins")).as(d).filteredOn(f -> f.name().endsWith("over WebSocket")).hasSize(10)
                .allSatisfy(f -> assertThat(f.code()).isEqualTo("ws.hostile_refused"));
        assertThat(codes(r, "websocket", Finding.Status.PASS)).as(d).containsExactly("ws.upgraded", "ws.echo", "ws.held");
        assertThat(codes(r, "socketio", Finding.Status.PASS)).as(d).containsExactly("sio.handshake", "sio.cors", "sio.sticky", "sio.poll_fast",
                "sio.ping", "sio.upgraded");
    }
}
