package dev.crossgate.server.edge;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * TLS files are read again on reload (issue 13, Build 2: "TLS files are fine to reload"): a certificate renewed in place
 * is served to the next handshake while a connection opened before keeps working, HSTS follows the file, unreadable
 * files refuse the reload and change nothing, and turning TLS off is named as needing a restart.
 */
@ExtendWith(LeakCheck.class)
class TlsReloadTest {
    @TempDir
    Path dir;

    private EdgeServer edge;
    private final List<String> log = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
    }

    /** A certificate for localhost with its own common name, written as PEM chain and PKCS#8 key to cert.pem and key.pem. */
    private X509Certificate writeCertificate(String cn) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256, new SecureRandom());
        KeyPair kp = g.generateKeyPair();
        X500Name name = new X500Name("CN=" + cn);
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(64, new SecureRandom()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(2))), name, kp.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.dNSName, "localhost")));
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
        Base64.Encoder pem = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
        Files.writeString(dir.resolve("cert.pem"), "-----BEGIN CERTIFICATE-----\n" + pem.encodeToString(cert.getEncoded()) + "\n-----END CERTIFICATE-----\n");
        Files.writeString(dir.resolve("key.pem"), "-----BEGIN PRIVATE KEY-----\n" + pem.encodeToString(kp.getPrivate().getEncoded()) + "\n-----END PRIVATE KEY-----\n");
        return cert;
    }

    private void writeConfig(String tls) throws Exception {
        Files.writeString(dir.resolve("crossgate.yaml"), "profile: prod\nhosts: [localhost]\nlisten: 127.0.0.1:0\nupstream: http://127.0.0.1:9\n"
                + "admin:\n  enabled: false\ncors:\n  allowedOrigins: [https://a.example.com]\n  allowedMethods: [GET, PUT]\n" + tls);
    }

    private static RawHttp.Response preflight(RawHttp c) throws Exception {
        return c.send("OPTIONS /api HTTP/1.1\r\nHost: localhost\r\nOrigin: https://a.example.com\r\nAccess-Control-Request-Method: PUT\r\n\r\n").read();
    }

    @Test
    void aCertificateRenewedInPlaceIsServedToTheNextHandshakeAndOpenConnectionsCarryOn() throws Exception {
        X509Certificate first = writeCertificate("first.test");
        writeConfig("tls:\n  certificate: cert.pem\n  key: key.pem\n  hsts: 1d\n");
        ConfigLoader.Options options = new ConfigLoader.Options(dir.resolve("crossgate.yaml"), null, Map.of(), dir);
        edge = new EdgeServer(ConfigLoader.load(options), AccessLog.discarding()).start();
        edge.reloadFrom(() -> ConfigLoader.inspect(options), log::add);

        try (RawHttp before = RawHttp.tls(edge.port(), first)) {
            RawHttp.Response r = preflight(before);
            assertThat(r.status()).isEqualTo(204);
            assertThat(r.header("strict-transport-security")).isEqualTo("max-age=86400");

            // Renewed in place (as certbot does), HSTS raised: SIGHUP's reload.
            X509Certificate second = writeCertificate("second.test");
            writeConfig("tls:\n  certificate: cert.pem\n  key: key.pem\n  hsts: 2d\n");
            EdgeServer.Reload reload = edge.reload();
            assertThat(reload.result()).isEqualTo("ok");
            assertThat(reload.restartToApply()).isEmpty();
            assertThat(log).anyMatch(l -> l.contains("changed live: tls") && l.contains("TLS certificate read again: subject CN=second.test, serial "
                    + second.getSerialNumber().toString(16)));

            // The next handshake gets the new certificate (a client that trusts only the old one fails) and the new HSTS.
            assertThatThrownBy(() -> RawHttp.tls(edge.port(), first).close()).isInstanceOf(javax.net.ssl.SSLHandshakeException.class);
            try (RawHttp after = RawHttp.tls(edge.port(), second)) {
                assertThat(preflight(after).header("strict-transport-security")).isEqualTo("max-age=172800");
            }
            // The connection opened before the reload carries on with the session it negotiated.
            assertThat(preflight(before).status()).isEqualTo(204);

            // Files that are not a certificate and key: the reload is refused, and the second certificate stays.
            Files.writeString(dir.resolve("cert.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
            EdgeServer.Reload refused = edge.reload();
            assertThat(refused.result()).isEqualTo("invalid");
            assertThat(refused.problems()).anyMatch(p -> p.path().equals("tls.certificate") && p.message().contains("cannot be used"));
            assertThat(log).anyMatch(l -> l.startsWith("reload refused: "));
            try (RawHttp still = RawHttp.tls(edge.port(), second)) {
                assertThat(preflight(still).status()).isEqualTo(204);
            }

            // TLS off changes what the listener speaks: named for a restart, and TLS stays.
            writeCertificate("third.test");
            writeConfig("");
            EdgeServer.Reload off = edge.reload();
            assertThat(off.result()).isEqualTo("ok");
            assertThat(off.restartToApply()).anyMatch(s -> s.startsWith("tls"));
            try (RawHttp still = RawHttp.tls(edge.port(), second)) {
                assertThat(preflight(still).header("strict-transport-security")).isEqualTo("max-age=172800");
            }
        }
    }
}
