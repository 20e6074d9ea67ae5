package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.server.demo.DemoBackend;
import dev.crossgate.server.testing.RawHttp;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code crossgate serve} as a process: refuses an invalid configuration, logs JSON lines, drains on SIGTERM and exits 0. */
class ServeProcessTest {
    @TempDir
    Path dir;

    private Process crossgate(Path config, String... extra) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.crossgate.server.cli.Main", "serve", "--config", config.toString()));
        cmd.addAll(List.of(extra));
        return new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve("stdout.log").toFile()).start();
    }

    @Test
    void anInvalidConfigurationRefusesToStartListingEveryProblem() throws Exception {
        Path f = dir.resolve("bad.yaml");
        Files.writeString(f, "profile: prod\ncors:\n  allowedOrigins: [\"*\"]\n  allowCredentials: true\n");
        Process p = crossgate(f);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(err).contains("error: hosts", "error: cors.allowedOrigins[0] (" + f + ":3)", "crossgate: refusing to start: the configuration has 2 errors");
    }

    @Test
    void sigtermLetsTheInFlightExchangeFinishThenExitsZero() throws Exception {
        try (DemoBackend backend = DemoBackend.start("127.0.0.1", 0)) {
            Path f = dir.resolve("crossgate.yaml");
            Files.writeString(f, "profile: prod\nhosts: [api.example.com]\nlisten: 127.0.0.1:0\nadmin:\n  enabled: false\nupstream: http://127.0.0.1:"
                    + backend.port() + "\n");
            Process p = crossgate(f, "--drain-timeout", "10s");
            try {
                BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
                String line = err.readLine();
                Matcher m = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)").matcher(line == null ? "" : line);
                assertThat(m.find()).as(line).isTrue();
                int port = Integer.parseInt(m.group(1));
                try (RawHttp slow = new RawHttp(port); RawHttp idle = new RawHttp(port)) {
                    assertThat(idle.send(RawHttp.get("/api/hello", "api.example.com")).read().status()).isEqualTo(200);
                    slow.send(RawHttp.get("/api/slow?ms=1500", "api.example.com"));
                    Thread.sleep(300);
                    p.destroy(); // SIGTERM
                    RawHttp.Response r = slow.read();
                    assertThat(r.status()).isEqualTo(200);
                    assertThat(r.body()).contains("\"sleptMs\":1500");
                    assertThat(r.header("connection")).isEqualTo("close");
                    assertThat(idle.closedByServer(3000)).isTrue();
                }
                assertThat(p.waitFor(20, TimeUnit.SECONDS)).isTrue();
                assertThat(p.exitValue()).isEqualTo(0);
                List<String> stdout = Files.readAllLines(dir.resolve("stdout.log"));
                // One JSON access-log line per exchange.
                JsonNode first = new ObjectMapper().readTree(stdout.get(0));
                assertThat(first.get("method").asText()).isEqualTo("GET");
                assertThat(first.get("path").asText()).isEqualTo("/api/hello");
                assertThat(first.get("status").asInt()).isEqualTo(200);
                assertThat(first.get("host").asText()).isEqualTo("api.example.com");
                assertThat(first.get("client").asText()).isEqualTo("127.0.0.1");
                assertThat(first.get("upstream").asText()).isEqualTo("127.0.0.1:" + backend.port());
                assertThat(first.has("requestId") && first.has("time") && first.has("totalMs") && first.has("upstreamMs") && first.has("bytes")).isTrue();
                assertThat(stdout).hasSize(2);
            } finally {
                p.destroyForcibly();
            }
        }
    }
}
