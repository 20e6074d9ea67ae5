package dev.crossgate.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.util.Base64URL;
import java.security.KeyFactory;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;

/** Public keys from PEM: RSA and EC (SubjectPublicKeyInfo, PKCS#1 or a certificate) and Ed25519. */
public final class JwtKeys {
    private JwtKeys() {}

    /** The key in {@code pem}; IllegalArgumentException saying why when there is none. */
    public static JWK fromPem(String pem) {
        try {
            return JWK.parseFromPEMEncodedObjects(pem);
        } catch (JOSEException | RuntimeException e) {
            // Not RSA or EC (or not parsed): try Ed25519, which the JDK reads itself.
        }
        int begin = pem.indexOf("-----BEGIN PUBLIC KEY-----");
        int end = pem.indexOf("-----END PUBLIC KEY-----");
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException("no PEM public key (-----BEGIN PUBLIC KEY-----) found");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(pem.substring(begin + 26, end));
            KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(der));
        } catch (Exception e) {
            throw new IllegalArgumentException("the PEM public key is not an RSA, EC or Ed25519 key (" + e.getMessage() + ")");
        }
        // An Ed25519 SubjectPublicKeyInfo ends with the 32 bytes of the key.
        byte[] raw = Arrays.copyOfRange(der, der.length - 32, der.length);
        return new OctetKeyPair.Builder(Curve.Ed25519, Base64URL.encode(raw)).build();
    }
}
