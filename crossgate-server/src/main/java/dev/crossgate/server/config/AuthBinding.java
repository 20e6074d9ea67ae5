package dev.crossgate.server.config;

import dev.crossgate.server.config.Binder.Section;
import dev.crossgate.server.config.Binder.Sourced;
import dev.crossgate.server.config.CrossgateConfig.ClaimHeader;
import dev.crossgate.server.config.CrossgateConfig.TokenSource;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Binds and validates the {@code auth} section: paths, token sources, JWT keys and algorithms, claim headers. */
final class AuthBinding {
    static final Set<String> HMAC = Set.of("HS256", "HS384", "HS512");
    static final Set<String> RSA = Set.of("RS256", "RS384", "RS512", "PS256", "PS384", "PS512");
    static final Set<String> EC = Set.of("ES256", "ES384", "ES512");
    static final Set<String> OKP = Set.of("EdDSA", "Ed25519");
    /** Headers a claim must not be written into: they frame or route the request. */
    private static final Set<String> RESERVED_HEADERS = Set.of("host", "content-length", "transfer-encoding", "connection", "upgrade",
            "te", "trailer", "keep-alive", "cookie", "authorization", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
            "forwarded", "x-request-id");

    private AuthBinding() {}

    static CrossgateConfig.Auth bind(Binder b, Section auth, Profile profile, Source def, Path cwd) {
        b.declare(auth, "paths", "tokenFrom", "jwt", "claimHeaders");
        Sourced<List<String>> paths = auth.list("paths", List.of(), def);
        for (int i = 0; i < paths.value().size(); i++) {
            String p = paths.value().get(i);
            if (p != null && !p.startsWith("/")) {
                String at = "auth.paths[" + i + "]";
                b.problem(at, b.sourceOf(at), p, at + ": \"" + p + "\" is not a path prefix (expected: it starts with /)",
                        "write the path prefix that requires a token, such as /api/private or /ws");
            }
        }
        List<TokenSource> sources = tokenSources(b, auth.list("tokenFrom", List.of("header", "protocol"), def));
        CrossgateConfig.Jwt jwt = jwt(b, auth.section("jwt"), profile, def, cwd);
        List<ClaimHeader> claims = claimHeaders(b, auth.list("claimHeaders", List.of("sub=X-User-Id"), def));
        if (!paths.value().isEmpty() && !jwt.configured()) {
            b.problem("auth.paths", paths.source(), String.join(", ", paths.value()),
                    "auth.paths requires tokens on " + String.join(", ", paths.value()) + " but no key verifies them",
                    "set auth.jwt.secret (CROSSGATE_JWT_SECRET, the secret your backend signs with), auth.jwt.publicKey or auth.jwt.jwksUrl");
        }
        return new CrossgateConfig.Auth(paths.value().stream().filter(java.util.Objects::nonNull).toList(), sources, jwt, claims);
    }

    private static List<TokenSource> tokenSources(Binder b, Sourced<List<String>> raw) {
        List<TokenSource> out = new ArrayList<>();
        for (int i = 0; i < raw.value().size(); i++) {
            String v = raw.value().get(i);
            if (v == null) {
                continue;
            }
            String t = v.trim();
            String lower = t.toLowerCase(Locale.ROOT);
            TokenSource s = null;
            if (lower.equals("header")) {
                s = new TokenSource(TokenSource.Kind.HEADER, "authorization");
            } else if (lower.equals("protocol")) {
                s = new TokenSource(TokenSource.Kind.PROTOCOL, "sec-websocket-protocol");
            } else if ((lower.startsWith("cookie:") || lower.startsWith("query:")) && t.indexOf(':') < t.length() - 1) {
                String name = t.substring(t.indexOf(':') + 1).trim();
                s = new TokenSource(lower.startsWith("cookie:") ? TokenSource.Kind.COOKIE : TokenSource.Kind.QUERY, name);
            }
            if (s == null) {
                String at = "auth.tokenFrom[" + i + "]";
                b.problem(at, b.sourceOf(at), v, at + ": \"" + v + "\" is not a token source (expected: header, cookie:NAME, query:NAME or protocol)",
                        "list where clients put the token, such as [header, cookie:access_token, protocol]");
            } else {
                out.add(s);
            }
        }
        return out;
    }

