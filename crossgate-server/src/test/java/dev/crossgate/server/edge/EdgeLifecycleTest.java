package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawHttp.Response;
import dev.crossgate.server.ws.WsHandshake;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** The edge's own exits: a drain that reaches its deadline, and an upstream's 101. Each answered, logged, and named right. */
@ExtendWith(LeakCheck.class)
class EdgeLifecycleTest {
    @TempDir
    Path dir;

    EdgeServer edge;
    ServerSocket upstream;
    final List<Socket> upstreamSockets = new CopyOnWriteArrayList<>();
    final ByteArrayOutputStream logBytes = new ByteArrayOutputStream();
    AccessLog log;

    @AfterEach
    void stop() throws Exception {
        if (edge != null) {
            edge.close();
        }
        if (log != null) {
            log.close();
        }
        for (Socket s : upstreamSockets) {
            s.close();
        }
        if (upstream != null) {
            upstream.close();
        }
    }

    /** A raw upstream: each connection's request head is read and handed to {@code answer}. */
    private int rawUpstream(java.util.function.BiConsumer<String, OutputStream> answer) throws Exception {
        upstream = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            while (!upstream.isClosed()) {
                try {
                    Socket s = upstream.accept();
                    upstreamSockets.add(s);
                    InputStream in = s.getInputStream();
                    StringBuilder head = new StringBuilder();
                    int c;
                    while ((c = in.read()) >= 0) {
                        head.append((char) c);
                        if (head.toString().endsWith("\r\n\r\n")) {
                            break;
                        }
                    }
                    answer.accept(head.toString(), s.getOutputStream());
                } catch (Exception e) {
                    return;
                }
            }
        }, "raw-upstream");
        t.setDaemon(true);
        t.start();
        return upstream.getLocalPort();
    }

    private void start(String yaml, int upstreamPort) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, yaml + "\nlisten: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\nupstream: http://127.0.0.1:" + upstreamPort + "\n");
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        log = new AccessLog(new PrintStream(logBytes, true, StandardCharsets.UTF_8));
        edge = new EdgeServer(c, log).start();
    }

    private List<JsonNode> logLines() throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : logBytes.toString(StandardCharsets.UTF_8).split("\n")) {
            if (!line.isBlank()) {
                out.add(new ObjectMapper().readTree(line));
            }
        }
        return out;
    }

    @Test
    void aDrainPastItsDeadlineAnswersWaitingExchanges503AndLogsThemAsServerDraining() throws Exception {
        int port = rawUpstream((head, out) -> { /* reads the request, never answers */ });
        start("profile: dev\nhttp:\n  upstreamResponseTimeout: 30s\n", port);
        try (RawHttp c = new RawHttp(edge.port())) {
            c.send(RawHttp.get("/hang", "127.0.0.1"));
            await().atMost(Duration.ofSeconds(10)).until(() -> !upstreamSockets.isEmpty());
            CompletableFuture<Void> drained = CompletableFuture.runAsync(() -> edge.drain(Duration.ofMillis(300)));
            Response r = c.read();
            assertThat(r.status()).isEqualTo(503);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("server.draining");
            assertThat(r.header("connection")).isEqualTo("close");
            drained.get();
            edge = null;
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> logLines().size() == 1);
        JsonNode line = logLines().get(0);
        assertThat(line.get("path").asText()).isEqualTo("/hang");
        assertThat(line.get("status").asInt()).isEqualTo(503);
        assertThat(line.get("reason").asText()).isEqualTo("server.draining");
    }

    @Test
    void anUpstreams101LosesItsOwnAccessControlHeaders() throws Exception {
        int port = rawUpstream((head, out) -> {
            String key = null;
            for (String line : head.split("\r\n")) {
                if (line.toLowerCase().startsWith("sec-websocket-key:")) {
                    key = line.substring(line.indexOf(':') + 1).trim();
                }
            }
            try {
                out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
                        + WsHandshake.accept(key) + "\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Allow-Credentials: true\r\n"
                        + "X-Upstream: yes\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        start("profile: dev\nwebsocket:\n  paths: [/ws]\n", port);
        try (RawHttp c = new RawHttp(edge.port())) {
            c.send("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: http://localhost:3000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
            Response r = c.read(true);
            assertThat(r.status()).isEqualTo(101);
            assertThat(r.header("x-upstream")).isEqualTo("yes");
            assertThat(r.header("access-control-allow-origin")).isNull();
            assertThat(r.header("access-control-allow-credentials")).isNull();
        }
    }
}
