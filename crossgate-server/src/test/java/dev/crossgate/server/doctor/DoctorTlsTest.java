package dev.crossgate.server.doctor;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsParameters;
import com.sun.net.httpserver.HttpsServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.doctor.Finding.Status;
import java.io.InputStream;
import java.io.OutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The doctor's TLS check against real TLS servers on loopback, with certificates made here: self-signed,
 * trusted through a private CA (--ca), expired, for another name, expiring soon, and from an unknown CA.
 * Every case also checks that the run goes on past TLS (a bad certificate must not hide the other checks).
 */
@ExtendWith(LeakCheck.class)
class DoctorTlsTest {
    private static final char[] PASSWORD = "changeit".toCharArray();
    private static final String O = ",O=Crossgate doctor test";

    private final List<HttpsServer> servers = new ArrayList<>();
    private final List<ExecutorService> executors = new ArrayList<>();

    @AfterEach
    void stopServers() throws InterruptedException {
        for (HttpsServer s : servers) {
            s.stop(0);
        }
        for (ExecutorService e : executors) {
            e.shutdownNow();
            e.awaitTermination(5, TimeUnit.SECONDS);
        }
        servers.clear();
        executors.clear();
    }

    // ---------------------------------------------------------------- the cases

    @Test
    void selfSignedCertificateFailsAsSelfSigned() throws Exception {
        Issued cert = selfSigned("CN=self-signed.test" + O, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(30)),
                "localhost", "127.0.0.1", "::1");
        int port = serve(true, cert);

        Report r = doctor("https://127.0.0.1:" + port + "/", List.of());

