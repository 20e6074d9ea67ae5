package dev.crossgate.realtime.engine;

import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * An Engine.IO v4 packet: a type and a payload, text or binary. Text packets are written as the type's
 * digit followed by the text; on HTTP long-polling a binary packet is {@code b} and base64, and packets are
 * joined with the record separator {@code \x1e}; on WebSocket a binary frame is a message as it is.
 */
public record EnginePacket(Type type, String text, byte[] binary) {
    /** The packet types and their digits. */
    public enum Type {
        OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP;

        char digit() {
            return (char) ('0' + ordinal());
        }
    }

    static final char SEPARATOR = '\u001e';

    public static EnginePacket of(Type type) {
        return new EnginePacket(type, "", null);
    }

    public static EnginePacket text(Type type, String text) {
        return new EnginePacket(type, text, null);
    }

    public static EnginePacket binaryMessage(byte[] data) {
        return new EnginePacket(Type.MESSAGE, null, data);
    }

    public boolean isBinary() {
        return binary != null;
    }

    /** The packet as one text unit: {@code 4hello}, or {@code bAQID} for binary (the polling form). */
    String encodeText() {
        return binary != null ? "b" + Base64.getEncoder().encodeToString(binary) : type.digit() + text;
    }

    /** Parses one text unit; null when it is not a packet. */
    static EnginePacket decodeText(String s) {
        if (s.isEmpty()) {
            return null;
        }
        char c = s.charAt(0);
        if (c == 'b') {
            try {
                return binaryMessage(Base64.getDecoder().decode(s.substring(1)));
            } catch (IllegalArgumentException e) {
                return null;
            }
        }
        int t = c - '0';
        if (t < 0 || t >= Type.values().length) {
            return null;
        }
        return text(Type.values()[t], s.substring(1));
    }

    /** A polling payload: packets joined with the record separator. */
    static String encodePayload(List<EnginePacket> packets) {
        StringBuilder b = new StringBuilder();
        for (EnginePacket p : packets) {
            if (b.length() > 0) {
                b.append(SEPARATOR);
            }
            b.append(p.encodeText());
        }
        return b.toString();
    }

    /** Splits a polling payload; null when any part is not a packet. */
    static List<EnginePacket> decodePayload(String payload) {
        List<EnginePacket> out = new ArrayList<>();
        int start = 0;
        while (start <= payload.length()) {
            int end = payload.indexOf(SEPARATOR, start);
            if (end < 0) {
                end = payload.length();
            }
            EnginePacket p = decodeText(payload.substring(start, end));
            if (p == null) {
                return null;
            }
            out.add(p);
            start = end + 1;
        }
        return out;
    }

    @Override
    public String toString() {
        return binary != null ? "binary(" + binary.length + " bytes)" : type + ":" + text;
    }
}
