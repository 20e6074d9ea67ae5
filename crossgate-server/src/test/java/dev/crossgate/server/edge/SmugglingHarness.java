package dev.crossgate.server.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RecordingUpstream;
import dev.crossgate.server.testing.RecordingUpstream.Request;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * One edge in front of one {@link RecordingUpstream}, with an access log collected in memory, and the check of the
 * invariant the smuggling corpus and the request property test share (DESIGN.md, "One canonical request"): the
 * upstream receives exactly the requests that the access log records as forwarded — same order, method and path,
 * each with the body length ({@code requestBytes}) the edge decided — and nothing else.
 *
 * <p>A log line counts as forwarded when it names an upstream and has status 200: the recording upstream answers
 * nothing else, and the edge's own answers (refusals, an exchange aborted after its head was forwarded) are never
 * 200. A forwarded exchange that the edge then aborted may leave an {@linkplain RecordingUpstream#incomplete()
 * incomplete} request at the upstream, never a complete one.
 */
final class SmugglingHarness implements AutoCloseable {
    static final String SECRET = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz-SECRET";
    static final String APP = "https://app.example.com";
    static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Diagnostic switch ({@code -Dcrossgate.smuggling.requestBytesOptional=true}): a log line without
     * {@code requestBytes} is not a failure, so that the other failures of an edge without the field show.
     */
    static final boolean REQUEST_BYTES_OPTIONAL = Boolean.getBoolean("crossgate.smuggling.requestBytesOptional");

