package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.edge.SmugglingHarness.Answer;
import dev.crossgate.server.edge.SmugglingHarness.Client;
import dev.crossgate.server.edge.SmugglingHarness.LogLine;
import dev.crossgate.server.edge.SmugglingHarness.Mark;
import dev.crossgate.server.testing.RecordingUpstream;
import dev.crossgate.server.testing.RecordingUpstream.Request;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The smuggling and framing corpus ({@code src/test/resources/smuggling-corpus.txt}): each request shape written
 * out byte for byte, sent over a fresh raw connection through one edge to one {@link RecordingUpstream}. For every
 * shape: the answers expected in order (status and reason code), whether the edge closes the connection after
 * them (or keeps it: then a probe request on the same connection must be served), the requests the upstream must
 * receive, and the invariant of {@link SmugglingHarness#invariant}: the upstream receives exactly the requests the
 * access log records as forwarded, each with the body length the edge decided, and nothing else.
 */
@ExtendWith(LeakCheck.class)
class SmugglingCorpusTest {
    static final String CORPUS = "/smuggling-corpus.txt";
    /** How long the records must stay still after a shape before it is judged (bytes a hidden request would send). */
    static final Duration QUIET = Duration.ofMillis(60);
    static final int ANSWER_TIMEOUT_MILLIS = 3000;

    @TempDir
    static Path dir;

    static SmugglingHarness h;

    @BeforeAll
    static void start() throws Exception {
        h = new SmugglingHarness(dir);
    }

    @AfterAll
    static void stop() {
        if (h != null) {
            h.close();
        }
    }

    enum After { CLOSED, OPEN, ANY }

    record ExpectedAnswer(int status, List<String> reasons) {
        boolean matches(Answer a) {
            return a.status() == status && (reasons.isEmpty() || reasons.contains(a.reason()));
        }

        @Override
        public String toString() {
            return status + (reasons.isEmpty() ? "" : " " + String.join("|", reasons));
        }
    }

    /** A request the upstream must receive: method, target, body length, and header checks. */
    record ExpectedRequest(String method, String target, int bodyLength, List<String> checks) {
        List<String> problems(Request r) {
            List<String> p = new ArrayList<>();
            if (!r.method().equals(method) || !r.target().equals(target) || r.bodyLength() != bodyLength) {
                p.add("the upstream got " + r.method() + " " + r.target() + " with " + r.bodyLength() + " body bytes, expected "
                        + method + " " + target + " with " + bodyLength);
            }
            for (String c : checks) {
                if (c.startsWith("!")) {
                    if (r.header(c.substring(1)) != null) {
                        p.add(method + " " + target + ": header " + c.substring(1) + " reached the upstream: " + r.headers(c.substring(1)));
                    }
                } else if (c.startsWith("+")) {
                    if (r.header(c.substring(1)) == null) {
                        p.add(method + " " + target + ": header " + c.substring(1) + " is missing upstream");
                    }
                } else {
                    int eq = c.indexOf('=');
                    String name = c.substring(0, eq);
                    String want = expand(c.substring(eq + 1));
                    List<String> got = r.headers(name);
                    if (!got.equals(List.of(want))) {
                        p.add(method + " " + target + ": header " + name + " upstream is " + got + ", expected [" + want + "]");
                    }
                }
            }
            return p;
        }
    }

    record Shape(int index, String name, String send, List<ExpectedAnswer> answers, After after, List<ExpectedRequest> upstream) {}

    @Test
    void theCorpusHasAtLeastAHundredShapesWithDistinctNames() throws IOException {
        List<Shape> shapes = corpus();
        assertThat(shapes).hasSizeGreaterThanOrEqualTo(100);
        assertThat(shapes.stream().map(Shape::name).distinct().count()).isEqualTo(shapes.size());
    }

    @TestFactory
    Stream<DynamicTest> everyShapeGetsItsVerdictAndTheUpstreamGetsExactlyWhatTheLogRecords() throws IOException {
        return corpus().stream().map(s -> DynamicTest.dynamicTest(s.name(), () -> run(s)));
    }

    private void run(Shape s) throws Exception {
        Mark m = h.mark();
        List<String> problems = new ArrayList<>();
        List<Answer> answers = new ArrayList<>();
        List<ExpectedRequest> expectedUpstream = new ArrayList<>(s.upstream());
        try (Client c = new Client(h.port())) {
            c.send(bytes(expand(s.send())));
            boolean complete = true;
            for (int i = 0; i < s.answers().size(); i++) {
                ExpectedAnswer want = s.answers().get(i);
                Answer a;
                try {
                    a = c.read(ANSWER_TIMEOUT_MILLIS);
                } catch (SocketTimeoutException e) {
                    problems.add("answer " + (i + 1) + ": none within " + ANSWER_TIMEOUT_MILLIS + " ms, expected " + want);
                    complete = false;
                    break;
                }
                if (a == null) {
                    problems.add("answer " + (i + 1) + ": the edge closed the connection without it, expected " + want);
                    complete = false;
                    break;
                }
                answers.add(a);
                if (!want.matches(a)) {
                    problems.add("answer " + (i + 1) + ": got " + a + ", expected " + want);
                }
            }
            if (complete && s.after() == After.CLOSED) {
                String state = c.closedWithin(ANSWER_TIMEOUT_MILLIS);
                if (!state.equals("closed")) {
                    problems.add("the edge must close the connection after its answer(s) (RFC 9112 §9.6 / §11.2); it is " + state);
                }
            } else if (complete && s.after() == After.OPEN) {
                String probeId = "probe-" + s.index();
                String target = "/probe/" + s.index();
                c.send(("GET " + target + " HTTP/1.1\r\nHost: api.example.com\r\nX-Request-Id: " + probeId + "\r\n\r\n")
                        .getBytes(StandardCharsets.ISO_8859_1));
                expectedUpstream.add(new ExpectedRequest("GET", target, 0, List.of()));
                Answer a;
                try {
                    a = c.read(ANSWER_TIMEOUT_MILLIS);
                } catch (SocketTimeoutException e) {
                    a = null;
                }
                if (a == null) {
                    problems.add("the connection must stay open: a probe request on it got no answer");
                } else {
                    answers.add(a);
                    if (a.status() != 200 || !probeId.equals(a.requestId())) {
                        problems.add("the connection must stay open and serve the next request: the probe " + probeId + " got " + a);
                    }
                }
            }
        }
        List<String> answeredIds = answers.stream().map(Answer::requestId).toList();
        h.settle(m, answeredIds, QUIET);
        problems.addAll(h.invariant(m));

        // The requests this shape must deliver, in order.
        List<Request> got = h.requestsSince(m);
        for (int i = 0; i < Math.max(got.size(), expectedUpstream.size()); i++) {
            if (i >= got.size()) {
                problems.add("the upstream never got " + expectedUpstream.get(i).method() + " " + expectedUpstream.get(i).target());
            } else if (i >= expectedUpstream.size()) {
                problems.add("the upstream got an unexpected request " + got.get(i));
            } else {
                problems.addAll(expectedUpstream.get(i).problems(got.get(i)));
            }
        }
        // Every answer is one exchange with one log line, with the same status and reason; and no other line.
        List<LogLine> log = h.logSince(m);
        for (Answer a : answers) {
            List<LogLine> mine = log.stream().filter(l -> a.requestId() != null && a.requestId().equals(l.requestId())).toList();
            if (mine.size() != 1) {
                problems.add("answer " + a + " has " + mine.size() + " access-log lines");
            } else if (mine.get(0).status() != a.status() || !java.util.Objects.equals(mine.get(0).reason(), a.reason())) {
                problems.add("answer " + a + " is logged as " + mine.get(0).status() + " " + mine.get(0).reason());
            }
        }
        if (log.size() != answers.size()) {
            problems.add(answers.size() + " answer(s) read but " + log.size() + " access-log line(s): " + log);
        }
        if (!problems.isEmpty()) {
            throw new AssertionError(s.name() + " (" + RecordingUpstream.quote(abbreviate(expand(s.send()))) + "):\n  - "
                    + String.join("\n  - ", problems));
        }
    }

    @Test
    void theCorpusLeavesNothingBehindAtTheUpstream() {
        // Runs in any order with the factory: whatever ran before must have left no partial request and no violation.
        SmugglingHarness.stable(Duration.ofMillis(100), Duration.ofSeconds(3), () -> h.upstream.pendingBytes());
        assertThat(h.upstream.violations()).isEmpty();
        assertThat(h.upstream.pendingBytes()).isZero();
    }

    private static String abbreviate(String s) {
        return s.length() <= 300 ? s : s.substring(0, 300) + "...";
    }

    // ---------------------------------------------------------------- the corpus file

    static List<Shape> corpus() throws IOException {
        String text;
        try (InputStream in = SmugglingCorpusTest.class.getResourceAsStream(CORPUS)) {
            if (in == null) {
                throw new IOException(CORPUS + " is not on the test class path");
            }
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        List<Shape> shapes = new ArrayList<>();
        String name = null;
        StringBuilder send = null;
        List<ExpectedAnswer> answers = null;
        After after = null;
        List<ExpectedRequest> upstream = null;
        int lineNo = 0;
        for (String line : (text + "\n== end").split("\n", -1)) {
            lineNo++;
            if (line.startsWith("#") || line.isBlank()) {
                continue;
            }
            if (line.startsWith("== ")) {
                if (name != null) {
                    if (send.length() == 0 || answers.isEmpty() || after == null) {
                        throw new IOException(CORPUS + ": shape " + name + " needs '>', '<' and closed|open|any (before line " + lineNo + ")");
                    }
                    shapes.add(new Shape(shapes.size() + 1, name, send.toString(), answers, after, upstream));
                }
                name = line.substring(3).trim();
                send = new StringBuilder();
                answers = new ArrayList<>();
                after = null;
                upstream = new ArrayList<>();
            } else if (line.startsWith("> ")) {
                send.append(line.substring(2));
            } else if (line.startsWith("< ")) {
                String[] p = line.substring(2).trim().split(" ");
                answers.add(new ExpectedAnswer(Integer.parseInt(p[0]), p.length > 1 ? List.of(p[1].split("\\|")) : List.of()));
            } else if (line.startsWith("@ ")) {
                String[] p = line.substring(2).trim().split(" ");
                List<String> checks = new ArrayList<>();
                for (int i = 3; i < p.length; i++) {
                    checks.add(p[i]);
                }
                upstream.add(new ExpectedRequest(p[0], p[1], Integer.parseInt(p[2]), checks));
            } else if (line.equals("closed") || line.equals("open") || line.equals("any")) {
                after = After.valueOf(line.toUpperCase(Locale.ROOT));
            } else {
                throw new IOException(CORPUS + ":" + lineNo + ": not understood: " + line);
            }
        }
        return shapes;
    }

    private static final Pattern REPEAT = Pattern.compile("\\{REPEAT:(.):(\\d+)}");

    /** Placeholders replaced, escapes kept (they are decoded by {@link #bytes}). */
    private static String expand(String s) {
        String out = s.replace("{PORT}", Integer.toString(h.port())).replace("{TOKEN}", h.token);
        Matcher m = REPEAT.matcher(out);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            m.appendReplacement(b, Matcher.quoteReplacement(m.group(1).repeat(Integer.parseInt(m.group(2)))));
        }
        m.appendTail(b);
        return unescape(b.toString());
    }

    /** {@code \r \n \t \0 \\ \xHH} to their characters (one byte each, ISO-8859-1). */
    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 >= s.length()) {
                b.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'r' -> b.append('\r');
                case 'n' -> b.append('\n');
                case 't' -> b.append('\t');
                case '0' -> b.append('\0');
                case '\\' -> b.append('\\');
                case 'x' -> {
                    b.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
                    i += 2;
                }
                default -> b.append('\\').append(e);
            }
        }
        return b.toString();
    }

    private static byte[] bytes(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < s.length(); i++) {
            out.write(s.charAt(i));
        }
        return out.toByteArray();
    }
}
