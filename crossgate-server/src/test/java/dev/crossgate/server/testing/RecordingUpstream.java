package dev.crossgate.server.testing;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A raw HTTP/1.1 upstream that records, per connection, every request it receives, parsed strictly (RFC 9112):
 * the framing is one Content-Length of digits only, or Transfer-Encoding exactly {@code chunked}, or neither
 * (no body). Anything else — both framings, a list, a bare LF, obs-fold, a control character, bytes that do
 * not start a request — is a {@link #violations() violation}, which a test treats as a failure: a proxy in
 * front of it must only ever send well-framed requests. Each complete request is answered
 * {@code HTTP/1.1 200 OK} with a small body; connections stay open until the peer closes them.
 */
public final class RecordingUpstream implements AutoCloseable {
    /** One complete request as received. Header names keep their spelling; look-ups ignore case. */
    public record Request(int connection, int seq, String method, String target, List<String[]> headers, int bodyLength,
                          boolean chunked, List<String[]> trailers) {
        public String header(String name) {
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    return h[1];
                }
            }
            return null;
        }

        public List<String> headers(String name) {
            List<String> out = new ArrayList<>();
            for (String[] h : headers) {
                if (h[0].equalsIgnoreCase(name)) {
                    out.add(h[1]);
                }
            }
            return out;
        }

        /** The target without its query. */
        public String path() {
            int q = target.indexOf('?');
            return q < 0 ? target : target.substring(0, q);
        }

        @Override
        public String toString() {
            StringBuilder b = new StringBuilder();
            b.append('#').append(seq).append(" conn ").append(connection).append(": ").append(method).append(' ').append(target)
                    .append(" body=").append(bodyLength).append(chunked ? " (chunked)" : "");
            for (String[] h : headers) {
                b.append("\n      ").append(h[0]).append(": ").append(h[1]);
            }
            if (!trailers.isEmpty()) {
                b.append("\n      trailers: ").append(trailers.size());
            }
            return b.toString();
        }
    }

    /** A request the peer began but never completed (it closed the connection mid-request). */
    public record Incomplete(int connection, String headLine, long bytes) {}

    private static final int MAX_LINE = 64 * 1024;

    private final ServerSocket server;
    private final Thread acceptor;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private final List<String> violations = new CopyOnWriteArrayList<>();
    private final List<Incomplete> incomplete = new CopyOnWriteArrayList<>();
    private final Map<Integer, Connection> open = new ConcurrentHashMap<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger seq = new AtomicInteger();
    private volatile boolean closed;

    public RecordingUpstream() throws IOException {
        server = new ServerSocket(0, 128, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "recording-upstream-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Every complete request so far, in the order they were completed. */
    public List<Request> requests() {
        return List.copyOf(requests);
    }

    public List<String> violations() {
        return List.copyOf(violations);
    }

    public List<Incomplete> incomplete() {
        return List.copyOf(incomplete);
    }

    /** Bytes received on open connections that do not (yet) form a complete request. */
    public long pendingBytes() {
        long n = 0;
        for (Connection c : open.values()) {
            n += c.received.get() - c.consumed;
        }
        return n;
    }

    public int connectionsAccepted() {
        return connections.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = server.accept();
                int id = connections.incrementAndGet();
                Thread t = new Thread(() -> serve(id, s), "recording-upstream-" + id);
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed) {
                    violations.add("accept failed: " + e);
                }
                return;
            }
        }
    }

    /** The connection's state as other threads see it: bytes read from the socket and bytes that formed requests. */
    private static final class Connection {
        final AtomicLong received = new AtomicLong();
        volatile long consumed;
    }

    /** A stream reader that counts what it consumed and fails on a violation. */
    private static final class Reader {
        final InputStream in;
        final Connection state;
        long position;
        final byte[] buf = new byte[16 * 1024];
        int start;
        int end;

        Reader(InputStream raw, Connection state) {
            this.in = raw;
            this.state = state;
        }

        /** -1 at EOF. */
        int read() throws IOException {
            if (start == end) {
                int n = in.read(buf, 0, buf.length);
                if (n <= 0) {
                    return -1;
                }
                state.received.addAndGet(n);
                start = 0;
                end = n;
            }
            position++;
            return buf[start++] & 0xFF;
        }

        /** A line ended by CRLF, without it; null at EOF before any byte; a bare CR or LF is a violation. */
        String line() throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            while (true) {
                int c = read();
                if (c < 0) {
                    if (b.size() == 0) {
                        return null;
                    }
                    throw new EOFException("EOF in a line: " + b.toString(StandardCharsets.ISO_8859_1));
                }
                if (c == '\n') {
                    throw new Violation("bare LF after " + quote(b.toString(StandardCharsets.ISO_8859_1)));
                }
                if (c == '\r') {
                    int n = read();
                    if (n != '\n') {
                        throw new Violation("CR not followed by LF after " + quote(b.toString(StandardCharsets.ISO_8859_1)));
                    }
                    return b.toString(StandardCharsets.ISO_8859_1);
                }
                b.write(c);
                if (b.size() > MAX_LINE) {
                    throw new Violation("line longer than " + MAX_LINE);
                }
            }
        }

        void skip(long n) throws IOException {
            for (long i = 0; i < n; i++) {
                if (read() < 0) {
                    throw new EOFException("EOF in a body");
                }
            }
        }
    }

    private static final class Violation extends IOException {
        Violation(String message) {
            super(message);
        }
    }

    private void serve(int id, Socket s) {
        Connection state = new Connection();
        open.put(id, state);
        String began = null;
        try (s) {
            Reader r = new Reader(s.getInputStream(), state);
            OutputStream out = s.getOutputStream();
            while (true) {
                began = null;
                String requestLine = r.line();
                if (requestLine == null) {
                    return; // clean EOF between requests
                }
                began = requestLine;
                Request req = parse(id, requestLine, r);
                state.consumed = r.position;
                requests.add(req);
                byte[] body = ("upstream " + req.seq() + "\n").getBytes(StandardCharsets.US_ASCII);
                String head = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: " + body.length
                        + "\r\nx-upstream-seq: " + req.seq() + "\r\n\r\n";
                out.write(head.getBytes(StandardCharsets.US_ASCII));
                if (!req.method().equals("HEAD")) {
                    out.write(body);
                }
                out.flush();
            }
        } catch (Violation v) {
            violations.add("connection " + id + ": " + v.getMessage());
        } catch (EOFException e) {
            // The peer (the edge) closed mid-request: legitimate when it aborted an exchange (a client body that
            // failed to decode after the head was forwarded, or a client that went away).
            incomplete.add(new Incomplete(id, began, state.received.get() - state.consumed));
        } catch (IOException e) {
            if (!closed) {
                incomplete.add(new Incomplete(id, began, state.received.get() - state.consumed));
            }
        } finally {
            open.remove(id);
        }
    }

    private Request parse(int conn, String requestLine, Reader r) throws IOException {
        String[] parts = requestLine.split(" ", -1);
        if (parts.length != 3 || !isToken(parts[0]) || parts[1].isEmpty() || !parts[2].equals("HTTP/1.1")) {
            throw new Violation("malformed request line " + quote(requestLine));
        }
        for (int i = 0; i < parts[1].length(); i++) {
            char c = parts[1].charAt(i);
            if (c <= 0x20 || c >= 0x7F) {
                throw new Violation("control, space or non-ASCII byte in the target " + quote(requestLine));
            }
        }
        List<String[]> headers = fields(r, "header");
        List<String> te = new ArrayList<>();
        List<String> cl = new ArrayList<>();
        for (String[] h : headers) {
            if (h[0].equalsIgnoreCase("transfer-encoding")) {
                te.add(h[1]);
            } else if (h[0].equalsIgnoreCase("content-length")) {
                cl.add(h[1]);
            }
        }
        int bodyLength;
        boolean chunked = false;
        List<String[]> trailers = List.of();
        if (!te.isEmpty()) {
            // RFC 9112 §6.1 / §6.3: a sender must not send both; here nothing but one "chunked" is well-framed.
            if (!cl.isEmpty()) {
                throw new Violation("both Transfer-Encoding and Content-Length in " + quote(requestLine));
            }
            if (te.size() != 1 || !te.get(0).equalsIgnoreCase("chunked")) {
                throw new Violation("Transfer-Encoding other than one 'chunked': " + te);
            }
            chunked = true;
            long total = 0;
            while (true) {
                String sizeLine = r.line();
                if (sizeLine == null) {
                    throw new EOFException("EOF before a chunk size");
                }
                long size = chunkSize(sizeLine);
                if (size == 0) {
                    break;
                }
                r.skip(size);
                String after = r.line();
                if (after == null || !after.isEmpty()) {
                    throw new Violation("chunk data not followed by CRLF");
                }
                total += size;
            }
            trailers = fields(r, "trailer");
            bodyLength = Math.toIntExact(total);
        } else if (!cl.isEmpty()) {
            if (cl.size() != 1 || !cl.get(0).matches("[0-9]{1,18}")) {
                throw new Violation("Content-Length other than one number: " + cl);
            }
            bodyLength = Math.toIntExact(Long.parseLong(cl.get(0)));
            r.skip(bodyLength);
        } else {
            bodyLength = 0;
        }
        return new Request(conn, seq.incrementAndGet(), parts[0], parts[1], List.copyOf(headers), bodyLength, chunked, trailers);
    }

    /** RFC 9112 §7.1: chunk-size [ chunk-ext ]; extensions are accepted by the grammar, not understood. */
    private static long chunkSize(String line) throws Violation {
        int semi = line.indexOf(';');
        String hex = semi < 0 ? line : line.substring(0, semi);
        if (!hex.matches("[0-9A-Fa-f]{1,15}")) {
            throw new Violation("malformed chunk size " + quote(line));
        }
        return Long.parseLong(hex, 16);
    }

    /** Header or trailer fields up to the empty line: {@code token ":" OWS value OWS}, no obs-fold, no controls. */
    private static List<String[]> fields(Reader r, String what) throws IOException {
        List<String[]> out = new ArrayList<>();
        while (true) {
            String line = r.line();
            if (line == null) {
                throw new EOFException("EOF in the " + what + "s");
            }
            if (line.isEmpty()) {
                return out;
            }
            if (line.charAt(0) == ' ' || line.charAt(0) == '\t') {
                throw new Violation("obs-fold in the " + what + "s: " + quote(line));
            }
            int colon = line.indexOf(':');
            if (colon <= 0 || !isToken(line.substring(0, colon))) {
                throw new Violation("malformed " + what + " line " + quote(line));
            }
            String value = line.substring(colon + 1).strip();
            for (int i = 0; i < value.length(); i++) {
                char c = value.charAt(i);
                if ((c < 0x20 && c != '\t') || c == 0x7F) {
                    throw new Violation("control character in the " + what + " " + quote(line));
                }
            }
            out.add(new String[] {line.substring(0, colon), value});
        }
    }

    private static boolean isToken(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
            if (!ok) {
                return false;
            }
        }
        return true;
    }

    public static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\r') {
                b.append("\\r");
            } else if (c == '\n') {
                b.append("\\n");
            } else if (c < 0x20 || c >= 0x7F) {
                b.append(String.format(Locale.ROOT, "\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
