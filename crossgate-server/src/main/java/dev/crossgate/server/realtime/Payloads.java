package dev.crossgate.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Socket.IO values (Maps, Lists, Strings, Numbers, Booleans, null, byte[]) to JSON for the backend and back.
 * Binary has no JSON form, so it travels as {@code {"$binary": "<base64>"}} both ways.
 */
final class Payloads {
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private Payloads() {}

    static JsonNode toJson(Object v) {
        if (v == null) {
            return NODES.nullNode();
        }
        if (v instanceof JsonNode n) {
            return n;
        }
        if (v instanceof byte[] b) {
            ObjectNode o = NODES.objectNode();
            o.put("$binary", Base64.getEncoder().encodeToString(b));
            return o;
        }
        if (v instanceof String s) {
            return NODES.textNode(s);
        }
        if (v instanceof Boolean b) {
            return NODES.booleanNode(b);
        }
        if (v instanceof Integer i) {
            return NODES.numberNode(i);
        }
        if (v instanceof Long l) {
            return NODES.numberNode(l);
        }
        if (v instanceof Double d) {
            return NODES.numberNode(d);
        }
        if (v instanceof Number n) {
            return NODES.numberNode(new java.math.BigDecimal(n.toString()));
        }
        if (v instanceof java.util.Date d) {
            return NODES.numberNode(d.getTime() / 1000); // JWT dates: seconds, as in the token
        }
        if (v instanceof Map<?, ?> m) {
            ObjectNode o = NODES.objectNode();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                o.set(String.valueOf(e.getKey()), toJson(e.getValue()));
            }
            return o;
        }
        if (v instanceof Iterable<?> it) {
            ArrayNode a = NODES.arrayNode();
            for (Object x : it) {
                a.add(toJson(x));
            }
            return a;
        }
        if (v instanceof Object[] arr) {
            return toJson(java.util.Arrays.asList(arr));
        }
        return NODES.textNode(v.toString());
    }

    static Object fromJson(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return null;
        }
        if (n.isObject()) {
            if (n.size() == 1 && n.path("$binary").isTextual()) {
                try {
                    return Base64.getDecoder().decode(n.get("$binary").asText());
                } catch (IllegalArgumentException e) {
                    return n.get("$binary").asText(); // not base64: left as the text it is
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                m.put(e.getKey(), fromJson(e.getValue()));
            }
            return m;
        }
        if (n.isArray()) {
            List<Object> l = new ArrayList<>(n.size());
            for (JsonNode x : n) {
                l.add(fromJson(x));
            }
            return l;
        }
        if (n.isTextual()) {
            return n.asText();
        }
        if (n.isBoolean()) {
            return n.asBoolean();
        }
        if (n.isIntegralNumber()) {
            return n.canConvertToLong() ? (Object) n.asLong() : n.bigIntegerValue();
        }
        if (n.isNumber()) {
            return n.asDouble();
        }
        return n.asText();
    }
}