        assertThat(codes(r, Status.FAIL)).as(dump(r)).containsExactly("tls.self_signed");
        assertThat(codes(r, Status.PASS)).as(dump(r)).doesNotContain("tls.ok");
        Finding f = finding(r, "tls.self_signed");
        assertThat(f.fix()).contains("--ca");
        assertEvidence(f, cert.cert());
        assertRunContinued(r);
    }

    /** The same self-signed certificate given with --ca: trusted; by its IP address and by its DNS name. */
    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "localhost"})
    void selfSignedCertificateGivenWithCaIsTrusted(String host) throws Exception {
        Issued cert = selfSigned("CN=private.test" + O, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(30)),
                "localhost", "127.0.0.1", "::1");
        int port = serve(true, cert);

        Report r = doctor("https://" + host + ":" + port + "/", List.of(cert.cert()));

        assertThat(codes(r, Status.FAIL)).as(dump(r)).isEmpty();
        assertThat(codes(r, Status.WARN)).as(dump(r)).isEmpty();
        assertThat(codes(r, Status.PASS)).as(dump(r)).containsExactly("tls.ok");
        Finding ok = finding(r, "tls.ok");
        assertThat(ok.message()).contains(host).contains("TLSv1.3").contains("ALPN http/1.1");
        assertEvidence(ok, cert.cert());
        assertThat(ok.evidence()).anyMatch(e -> e.contains("ALPN http/1.1"));
        assertRunContinued(r);
    }

    @Test
    void expiredCertificateFromTrustedCaFailsAsExpired() throws Exception {
        Issued ca = ca("CN=Doctor Test Root CA" + O);
        Issued leaf = leaf(ca, "CN=expired.test" + O, Instant.now().minus(Duration.ofDays(90)), Instant.now().minus(Duration.ofDays(1)),
                "localhost", "127.0.0.1");
        int port = serve(true, leaf);

        Report r = doctor("https://127.0.0.1:" + port + "/", List.of(ca.cert()));

        // Only the date is wrong: the chain is trusted through --ca and the name matches, so a browser says
        // ERR_CERT_DATE_INVALID and nothing else; "untrusted" (with "use a CA browsers trust") would be wrong advice.
        assertThat(codes(r, Status.FAIL)).as(dump(r)).containsExactly("tls.expired");
        assertThat(codes(r, Status.PASS)).as(dump(r)).doesNotContain("tls.ok");
        Finding f = finding(r, "tls.expired");
        assertThat(f.message()).contains(leaf.cert().getNotAfter().toInstant().toString());
        assertThat(f.fix()).isNotBlank();
        assertEvidence(f, leaf.cert());
        assertRunContinued(r);
    }

    /** A certificate for other.example only, asked for by an IP address and by a DNS name. */
    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "localhost"})
    void certificateForAnotherNameFailsAsHostnameMismatch(String host) throws Exception {
        Issued ca = ca("CN=Doctor Test Root CA" + O);
        Issued leaf = leaf(ca, "CN=other.example" + O, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(60)),
                "other.example");
        int port = serve(true, leaf);

        Report r = doctor("https://" + host + ":" + port + "/", List.of(ca.cert()));

        assertThat(codes(r, Status.FAIL)).as(dump(r)).containsExactly("tls.hostname_mismatch");
        assertThat(codes(r, Status.PASS)).as(dump(r)).doesNotContain("tls.ok");
        Finding f = finding(r, "tls.hostname_mismatch");
        assertThat(f.message()).contains(host).contains("other.example");
        assertThat(f.fix()).contains(host);
        assertEvidence(f, leaf.cert());
        assertRunContinued(r);
    }

    @Test
    void certificateExpiringInFiveDaysWarns() throws Exception {
        Issued ca = ca("CN=Doctor Test Root CA" + O);
        Issued leaf = leaf(ca, "CN=expiring.test" + O, Instant.now().minus(Duration.ofDays(85)), Instant.now().plus(Duration.ofDays(5)),
                "localhost", "127.0.0.1");
        int port = serve(true, leaf);

        Report r = doctor("https://127.0.0.1:" + port + "/", List.of(ca.cert()));

        assertThat(codes(r, Status.FAIL)).as(dump(r)).isEmpty();
        assertThat(codes(r, Status.WARN)).as(dump(r)).containsExactly("tls.expires_soon");
        Finding f = finding(r, "tls.expires_soon");
        assertThat(f.message()).contains(leaf.cert().getNotAfter().toInstant().toString());
        assertThat(f.fix()).isNotBlank();
        assertEvidence(f, leaf.cert());
        assertRunContinued(r);
    }

    /** A leaf from a CA the doctor does not know: without --ca, and with --ca naming another CA. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void certificateFromUnknownCaFailsAsUntrusted(boolean otherCaGiven) throws Exception {
        Issued unknown = ca("CN=Unknown Root CA" + O);
        Issued known = ca("CN=Doctor Test Root CA" + O);
        Issued leaf = leaf(unknown, "CN=untrusted.test" + O, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(60)),
                "localhost", "127.0.0.1");
        // The server sends its whole chain, the unknown root included: that must not make it trusted.
        int port = serve(true, leaf, unknown.cert());

        Report r = doctor("https://127.0.0.1:" + port + "/", otherCaGiven ? List.of(known.cert()) : List.of());

        assertThat(codes(r, Status.FAIL)).as(dump(r)).containsExactly("tls.untrusted");
        assertThat(codes(r, Status.PASS)).as(dump(r)).doesNotContain("tls.ok");
        Finding f = finding(r, "tls.untrusted");
        assertThat(f.fix()).isNotBlank();
        assertEvidence(f, leaf.cert());
        assertThat(f.evidence()).anyMatch(e -> e.contains("CN=Unknown Root CA"));
        assertRunContinued(r);
    }

    @Test
    void certificateNotYetValidFails() throws Exception {
        Issued ca = ca("CN=Doctor Test Root CA" + O);
        Issued leaf = leaf(ca, "CN=future.test" + O, Instant.now().plus(Duration.ofDays(2)), Instant.now().plus(Duration.ofDays(90)),
                "localhost", "127.0.0.1");
        int port = serve(true, leaf);

        Report r = doctor("https://127.0.0.1:" + port + "/", List.of(ca.cert()));

        assertThat(codes(r, Status.FAIL)).as(dump(r)).containsExactly("tls.not_yet_valid");
        assertEvidence(finding(r, "tls.not_yet_valid"), leaf.cert());
        assertRunContinued(r);
    }

    @Test
    void serverWithoutAlpnWarnsButIsOk() throws Exception {
        Issued ca = ca("CN=Doctor Test Root CA" + O);
        Issued leaf = leaf(ca, "CN=no-alpn.test" + O, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(60)),
                "localhost", "127.0.0.1");
        int port = serve(false, leaf);

        Report r = doctor("https://127.0.0.1:" + port + "/", List.of(ca.cert()));

        assertThat(codes(r, Status.FAIL)).as(dump(r)).isEmpty();
        assertThat(codes(r, Status.PASS)).as(dump(r)).containsExactly("tls.ok");
        assertThat(codes(r, Status.WARN)).as(dump(r)).containsExactly("tls.no_alpn");
        assertThat(finding(r, "tls.no_alpn").evidence()).anyMatch(e -> e.contains("ALPN none"));
        assertRunContinued(r);
    }

    // ---------------------------------------------------------------- the doctor and its findings

    private static Report doctor(String url, List<X509Certificate> trust) {
        return Doctor.run(Options.of(URI.create(url)).withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(20)).withTrust(trust));
    }

    /** The codes of the tls check with this status, in order. */
    private static List<String> codes(Report r, Status status) {
        return r.in("tls").stream().filter(f -> f.status() == status).map(Finding::code).toList();
    }

    private static Finding finding(Report r, String code) {
        return r.in("tls").stream().filter(f -> f.code().equals(code)).findFirst()
                .orElseThrow(() -> new AssertionError("no " + code + " in\n" + dump(r)));
    }

    /** The evidence names the certificate's subject and the negotiated protocol. */
    private static void assertEvidence(Finding f, X509Certificate served) {
        String subject = served.getSubjectX500Principal().getName();
        assertThat(f.evidence()).as("evidence of " + f.code() + ": " + f.evidence()).anyMatch(e -> e.startsWith("certificate " + subject + " ("));
        assertThat(f.evidence()).as("evidence of " + f.code() + ": " + f.evidence()).anyMatch(e -> e.contains("protocol TLSv1.3"));
    }

    /** The run goes on past TLS: the connection is used for the later checks. */
    private static void assertRunContinued(Report r) {
        assertThat(r.in("dns")).as(dump(r)).anyMatch(f -> f.code().equals("net.connected"));
        assertThat(r.in("redirects")).as(dump(r)).isNotEmpty();
        assertThat(r.in("host")).as(dump(r)).isNotEmpty().anyMatch(f -> f.code().equals("host.served"));
        assertThat(r.in("host")).as(dump(r)).noneMatch(f -> f.code().equals("host.not_probed"));
        assertThat(r.deadlineReached()).as(dump(r)).isFalse();
    }

    private static String dump(Report r) {
        return r.findings().stream().map(f -> f.check() + " " + f.status() + " " + f.code() + ": " + f.message() + " " + f.evidence())
                .collect(Collectors.joining("\n", "findings:\n", "\n"));
    }

    // ---------------------------------------------------------------- certificates

    record Issued(KeyPair keys, X509Certificate cert) {}

    private static KeyPair ecKeys() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256, new SecureRandom());
        return g.generateKeyPair();
    }

    private static BigInteger serial() {
        return new BigInteger(64, new SecureRandom());
    }

    private static GeneralNames names(String... names) {
        GeneralName[] out = new GeneralName[names.length];
        for (int i = 0; i < names.length; i++) {
            boolean ip = names[i].indexOf(':') >= 0 || names[i].matches("\\d+\\.\\d+\\.\\d+\\.\\d+");
            out[i] = new GeneralName(ip ? GeneralName.iPAddress : GeneralName.dNSName, names[i]);
        }
        return new GeneralNames(out);
    }

    private static X509Certificate sign(JcaX509v3CertificateBuilder b, KeyPair signer) throws Exception {
        return new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(signer.getPrivate())));
    }

    /** A self-signed server certificate, as Crossgate's own development certificate is. */
    private static Issued selfSigned(String subject, Instant notBefore, Instant notAfter, String... sans) throws Exception {
        KeyPair kp = ecKeys();
        X500Name name = new X500Name(subject);
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(notBefore), Date.from(notAfter), name,
                kp.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false, names(sans));
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        return new Issued(kp, sign(b, kp));
    }

    /** A root CA, valid from a year ago for ten years. */
    private static Issued ca(String subject) throws Exception {
        KeyPair kp = ecKeys();
        X500Name name = new X500Name(subject);
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(Duration.ofDays(365))),
                Date.from(now.plus(Duration.ofDays(3650))), name, kp.getPublic());
        JcaX509ExtensionUtils u = new JcaX509ExtensionUtils();
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
        b.addExtension(Extension.subjectKeyIdentifier, false, u.createSubjectKeyIdentifier(kp.getPublic()));
        return new Issued(kp, sign(b, kp));
    }

    /** A server certificate issued by {@code ca}. */
    private static Issued leaf(Issued ca, String subject, Instant notBefore, Instant notAfter, String... sans) throws Exception {
        KeyPair kp = ecKeys();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(ca.cert(), serial(), Date.from(notBefore), Date.from(notAfter),
                new X500Name(subject), kp.getPublic());
        JcaX509ExtensionUtils u = new JcaX509ExtensionUtils();
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
        b.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
        b.addExtension(Extension.subjectAlternativeName, false, names(sans));
        b.addExtension(Extension.subjectKeyIdentifier, false, u.createSubjectKeyIdentifier(kp.getPublic()));
        b.addExtension(Extension.authorityKeyIdentifier, false, u.createAuthorityKeyIdentifier(ca.cert()));
        return new Issued(kp, sign(b, ca.keys()));
    }

    // ---------------------------------------------------------------- the server

    /**
     * An HTTPS server on 127.0.0.1 that answers every request 200, serving {@code cert} (followed by {@code more}
     * in the chain); with ALPN http/1.1 when {@code alpn}. Returns its port.
     */
    private int serve(boolean alpn, Issued cert, X509Certificate... more) throws Exception {
        return serve(alpn, null, cert, more);
    }

    private int serve(boolean alpn, com.sun.net.httpserver.HttpHandler handler, Issued cert, X509Certificate... more) throws Exception {
        X509Certificate[] chain = new X509Certificate[1 + more.length];
        chain[0] = cert.cert();
        System.arraycopy(more, 0, chain, 1, more.length);
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("server", cert.keys().getPrivate(), PASSWORD, chain);
        // SunX509 serves the one key it has whatever its dates and names: the expired and wrong-name cases need that.
        KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
        kmf.init(ks, PASSWORD);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), null, null);

        HttpsServer server = HttpsServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 32);
        server.setHttpsConfigurator(new HttpsConfigurator(ctx) {
            @Override
            public void configure(HttpsParameters params) {
                SSLParameters p = ctx.getDefaultSSLParameters();
                p.setProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
                if (alpn) {
                    p.setApplicationProtocols(new String[] {"http/1.1"});
                }
                params.setSSLParameters(p);
            }
        });
        ExecutorService executor = Executors.newFixedThreadPool(4);
        executors.add(executor);
        server.setExecutor(executor);
        server.createContext("/", handler != null ? handler : exchange -> {
            try (InputStream in = exchange.getRequestBody()) {
                in.readAllBytes();
            }
            byte[] body = "ok\n".getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "text/plain");
            if (exchange.getRequestMethod().equals("HEAD")) {
                exchange.sendResponseHeaders(200, -1);
            } else {
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
            exchange.close();
        });
        servers.add(server);
        server.start();
        return server.getAddress().getPort();
    }

    @Test
    void anHttpsToHttpRedirectAndARedirectedPreflightFail() throws Exception {
        Issued cert = selfSigned("CN=redirect.test" + O, Instant.now().minus(Duration.ofHours(1)), Instant.now().plus(Duration.ofDays(30)),
                "localhost", "127.0.0.1");
        com.sun.net.httpserver.HttpServer http = com.sun.net.httpserver.HttpServer.create(new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 0), 8);
        http.createContext("/", ex -> {
            ex.sendResponseHeaders(200, -1);
            ex.close();
        });
        http.start();
        try {
            int httpPort = http.getAddress().getPort();
            // A site behind a TLS proxy that does not trust X-Forwarded-Proto: it redirects to http, preflights included.
            int port = serve(true, ex -> {
                ex.getResponseHeaders().add("Location", "http://127.0.0.1:" + httpPort + "/api/items/");
                ex.sendResponseHeaders(301, -1);
                ex.close();
            }, cert);
            Report r = Doctor.run(Options.of(URI.create("https://127.0.0.1:" + port + "/api/items")).withTrust(List.of(cert.cert()))
                    .withOrigins(List.of("https://app.example.com")).withMethod("PUT", List.of(), false)
                    .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(20)));
            assertThat(r.in("redirects")).as(dump(r)).anySatisfy(f -> {
                assertThat(f.code()).isEqualTo("redirect.downgrade");
                assertThat(f.status()).isEqualTo(Status.FAIL);
            });
            assertThat(r.in("cors")).as(dump(r)).anySatisfy(f -> {
                assertThat(f.code()).isEqualTo("PreflightDisallowedRedirect");
                assertThat(f.status()).isEqualTo(Status.FAIL);
            });
        } finally {
            http.stop(0);
        }
    }
}
