package dev.crossgate.server.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.Ed25519Verifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.crossgate.server.config.CrossgateConfig;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.text.ParseException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Verifies JWTs: the algorithm must be one configured, and it selects the key type — HS256/384/512 only with the
 * shared secret, RS and PS algorithms only with an RSA key, ES algorithms only with an EC key of the matching curve, EdDSA only
 * with an Ed25519 key — so {@code alg: none} and algorithm confusion (an HS256 token "signed" with the RSA
 * public key) are refused by construction. Then {@code exp} (required) and {@code nbf} with the clock skew,
 * and {@code iss} and {@code aud} when configured.
 *
 * <p>JWKS: fetched at start in the background and again when a token names a {@code kid} that is not in
 * the cached set (a key rotation); such refreshes happen at most once per {@code jwksMinRefresh}. Only that case waits for the
 * network; the event loop never blocks.
 */
public final class JwtVerifier {
    /** The outcome: a reason code (null when valid), a sentence, and the claims of a valid token. */
    public record Verdict(String reason, String message, JWTClaimsSet claims) {
        public boolean ok() {
            return reason == null;
        }

        static Verdict invalid(String message) {
            return new Verdict("auth.invalid", message, null);
        }
    }

    /** A signature that does not verify with one candidate key: the next candidate is tried. */
    private static final Verdict BAD_SIGNATURE = Verdict.invalid("the signature does not verify");

    private final CrossgateConfig.Jwt config;
    private final Set<String> algorithms;
    private final MACVerifier mac;
    private final JWK pemKey;
    private final HttpClient http;
    private final AtomicReference<JWKSet> jwks = new AtomicReference<>(new JWKSet());
    private final AtomicReference<CompletableFuture<JWKSet>> fetching = new AtomicReference<>();
    private volatile long lastFetchNanos;
    /** When an unknown kid last caused a fetch (the fetch at start does not count), or 0. */
    private volatile long lastKidRefreshNanos;
    private volatile boolean fetchedOnce;

    public JwtVerifier(CrossgateConfig.Jwt config) {
        this.config = config;
        this.algorithms = Set.copyOf(config.algorithms());
        try {
            this.mac = config.secret() == null ? null : new MACVerifier(config.secret().getBytes(StandardCharsets.UTF_8));
        } catch (JOSEException e) {
            throw new IllegalArgumentException("auth.jwt.secret: " + e.getMessage(), e);
        }
        try {
            this.pemKey = config.publicKey() == null ? null : JwtKeys.fromPem(Files.readString(config.publicKey(), StandardCharsets.US_ASCII));
        } catch (IOException e) {
            throw new IllegalArgumentException("auth.jwt.publicKey: cannot read " + config.publicKey() + ": " + e.getMessage(), e);
        }
        this.http = config.jwksUrl() == null ? null : HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        if (http != null) {
            refresh(); // in the background; a token that arrives first waits for it
        }
    }

    /** Verifies now, or once the JWKS is fetched when the token names a key not seen yet. */
    public CompletableFuture<Verdict> verify(String token) {
        SignedJWT jwt;
        try {
            jwt = SignedJWT.parse(token);
        } catch (ParseException e) {
            return done(Verdict.invalid("the token is not a signed JWT (" + e.getMessage() + ")"));
        }
        JWSAlgorithm alg = jwt.getHeader().getAlgorithm();
        if (!algorithms.contains(alg.getName())) {
            return done(Verdict.invalid("the token's algorithm " + alg.getName() + " is not accepted here (accepted: "
                    + String.join(", ", config.algorithms()) + ")"));
        }
        if (JWSAlgorithm.Family.HMAC_SHA.contains(alg)) {
            return done(mac == null ? Verdict.invalid("HMAC tokens are not accepted here") : check(jwt, mac));
        }
        String kid = jwt.getHeader().getKeyID();
        List<JWK> candidates = candidates(kid);
        if (candidates.isEmpty() && http != null && (kid != null || !fetchedOnce)) {
            // A kid not in the cached set: the issuer may have rotated its keys.
            CompletableFuture<JWKSet> f = refreshIfAllowed();
            if (f != null) {
                return f.handle((set, err) -> checkWith(jwt, alg, candidates(kid), kid));
            }
        }
        return done(checkWith(jwt, alg, candidates, kid));
    }

    private List<JWK> candidates(String kid) {
        List<JWK> out = new ArrayList<>();
        if (pemKey != null && (kid == null || kid.equals(pemKey.getKeyID()) || pemKey.getKeyID() == null)) {
            out.add(pemKey);
        }
        for (JWK k : jwks.get().getKeys()) {
            if (kid == null || kid.equals(k.getKeyID())) {
                out.add(k);
            }
        }
        return out;
    }

