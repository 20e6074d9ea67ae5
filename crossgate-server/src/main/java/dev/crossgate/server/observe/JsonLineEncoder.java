package dev.crossgate.server.observe;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Logback encoder of the process's log: one JSON object a line, in the access log's shape, so that a collector reads
 * both with one parser: {@code {"time":"2026-12-06T02:30:00.123Z","level":"INFO","logger":"crossgate.serve",
 * "message":"...", <key-value pairs>}}. Key-value pairs given with SLF4J 2's fluent API become fields of their own
 * (numbers and booleans as such). A throwable adds {@code "error":"<class>: <first line of its message>"}, never a
 * stack trace: an operator reads one line, and a trace can carry request data.
 */
public final class JsonLineEncoder extends EncoderBase<ILoggingEvent> {
    @Override
    public byte[] headerBytes() {
        return null;
    }

    @Override
    public byte[] encode(ILoggingEvent e) {
        return line(e).getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public byte[] footerBytes() {
        return null;
    }

    static String line(ILoggingEvent e) {
        StringBuilder b = new StringBuilder(160);
        b.append("{\"time\":\"").append(Instant.ofEpochMilli(e.getTimeStamp())).append('"');
        b.append(",\"level\":\"").append(e.getLevel()).append('"');
        b.append(",\"logger\":").append(Json.string(e.getLoggerName()));
        b.append(",\"message\":").append(Json.string(e.getFormattedMessage()));
        if (e.getKeyValuePairs() != null) {
            for (org.slf4j.event.KeyValuePair kv : e.getKeyValuePairs()) {
                b.append(',').append(Json.string(kv.key)).append(':');
                if (kv.value instanceof Number || kv.value instanceof Boolean) {
                    b.append(kv.value);
                } else {
                    b.append(Json.string(kv.value == null ? null : String.valueOf(kv.value)));
                }
            }
        }
        IThrowableProxy t = e.getThrowableProxy();
        if (t != null) {
            String m = t.getMessage() == null ? "" : ": " + t.getMessage().lines().findFirst().orElse("");
            b.append(",\"error\":").append(Json.string(t.getClassName() + m));
        }
        return b.append("}\n").toString();
    }
}
