package dev.crossgate.realtime.redis;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.msgpack.core.MessageBufferPacker;
import org.msgpack.core.MessageFormat;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ValueType;

/**
 * The Node adapters' two encodings, as plain Java values (null, Boolean, Integer/Long/Double, String, byte[], List,
 * Map with String keys):
 * <ul>
 * <li>MessagePack as notepack.io writes it (the classic adapter's broadcasts {@code [uid, packet, opts]}, and every
 * message that may carry binary): Buffers are {@code bin}, integers the smallest int format, other numbers float 64,
 * undefined map values left out; notepack's extensions (Date: ext -1; undefined: fixext 0) are read as null.</li>
 * <li>JSON (requests and responses without binary): told apart by the first byte, {@code '{'} (0x7b), as the Node
 * adapters do in onrequest/onRawMessage.</li>
 * </ul>
 * Decoding is bounded: depth 64, and sizes are what the message holds (a message is at most Redis's 512 MB, and comes
 * from the trusted cluster, not from clients).
 */
public final class Wire {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_DEPTH = 64;

    private Wire() {}

    /** JSON when the first byte is '{', else MessagePack (@socket.io/redis-adapter onrequest / onresponse). */
    public static Object decode(byte[] message) throws IOException {
        if (message.length > 0 && message[0] == '{') {
            return fromJson(JSON.readTree(message));
        }
        return unpack(message);
    }

    public static Object unpack(byte[] message) throws IOException {
        try (MessageUnpacker u = MessagePack.newDefaultUnpacker(message)) {
            return read(u, 0);
        }
    }

    private static Object read(MessageUnpacker u, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw new IOException("MessagePack nested deeper than " + MAX_DEPTH);
        }
        MessageFormat f = u.getNextFormat();
        ValueType t = f.getValueType();
        switch (t) {
            case NIL -> {
                u.unpackNil();
                return null;
            }
            case BOOLEAN -> {
                return u.unpackBoolean();
            }
            case INTEGER -> {
                if (f == MessageFormat.UINT64) {
                    BigInteger b = u.unpackBigInteger();
                    return b.bitLength() < 64 ? (Object) b.longValue() : (Object) b.doubleValue();
                }
                long v = u.unpackLong();
                return v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE ? (Object) (int) v : (Object) v;
            }
            case FLOAT -> {
                return u.unpackDouble();
            }
            case STRING -> {
                return u.unpackString();
            }
            case BINARY -> {
                int n = u.unpackBinaryHeader();
                return u.readPayload(n);
            }
            case ARRAY -> {
                int n = u.unpackArrayHeader();
                List<Object> l = new ArrayList<>(Math.min(n, 1024));
                for (int i = 0; i < n; i++) {
                    l.add(read(u, depth + 1));
                }
                return l;
            }
            case MAP -> {
                int n = u.unpackMapHeader();
                Map<String, Object> m = new LinkedHashMap<>();
                for (int i = 0; i < n; i++) {
                    Object k = read(u, depth + 1);
                    m.put(String.valueOf(k), read(u, depth + 1));
                }
                return m;
            }
            case EXTENSION -> {
                var h = u.unpackExtensionTypeHeader();
                u.readPayload(h.getLength()); // notepack: undefined (fixext 0) and Date (ext -1), read as null
                return null;
            }
            default -> throw new IOException("unexpected MessagePack value " + t);
        }
    }

    /** MessagePack as notepack.io writes it; JsonNode values are written as their JSON values (binary never appears in them). */
    public static byte[] pack(Object value) {
        try (MessageBufferPacker p = MessagePack.newDefaultBufferPacker()) {
            write(p, value);
            return p.toByteArray();
        } catch (IOException e) {
            throw new IllegalStateException("MessagePack encoding failed", e); // in-memory buffer: not expected
        }
    }

    private static void write(MessageBufferPacker p, Object v) throws IOException {
        if (v == null) {
            p.packNil();
        } else if (v instanceof String s) {
            p.packString(s);
        } else if (v instanceof Boolean b) {
            p.packBoolean(b);
        } else if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
            p.packLong(((Number) v).longValue());
        } else if (v instanceof Number n) {
            double d = n.doubleValue();
            // notepack: an integral finite number is an int, anything else float 64
            if (d == Math.rint(d) && !Double.isInfinite(d) && Math.abs(d) < 9.007199254740992E15) {
                p.packLong((long) d);
            } else {
                p.packDouble(d);
            }
        } else if (v instanceof byte[] b) {
            p.packBinaryHeader(b.length);
            p.writePayload(b);
        } else if (v instanceof JsonNode n) {
            write(p, fromJson(n));
        } else if (v instanceof Map<?, ?> m) {
            int n = 0;
            for (Object x : m.values()) {
                if (x != Absent.VALUE) {
                    n++;
                }
            }
            p.packMapHeader(n);
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (e.getValue() != Absent.VALUE) {
                    p.packString(String.valueOf(e.getKey()));
                    write(p, e.getValue());
                }
            }
        } else if (v instanceof List<?> l) {
            p.packArrayHeader(l.size());
            for (Object x : l) {
                write(p, x);
            }
        } else if (v instanceof Object[] a) {
            write(p, java.util.Arrays.asList(a));
        } else if (v instanceof java.util.Collection<?> c) {
            write(p, new ArrayList<>(c));
        } else {
            write(p, JSON.valueToTree(v));
        }
    }

    /** A map value that is left out, as notepack leaves out undefined. */
    public enum Absent { VALUE }

    /** JSON text; binary values (which JSON cannot carry: such messages are MessagePack) are written as base64 strings. */
    public static byte[] json(Object value) {
        try {
            return JSON.writeValueAsBytes(toJsonValue(value));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("JSON encoding failed", e);
        }
    }

    private static Object toJsonValue(Object v) {
        if (v instanceof byte[] b) {
            return Base64.getEncoder().encodeToString(b);
        }
        if (v instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (e.getValue() != Absent.VALUE) {
                    out.put(String.valueOf(e.getKey()), toJsonValue(e.getValue()));
                }
            }
            return out;
        }
        if (v instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            for (Object x : l) {
                out.add(toJsonValue(x));
            }
            return out;
        }
        return v;
    }

    /** Whether a value holds binary (the Node adapters' hasBinary: such a message must be MessagePack). */
    public static boolean hasBinary(Object v) {
        if (v instanceof byte[]) {
            return true;
        }
        if (v instanceof Map<?, ?> m) {
            for (Object x : m.values()) {
                if (hasBinary(x)) {
                    return true;
                }
            }
        } else if (v instanceof List<?> l) {
            for (Object x : l) {
                if (hasBinary(x)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** JSON as Java values (objects as LinkedHashMaps, arrays as Lists, integers as Integer or Long). */
    public static Object fromJson(JsonNode n) {
        if (n == null || n.isNull() || n.isMissingNode()) {
            return null;
        }
        if (n.isObject()) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                m.put(e.getKey(), fromJson(e.getValue()));
            }
            return m;
        }
        if (n.isArray()) {
            List<Object> l = new ArrayList<>(n.size());
            for (JsonNode c : n) {
                l.add(fromJson(c));
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
            return n.canConvertToInt() ? (Object) n.asInt() : n.canConvertToLong() ? (Object) n.asLong() : (Object) n.asDouble();
        }
        if (n.isNumber()) {
            return n.asDouble();
        }
        if (n.isBinary()) {
            try {
                return n.binaryValue();
            } catch (IOException e) {
                return null;
            }
        }
        return n.asText();
    }

    static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }
}
