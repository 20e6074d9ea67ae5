package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.edge.SmugglingHarness.Answer;
import dev.crossgate.server.edge.SmugglingHarness.Client;
import dev.crossgate.server.edge.SmugglingHarness.LogLine;
import dev.crossgate.server.edge.SmugglingHarness.Mark;
import dev.crossgate.server.testing.RecordingUpstream;
import java.io.ByteArrayOutputStream;
import java.lang.reflect.Proxy;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tuple;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Generated request heads and bodies, valid and nearly valid (header name case, OWS, duplicated headers, Connection
 * naming random headers including the framing ones, Content-Length off by one against the body, chunked with random
 * chunk sizes, extensions and trailers, absolute-form, spellings of a protected path), pipelined 1 to 4 on one
 * connection and followed by a sentinel request, through one edge to one {@link RecordingUpstream}. Whatever the
 * verdicts, the invariant holds (DESIGN.md, "One canonical request"): the upstream receives exactly the requests the
 * access log records as forwarded, each with the body length the edge decided, and nothing else; every answer
 * is logged once with its status and reason; the upstream never sees a request that is not well framed.
 */
class RequestInvariantProperties {
    static final int TRIES = 800;
    static final int ANSWER_TIMEOUT_MILLIS = 1500;

    static Path dir;
    static SmugglingHarness h;
    static Mark start;
    static final AtomicInteger tryNumber = new AtomicInteger();
    static final AtomicInteger requestsSent = new AtomicInteger();
    /**
     * Diagnostic switch ({@code -Dcrossgate.smuggling.collect=true}): failing tries are counted by kind of problem and
     * printed after the run instead of failing the first one, to see everything an edge still misses in one run.
     */
    static final boolean COLLECT = Boolean.getBoolean("crossgate.smuggling.collect");
    static final java.util.Map<String, Integer> failures = new java.util.concurrent.ConcurrentSkipListMap<>();
    static final AtomicInteger failedTries = new AtomicInteger();
    static final java.util.concurrent.atomic.AtomicLong passedNanos = new java.util.concurrent.atomic.AtomicLong();

    @BeforeContainer
    static void startEdge() throws Exception {
        LeakCheck.install(); // jqwik runs no Jupiter extensions: the leak detector is installed and read by hand
        dir = Files.createTempDirectory("request-invariant");
        h = new SmugglingHarness(dir);
        start = h.mark();
    }

