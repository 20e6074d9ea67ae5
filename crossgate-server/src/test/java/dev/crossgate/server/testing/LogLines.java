package dev.crossgate.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/** The process log's lines (JSON objects: time, level, logger, message) read back in tests. */
public final class LogLines {
    private static final ObjectMapper JSON = new ObjectMapper();

    private LogLines() {}

    /** The line parsed, or null when it is not one JSON object. */
    public static JsonNode parse(String line) {
        if (!line.startsWith("{")) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(line);
            return n.isObject() ? n : null;
        } catch (java.io.IOException e) {
            return null;
        }
    }

    /** The message of a log line, or the line itself when it is not a log line (the command's own output). */
    public static String message(String line) {
        JsonNode n = parse(line);
        return n == null || !n.hasNonNull("message") ? line : n.get("message").asText();
    }

    /** The level of a log line, or null. */
    public static String level(String line) {
        JsonNode n = parse(line);
        return n == null || !n.hasNonNull("level") ? null : n.get("level").asText();
    }
}