    private static CrossgateConfig.Jwt jwt(Binder b, Section jwt, Profile profile, Source def, Path cwd) {
        b.declare(jwt, "secret", "publicKey", "jwksUrl", "algorithms", "issuer", "audience", "clockSkew", "jwksMinRefresh");
        Sourced<String> secret = jwt.string("secret", null, def);
        b.settings().remove(b.settings().size() - 1);
        b.record("auth.jwt.secret", secret.value() == null ? "(none)" : "(set, " + secret.value().getBytes(StandardCharsets.UTF_8).length
                + " bytes, not shown)", secret.source());
        if (secret.value() != null && secret.value().getBytes(StandardCharsets.UTF_8).length < 32) {
            b.problem("auth.jwt.secret", secret.source(), "(not shown)",
                    "auth.jwt.secret is " + secret.value().getBytes(StandardCharsets.UTF_8).length
                            + " bytes; HS256 needs a secret of at least 32 bytes (RFC 7518 section 3.2) and shorter ones can be guessed",
                    "use the full secret your backend signs with (Django's SECRET_KEY is 50 characters), or generate one with: openssl rand -base64 48");
        }
        Sourced<String> keyFile = jwt.string("publicKey", null, def);
        Path key = null;
        if (keyFile.value() != null) {
            key = ConfigLoader.resolve(b, keyFile, "auth.jwt.publicKey", cwd);
        }
        if (key != null) {
            String problem = null;
            try {
                // Read only a regular file of a PEM's size: the path could name /dev/zero or a FIFO, which never end.
                if (!Files.isRegularFile(key) || Files.size(key) > 1 << 20) {
                    throw new java.io.IOException("not a regular file of at most 1 MiB");
                }
                String pem = Files.readString(key, StandardCharsets.US_ASCII);
                if (!pem.contains("-----BEGIN PUBLIC KEY-----") && !pem.contains("-----BEGIN RSA PUBLIC KEY-----")
                        && !pem.contains("-----BEGIN CERTIFICATE-----")) {
                    problem = "auth.jwt.publicKey: " + key + " holds no PEM public key or certificate";
                }
            } catch (java.io.IOException e) {
                problem = "auth.jwt.publicKey: " + key + " cannot be read (" + e.getMessage() + ")";
            }
            if (problem != null) {
                b.problem("auth.jwt.publicKey", keyFile.source(), keyFile.value(), problem,
                        "give the issuer's public key as a PEM file (-----BEGIN PUBLIC KEY-----)");
            }
        }
        Sourced<String> jwksRaw = jwt.string("jwksUrl", null, def);
        URI jwks = null;
        if (jwksRaw.value() != null) {
            try {
                jwks = new URI(jwksRaw.value().trim());
                if (!"https".equals(jwks.getScheme()) && !"http".equals(jwks.getScheme()) || jwks.getHost() == null) {
                    throw new java.net.URISyntaxException(jwksRaw.value(), "not an http(s) URL");
                }
                if ("http".equals(jwks.getScheme()) && profile == Profile.PROD && !isLoopback(jwks.getHost())) {
                    b.warn("auth.jwt.jwksUrl", jwksRaw.source(), jwksRaw.value(),
                            "auth.jwt.jwksUrl is plain http: whoever can change the answer on the way can make tokens of their own valid",
                            "use the issuer's https URL");
                }
            } catch (java.net.URISyntaxException e) {
                jwks = null;
                b.problem("auth.jwt.jwksUrl", jwksRaw.source(), jwksRaw.value(), "auth.jwt.jwksUrl: \"" + jwksRaw.value() + "\" is not an http(s) URL",
                        "write the issuer's JWKS URL, such as https://issuer.example.com/.well-known/jwks.json");
            }
        }
        List<String> defaults = new ArrayList<>();
        if (secret.value() != null) {
            defaults.addAll(List.of("HS256", "HS384", "HS512"));
        }
        if (key != null || jwks != null) {
            defaults.addAll(List.of("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"));
        }
        Sourced<List<String>> algs = jwt.list("algorithms", defaults, def);
        List<String> algorithms = new ArrayList<>();
        for (int i = 0; i < algs.value().size(); i++) {
            String a = algs.value().get(i);
            if (a == null) {
                continue;
            }
            String at = "auth.jwt.algorithms[" + i + "]";
            String norm = a.trim();
            if (norm.equalsIgnoreCase("none")) {
                b.problem(at, b.sourceOf(at), a, at + ": none accepts unsigned tokens, which anyone can write",
                        "remove none; list the algorithm your issuer signs with, such as HS256 or RS256");
            } else if (HMAC.contains(norm) && secret.value() == null) {
                b.problem(at, b.sourceOf(at), a, at + ": " + norm + " needs auth.jwt.secret, which is not set",
                        "set auth.jwt.secret, or remove " + norm);
            } else if ((RSA.contains(norm) || EC.contains(norm) || OKP.contains(norm)) && key == null && jwks == null) {
                b.problem(at, b.sourceOf(at), a, at + ": " + norm + " needs a public key (auth.jwt.publicKey or auth.jwt.jwksUrl)",
                        "set auth.jwt.publicKey or auth.jwt.jwksUrl, or remove " + norm);
            } else if (!HMAC.contains(norm) && !RSA.contains(norm) && !EC.contains(norm) && !OKP.contains(norm)) {
                b.problem(at, b.sourceOf(at), a, at + ": \"" + a + "\" is not a JWS algorithm Crossgate verifies",
                        "use HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA");
            } else {
                algorithms.add(norm.equals("Ed25519") ? "EdDSA" : norm);
            }
        }
        Sourced<String> issuer = jwt.string("issuer", null, def);
        Sourced<List<String>> audience = jwt.list("audience", List.of(), def);
        Sourced<Duration> skew = jwt.duration("clockSkew", Duration.ofSeconds(30), def);
        if (skew.value() != null && skew.value().compareTo(Duration.ofMinutes(5)) > 0) {
            b.problem("auth.jwt.clockSkew", skew.source(), Units.format(skew.value()),
                    "auth.jwt.clockSkew: " + Units.format(skew.value()) + " (expected: at most 5m): expired tokens would stay valid that long",
                    "use 30s, and keep the clocks in sync with NTP");
        }
        Sourced<Duration> minRefresh = jwt.duration("jwksMinRefresh", Duration.ofSeconds(30), def);
        return new CrossgateConfig.Jwt(secret.value(), key, jwks, List.copyOf(algorithms), issuer.value(),
                audience.value().stream().filter(java.util.Objects::nonNull).toList(), skew.value(), minRefresh.value());
    }

