package dev.crossgate.realtime.socketio;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A Socket.IO v5 packet: {@code <type>[<attachments>-][<namespace>,][<ack id>][<JSON>]}. Binary values
 * travel as attachments (separate Engine.IO binary messages) referenced by {@code {"_placeholder":true,"num":i}}.
 */
public record SioPacket(Type type, String namespace, long ackId, JsonNode data, int attachments) {
    public enum Type { CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK }

    static final ObjectMapper JSON = new ObjectMapper();
    static final long NO_ACK = -1;

    /** Parses the text part of a packet; null when it is not a valid packet (the connection is then closed). */
    static SioPacket decode(String s) {
        if (s.isEmpty()) {
            return null;
        }
        int t = s.charAt(0) - '0';
        if (t < 0 || t > 6) {
            return null;
        }
        Type type = Type.values()[t];
        int i = 1;
        int attachments = 0;
        if (type == Type.BINARY_EVENT || type == Type.BINARY_ACK) {
            int dash = s.indexOf('-', i);
            if (dash < 0) {
                return null;
            }
            try {
                attachments = Integer.parseInt(s.substring(i, dash));
            } catch (NumberFormatException e) {
                return null;
            }
            if (attachments < 0 || attachments > 1000) {
                return null;
            }
            i = dash + 1;
        }
        String nsp = "/";
        if (i < s.length() && s.charAt(i) == '/') {
            int comma = s.indexOf(',', i);
            int end = comma < 0 ? s.length() : comma;
            nsp = s.substring(i, end);
            i = comma < 0 ? s.length() : comma + 1;
        }
        long ack = NO_ACK;
        int start = i;
        while (i < s.length() && Character.isDigit(s.charAt(i)) && i - start < 18) {
            i++;
        }
        if (i > start) {
            ack = Long.parseLong(s.substring(start, i));
        }
        JsonNode data = null;
        if (i < s.length()) {
            try {
                data = JSON.readTree(s.substring(i));
            } catch (JsonProcessingException e) {
                return null;
            }
        }
        SioPacket p = new SioPacket(type, nsp, ack, data, attachments);
        return p.valid() ? p : null;
    }

    private boolean valid() {
        return switch (type) {
            case CONNECT -> data == null || data.isObject();
            case DISCONNECT -> data == null;
            case EVENT, BINARY_EVENT -> data != null && data.isArray() && data.size() > 0 && data.get(0).isTextual();
            case ACK, BINARY_ACK -> data != null && data.isArray() && ackId != NO_ACK;
            case CONNECT_ERROR -> data != null && data.isObject();
        };
    }

    /** The text form; binary packets must have had their attachments replaced by placeholders. */
    String encode() {
        StringBuilder b = new StringBuilder();
        b.append((char) ('0' + type.ordinal()));
        if (type == Type.BINARY_EVENT || type == Type.BINARY_ACK) {
            b.append(attachments).append('-');
        }
        if (!namespace.equals("/")) {
            b.append(namespace).append(',');
        }
        if (ackId != NO_ACK) {
            b.append(ackId);
        }
        if (data != null) {
            b.append(data.toString());
        }
        return b.toString();
    }

    // ---------------------------------------------------------------- values <-> JSON with attachments

    /**
     * Turns Java values (null, Boolean, Number, String, byte[], List, Map, JsonNode) into JSON, collecting
     * byte arrays as attachments replaced by placeholders.
     */
    static JsonNode toJson(Object v, List<byte[]> attachments) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (v == null) {
            return f.nullNode();
        }
        if (v instanceof JsonNode n) {
            return n;
        }
        if (v instanceof byte[] bytes) {
            ObjectNode ph = f.objectNode();
            ph.put("_placeholder", true);
            ph.put("num", attachments.size());
            attachments.add(bytes);
            return ph;
        }
        if (v instanceof List<?> list) {
            ArrayNode a = f.arrayNode();
            for (Object o : list) {
                a.add(toJson(o, attachments));
            }
            return a;
        }
        if (v instanceof Object[] arr) {
            return toJson(java.util.Arrays.asList(arr), attachments);
        }
        if (v instanceof Map<?, ?> map) {
            ObjectNode o = f.objectNode();
            for (Map.Entry<?, ?> e : map.entrySet()) {
                o.set(String.valueOf(e.getKey()), toJson(e.getValue(), attachments));
            }
            return o;
        }
        return JSON.valueToTree(v);
    }

    /** JSON back to Java values: objects as Maps, arrays as Lists, placeholders as their byte arrays. */
    static Object fromJson(JsonNode n, List<byte[]> attachments) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.isObject()) {
            if (n.size() == 2 && n.path("_placeholder").asBoolean(false) && n.path("num").isInt()) {
                int num = n.get("num").asInt();
                return num >= 0 && num < attachments.size() ? attachments.get(num) : null;
            }
            Map<String, Object> m = new java.util.LinkedHashMap<>();
            n.fields().forEachRemaining(e -> m.put(e.getKey(), fromJson(e.getValue(), attachments)));
            return m;
        }
        if (n.isArray()) {
            List<Object> l = new ArrayList<>(n.size());
            for (JsonNode c : n) {
                l.add(fromJson(c, attachments));
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
            return n.canConvertToInt() ? (Object) n.asInt() : (Object) n.asLong();
        }
        return n.numberValue();
    }

    /** Whether every placeholder in a binary packet's JSON refers to one of its {@code attachments}. */
    static boolean placeholdersValid(JsonNode n, int attachments) {
        if (n == null) {
            return true;
        }
        if (n.isObject() && n.size() == 2 && n.path("_placeholder").asBoolean(false)) {
            int num = n.path("num").asInt(-1);
            return num >= 0 && num < attachments;
        }
        for (JsonNode c : n) {
            if (!placeholdersValid(c, attachments)) {
                return false;
            }
        }
        return true;
    }
}
