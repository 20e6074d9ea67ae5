package dev.crossgate.server.doctor;

import java.util.List;

/**
 * One result of the doctor: under which check it falls, what was probed, the verdict, a stable code (the
 * browsers' own error name for CORS failures, such as {@code PreflightMissingAllowOriginHeader}; a dotted code
 * otherwise, such as {@code tls.expired}), a sentence, the evidence (the request sent and the headers that
 * mattered) and the fix.
 *
 * @param check    the group: dns, tls, redirects, host, cors, cors-errors, hostile-origins, websocket, socketio, mobile
 * @param name     what was probed, such as "preflight PUT from https://app.example.com"
 * @param status   pass, warn, fail, or skip (not probed, and why)
 * @param code     a stable identifier of the outcome
 * @param message  what was found
 * @param evidence request and response lines that show it
 * @param fix      what to change, or null when nothing needs to
 */
public record Finding(String check, String name, Status status, String code, String message, List<String> evidence, String fix) {
    public enum Status {
        PASS, WARN, FAIL, SKIP;

        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    public Finding {
        evidence = evidence == null ? List.of() : List.copyOf(evidence);
    }

    static Finding pass(String check, String name, String code, String message, List<String> evidence) {
        return new Finding(check, name, Status.PASS, code, message, evidence, null);
    }

    static Finding warn(String check, String name, String code, String message, List<String> evidence, String fix) {
        return new Finding(check, name, Status.WARN, code, message, evidence, fix);
    }

    static Finding fail(String check, String name, String code, String message, List<String> evidence, String fix) {
        return new Finding(check, name, Status.FAIL, code, message, evidence, fix);
    }

    static Finding skip(String check, String name, String code, String message) {
        return new Finding(check, name, Status.SKIP, code, message, List.of(), null);
    }
}
