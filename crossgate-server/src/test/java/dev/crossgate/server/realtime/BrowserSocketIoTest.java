package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.cors.CorsPolicy;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.SocketIoServer;
import dev.crossgate.realtime.testing.LeakCheck;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A page in real Chromium on another origin uses the official socket.io-client bundle with credentials,
 * over polling and over WebSocket: the polling requests get CORS headers from the policy (the browser
 * would block them otherwise), the sticky cookie set on the first handshake comes back on the next one,
 * and a page on an origin the policy does not allow cannot connect at all.
 */
@ExtendWith(LeakCheck.class)
class BrowserSocketIoTest {
    static final Path HARNESS = Path.of("src/test/browser").toAbsolutePath();

    @TempDir
    Path dir;

    @Test
    void aPageOnAnotherOriginConnectsWithCookiesOverPollingAndWebSocketAndARefusedOriginCannot() throws Exception {
        assertThat(HARNESS.resolve("node_modules/socket.io-client").toFile()).as("run scripts/install-browser-deps.sh").exists();
        HttpServer pages = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        byte[] bundle = Files.readAllBytes(HARNESS.resolve("node_modules/socket.io-client/dist/socket.io.min.js"));
        pages.createContext("/socket.io.min.js", ex -> {
            ex.getResponseHeaders().add("Content-Type", "text/javascript");
            ex.sendResponseHeaders(200, bundle.length);
            ex.getResponseBody().write(bundle);
            ex.close();
        });
        pages.createContext("/", ex -> {
            byte[] html = "<!doctype html><title>socket.io page</title><script src=\"/socket.io.min.js\"></script>".getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "text/html");
            ex.sendResponseHeaders(200, html.length);
            ex.getResponseBody().write(html);
            ex.close();
        });
        pages.start();
        int pagePort = pages.getAddress().getPort();
        String allowed = "http://localhost:" + pagePort;
        SocketIoServer io = SocketIoServer.builder()
                .cors(CorsPolicy.builder().allowOrigins(allowed).allowCredentials(true).localDevelopment(true).build())
                .cookie("io")
                .build();
        io.of("/").onConnection(socket -> {
            socket.on("echo", (args, ack) -> ack.send("echo " + args.get(0)));
            String cookie = socket.handshakeHeaders().get("cookie");
            socket.emit("cookie", cookie == null ? "" : cookie);
        });
        try (RealtimeHttpServer http = io.listen("127.0.0.1", 0)) {
            String refusedPage = "http://127.0.0.1:" + pagePort + "/";
            Path config = dir.resolve("config.json");
            new ObjectMapper().writeValue(config.toFile(), Map.of("server", "http://localhost:" + http.port(),
                    "pages", new String[] {allowed + "/", refusedPage}));
            Process p = new ProcessBuilder("node", "socketio-browser.mjs", config.toString()).directory(HARNESS.toFile())
                    .redirectError(dir.resolve("err.txt").toFile()).start();
            byte[] out = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
            JsonNode r = new ObjectMapper().readTree(out);
            assertThat(r.has("error")).as(r.path("error").asText() + Files.readString(dir.resolve("err.txt"))).isFalse();

            JsonNode ok = r.get(allowed + "/");
            assertThat(ok.get("polling1").get("connected").asBoolean()).as(ok.toString()).isTrue();
            assertThat(ok.get("polling1").get("ack").asText()).isEqualTo("echo from " + allowed);
            assertThat(ok.get("polling1").get("transport").asText()).isEqualTo("polling");
            assertThat(ok.get("polling1").get("cookieOnHandshake").asText()).isEmpty();
            // The cookie the first handshake set comes back: credentials cross the origin on polling.
            assertThat(ok.get("polling2").get("cookieOnHandshake").asText()).startsWith("io=");
            assertThat(ok.get("websocket").get("connected").asBoolean()).isTrue();
            assertThat(ok.get("websocket").get("transport").asText()).isEqualTo("websocket");
            assertThat(ok.get("websocket").get("cookieOnHandshake").asText()).startsWith("io=");

            JsonNode refused = r.get(refusedPage);
            assertThat(refused.get("polling1").get("connected").asBoolean()).as(refused.toString()).isFalse();
            assertThat(refused.get("websocket").get("connected").asBoolean()).isFalse();
        } finally {
            pages.stop(0);
        }
    }
}