    /** The access log's lines as they are written (the log writes from its own thread, in batches). */
    static final class Lines extends OutputStream {
        private final List<String> lines = new CopyOnWriteArrayList<>();
        private final ByteArrayOutputStream partial = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                lines.add(partial.toString(StandardCharsets.UTF_8));
                partial.reset();
            } else {
                partial.write(b);
            }
        }

        private final List<LogLine> parsed = new ArrayList<>();

        int size() {
            return lines.size();
        }

        /** The lines from {@code index} on, each parsed once. */
        synchronized List<LogLine> from(int index) {
            int n = lines.size();
            while (parsed.size() < n) {
                parsed.add(LogLine.parse(lines.get(parsed.size())));
            }
            return List.copyOf(parsed.subList(Math.min(index, n), n));
        }
    }

    /** One access-log line, read with Jackson so that a field missing today is reported rather than a compile error. */
    record LogLine(JsonNode json) {
        static LogLine parse(String line) {
            try {
                return new LogLine(JSON.readTree(line));
            } catch (IOException e) {
                throw new AssertionError("access-log line is not JSON: " + line, e);
            }
        }

        String requestId() {
            return text("requestId");
        }

        String method() {
            return text("method");
        }

        String path() {
            return text("path");
        }

        int status() {
            return json.path("status").asInt(-1);
        }

        String reason() {
            return text("reason");
        }

        /** Null when the line has no such field. */
        Long requestBytes() {
            JsonNode n = json.get("requestBytes");
            return n == null || !n.isIntegralNumber() ? null : n.asLong();
        }

        boolean attemptedUpstream() {
            return json.hasNonNull("upstream") && !"realtime".equals(text("upstream"));
        }

        boolean forwarded() {
            return attemptedUpstream() && status() == 200;
        }

        private String text(String field) {
            JsonNode n = json.get(field);
            return n == null || n.isNull() ? null : n.asText();
        }

        @Override
        public String toString() {
            return json.toString();
        }
    }

    final RecordingUpstream upstream;
    final EdgeServer edge;
    final Lines lines = new Lines();
    final AccessLog accessLog;
    final String token;

    SmugglingHarness(Path dir) throws Exception {
        upstream = new RecordingUpstream();
        Path f = dir.resolve("crossgate.yaml");
        // prod: an explicit Host allow-list, one CORS policy, auth.paths covering /private with claim headers
        // (X-User-Id is the header a forged request would try to carry), bodies up to 1 KiB.
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                hosts: [api.example.com, 127.0.0.1]
                admin:
                  enabled: false
                http:
                  maxBodySize: 1KB
                  requestHeadTimeout: 2s
                cors:
                  allowedOrigins: [%s]
                  allowCredentials: true
                  allowedMethods: [GET, POST, PUT]
                  allowedHeaders: [Authorization, X-Custom, Content-Type]
                auth:
                  paths: [/private]
                  tokenFrom: [header]
                  claimHeaders: [sub=X-User-Id]
                  jwt:
                    secret: %s
                """.formatted(upstream.port(), APP, SECRET));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        accessLog = new AccessLog(new PrintStream(lines, true, StandardCharsets.UTF_8));
        edge = new EdgeServer(c, accessLog).start();
        JWTClaimsSet claims = new JWTClaimsSet.Builder().subject("alice")
                .expirationTime(new Date(System.currentTimeMillis() + 3_600_000)).build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(new MACSigner(SECRET));
        token = jwt.serialize();
    }

    int port() {
        return edge.port();
    }

    /** Where each record stands, so that a check looks only at what one shape or one try produced. */
    record Mark(int logLines, int requests, int violations, int incomplete) {}

    Mark mark() {
        return new Mark(lines.size(), upstream.requests().size(), upstream.violations().size(), upstream.incomplete().size());
    }

    List<LogLine> logSince(Mark m) {
        return lines.from(m.logLines());
    }

    List<Request> requestsSince(Mark m) {
        List<Request> all = upstream.requests();
        return all.subList(Math.min(m.requests(), all.size()), all.size());
    }

    /**
     * Waits (bounded) until every answer the client read has its log line, every request the upstream completed has
     * its log line, and the records stopped moving for {@code quiet} (bytes written by the edge after the answer that
     * would form a hidden request get that long to arrive). Never throws: the check that follows reports what is missing.
     */
    void settle(Mark m, List<String> answeredIds, Duration quiet) {
        eventually(Duration.ofSeconds(3), () -> {
            Set<String> logged = new HashSet<>();
            for (LogLine l : logSince(m)) {
                logged.add(l.requestId());
            }
            if (!logged.containsAll(answeredIds)) {
                return false;
            }
            for (Request r : requestsSince(m)) {
                if (!logged.contains(r.header("x-request-id"))) {
                    return false;
                }
            }
            return true;
        });
        if (!quiet.isZero()) {
            stable(quiet, Duration.ofSeconds(3), () -> List.of(lines.size(), upstream.requests().size(), upstream.pendingBytes(),
                    upstream.violations().size(), upstream.incomplete().size()));
        }
    }

    /**
     * The invariant over what happened since {@code m}; one sentence per problem, empty when it holds.
     */
    List<String> invariant(Mark m) {
        List<String> problems = exchanges(m);
        problems.addAll(leftovers(m));
        return problems;
    }

    /**
     * What the edge left at the upstream since {@code m}: requests left incomplete (only an exchange the edge aborted
     * after forwarding its head may leave one) and bytes that do not form a request (waited for up to a second).
     */
    List<String> leftovers(Mark m) {
        List<String> problems = new ArrayList<>();
        long attemptedButAborted = logSince(m).stream().filter(l -> l.attemptedUpstream() && !l.forwarded()).count();
        List<RecordingUpstream.Incomplete> inc = upstream.incomplete();
        int incomplete = inc.size() - Math.min(m.incomplete(), inc.size());
        if (incomplete > attemptedButAborted) {
            problems.add(incomplete + " request(s) left incomplete at the upstream, but only " + attemptedButAborted
                    + " exchange(s) logged as aborted after forwarding: " + inc.subList(inc.size() - incomplete, inc.size()));
        }
        eventually(Duration.ofSeconds(1), () -> upstream.pendingBytes() == 0);
        long pending = upstream.pendingBytes();
        if (pending != 0) {
            problems.add(pending + " byte(s) wait at the upstream that do not form a complete request (a hidden request in the making)");
        }
        return problems;
    }

    /** The invariant over the exchanges since {@code m}: log lines against the requests the upstream completed. */
    List<String> exchanges(Mark m) {
        List<String> problems = new ArrayList<>();
        List<LogLine> log = logSince(m);
        List<Request> got = requestsSince(m);
        List<String> violations = upstream.violations();
        for (String v : violations.subList(Math.min(m.violations(), violations.size()), violations.size())) {
            problems.add("the upstream received a request that is not well framed: " + v);
        }
        List<LogLine> forwarded = log.stream().filter(LogLine::forwarded).toList();
        List<String> forwardedIds = forwarded.stream().map(LogLine::requestId).toList();
        List<String> receivedIds = got.stream().map(r -> String.valueOf(r.headers("x-request-id"))).toList();
        if (!receivedIds.equals(forwardedIds.stream().map(id -> "[" + id + "]").toList())) {
            problems.add("the upstream received requests " + receivedIds + " but the access log records as forwarded "
                    + forwardedIds + "\n    log:\n      " + join(log) + "\n    upstream:\n      " + join(got));
        } else {
            for (int i = 0; i < got.size(); i++) {
                Request r = got.get(i);
                LogLine l = forwarded.get(i);
                if (!r.method().equals(l.method())) {
                    problems.add("request " + l.requestId() + ": upstream method " + r.method() + ", logged " + l.method());
                }
                if (!r.path().equals(l.path())) {
                    problems.add("request " + l.requestId() + ": upstream path " + r.path() + ", logged " + l.path());
                }
                Long bytes = l.requestBytes();
                if (bytes == null) {
                    if (!REQUEST_BYTES_OPTIONAL) {
                        problems.add("request " + l.requestId() + ": the access log has no requestBytes (the upstream got "
                                + r.bodyLength() + " body bytes)");
                    }
                } else if (bytes != r.bodyLength()) {
                    problems.add("request " + l.requestId() + ": upstream body " + r.bodyLength() + " bytes, logged requestBytes " + bytes);
                }
            }
        }
        for (LogLine l : log) {
            if (!l.forwarded()) {
                Long bytes = l.requestBytes();
                if (bytes == null && !REQUEST_BYTES_OPTIONAL) {
                    problems.add("log line " + l.requestId() + " (" + l.status() + " " + l.reason() + ") has no requestBytes");
                } else if (bytes != null && !l.attemptedUpstream() && bytes != 0) {
                    problems.add("log line " + l.requestId() + " (" + l.status() + " " + l.reason()
                            + ") was never forwarded but records requestBytes " + bytes);
                }
            }
        }
        for (Request r : got) {
            problems.addAll(generic(r));
        }
        return problems;
    }

    /** What every forwarded request carries whatever the client sent (the edge's own headers win; RFC 9110 §7.6.1). */
    static List<String> generic(Request r) {
        List<String> p = new ArrayList<>();
        String id = r.header("x-request-id");
        if (r.headers("host").size() != 1) {
            p.add(id + ": the upstream got " + r.headers("host").size() + " Host headers");
        }
        if (r.headers("x-forwarded-for").size() != 1) {
            p.add(id + ": the upstream got x-forwarded-for " + r.headers("x-forwarded-for"));
        }
        if (r.headers("x-request-id").size() != 1) {
            p.add(id + ": the upstream got x-request-id " + r.headers("x-request-id"));
        }
        for (String hop : List.of("connection", "keep-alive", "te", "trailer", "upgrade", "proxy-connection")) {
            if (r.header(hop) != null) {
                p.add(id + ": hop-by-hop header " + hop + " reached the upstream");
            }
        }
        for (String v : r.headers("x-user-id")) {
            if (!v.equals("alice")) {
                p.add(id + ": a forged X-User-Id reached the upstream: " + v);
            }
        }
        if (!r.trailers().isEmpty()) {
            p.add(id + ": request trailers reached the upstream (RFC 9110 §6.5.2: the edge discards them)");
        }
        for (String[] h : r.headers()) {
            if (h[0].indexOf('_') >= 0) {
                p.add(id + ": a header name with '_' reached the upstream: " + h[0]);
            }
        }
        return p;
    }

    private static String join(List<?> items) {
        if (items.isEmpty()) {
            return "(none)";
        }
        StringBuilder b = new StringBuilder();
        for (Object o : items) {
            if (b.length() > 0) {
                b.append("\n      ");
            }
            b.append(o);
        }
        return b.toString();
    }

    /** Polls {@code condition} (Awaitility, every 5 ms) until it holds or {@code max} passes; true when it held. */
    static boolean eventually(Duration max, BooleanSupplier condition) {
        try {
            org.awaitility.Awaitility.await().atMost(max).pollInterval(Duration.ofMillis(5)).until(condition::getAsBoolean);
            return true;
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            return false;
        }
    }

    /** Waits until {@code snapshot} stays equal for {@code window} (bounded by {@code max}); true when it did. */
    static boolean stable(Duration window, Duration max, Supplier<Object> snapshot) {
        long deadline = System.nanoTime() + max.toNanos();
        Object last = snapshot.get();
        long since = System.nanoTime();
        while (System.nanoTime() < deadline) {
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            Object now = snapshot.get();
            if (!now.equals(last)) {
                last = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= window.toNanos()) {
                return true;
            }
        }
        return false;
    }

    /** An answer from the edge: status, reason code and request id (every answer of the edge carries both headers). */
    record Answer(int status, String reason, String requestId, Map<String, List<String>> headers, String body) {
        @Override
        public String toString() {
            return status + (reason == null ? "" : " " + reason) + " [" + requestId + "]";
        }
    }

    /** A raw client connection: bytes out exactly as given, answers parsed, the server's close observed. */
    static final class Client implements AutoCloseable {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;

        Client(int port) throws IOException {
            socket = new Socket();
            socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            socket.setTcpNoDelay(true);
            in = new BufferedInputStream(socket.getInputStream());
            out = socket.getOutputStream();
        }

        void send(byte[] bytes) throws IOException {
            out.write(bytes);
            out.flush();
        }

        /** The next answer, or null when the server closed (or reset) the connection first; throws on timeout. */
        Answer read(int timeoutMillis) throws IOException {
            socket.setSoTimeout(timeoutMillis);
            String status;
            try {
                status = line();
            } catch (SocketTimeoutException e) {
                throw e;
            } catch (IOException e) {
                return null; // reset
            }
            if (status == null) {
                return null;
            }
            String[] parts = status.split(" ", 3);
            if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
                throw new IOException("not a status line: " + RecordingUpstream.quote(status));
            }
            int code = Integer.parseInt(parts[1]);
            Map<String, List<String>> headers = new LinkedHashMap<>();
            String l;
            while ((l = line()) != null && !l.isEmpty()) {
                int colon = l.indexOf(':');
                headers.computeIfAbsent(l.substring(0, colon).trim().toLowerCase(Locale.ROOT), k -> new ArrayList<>())
                        .add(l.substring(colon + 1).trim());
            }
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            List<String> te = headers.get("transfer-encoding");
            List<String> cl = headers.get("content-length");
            if (code == 204 || code == 304 || code < 200) {
                // no body
            } else if (te != null && te.get(0).equalsIgnoreCase("chunked")) {
                while (true) {
                    int n = Integer.parseInt(line().split(";")[0].trim(), 16);
                    if (n == 0) {
                        while ((l = line()) != null && !l.isEmpty()) {
                            // trailers
                        }
                        break;
                    }
                    body.write(in.readNBytes(n));
                    line();
                }
            } else if (cl != null) {
                body.write(in.readNBytes(Integer.parseInt(cl.get(0))));
            } else {
                body.write(in.readAllBytes());
            }
            return new Answer(code, first(headers, "x-crossgate-reason"), first(headers, "x-request-id"), headers,
                    body.toString(StandardCharsets.UTF_8));
        }

        /** "closed" when the server closed within the time, "open" when nothing came, else the unexpected bytes. */
        String closedWithin(int timeoutMillis) throws IOException {
            socket.setSoTimeout(timeoutMillis);
            try {
                int c = in.read();
                if (c < 0) {
                    return "closed";
                }
                byte[] more = new byte[Math.min(in.available(), 200)];
                int n = in.read(more);
                return "unexpected bytes " + RecordingUpstream.quote((char) c + new String(more, 0, Math.max(n, 0), StandardCharsets.ISO_8859_1));
            } catch (SocketTimeoutException e) {
                return "open";
            } catch (IOException e) {
                return "closed"; // reset
            }
        }

        private static String first(Map<String, List<String>> h, String name) {
            List<String> v = h.get(name);
            return v == null ? null : v.get(0);
        }

        private String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) != -1) {
                if (c == '\n') {
                    byte[] bytes = b.toByteArray();
                    int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
                    return new String(bytes, 0, len, StandardCharsets.ISO_8859_1);
                }
                b.write(c);
            }
            return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    @Override
    public void close() {
        edge.close();
        accessLog.close();
        upstream.close();
    }
}
