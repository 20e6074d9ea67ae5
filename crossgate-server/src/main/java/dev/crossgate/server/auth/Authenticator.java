package dev.crossgate.server.auth;

import com.nimbusds.jwt.JWTClaimsSet;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.ws.WsHandshake;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * Authentication at the edge: which paths require a token, where the token is found (in the configured
 * order), its verification, and the claims sent upstream as headers.
 */
public final class Authenticator {
    /** Sec-WebSocket-Protocol entries that announce the token as the next entry (the browser workaround). */
    private static final List<String> PROTOCOL_MARKERS = List.of("access_token", "bearer", "jwt");

    /** The outcome for a request: a reason (null when authenticated), a sentence, the claims, and how the token came. */
    public record Outcome(String reason, String message, JWTClaimsSet claims, Found token) {
        public boolean ok() {
            return reason == null;
        }

        /** When the token expires, in epoch milliseconds, or 0. */
        public long expiresAtMillis() {
            return claims == null || claims.getExpirationTime() == null ? 0 : claims.getExpirationTime().getTime();
        }

        public String subject() {
            return claims == null ? null : claims.getSubject();
        }
    }

    /** A token and where it was found; {@code protocolMarker} is set when it came in Sec-WebSocket-Protocol after a marker. */
    public record Found(String token, CrossgateConfig.TokenSource source, String protocolMarker) {}

    private final CrossgateConfig.Auth config;
    private final JwtVerifier verifier;

    public Authenticator(CrossgateConfig.Auth config) {
        this.config = config;
        this.verifier = config.jwt().configured() ? new JwtVerifier(config.jwt()) : null;
    }

    public boolean required(String path) {
        return !config.paths().isEmpty() && config.requiredFor(path);
    }

    /** Finds and verifies the request's token; completes at once unless a JWKS must be fetched first. */
    public CompletableFuture<Outcome> authenticate(HttpRequest req) {
        Found found = find(req);
        if (found == null) {
            return CompletableFuture.completedFuture(new Outcome("auth.missing", "this path requires a token (looked in: " + sources() + ")",
                    null, null));
        }
        return verifier.verify(found.token()).thenApply(v -> new Outcome(v.reason(), v.message(), v.claims(), found));
    }

    /** Verifies a token that came on its own (a Socket.IO CONNECT auth payload's {@code token}). */
    public CompletableFuture<Outcome> verify(String token) {
        if (verifier == null) {
            return CompletableFuture.completedFuture(new Outcome("auth.invalid", "no key is configured to verify tokens", null, null));
        }
        Found found = new Found(token, null, null);
        return verifier.verify(token).thenApply(v -> new Outcome(v.reason(), v.message(), v.claims(), found));
    }

    /** The first token on a handshake (its headers and request URI), in the configured order, or null. */
    public Found find(HttpHeaders headers, String uri) {
        return find(new io.netty.handler.codec.http.DefaultHttpRequest(io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
                io.netty.handler.codec.http.HttpMethod.GET, uri, headers));
    }

    /** Where tokens are looked for, for messages: "header, protocol". */
    public String sources() {
        return String.join(", ", config.tokenFrom().stream().map(Object::toString).toList());
    }

    /** The first token found in the configured order, or null. */
    Found find(HttpRequest req) {
        HttpHeaders h = req.headers();
        for (CrossgateConfig.TokenSource s : config.tokenFrom()) {
            switch (s.kind()) {
                case HEADER -> {
                    for (String v : h.getAll(HttpHeaderNames.AUTHORIZATION)) {
                        String t = v.trim();
                        if (t.length() > 7 && t.regionMatches(true, 0, "Bearer ", 0, 7)) {
                            return new Found(t.substring(7).trim(), s, null);
                        }
                    }
                }
                case COOKIE -> {
                    for (String line : h.getAll(HttpHeaderNames.COOKIE)) {
                        for (String pair : line.split(";")) {
                            int eq = pair.indexOf('=');
                            if (eq > 0 && pair.substring(0, eq).trim().equals(s.name())) {
                                String t = pair.substring(eq + 1).trim();
                                if (!t.isEmpty()) {
                                    return new Found(t, s, null);
                                }
                            }
                        }
                    }
                }
                case QUERY -> {
                    List<String> values = new QueryStringDecoder(req.uri()).parameters().get(s.name());
                    if (values != null && !values.isEmpty() && !values.get(0).isEmpty()) {
                        return new Found(values.get(0), s, null);
                    }
                }
                case PROTOCOL -> {
                    List<String> protocols = WsHandshake.protocols(h);
                    for (int i = 0; i < protocols.size(); i++) {
                        String p = protocols.get(i);
                        if (PROTOCOL_MARKERS.contains(p.toLowerCase(Locale.ROOT)) && i + 1 < protocols.size()) {
                            return new Found(protocols.get(i + 1), s, p);
                        }
                        if (looksLikeJwt(p)) {
                            return new Found(p, s, null);
                        }
                    }
                }
                default -> throw new IllegalStateException(s.toString());
            }
        }
        return null;
    }

    /**
     * Removes a token that came in Sec-WebSocket-Protocol (and its marker) from what the upstream gets, so
     * that it is not offered as a subprotocol.
     */
    public static void removeProtocolToken(HttpHeaders h, Found found) {
        if (found == null || found.source().kind() != CrossgateConfig.TokenSource.Kind.PROTOCOL) {
            return;
        }
        List<String> rest = new ArrayList<>();
        for (String p : WsHandshake.protocols(h)) {
            if (!p.equals(found.token()) && !p.equals(found.protocolMarker())) {
                rest.add(p);
            }
        }
        if (rest.isEmpty()) {
            h.remove(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL);
        } else {
            h.set(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL, String.join(", ", rest));
        }
    }

    /** Removes the claim headers a client sent (only the edge sets them). */
    public void removeClaimHeaders(HttpHeaders h) {
        for (CrossgateConfig.ClaimHeader c : config.claimHeaders()) {
            h.remove(c.header());
        }
    }

    /** Sets the configured claims of an authenticated request as headers. */
    public void addClaimHeaders(HttpHeaders h, JWTClaimsSet claims) {
        for (CrossgateConfig.ClaimHeader c : config.claimHeaders()) {
            Object v = claims.getClaim(c.claim());
            if (v == null) {
                continue;
            }
            String text = v instanceof java.util.Collection<?> col ? String.join(",", col.stream().map(String::valueOf).toList())
                    : v instanceof java.util.Date d ? Long.toString(d.getTime() / 1000) : String.valueOf(v);
            // A claim value is the issuer's, but never allowed to break the header line.
            h.set(c.header(), text.replaceAll("[\\r\\n\\x00-\\x08\\x0a-\\x1f\\x7f]", ""));
        }
    }

    private static boolean looksLikeJwt(String p) {
        return p.startsWith("eyJ") && p.chars().filter(ch -> ch == '.').count() == 2;
    }
}