    @AfterContainer
    static void stopEdge() throws Exception {
        if (COLLECT) {
            System.out.println("RequestInvariantProperties: " + failedTries.get() + " of " + tryNumber.get() + " tries failed ("
                    + requestsSent.get() + " generated requests); passing tries took " + passedNanos.get() / 1_000_000 + " ms in all");
            failures.forEach((k, v) -> System.out.println(String.format(Locale.ROOT, "%6d  %s", v, k)));
        }
        try {
            List<String> left = h.leftovers(start);
            assertThat(h.upstream.violations()).as("requests that are not well framed at the upstream").isEmpty();
            assertThat(left).as("leftovers at the upstream after %d tries (%d generated requests)", tryNumber.get(), requestsSent.get())
                    .isEmpty();
        } finally {
            h.close();
            new LeakCheck().afterAll(context());
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** A request head as generated; rendered to bytes per try (ports, token and request ids are known then). */
    record Head(String method, int target, int host, int auth, List<String> connection, int origin, int style, boolean http10) {}

    /** A body and how it is framed. */
    record Body(String bytes, int framing, List<Integer> cuts, int trailer, boolean extension) {}

    record Req(Head head, Body body) {}

    static final String[] METHODS = {"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    static final String[] TARGETS = {"/t", "/a/b?x=1&y=/../z", "/private/data", "//private/data", "/./private/data", "/x/../private/data",
        "/%70rivate/data", "/private%2Fdata", "/PRIVATE/data", "/private;x/data", "/a%3ab", "/%61pi", "/x/%2e%2e/private/data",
        "ABS-API/private/data", "ABS-LOOP/t", "ABS-EVIL/t", "*", "private/data"};
    static final String[] CONNECTION_NAMES = {"keep-alive", "close", "Content-Length", "Transfer-Encoding", "Host", "X-Forwarded-For",
        "X-Request-Id", "X-User-Id", "X-Custom", "Forwarded", "Authorization", "TE", "content-length", "TRANSFER-ENCODING"};
    static final String[] BODIES = {"", "hello", "a\r\nb", "0\r\n\r\n", "GET /private/data HTTP/1.1\r\nHost: api.example.com\r\nX-User-Id: admin\r\n\r\n",
        "{\"k\":\"v\"}", "5\r\nhello\r\n0\r\n\r\n", "\r\n\r\n", "x"};
    static final String[] TRAILERS = {"", "X-T: 1\r\n", "Content-Length: 50\r\n", "Transfer-Encoding: chunked\r\n", "Host: evil.example\r\n",
        "X-User-Id: admin\r\n"};

    @Provide
    Arbitrary<List<Req>> pipelines() {
        Arbitrary<Head> head = Combinators.combine(
                Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just("GET")), Tuple.of(4, Arbitraries.just("POST")),
                        Tuple.of(2, Arbitraries.of(METHODS))),
                Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(0)), Tuple.of(6, Arbitraries.integers().between(0, TARGETS.length - 1))),
                Arbitraries.frequencyOf(Tuple.of(8, Arbitraries.just(0)), Tuple.of(3, Arbitraries.integers().between(0, 6))),
                Arbitraries.integers().between(0, 2),
                Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(List.<String>of())),
                        Tuple.of(1, Arbitraries.of(CONNECTION_NAMES).list().ofMinSize(1).ofMaxSize(3))),
                Arbitraries.frequencyOf(Tuple.of(6, Arbitraries.just(0)), Tuple.of(1, Arbitraries.integers().between(1, 2))),
                Arbitraries.integers().between(0, 63),
                Arbitraries.frequencyOf(Tuple.of(9, Arbitraries.just(false)), Tuple.of(1, Arbitraries.just(true))))
                .as(Head::new);
        Arbitrary<String> bodyBytes = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.of(BODIES)),
                Tuple.of(2, Arbitraries.strings().withChars("abcGET /\r\n:0123456789").ofMaxLength(40)));
        Arbitrary<Body> body = Combinators.combine(
                bodyBytes,
                // 0 none, 1 CL, 2 CL+1, 3 CL-1, 4 CL spelled (zeros, OWS), 5 chunked, 6 chunked+TE case, 7 CL and TE, 8 two CL
                Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.just(0)), Tuple.of(5, Arbitraries.just(1)), Tuple.of(1, Arbitraries.just(2)),
                        Tuple.of(1, Arbitraries.just(3)), Tuple.of(1, Arbitraries.just(4)), Tuple.of(4, Arbitraries.just(5)),
                        Tuple.of(1, Arbitraries.just(6)), Tuple.of(1, Arbitraries.just(7)), Tuple.of(1, Arbitraries.just(8))),
                Arbitraries.integers().between(1, 40).list().ofMaxSize(4),
                Arbitraries.frequencyOf(Tuple.of(6, Arbitraries.just(0)), Tuple.of(3, Arbitraries.integers().between(1, TRAILERS.length - 1))),
                Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(false)), Tuple.of(1, Arbitraries.just(true))))
                .as(Body::new);
        return Combinators.combine(head, body).as(Req::new).list().ofMinSize(1).ofMaxSize(4);
    }

    @Property(tries = TRIES, shrinking = ShrinkingMode.BOUNDED)
    void theUpstreamReceivesExactlyWhatTheAccessLogRecords(@ForAll("pipelines") List<Req> pipeline) throws Exception {
        int t = tryNumber.incrementAndGet();
        long began = System.nanoTime();
        Mark m = h.mark();
        ByteArrayOutputStream script = new ByteArrayOutputStream();
        for (int i = 0; i < pipeline.size(); i++) {
            script.writeBytes(render(pipeline.get(i), "p" + t + "-" + i));
        }
        String sentinel = "end-" + t;
        // The sentinel closes the script: it is answered (its request id intact even when a byte of it was taken as
        // the body of a request whose Content-Length was one too long), or the edge closed the connection first.
        script.writeBytes(("GET /end HTTP/1.1\r\nHost: api.example.com\r\nX-Request-Id: " + sentinel + "\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        requestsSent.addAndGet(pipeline.size());
        List<Answer> answers = new ArrayList<>();
        boolean cut = false;
        try (Client c = new Client(h.port())) {
            c.send(script.toByteArray());
            while (true) {
                Answer a;
                try {
                    a = c.read(ANSWER_TIMEOUT_MILLIS);
                } catch (SocketTimeoutException e) {
                    cut = true; // the edge still waits for bytes: closing now aborts what is in flight
                    break;
                } catch (java.io.IOException e) {
                    break; // a reset in the middle of an answer
                }
                if (a == null) {
                    break;
                }
                answers.add(a);
                if (sentinel.equals(a.requestId())) {
                    break;
                }
            }
        }
        h.settle(m, answers.stream().map(Answer::requestId).toList(), cut ? Duration.ofMillis(100) : Duration.ZERO);
        List<String> problems = new ArrayList<>(h.exchanges(m));
        List<LogLine> log = h.logSince(m);
        for (Answer a : answers) {
            List<LogLine> mine = log.stream().filter(l -> a.requestId() != null && a.requestId().equals(l.requestId())).toList();
            if (mine.size() != 1) {
                problems.add("answer " + a + " has " + mine.size() + " access-log lines");
            } else if (mine.get(0).status() != a.status() || !java.util.Objects.equals(mine.get(0).reason(), a.reason())) {
                problems.add("answer " + a + " is logged as " + mine.get(0).status() + " " + mine.get(0).reason());
            }
        }
        // Leftovers are judged over every try so far: an aborted exchange's log line may come after the upstream saw EOF.
        if (!SmugglingHarness.eventually(Duration.ofSeconds(2), () -> h.leftovers(start).isEmpty())) {
            problems.addAll(h.leftovers(start));
        }
        if (problems.isEmpty()) {
            passedNanos.addAndGet(System.nanoTime() - began);
        }
        if (!problems.isEmpty() && COLLECT) {
            for (String p : problems) {
                failures.merge(p.replaceAll("[0-9a-f]{24}|p\\d+-\\d+|end-\\d+|probe-\\d+|#\\d+|conn \\d+|\\d+", "N")
                        .lines().findFirst().orElse(p), 1, Integer::sum);
            }
            failedTries.incrementAndGet();
            return;
        }
        if (!problems.isEmpty()) {
            throw new AssertionError("try " + t + ", sent " + RecordingUpstream.quote(abbreviate(new String(script.toByteArray(),
                    StandardCharsets.ISO_8859_1))) + "\n  answers: " + answers + "\n  - " + String.join("\n  - ", problems));
        }
    }

    // ---------------------------------------------------------------- rendering

    static byte[] render(Req r, String requestId) {
        Head hd = r.head();
        Body b = r.body();
        int style = hd.style();
        int nameCase = style & 3; // 0 as written, 1 lower, 2 upper, 3 alternating
        int ows = (style >> 2) & 3; // 0 one SP, 1 none, 2 SP and HTAB around, 3 trailing SP
        boolean duplicate = ((style >> 4) & 3) == 3;
        StringBuilder s = new StringBuilder();
        String target = TARGETS[hd.target()];
        if (target.startsWith("ABS-API")) {
            target = "http://api.example.com" + target.substring(7);
        } else if (target.startsWith("ABS-LOOP")) {
            target = "http://127.0.0.1:" + h.port() + target.substring(8);
        } else if (target.startsWith("ABS-EVIL")) {
            target = "http://evil.example" + target.substring(8);
        }
        s.append(hd.method()).append(' ').append(target).append(hd.http10() ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
        List<String[]> headers = new ArrayList<>();
        switch (hd.host()) {
            case 0 -> headers.add(new String[] {"Host", "api.example.com"});
            case 1 -> headers.add(new String[] {"Host", "API.EXAMPLE.COM"});
            case 2 -> headers.add(new String[] {"Host", "127.0.0.1:" + h.port()});
            case 3 -> headers.add(new String[] {"Host", "evil.example"});
            case 4 -> { } // none
            case 5 -> {
                headers.add(new String[] {"Host", "api.example.com"});
                headers.add(new String[] {"Host", "evil.example"});
            }
            default -> headers.add(new String[] {"Host", "api.example.com:" + h.port()});
        }
        headers.add(new String[] {"X-Request-Id", requestId});
        if (hd.auth() == 1) {
            headers.add(new String[] {"Authorization", "Bearer " + h.token});
        } else if (hd.auth() == 2) {
            headers.add(new String[] {"X-User-Id", "mallory"});
            headers.add(new String[] {"X-Forwarded-For", "6.6.6.6"});
        }
        if (hd.origin() == 1) {
            headers.add(new String[] {"Origin", SmugglingHarness.APP});
        } else if (hd.origin() == 2) {
            headers.add(new String[] {"Origin", "https://evil.example"});
        }
        if (!hd.connection().isEmpty()) {
            headers.add(new String[] {"Connection", String.join(", ", hd.connection())});
            headers.add(new String[] {"X-Custom", "v"});
        }
        String bytes = b.bytes();
        String body;
        int len = bytes.length();
        switch (b.framing()) {
            case 1 -> {
                headers.add(new String[] {"Content-Length", Integer.toString(len)});
                body = bytes;
            }
            case 2 -> {
                headers.add(new String[] {"Content-Length", Integer.toString(len + 1)});
                body = bytes;
            }
            case 3 -> {
                headers.add(new String[] {"Content-Length", Integer.toString(Math.max(0, len - 1))});
                body = bytes;
            }
            case 4 -> {
                headers.add(new String[] {"Content-Length", "00" + len});
                body = bytes;
            }
            case 5, 6 -> {
                headers.add(new String[] {"Transfer-Encoding", b.framing() == 6 ? "Chunked" : "chunked"});
                body = chunked(bytes, b);
            }
            case 7 -> {
                headers.add(new String[] {"Content-Length", Integer.toString(len)});
                headers.add(new String[] {"Transfer-Encoding", "chunked"});
                body = chunked(bytes, b);
            }
            case 8 -> {
                headers.add(new String[] {"Content-Length", Integer.toString(len)});
                headers.add(new String[] {"Content-Length", Integer.toString(len)});
                body = bytes;
            }
            default -> body = bytes; // no framing: any bytes are the client's next request
        }
        if (duplicate && headers.size() > 1) {
            headers.add(headers.get(headers.size() - 1));
        }
        for (String[] hv : headers) {
            s.append(name(hv[0], nameCase)).append(':');
            switch (ows) {
                case 1 -> s.append(hv[1]);
                case 2 -> s.append(" \t").append(hv[1]).append("\t ");
                case 3 -> s.append(' ').append(hv[1]).append(' ');
                default -> s.append(' ').append(hv[1]);
            }
            s.append("\r\n");
        }
        s.append("\r\n").append(body);
        return s.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    private static String chunked(String bytes, Body b) {
        StringBuilder s = new StringBuilder();
        int at = 0;
        for (int cut : b.cuts()) {
            if (at >= bytes.length()) {
                break;
            }
            int n = Math.min(cut, bytes.length() - at);
            s.append(Integer.toHexString(n)).append(b.extension() ? ";x=\"y\"" : "").append("\r\n").append(bytes, at, at + n).append("\r\n");
            at += n;
        }
        if (at < bytes.length()) {
            s.append(Integer.toHexString(bytes.length() - at).toUpperCase(Locale.ROOT)).append("\r\n").append(bytes.substring(at)).append("\r\n");
        }
        s.append('0').append(b.extension() ? ";last" : "").append("\r\n").append(TRAILERS[b.trailer()]).append("\r\n");
        return s.toString();
    }

    private static String name(String n, int mode) {
        return switch (mode) {
            case 1 -> n.toLowerCase(Locale.ROOT);
            case 2 -> n.toUpperCase(Locale.ROOT);
            case 3 -> {
                StringBuilder b = new StringBuilder(n.length());
                for (int i = 0; i < n.length(); i++) {
                    char c = n.charAt(i);
                    b.append(i % 2 == 0 ? Character.toUpperCase(c) : Character.toLowerCase(c));
                }
                yield b.toString();
            }
            default -> n;
        };
    }

    private static String abbreviate(String s) {
        return s.length() <= 600 ? s : s.substring(0, 600) + "...";
    }

    /** The one thing LeakCheck reads from its context: a name for its report. */
    private static ExtensionContext context() {
        return (ExtensionContext) Proxy.newProxyInstance(ExtensionContext.class.getClassLoader(), new Class<?>[] {ExtensionContext.class},
                (proxy, method, args) -> method.getName().equals("getDisplayName") ? RequestInvariantProperties.class.getSimpleName() : null);
    }
}
