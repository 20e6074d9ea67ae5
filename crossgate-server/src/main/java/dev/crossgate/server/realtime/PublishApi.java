package dev.crossgate.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;

/**
 * The publish API, for the backend, on the admin listener; every call carries
 * {@code Authorization: Bearer <realtime.publish.token>}:
 * <ul>
 * <li>{@code POST /realtime/publish} with {@code {"event", "args", "namespace", "rooms", "users", "sockets", "except"}}:
 *     emits to those targets (every socket of the namespace when none is named); answers {@code {"sockets": N}},
 *     the sockets reached on this node.</li>
 * <li>{@code GET /realtime/sockets?namespace=/chat&room=r}: the sockets of a room (or of the namespace), each with
 *     its id, user, rooms, transport, address and data.</li>
 * </ul>
 * Refusals: 401 {@code realtime.publish_unauthorized}, 400 {@code realtime.publish_invalid}, 404
 * {@code realtime.namespace_unknown}, 405 {@code http.method_not_allowed}.
 */
public final class PublishApi {
    /** An answer: a status, and either a JSON body or a refusal's reason code and message. */
    public record Answer(int status, String json, String reason, String message) {}

    public static final String PREFIX = "/realtime/";

    private final Hub hub;
    private final byte[] token;

    public PublishApi(Hub hub, String token) {
        this.hub = hub;
        this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
    }

    public static boolean covers(String path) {
        return path.startsWith(PREFIX);
    }

    /** Answers a publish API request; listing the sockets of a cluster waits for the other nodes (bounded). */
    public java.util.concurrent.CompletableFuture<Answer> handleAsync(String method, String uri, String authorization, byte[] body) {
        String path = new QueryStringDecoder(uri).path();
        if (token != null && authorized(authorization) && path.equals("/realtime/sockets") && (method.equals("GET") || method.equals("HEAD"))) {
            var q = new QueryStringDecoder(uri).parameters();
            String ns = first(q.get("namespace"), "/");
            String room = first(q.get("room"), null);
            return hub.list(ns, room).thenApply(out -> out == null
                    ? new Answer(404, null, "realtime.namespace_unknown", "no namespace " + ns + " (realtime.namespaces)")
                    : new Answer(200, out.toString() + "\n", null, null));
        }
        return java.util.concurrent.CompletableFuture.completedFuture(handle(method, uri, authorization, body));
    }

    public Answer handle(String method, String uri, String authorization, byte[] body) {
        String path = new QueryStringDecoder(uri).path();
        if (token == null) {
            return new Answer(404, null, "not_found", "the publish API is off: set realtime.publish.token (CROSSGATE_REALTIME_PUBLISH_TOKEN)");
        }
        if (!authorized(authorization)) {
            return new Answer(401, null, "realtime.publish_unauthorized",
                    "send Authorization: Bearer <realtime.publish.token>");
        }
        switch (path) {
            case "/realtime/publish" -> {
                if (!method.equals("POST")) {
                    return new Answer(405, null, "http.method_not_allowed", "POST a JSON object such as {\"event\": \"news\", \"args\": [1], \"rooms\": [\"r1\"]}");
                }
                JsonNode e;
                try {
                    e = HookClient.JSON.readTree(body);
                } catch (Exception ex) {
                    return new Answer(400, null, "realtime.publish_invalid", "the body is not JSON: " + ex.getMessage().lines().findFirst().orElse(""));
                }
                Hub.Emitted r = hub.publish("/", e);
                if (r.problem() != null) {
                    return new Answer(r.status(), null, r.status() == 404 ? "realtime.namespace_unknown" : "realtime.publish_invalid", r.problem());
                }
                ObjectNode out = HookClient.JSON.createObjectNode();
                out.put("sockets", r.sockets());
                if (hub.cluster() != null) {
                    // "sockets" counts this node's; the other nodes deliver the same emit through Redis.
                    out.put("cluster", true);
                }
                return new Answer(200, out.toString() + "\n", null, null);
            }
            case "/realtime/sockets" -> {
                if (!method.equals("GET") && !method.equals("HEAD")) {
                    return new Answer(405, null, "http.method_not_allowed", "GET /realtime/sockets?namespace=/&room=ROOM");
                }
                var q = new QueryStringDecoder(uri).parameters();
                String ns = first(q.get("namespace"), "/");
                String room = first(q.get("room"), null);
                ObjectNode out = hub.list(ns, room).join();
                if (out == null) {
                    return new Answer(404, null, "realtime.namespace_unknown", "no namespace " + ns + " (realtime.namespaces)");
                }
                return new Answer(200, out.toString() + "\n", null, null);
            }
            default -> {
                return new Answer(404, null, "not_found", "the publish API has POST /realtime/publish and GET /realtime/sockets");
            }
        }
    }

    private boolean authorized(String authorization) {
        if (authorization == null || authorization.length() < 8 || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return false;
        }
        byte[] given = authorization.substring(7).trim().getBytes(StandardCharsets.UTF_8);
        return MessageDigest.isEqual(given, token); // constant time
    }

    private static String first(List<String> values, String def) {
        return values == null || values.isEmpty() || values.get(0).isEmpty() ? def : values.get(0);
    }
}