    private Verdict checkWith(SignedJWT jwt, JWSAlgorithm alg, List<JWK> candidates, String kid) {
        Verdict last = Verdict.invalid(kid == null ? "no configured key fits the token's algorithm " + alg.getName()
                : "no key with kid " + kid + " is known (the JWKS was fetched " + sinceFetch() + ")");
        for (JWK k : candidates) {
            JWSVerifier v = verifierFor(alg, k);
            if (v != null) {
                last = check(jwt, v);
                if (last != BAD_SIGNATURE) {
                    return last;
                }
            }
        }
        return last;
    }

    /** The verifier of a key for an algorithm, or null when the key's type does not fit it (no confusion). */
    private static JWSVerifier verifierFor(JWSAlgorithm alg, JWK k) {
        try {
            if (JWSAlgorithm.Family.RSA.contains(alg) && k instanceof RSAKey r) {
                return new RSASSAVerifier(r);
            }
            if (JWSAlgorithm.Family.EC.contains(alg) && k instanceof ECKey e && Curve.forJWSAlgorithm(alg).contains(e.getCurve())) {
                return new ECDSAVerifier(e);
            }
            if ((JWSAlgorithm.EdDSA.equals(alg) || JWSAlgorithm.Ed25519.equals(alg)) && k instanceof OctetKeyPair o
                    && Curve.Ed25519.equals(o.getCurve())) {
                return new Ed25519Verifier(o);
            }
        } catch (JOSEException e) {
            return null;
        }
        return null;
    }

    private Verdict check(SignedJWT jwt, JWSVerifier verifier) {
        try {
            if (!jwt.verify(verifier)) {
                return BAD_SIGNATURE;
            }
        } catch (JOSEException e) {
            return Verdict.invalid("the signature cannot be verified (" + e.getMessage() + ")");
        }
        JWTClaimsSet claims;
        try {
            claims = jwt.getJWTClaimsSet();
        } catch (ParseException e) {
            return Verdict.invalid("the token's claims are not a JSON object");
        }
        long now = System.currentTimeMillis();
        long skew = config.clockSkew().toMillis();
        Date exp = claims.getExpirationTime();
        if (exp == null) {
            return Verdict.invalid("the token has no exp claim (tokens that never expire are not accepted)");
        }
        if (exp.getTime() + skew <= now) {
            return new Verdict("auth.expired", "the token expired at " + exp.toInstant(), null);
        }
        Date nbf = claims.getNotBeforeTime();
        if (nbf != null && nbf.getTime() - skew > now) {
            return Verdict.invalid("the token is not valid before " + nbf.toInstant());
        }
        if (config.issuer() != null && !config.issuer().equals(claims.getIssuer())) {
            return Verdict.invalid("the token's issuer is " + claims.getIssuer() + ", not " + config.issuer());
        }
        if (!config.audience().isEmpty()) {
            List<String> aud = claims.getAudience();
            if (aud == null || aud.stream().noneMatch(config.audience()::contains)) {
                return Verdict.invalid("the token's audience " + aud + " is not one of " + config.audience());
            }
        }
        return new Verdict(null, null, claims);
    }

    private CompletableFuture<JWKSet> refreshIfAllowed() {
        CompletableFuture<JWKSet> running = fetching.get();
        if (running != null) {
            return running;
        }
        long now = System.nanoTime();
        if (lastKidRefreshNanos != 0 && now - lastKidRefreshNanos < config.jwksMinRefresh().toNanos()) {
            return null; // rate-limited: a flood of made-up kids does not become a flood of fetches
        }
        lastKidRefreshNanos = now;
        return refresh();
    }

    private CompletableFuture<JWKSet> refresh() {
        CompletableFuture<JWKSet> mine = new CompletableFuture<>();
        if (!fetching.compareAndSet(null, mine)) {
            return fetching.get();
        }
        lastFetchNanos = System.nanoTime();
        HttpRequest req = HttpRequest.newBuilder(config.jwksUrl()).timeout(Duration.ofSeconds(5)).header("Accept", "application/json").GET().build();
        http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((res, err) -> {
            JWKSet set = jwks.get();
            try {
                if (err == null && res.statusCode() == 200) {
                    set = JWKSet.parse(res.body()).toPublicJWKSet();
                    jwks.set(set);
                }
            } catch (ParseException e) {
                // keep the previous set
            } finally {
                fetchedOnce = true;
                lastFetchNanos = System.nanoTime();
                fetching.set(null);
                mine.complete(set);
            }
        });
        return mine;
    }

    private String sinceFetch() {
        if (!fetchedOnce) {
            return "never";
        }
        return (System.nanoTime() - lastFetchNanos) / 1_000_000_000L + " s ago";
    }

    private static CompletableFuture<Verdict> done(Verdict v) {
        return CompletableFuture.completedFuture(v);
    }
}
