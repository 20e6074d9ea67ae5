package dev.crossgate.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13, "Must show": {@code crossgate demo} (a process) in real Chromium. The allowed origin's page runs its calls on
 * load and reads every answer — errors, the expired token's {@code auth.expired}, Socket.IO over polling and over a
 * WebSocket; the refused origin's page shows the same calls blocked, with what the browser's console says and the reason
 * code Crossgate gave ({@code cors.origin_not_allowed}). Screenshots: target/demo-allowed.png, target/demo-refused.png.
 */
class DemoBrowserTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();

    @TempDir
    Path dir;

    @Test
    void theAllowedAndTheRefusedPagesShowTheSameCallsFromBothSidesOfThePolicy() throws Exception {
        assertThat(HARNESS.resolve("node_modules/playwright-core").toFile()).as("run scripts/install-browser-deps.sh").exists();
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp", System.getProperty("java.class.path"),
                "dev.crossgate.server.cli.Main", "demo", "--listen", "127.0.0.1:0", "--backend-port", "0", "--page-port", "0");
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectOutput(dir.resolve("access.log").toFile());
        pb.environment().put("CROSSGATE_ADMIN_LISTEN", "127.0.0.1:0");
        Process demo = pb.start();
        try {
            String allowed = null;
            String refused = null;
            List<String> seen = new ArrayList<>();
            BufferedReader err = new BufferedReader(new InputStreamReader(demo.getErrorStream(), StandardCharsets.UTF_8));
            Pattern page = Pattern.compile("demo page \\((allowed|refused)\\)\\s+(http://127\\.0\\.0\\.[12]:\\d+)");
            for (String l; (l = err.readLine()) != null; ) {
                seen.add(l);
                if (l.contains("Ctrl-C stops")) {
                    break; // the banner's last line
                }
                Matcher m = page.matcher(l);
                if (m.find()) {
                    if (m.group(1).equals("allowed")) {
                        allowed = m.group(2) + "/";
                    } else {
                        refused = m.group(2) + "/";
                    }
                }
            }
            assertThat(allowed).as(String.join("\n", seen)).isNotNull();
            assertThat(refused).as(String.join("\n", seen)).isNotNull();
            assertThat(String.join("\n", seen)).contains("status page");
            Path shots = Path.of("target").toAbsolutePath();
            Process p = new ProcessBuilder("node", "demo-pages.mjs", allowed, refused, shots.toString()).directory(HARNESS.toFile())
                    .redirectError(dir.resolve("chromium.err").toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(3, TimeUnit.MINUTES)).isTrue();
            JsonNode r = new ObjectMapper().readTree(out);
            assertThat(r.has("error")).as(r + Files.readString(dir.resolve("chromium.err"))).isFalse();
            JsonNode a = r.path("allowed");
            assertThat(a.path("role").asText()).contains("allowed");
            assertThat(a.path("Hello").asText()).startsWith("200");
            assertThat(a.path("Missing").asText()).startsWith("404");
            assertThat(a.path("Expired token").asText()).startsWith("401").contains("auth.expired");
            assertThat(a.path("Socket.IO (polling)").asText()).startsWith("200").contains("\"sid\"");
            assertThat(a.path("WebSocket + Socket.IO").asText()).contains("connected over WebSocket: 40{\"sid\"");
            assertThat(a.path("Upload 6 MB").asText()).startsWith("413");
            JsonNode f = r.path("refused");
            assertThat(f.path("role").asText()).contains("refused");
            assertThat(f.path("Hello").asText()).startsWith("blocked").contains("has been blocked by CORS policy")
                    .contains("Crossgate answered 403 with reason cors.origin_not_allowed");
            assertThat(f.path("Expired token").asText()).startsWith("blocked");
            assertThat(f.path("WebSocket + Socket.IO").asText()).startsWith("blocked").contains("WebSocket connection to");
            assertThat(shots.resolve("demo-allowed.png").toFile()).exists();
            assertThat(shots.resolve("demo-refused.png").toFile()).exists();
        } finally {
            demo.destroy(); // SIGTERM: the demo drains and exits
            if (!demo.waitFor(20, TimeUnit.SECONDS)) {
                demo.destroyForcibly();
            }
        }
    }
}
