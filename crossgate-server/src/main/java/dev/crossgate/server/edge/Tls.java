package dev.crossgate.server.edge;

import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.File;
import java.math.BigInteger;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import javax.net.ssl.SSLException;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** TLS for the listener: a PEM certificate chain and key, or a self-signed certificate for local HTTPS. */
public final class Tls {
    private Tls() {}

    /** From PEM files (certificate chain, then a PKCS#8 private key). */
    public static SslContext fromPem(File certificateChain, File privateKey) throws SSLException {
        return SslContextBuilder.forServer(certificateChain, privateKey)
                .protocols("TLSv1.3", "TLSv1.2")
                .applicationProtocolConfig(alpn())
                .build();
    }

    /**
     * The first certificate of a PEM chain, for a log line: {@code subject CN=..., serial 1a2b, valid until 2027-03-01T00:00:00Z}
     * (what an operator checks after a renewal), or a short reason when it cannot be read.
     */
    public static String describe(java.nio.file.Path pem) {
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(pem)) {
            X509Certificate c = (X509Certificate) java.security.cert.CertificateFactory.getInstance("X.509").generateCertificate(in);
            return "subject " + c.getSubjectX500Principal().getName() + ", serial " + c.getSerialNumber().toString(16) + ", valid until "
                    + c.getNotAfter().toInstant();
        } catch (Exception e) {
            return "(its first certificate could not be read: " + e.getClass().getSimpleName() + ")";
        }
    }

    /**
     * A fresh self-signed certificate (ECDSA P-256, valid 30 days) for {@code localhost}, 127.0.0.1,
     * ::1 and the Android emulator's 10.0.2.2. Browsers warn about it; it is for local development.
     */
    public static SelfSigned selfSigned() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256, new SecureRandom());
        KeyPair kp = g.generateKeyPair();
        X500Name name = new X500Name("CN=localhost, O=Crossgate development");
        Instant now = Instant.now();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, new BigInteger(64, new SecureRandom()),
                Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(30))), name, kp.getPublic());
        b.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
                new GeneralName(GeneralName.dNSName, "localhost"),
                new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                new GeneralName(GeneralName.iPAddress, "::1"),
                new GeneralName(GeneralName.iPAddress, "10.0.2.2")}));
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        X509Certificate cert = new JcaX509CertificateConverter().getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
        SslContext ctx = SslContextBuilder.forServer(kp.getPrivate(), cert)
                .protocols("TLSv1.3", "TLSv1.2")
                .applicationProtocolConfig(alpn())
                .build();
        return new SelfSigned(ctx, cert);
    }

    /** A self-signed context and its certificate (which clients that want to trust it can pin). */
    public record SelfSigned(SslContext context, X509Certificate certificate) {}

    private static ApplicationProtocolConfig alpn() {
        return new ApplicationProtocolConfig(ApplicationProtocolConfig.Protocol.ALPN,
                ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT, ApplicationProtocolNames.HTTP_1_1);
    }
}
