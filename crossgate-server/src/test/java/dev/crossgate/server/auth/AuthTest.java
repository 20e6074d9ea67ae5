package dev.crossgate.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.Ed25519Signer;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetKeyPair;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.OctetKeyPairGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawWs;
import dev.crossgate.server.testing.WsEchoUpstream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * JWT authentication at the edge, the same for an HTTP route and a WebSocket handshake: a real HTTP upstream
 * that reports the headers it got, a real WebSocket upstream, and a local JWKS server whose keys rotate.
 */
@ExtendWith(LeakCheck.class)
class AuthTest {
    static final String SECRET = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz-SECRET";
    static final String SITE = "https://app.example.com";

    @TempDir
    Path dir;

    HttpServer http;
    WsEchoUpstream ws;
    HttpServer jwksServer;
    final AtomicReference<String> jwks = new AtomicReference<>("{\"keys\":[]}");
    final AtomicInteger jwksFetches = new AtomicInteger();
    EdgeServer edge;

    @BeforeEach
    void upstreams() throws Exception {
        http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        http.createContext("/", ex -> {
            StringBuilder b = new StringBuilder();
            ex.getRequestHeaders().forEach((k, v) -> b.append(k.toLowerCase()).append('=').append(String.join("|", v)).append('\n'));
            byte[] body = b.toString().getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        http.start();
        ws = new WsEchoUpstream();
        jwksServer = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        jwksServer.createContext("/jwks.json", ex -> {
            jwksFetches.incrementAndGet();
            byte[] body = jwks.get().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        jwksServer.start();
    }

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
        http.stop(0);
        ws.close();
        jwksServer.stop(0);
    }

    private void start(String jwtSection) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                routes:
                  - path: /ws
                    upstreams: [http://127.0.0.1:%d]
                hosts: [api.example.com, 127.0.0.1]
                admin:
                  enabled: false
                websocket:
                  paths: [/ws]
                cors:
                  allowedOrigins: [%s]
                  allowCredentials: true
                  allowedHeaders: [Authorization]
                auth:
                  paths: [/private, /ws]
                  tokenFrom: [header, cookie:access_token, query:token, protocol]
                  claimHeaders: [sub=X-User-Id, role=X-User-Role]
                  jwt:
                %s
                """.formatted(http.getAddress().getPort(), ws.port(), SITE, jwtSection.indent(4).stripTrailing()));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    private void startHs() throws Exception {
        start("secret: " + SECRET + "\nclockSkew: 5s");
    }

    static String token(JWSAlgorithm alg, JWSSigner signer, String kid, long expSeconds, Long nbfSeconds) throws Exception {
        JWTClaimsSet.Builder c = new JWTClaimsSet.Builder().subject("alice").claim("role", "admin")
                .expirationTime(new Date(System.currentTimeMillis() + expSeconds * 1000));
        if (nbfSeconds != null) {
            c.notBeforeTime(new Date(System.currentTimeMillis() + nbfSeconds * 1000));
        }
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(alg).type(JOSEObjectType.JWT).keyID(kid).build(), c.build());
        jwt.sign(signer);
        return jwt.serialize();
    }

    static String hs(long expSeconds) throws Exception {
        return token(JWSAlgorithm.HS256, new MACSigner(SECRET), null, expSeconds, null);
    }

    private RawHttp.Response get(String path, String... headers) throws Exception {
        try (RawHttp c = new RawHttp(edge.port())) {
            return c.send(RawHttp.get(path, "api.example.com", headers)).read();
        }
    }

    private String[] handshake(String... headers) throws Exception {
        try (RawWs c = new RawWs(edge.port())) {
            return c.request(RawWs.handshake("/ws/chat", "api.example.com", headers));
        }
    }

    private void assertRefused(String token, String reason) throws Exception {
        RawHttp.Response r = get("/private/me", "Origin: " + SITE, "Authorization: Bearer " + token);
        assertThat(r.status()).isEqualTo(401);
        assertThat(r.body()).contains("\"reason\":\"" + reason + "\"");
        assertThat(r.header("access-control-allow-origin")).isEqualTo(SITE); // browser code can read why
        assertThat(r.header("www-authenticate")).startsWith("Bearer realm=\"crossgate\"");
        String[] h = handshake("Origin: " + SITE, "Authorization: Bearer " + token);
        assertThat(h[0]).isEqualTo("401");
        assertThat(h[1]).containsIgnoringCase("x-crossgate-reason: " + reason);
    }

    @Test
    void aValidTokenPassesAndItsClaimsGoUpstreamInPlaceOfTheClientsOwnHeaders() throws Exception {
        startHs();
        RawHttp.Response r = get("/private/me", "Authorization: Bearer " + hs(60), "X-User-Id: mallory", "X-User-Role: root");
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).contains("x-user-id=alice\n").contains("x-user-role=admin\n").doesNotContain("mallory").doesNotContain("root");
        // A public path needs no token, and still never passes a client's identity headers on.
        RawHttp.Response pub = get("/public", "X-User-Id: mallory");
        assertThat(pub.status()).isEqualTo(200);
        assertThat(pub.body()).doesNotContain("x-user-id");
        assertThat(handshake("Origin: " + SITE, "Authorization: Bearer " + hs(60))[0]).isEqualTo("101");
        // A native app (no Origin) on a route that requires a token: allowed by default, with the token.
        assertThat(handshake("Authorization: Bearer " + hs(60))[0]).isEqualTo("101");
        assertThat(handshake()[1]).containsIgnoringCase("x-crossgate-reason: auth.missing");
    }

    @Test
    void theTokenIsFoundInACookieAQueryParameterOrASubprotocol() throws Exception {
        startHs();
        assertThat(get("/private/me", "Cookie: theme=dark; access_token=" + hs(60)).status()).isEqualTo(200);
        assertThat(get("/private/me?token=" + hs(60)).status()).isEqualTo(200);
        // The browser workaround: new WebSocket(url, ["access_token", token]).
        AtomicReference<String> got = new AtomicReference<>();
        WebSocket s = HttpClient.newHttpClient().newWebSocketBuilder().header("Origin", SITE).subprotocols("access_token", hs(60))
                .buildAsync(URI.create("ws://127.0.0.1:" + edge.port() + "/ws/chat"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onText(WebSocket w, CharSequence data, boolean last) {
                        got.set(data.toString());
                        return null;
                    }
                }).get(5, TimeUnit.SECONDS);
        assertThat(s.getSubprotocol()).isEqualTo("access_token");
        s.sendText("headers", true).get(5, TimeUnit.SECONDS);
        for (int i = 0; i < 50 && got.get() == null; i++) {
            Thread.sleep(100);
        }
        assertThat(got.get()).contains("x-user-id: alice").doesNotContain("sec-websocket-protocol").doesNotContain("eyJ");
        s.abort();
    }

    @Test
    void missingExpiredNotYetValidWrongKeyAndUnsignedTokensAreRefusedWithTheirReasons() throws Exception {
        startHs();
        RawHttp.Response none = get("/private/me", "Origin: " + SITE);
        assertThat(none.status()).isEqualTo(401);
        assertThat(none.body()).contains("\"reason\":\"auth.missing\"");
        assertThat(handshake("Origin: " + SITE)[1]).containsIgnoringCase("x-crossgate-reason: auth.missing");

        assertRefused(hs(-60), "auth.expired");
        assertRefused(token(JWSAlgorithm.HS256, new MACSigner(SECRET), null, 600, 300L), "auth.invalid"); // nbf in 5 minutes
        assertRefused(token(JWSAlgorithm.HS256, new MACSigner("another-secret-that-is-long-enough-to-be-used-0123"), null, 60, null),
                "auth.invalid");
        // alg: none, with the claims of a valid token.
        String header = Base64URL.encode("{\"alg\":\"none\",\"typ\":\"JWT\"}").toString();
        String payload = SignedJWT.parse(hs(60)).getPayload().toBase64URL().toString();
        assertRefused(header + "." + payload + ".", "auth.invalid");
        assertRefused("not-a-token", "auth.invalid");
    }

    @Test
    void anHs256TokenSignedWithTheRsaPublicKeyIsRefused() throws Exception {
        RSAKey rsa = new RSAKeyGenerator(2048).generate();
        String pem = "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder().encodeToString(rsa.toRSAPublicKey().getEncoded())
                + "\n-----END PUBLIC KEY-----\n";
        Files.writeString(dir.resolve("issuer.pem"), pem);
        start("publicKey: issuer.pem");
        assertThat(get("/private/me", "Authorization: Bearer " + token(JWSAlgorithm.RS256, new RSASSASigner(rsa), null, 60, null)).status())
                .isEqualTo(200);
        // The classic confusion: the public key (as the PEM text, and as its DER bytes) used as an HMAC secret.
        assertRefused(token(JWSAlgorithm.HS256, new MACSigner(pem.getBytes(StandardCharsets.US_ASCII)), null, 60, null), "auth.invalid");
        assertRefused(token(JWSAlgorithm.HS256, new MACSigner(rsa.toRSAPublicKey().getEncoded()), null, 60, null), "auth.invalid");
    }

    @Test
    void ed25519AndEcKeysFromPemVerify() throws Exception {
        OctetKeyPair ed = new OctetKeyPairGenerator(Curve.Ed25519).generate();
        byte[] spki = new byte[44];
        byte[] prefix = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
        System.arraycopy(prefix, 0, spki, 0, 12);
        System.arraycopy(ed.getX().decode(), 0, spki, 12, 32);
        Files.writeString(dir.resolve("ed.pem"), "-----BEGIN PUBLIC KEY-----\n" + Base64.getMimeEncoder().encodeToString(spki)
                + "\n-----END PUBLIC KEY-----\n");
        start("publicKey: ed.pem");
        assertThat(get("/private/me", "Authorization: Bearer " + token(JWSAlgorithm.EdDSA, new Ed25519Signer(ed), null, 60, null)).status())
                .isEqualTo(200);
        OctetKeyPair other = new OctetKeyPairGenerator(Curve.Ed25519).generate();
        assertRefused(token(JWSAlgorithm.EdDSA, new Ed25519Signer(other), null, 60, null), "auth.invalid");
    }

    @Test
    void aKidThatAppearsOnlyAfterAJwksRotationIsFetchedOnceAndMadeUpKidsAreRateLimited() throws Exception {
        ECKey k1 = new ECKeyGenerator(Curve.P_256).keyID("k1").generate();
        ECKey k2 = new ECKeyGenerator(Curve.P_256).keyID("k2").generate();
        jwks.set(new JWKSet(k1.toPublicJWK()).toString());
        start("jwksUrl: http://127.0.0.1:" + jwksServer.getAddress().getPort() + "/jwks.json\njwksMinRefresh: 1h");
        assertThat(get("/private/me", "Authorization: Bearer " + token(JWSAlgorithm.ES256, new ECDSASigner(k1), "k1", 60, null)).status())
                .isEqualTo(200);
        int before = jwksFetches.get();
        // The issuer rotates: k2 is published, and a token signed with it arrives.
        jwks.set(new JWKSet(List.of(k1.toPublicJWK(), k2.toPublicJWK())).toString());
        String t2 = token(JWSAlgorithm.ES256, new ECDSASigner(k2), "k2", 60, null);
        assertThat(get("/private/me", "Authorization: Bearer " + t2).status()).isEqualTo(200);
        assertThat(handshake("Origin: " + SITE, "Authorization: Bearer " + t2)[0]).isEqualTo("101");
        assertThat(jwksFetches.get()).isEqualTo(before + 1);
        // Made-up kids within jwksMinRefresh do not fetch again.
        ECKey forged = new ECKeyGenerator(Curve.P_256).keyID("k9").generate();
        for (int i = 0; i < 5; i++) {
            assertRefused(token(JWSAlgorithm.ES256, new ECDSASigner(forged), "k9", 60, null), "auth.invalid");
        }
        assertThat(jwksFetches.get()).isEqualTo(before + 1);
    }

    @Test
    void aWebSocketIsClosedWhenItsTokenExpiresWithTheDocumentedCode() throws Exception {
        startHs();
        CompletableFuture<String> closed = new CompletableFuture<>();
        long t0 = System.nanoTime();
        WebSocket s = HttpClient.newHttpClient().newWebSocketBuilder().header("Origin", SITE).header("Authorization", "Bearer " + hs(2))
                .buildAsync(URI.create("ws://127.0.0.1:" + edge.port() + "/ws/chat"), new WebSocket.Listener() {
                    @Override
                    public CompletionStage<?> onClose(WebSocket w, int code, String reason) {
                        closed.complete(code + " " + reason);
                        return null;
                    }
                }).get(5, TimeUnit.SECONDS);
        assertThat(closed.get(6, TimeUnit.SECONDS)).isEqualTo("4401 auth.expired");
        assertThat(System.nanoTime() - t0).isGreaterThan(TimeUnit.MILLISECONDS.toNanos(900));
        Thread.sleep(200);
        assertThat(ws.closesReceived).contains("4401 auth.expired");
        s.abort();
    }
}