    private static List<ClaimHeader> claimHeaders(Binder b, Sourced<List<String>> raw) {
        List<ClaimHeader> out = new ArrayList<>();
        for (int i = 0; i < raw.value().size(); i++) {
            String v = raw.value().get(i);
            if (v == null) {
                continue;
            }
            int eq = v.indexOf('=');
            String claim = eq < 0 ? "" : v.substring(0, eq).trim();
            String header = eq < 0 ? "" : v.substring(eq + 1).trim();
            String at = "auth.claimHeaders[" + i + "]";
            if (claim.isEmpty() || header.isEmpty() || !header.matches("[A-Za-z0-9][A-Za-z0-9-]*")) {
                b.problem(at, b.sourceOf(at), v, at + ": \"" + v + "\" is not claim=Header-Name",
                        "write the claim and the header it goes upstream in, such as sub=X-User-Id");
            } else if (RESERVED_HEADERS.contains(header.toLowerCase(Locale.ROOT))) {
                b.problem(at, b.sourceOf(at), v, at + ": " + header + " frames or routes the request and cannot carry a claim",
                        "use a header of your own, such as X-User-Id");
            } else {
                out.add(new ClaimHeader(claim, header));
            }
        }
        return out;
    }

    private static boolean isLoopback(String host) {
        return host.equals("localhost") || host.startsWith("127.") || host.equals("[::1]");
    }
}
