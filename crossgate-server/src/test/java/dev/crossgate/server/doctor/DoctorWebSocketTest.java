package dev.crossgate.server.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The WebSocket check against a WebSocket server on its own (an RFC 6455 echo server that speaks the
 * subprotocols chat and superchat and checks no Origin): the upgrade, the echo, the subprotocol a browser
 * requires back, the hold, and any origin accepted.
 */
@ExtendWith(LeakCheck.class)
class DoctorWebSocketTest {
    WsEchoUpstream ws;

    @BeforeEach
    void start() throws Exception {
        ws = new WsEchoUpstream();
    }

    @AfterEach
    void stop() {
        ws.close();
    }

    private Report doctor(List<String> protocols) {
        return Doctor.run(Options.of(URI.create("http://127.0.0.1:" + ws.port() + "/ws")).withOrigins(List.of("https://app.example.com"))
                .withWebSocket("/ws", protocols, Duration.ofSeconds(2)).withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(40)));
    }

    private static Finding find(Report r, String check, String code) {
        return r.in(check).stream().filter(f -> f.code().equals(code)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + code + " in " + check + ":\n" + Output.text(r, true)));
    }

    /**
     * Issue 13: in text mode each verdict reaches stderr as soon as it is known and the hold counts down, so the run is
     * not silent until the hold ends (the verdicts of the checks before the hold come before its countdown).
     */
    @Test
    void verdictsArePrintedAsTheyAreKnownAndTheHoldCountsDown() {
        List<String> lines = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        Doctor.Progress progress = new Doctor.Progress() {
            @Override
            public void verdict(Finding f) {
                lines.add("verdict " + f.code());
            }

            @Override
            public void waiting(String what) {
                lines.add("waiting " + what);
            }
        };
        Report r = Doctor.run(Options.of(URI.create("http://127.0.0.1:" + ws.port() + "/ws")).withOrigins(List.of("https://app.example.com"))
                .withWebSocket("/ws", List.of("chat"), Duration.ofSeconds(2)).withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(40)), progress);
        int hold = lines.indexOf("waiting holding the WebSocket open without traffic: 2 s left");
        assertThat(hold).as(String.join("\n", lines)).isPositive();
        assertThat(lines.subList(0, hold)).as("verdicts told before the hold").anyMatch(l -> l.startsWith("verdict "));
        // Every verdict of the report was told, once.
        long told = lines.stream().filter(l -> l.startsWith("verdict ")).count();
        long total = r.findings().size();
        assertThat(told).isEqualTo(total);
    }

    @Test
    void anOfferedSubprotocolIsChosenTheMessageEchoedAndTheConnectionHeld() {
        Report r = doctor(List.of("chat"));
        assertThat(find(r, "websocket", "ws.upgraded").status()).isEqualTo(Finding.Status.PASS);
        assertThat(find(r, "websocket", "ws.subprotocol").message()).contains("chat");
        assertThat(find(r, "websocket", "ws.echo").status()).isEqualTo(Finding.Status.PASS);
        assertThat(find(r, "websocket", "ws.held").status()).isEqualTo(Finding.Status.PASS);
        // This server checks no Origin: every hostile origin gets its 101.
        assertThat(r.in("hostile-origins").stream().filter(f -> f.code().equals("ws.hostile_accepted")).count()).isGreaterThanOrEqualTo(8);
    }

    @Test
    void noneOfTheOfferedSubprotocolsChosenFailsAsBrowsersWould() {
        Report r = doctor(List.of("graphql-transport-ws"));
        Finding f = find(r, "websocket", "ws.subprotocol_missing");
        assertThat(f.status()).isEqualTo(Finding.Status.FAIL);
        assertThat(f.message()).contains("graphql-transport-ws").contains("chose none");
    }
}
