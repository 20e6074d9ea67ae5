package dev.crossgate.server.doctor;

import java.time.Duration;
import java.time.Instant;
import java.util.List;

/** Everything one run of the doctor found, in the order of the checks. */
public record Report(String target, Instant started, Duration took, List<Finding> findings, boolean deadlineReached) {
    /** The checks, in the order they run and are reported. */
    public static final List<String> CHECKS = List.of("dns", "tls", "redirects", "host", "cors", "cors-errors", "hostile-origins",
            "websocket", "socketio", "mobile");

    public Report {
        findings = List.copyOf(findings);
    }

    public boolean failed() {
        return findings.stream().anyMatch(f -> f.status() == Finding.Status.FAIL);
    }

    /** 0 when nothing failed, 1 when something did. (2, "could not run", is decided before a report exists.) */
    public int exitCode() {
        return failed() ? 1 : 0;
    }

    public List<Finding> in(String check) {
        return findings.stream().filter(f -> f.check().equals(check)).toList();
    }

    public long count(Finding.Status status) {
        return findings.stream().filter(f -> f.status() == status).count();
    }
}
