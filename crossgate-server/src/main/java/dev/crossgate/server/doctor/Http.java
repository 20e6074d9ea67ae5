package dev.crossgate.server.doctor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The doctor's HTTP/1.1 client, on plain sockets so that every probe controls what a library would hide:
 * which address is connected (each DNS answer on its own), the exact Host and Origin, no redirect followed,
 * no CORS applied. TLS records what a browser would judge (the chain and whether it is trusted, the
 * hostname, the protocol, ALPN) instead of failing, so that one bad certificate does not hide the rest.
 */
final class Http {
    /** The largest body read; the doctor needs headers and small bodies only. */
    static final int MAX_BODY = 256 * 1024;

    private Http() {}

    /** Where to connect: the URL's scheme, host and port, and one of the host's addresses. */
    record Target(String scheme, String host, int port, InetAddress address) {
        boolean tls() {
            return scheme.equals("https") || scheme.equals("wss");
        }

        /** The Host header value: the name, and the port unless it is the scheme's default. */
        String authority() {
            String h = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
            return port == (tls() ? 443 : 80) ? h : h + ":" + port;
        }

        String where() {
            String a = address.getHostAddress();
            return (a.indexOf(':') >= 0 ? "[" + a + "]" : a) + ":" + port;
        }
    }

    /**
     * What the TLS handshake showed. {@code trustProblem} is null when the chain is trusted; {@code dateOnly} says
     * the chain was refused only for a certificate's validity dates (reported as such, not as an untrusted chain).
     */
    record TlsInfo(String protocol, String cipher, String alpn, List<X509Certificate> chain, String trustProblem, boolean dateOnly) {}

    /** An open connection, with its TLS details when it is TLS. */
    static final class Connection implements AutoCloseable {
        final Socket socket;
        final InputStream in;
        final OutputStream out;
        final TlsInfo tls;
        final long connectNanos;

        Connection(Socket socket, TlsInfo tls, long connectNanos) throws IOException {
            this.socket = socket;
            this.in = new java.io.BufferedInputStream(socket.getInputStream());
            this.out = socket.getOutputStream();
            this.tls = tls;
            this.connectNanos = connectNanos;
        }

        @Override
        public void close() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /** A response: status, headers in order (names lower-cased), body, and when its first byte arrived. */
    record Response(int status, String reason, List<String[]> headers, byte[] body, long firstByteNanos) {
        String header(String name) {
            for (String[] h : headers) {
                if (h[0].equals(name)) {
                    return h[1];
                }
            }
            return null;
        }

        List<String> headers(String name) {
            List<String> out = new ArrayList<>();
            for (String[] h : headers) {
                if (h[0].equals(name)) {
                    out.add(h[1]);
                }
            }
            return out;
        }

        String bodyText() {
            return new String(body, StandardCharsets.UTF_8);
        }

        /** "HTTP 403" and the headers that matter to CORS and the reason, for evidence. */
        List<String> evidence(String... names) {
            List<String> out = new ArrayList<>();
            out.add("< HTTP " + status + (reason.isEmpty() ? "" : " " + reason));
            for (String[] h : headers) {
                for (String n : names) {
                    if (h[0].equals(n) || (n.endsWith("*") && h[0].startsWith(n.substring(0, n.length() - 1)))) {
                        out.add("< " + h[0] + ": " + h[1]);
                        break;
                    }
                }
            }
            return out;
        }
    }

