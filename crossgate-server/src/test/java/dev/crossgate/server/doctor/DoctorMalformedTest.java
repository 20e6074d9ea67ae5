package dev.crossgate.server.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * A server that answers garbage (a negative Content-Length, a chunk size that is not hexadecimal, a WebSocket
 * frame cut short) gets findings, never a crashed run; and a server that trickles its answer cannot stretch
 * the run past its deadline.
 */
@ExtendWith(LeakCheck.class)
class DoctorMalformedTest {
    ServerSocket server;
    Thread acceptor;

    @AfterEach
    void stop() throws Exception {
        server.close();
        acceptor.join(5000);
    }

    /** Answers every connection with {@code answer}, then closes it (or, with {@code trickle}, sends one byte a second). */
    private void serve(String answer, boolean trickle) throws Exception {
        server = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"));
        acceptor = new Thread(() -> {
            while (!server.isClosed()) {
                try (Socket s = server.accept()) {
                    s.setSoTimeout(2000);
                    InputStream in = s.getInputStream();
                    byte[] buf = new byte[8192];
                    in.read(buf); // the request head (small)
                    OutputStream out = s.getOutputStream();
                    byte[] b = answer.getBytes(StandardCharsets.ISO_8859_1);
                    if (trickle) {
                        for (int i = 0; i < b.length && i < 30 && !server.isClosed(); i++) {
                            out.write(b[i]);
                            out.flush();
                            Thread.sleep(1000);
                        }
                    } else {
                        out.write(b);
                        out.flush();
                    }
                } catch (Exception e) {
                    // the next connection
                }
            }
        }, "malformed-server");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    private Report doctor(Duration deadline) {
        return Doctor.run(Options.of(URI.create("http://127.0.0.1:" + server.getLocalPort() + "/api")).withOrigins(List.of("https://app.example.com"))
                .withMethod("PUT", List.of(new String[] {"Content-Type", "text/plain"}, new String[] {"X-Api-Key", "k"}), false)
                .withWebSocket("/ws", List.of(), Duration.ZERO).withSocketIo("/socket.io/").withTimeouts(Duration.ofSeconds(2), deadline));
    }

    @Test
    void garbageAnswersAreFindingsNotACrash() throws Exception {
        serve("HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n", false);
        Report r = doctor(Duration.ofSeconds(60));
        assertThat(r.failed()).isTrue();
        assertThat(r.in("cors")).anySatisfy(f -> assertThat(f.message()).contains("negative Content-Length"));
    }

    @Test
    void aBadChunkSizeIsAFindingToo() throws Exception {
        serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false);
        Report r = doctor(Duration.ofSeconds(60));
        assertThat(r.in("cors")).anySatisfy(f -> assertThat(f.message()).contains("chunk size"));
    }

    @Test
    void aTricklingServerCannotStretchTheRunPastItsDeadline() throws Exception {
        // Each byte comes within the read timeout (2 s), so only the run's deadline stops the probes.
        serve("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + "x".repeat(100), true);
        long start = System.nanoTime();
        Report r = doctor(Duration.ofSeconds(6));
        long took = (System.nanoTime() - start) / 1_000_000;
        assertThat(r.deadlineReached()).isTrue();
        assertThat(took).as("the run took %d ms", took).isLessThan(15_000);
    }
}
