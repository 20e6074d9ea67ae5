package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code crossgate check} and {@code crossgate serve} on hostile configuration files, in process and as a child
 * process (the JVM's own stack and heap, where a recursive alias used to end in a {@code StackOverflowError} and
 * exit 1): exit 2, each problem on its lines with the file and line, no exception name and no stack frame.
 */
class HostileConfigCommandTest {
    @TempDir
    Path dir;

    /** Name, file content, and the problem line expected in the output (file name prefixed). */
    static Stream<Arguments> hostileFiles() {
        StringBuilder laughs = new StringBuilder("l0: &l0 [x, x]\n");
        for (int i = 1; i < 25; i++) {
            laughs.append("l").append(i).append(": &l").append(i).append(" [*l").append(i - 1).append(", *l").append(i - 1).append("]\n");
        }
        return Stream.of(
                Arguments.of("recursive-alias", bytes("a: &a [*a]\n"), ":1): a recursive alias"),
                Arguments.of("recursive-mapping", bytes("profile: prod\ncors: &c\n  routes: [*c]\n"), ":3): a recursive alias"),
                Arguments.of("billion-laughs", bytes(laughs.toString()), "): the document has more than 10000 values once its aliases are expanded"),
                Arguments.of("deep-nesting", bytes("a: " + "[".repeat(500) + "]".repeat(500) + "\n"), ":1): the document is nested more than 50 levels"),
                Arguments.of("token-list", bytes("profile: prod\nhosts: [a]\nrealtime:\n  token: [required]\n"),
                        "error: realtime.token (%s:4): realtime.token is a list (expected: a string)"),
                Arguments.of("missing-origin-map", bytes("profile: prod\nhosts: [a]\nwebsocket:\n  missingOrigin: {allow: 1}\n"),
                        "error: websocket.missingOrigin (%s:4): websocket.missingOrigin is a mapping (expected: a string)"),
                Arguments.of("invalid-utf8", concat(bytes("profile: prod\nhosts: [a]\n# caf"), new byte[] {(byte) 0xE9, '\n'}),
                        ":3): the file is not valid UTF-8: byte 0xE9 at line 3, column 6 (byte offset 30)"),
                Arguments.of("nul-character", bytes("profile: prod\nlisten: a\u0000b\n"), ":2): YAML: the character U+0000 is not allowed"),
                Arguments.of("huge-value", bytes("profile: prod\nhosts: [a]\nlisten: " + "x".repeat(9000) + "\n"),
                        ":3): listen is 9000 characters long (expected: at most 8192)"),
                Arguments.of("too-large", bytes(("#" + "x".repeat(99) + "\n").repeat(11_000)), "): the file is 1111000 bytes"),
                Arguments.of("terminal-escape", bytes("profile: prod\nhosts: [a]\nlisten: \"x\\e]0;owned\\ay\"\n"), "listen: \"x\\u001B]0;owned\\u0007y\""));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    private Path write(String name, byte[] content) throws IOException {
        Path f = dir.resolve(name + ".yaml");
        Files.write(f, content);
        return f;
    }

    private static void assertClean(String output) {
        assertThat(output).doesNotContain("Exception").doesNotContain("Error:").doesNotContain("\tat ");
        assertThat(output).doesNotContainPattern("[\\x00-\\x08\\x0b-\\x1f\\x7f]");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostileFiles")
    void checkExitsTwoWithTheProblemAndNoStackTrace(String name, byte[] content, String expected) throws IOException {
        Path f = write(name, content);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(new String[] {"check", "--config", f.toString()}, new PrintWriter(out), new PrintWriter(err),
                new Main.Context(Map.of(), dir));
        String all = out + "\n" + err;
        assertThat(status).as(all).isEqualTo(2);
        assertThat(all).contains(expected.contains("%s") ? String.format(expected, f) : expected);
        assertThat(all).contains("INVALID");
        assertClean(all);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hostileFiles")
    void serveRefusesToStartWithTheProblemAndNoStackTrace(String name, byte[] content, String expected) throws IOException {
        Path f = write(name, content);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        // No --listen: it would override the file's listen, which some of these files get wrong.
        int status = Main.run(new String[] {"serve", "--config", f.toString()}, new PrintWriter(out),
                new PrintWriter(err), new Main.Context(Map.of(), dir));
        String all = out + "\n" + err;
        assertThat(status).as(all).isEqualTo(2);
        assertThat(all).contains(expected.contains("%s") ? String.format(expected, f) : expected);
        assertThat(all).contains("crossgate: refusing to start");
        assertClean(all);
    }

    static Stream<Arguments> inAChildProcess() {
        return hostileFiles().filter(a -> List.of("recursive-alias", "billion-laughs", "token-list", "invalid-utf8").contains((String) a.get()[0]))
                .flatMap(a -> Stream.of(Arguments.of("check", a.get()[0], a.get()[1]), Arguments.of("serve", a.get()[0], a.get()[1])));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("inAChildProcess")
    void theCommandAsAProcessExitsTwoWithoutAStackTrace(String command, String name, byte[] content) throws Exception {
        String output = runChild(command, write(name, content));
        assertThat(output).contains("error: ");
    }

    @Test
    void serveOnAnAddressInUseSaysSoInOneLineAndExitsTwo() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            Path f = write("port-in-use", bytes("profile: prod\nhosts: [a]\nlisten: 127.0.0.1:" + taken.getLocalPort() + "\nadmin:\n  enabled: false\n"));
            String output = runChild("serve", f);
            assertThat(output).contains("crossgate: cannot listen on 127.0.0.1:" + taken.getLocalPort() + " (listen): the address is already in use")
                    .contains("set listen (or CROSSGATE_LISTEN, --listen) to a free address");
        }
    }

    /** Runs {@code crossgate COMMAND --config FILE} in a JVM of its own; asserts exit 2 and clean output, and returns it. */
    private String runChild(String command, Path f) throws Exception {
        Path log = dir.resolve(command + "-" + f.getFileName() + ".log");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.crossgate.server.cli.Main", command, "--config", f.toString())
                .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            // Generous: the bound that matters is that it ends (a doubling alias ran 87 s, then out of memory, before).
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited").isTrue();
            String output = Files.readString(log, StandardCharsets.UTF_8);
            assertThat(p.exitValue()).as(output).isEqualTo(2);
            assertClean(output);
            return output;
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
    }
}