    /** Connects to the target's address, with TLS (SNI, ALPN h2 and http/1.1) when the scheme says so. */
    static Connection connect(Target t, Duration timeout, List<X509Certificate> extraTrust, List<String> alpn) throws IOException {
        long start = System.nanoTime();
        Socket s = new Socket();
        try {
            s.connect(new InetSocketAddress(t.address(), t.port()), (int) timeout.toMillis());
            s.setSoTimeout((int) timeout.toMillis());
            s.setTcpNoDelay(true);
            long connected = System.nanoTime() - start;
            if (!t.tls()) {
                return new Connection(s, null, connected);
            }
            Recording trust = new Recording(extraTrust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {trust}, null);
            SSLSocket ssl = (SSLSocket) ctx.getSocketFactory().createSocket(s, t.host(), t.port(), true);
            SSLParameters p = ssl.getSSLParameters();
            if (!isIpLiteral(t.host())) {
                p.setServerNames(List.of(new SNIHostName(t.host())));
            }
            p.setApplicationProtocols(alpn.toArray(new String[0]));
            ssl.setSSLParameters(p);
            ssl.setSoTimeout((int) timeout.toMillis());
            ssl.startHandshake();
            List<X509Certificate> chain = new ArrayList<>();
            for (java.security.cert.Certificate c : ssl.getSession().getPeerCertificates()) {
                if (c instanceof X509Certificate x) {
                    chain.add(x);
                }
            }
            String negotiated = ssl.getApplicationProtocol();
            TlsInfo info = new TlsInfo(ssl.getSession().getProtocol(), ssl.getSession().getCipherSuite(),
                    negotiated == null || negotiated.isEmpty() ? null : negotiated, chain, trust.problem, trust.dateOnly);
            return new Connection(ssl, info, connected);
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        } catch (java.security.GeneralSecurityException e) {
            s.close();
            throw new IOException(e);
        }
    }

    static boolean isIpLiteral(String host) {
        return host.indexOf(':') >= 0 || host.matches("\\d+\\.\\d+\\.\\d+\\.\\d+");
    }

    /** Sends a request (headers as name, value pairs; Host first) and reads the response head and body. */
    static Response exchange(Connection c, String method, String target, String host, List<String[]> headers, byte[] body) throws IOException {
        StringBuilder b = new StringBuilder();
        b.append(method).append(' ').append(target).append(" HTTP/1.1\r\n");
        b.append("Host: ").append(host).append("\r\n");
        boolean hasLength = false;
        for (String[] h : headers) {
            b.append(h[0]).append(": ").append(h[1]).append("\r\n");
            hasLength |= h[0].equalsIgnoreCase("content-length");
        }
        if (body != null && !hasLength) {
            b.append("Content-Length: ").append(body.length).append("\r\n");
        }
        b.append("\r\n");
        long sent = System.nanoTime();
        c.out.write(b.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            c.out.write(body);
        }
        c.out.flush();
        return read(c, method.equals("HEAD"), sent);
    }

    static Response read(Connection c, boolean head, long sent) throws IOException {
        String status = line(c.in);
        long firstByte = System.nanoTime() - sent;
        if (status == null) {
            throw new IOException("the connection closed before a response");
        }
        String[] parts = status.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("not an HTTP response: " + status);
        }
        int code;
        try {
            code = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
            throw new IOException("not an HTTP status: " + status);
        }
        List<String[]> headers = new ArrayList<>();
        String l;
        while ((l = line(c.in)) != null && !l.isEmpty()) {
            int colon = l.indexOf(':');
            if (colon > 0) {
                headers.add(new String[] {l.substring(0, colon).trim().toLowerCase(Locale.ROOT), l.substring(colon + 1).trim()});
            }
        }
        Response r = new Response(code, parts.length > 2 ? parts[2] : "", headers, new byte[0], firstByte);
        if (head || code == 204 || code == 304 || code == 101 || (code >= 100 && code < 200)) {
            return r;
        }
        byte[] body;
        String te = r.header("transfer-encoding");
        String cl = r.header("content-length");
        if (te != null && te.toLowerCase(Locale.ROOT).contains("chunked")) {
            body = chunked(c.in);
        } else if (cl != null) {
            long n;
            try {
                n = Long.parseLong(cl.trim());
            } catch (NumberFormatException e) {
                throw new IOException("Content-Length is not a number: " + cl);
            }
            if (n < 0) {
                throw new IOException("a negative Content-Length: " + cl);
            }
            body = exactly(c.in, (int) Math.min(n, MAX_BODY));
        } else {
            body = untilClose(c.in);
        }
        return new Response(code, r.reason(), headers, body, firstByte);
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int ch;
        while ((ch = in.read()) != -1) {
            if (ch == '\n') {
                String s = b.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            if (b.size() > 65536) {
                throw new IOException("a header line longer than 64 KiB");
            }
            b.write(ch);
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }

    private static byte[] exactly(InputStream in, int n) throws IOException {
        byte[] b = in.readNBytes(n);
        if (b.length < n) {
            throw new IOException("the body ended after " + b.length + " of " + n + " bytes");
        }
        return b;
    }

    private static byte[] chunked(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String size = line(in);
            if (size == null) {
                throw new IOException("the chunked body ended early");
            }
            int semi = size.indexOf(';');
            int n;
            try {
                n = Integer.parseInt((semi >= 0 ? size.substring(0, semi) : size).trim(), 16);
            } catch (NumberFormatException e) {
                throw new IOException("a chunk size that is not a hexadecimal number: " + size);
            }
            if (n < 0) {
                throw new IOException("a negative chunk size: " + size);
            }
            if (n == 0) {
                String trailer;
                while ((trailer = line(in)) != null && !trailer.isEmpty()) {
                    // trailers: ignored
                }
                return out.toByteArray();
            }
            if (out.size() < MAX_BODY) {
                out.write(exactly(in, n));
            } else {
                in.skipNBytes(n); // beyond what the doctor keeps: read past, not stored
            }
            line(in);
        }
    }

