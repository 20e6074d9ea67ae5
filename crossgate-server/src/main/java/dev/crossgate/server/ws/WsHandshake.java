package dev.crossgate.server.ws;

import dev.crossgate.server.edge.Reason;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;

/** The RFC 6455 opening handshake, as checked on both sides of the edge. */
public final class WsHandshake {
    private static final String GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    private WsHandshake() {}

    /** Whether the request asks to switch to WebSocket ({@code Upgrade: websocket}, any case). */
    public static boolean isUpgrade(HttpRequest req) {
        return hasToken(req.headers(), HttpHeaderNames.UPGRADE, "websocket");
    }

    /**
     * Why a client's upgrade request is not a valid WebSocket handshake, or null when it is: GET over
     * HTTP/1.1, {@code Connection: upgrade}, version 13, one key of 16 base64 bytes, and no body.
     */
    public static Reason check(HttpRequest req, boolean hasBody) {
        if (hasBody) {
            return Reason.WS_BODY_NOT_ALLOWED;
        }
        HttpHeaders h = req.headers();
        if (!req.method().equals(HttpMethod.GET) || !req.protocolVersion().equals(HttpVersion.HTTP_1_1)
                || !hasToken(h, HttpHeaderNames.CONNECTION, "upgrade")) {
            return Reason.WS_HANDSHAKE_INVALID;
        }
        List<String> versions = h.getAll(HttpHeaderNames.SEC_WEBSOCKET_VERSION);
        if (versions.size() != 1 || !versions.get(0).trim().equals("13")) {
            return Reason.WS_VERSION_UNSUPPORTED;
        }
        List<String> keys = h.getAll(HttpHeaderNames.SEC_WEBSOCKET_KEY);
        if (keys.size() != 1 || !validKey(keys.get(0).trim())) {
            return Reason.WS_HANDSHAKE_INVALID;
        }
        return null;
    }

    static boolean validKey(String key) {
        if (key.length() != 24) {
            return false;
        }
        try {
            return Base64.getDecoder().decode(key).length == 16;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** {@code Sec-WebSocket-Accept} for a key: base64(SHA-1(key + the RFC's GUID)). */
    public static String accept(String key) {
        try {
            byte[] sha1 = MessageDigest.getInstance("SHA-1").digest((key.trim() + GUID).getBytes(StandardCharsets.US_ASCII));
            return Base64.getEncoder().encodeToString(sha1);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-1", e);
        }
    }

    /**
     * Why the upstream's 101 does not complete the client's handshake, or null when it does: the
     * accept value of the key sent, {@code Upgrade: websocket}, and a subprotocol the client offered.
     */
    static String checkSwitch(HttpResponse res, String key, List<String> offeredProtocols) {
        HttpHeaders h = res.headers();
        List<String> accepts = h.getAll(HttpHeaderNames.SEC_WEBSOCKET_ACCEPT);
        if (accepts.size() != 1 || !accepts.get(0).trim().equals(accept(key))) {
            return "Sec-WebSocket-Accept is " + (accepts.isEmpty() ? "missing" : "not the value of the key sent");
        }
        if (!hasToken(h, HttpHeaderNames.UPGRADE, "websocket")) {
            return "the 101 does not say Upgrade: websocket";
        }
        List<String> chosen = h.getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL);
        if (chosen.size() > 1 || (chosen.size() == 1 && !offeredProtocols.contains(chosen.get(0).trim()))) {
            return "the upstream chose a subprotocol the client did not offer";
        }
        return null;
    }

    /** The subprotocols a client offered, in order. */
    public static List<String> protocols(HttpHeaders h) {
        List<String> out = new ArrayList<>();
        for (String line : h.getAll(HttpHeaderNames.SEC_WEBSOCKET_PROTOCOL)) {
            for (String p : line.split(",")) {
                if (!p.isBlank()) {
                    out.add(p.trim());
                }
            }
        }
        return out;
    }

    static boolean hasToken(HttpHeaders h, CharSequence name, String token) {
        for (String line : h.getAll(name)) {
            for (String t : line.split(",")) {
                if (t.trim().toLowerCase(Locale.ROOT).equals(token)) {
                    return true;
                }
            }
        }
        return false;
    }
}