    private static byte[] untilClose(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        try {
            int n;
            while (out.size() < MAX_BODY && (n = in.read(buf)) != -1) {
                out.write(buf, 0, n);
            }
        } catch (SocketTimeoutException e) {
            // what arrived is the body
        }
        return out.toByteArray();
    }

    /** Trusts everything, but remembers why the platform (plus any --ca) would not. */
    static final class Recording implements X509TrustManager {
        private final X509TrustManager platform;
        private final X509TrustManager extra;
        String problem;
        boolean dateOnly;

        Recording(List<X509Certificate> extraTrust) {
            this.platform = defaultTrust(null);
            this.extra = extraTrust == null || extraTrust.isEmpty() ? null : defaultTrust(extraTrust);
        }

        private static X509TrustManager defaultTrust(List<X509Certificate> anchors) {
            try {
                TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                if (anchors == null) {
                    f.init((KeyStore) null);
                } else {
                    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
                    ks.load(null, null);
                    for (int i = 0; i < anchors.size(); i++) {
                        ks.setCertificateEntry("ca" + i, anchors.get(i));
                    }
                    f.init(ks);
                }
                for (TrustManager tm : f.getTrustManagers()) {
                    if (tm instanceof X509TrustManager x) {
                        return x;
                    }
                }
            } catch (Exception e) {
                throw new IllegalStateException("no trust manager: " + e.getMessage(), e);
            }
            throw new IllegalStateException("no X509 trust manager");
        }

        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
            // a client of its own: never asked
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
            try {
                platform.checkServerTrusted(chain, authType);
            } catch (CertificateException e) {
                CertificateException reason = e;
                if (extra != null) {
                    try {
                        extra.checkServerTrusted(chain, authType);
                        return;
                    } catch (CertificateException e2) {
                        reason = e2; // with --ca given, its verdict is the one that matters
                    }
                }
                problem = reason.getMessage() == null ? reason.getClass().getSimpleName() : reason.getMessage();
                dateOnly = isDateProblem(reason);
            }
        }

        /** Whether a validation failed on validity dates (expired, not yet valid) rather than on who signed what. */
        private static boolean isDateProblem(Throwable t) {
            for (Throwable c = t; c != null; c = c.getCause()) {
                if (c instanceof java.security.cert.CertificateExpiredException || c instanceof java.security.cert.CertificateNotYetValidException) {
                    return true;
                }
                if (c instanceof java.security.cert.CertPathValidatorException v
                        && (v.getReason() == java.security.cert.CertPathValidatorException.BasicReason.EXPIRED
                        || v.getReason() == java.security.cert.CertPathValidatorException.BasicReason.NOT_YET_VALID)) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
