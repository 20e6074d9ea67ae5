package dev.crossgate.server.doctor;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;

/**
 * The doctor's report as text for people (grouped by check: verdict, evidence, fix), as JSON (the schema is
 * {@code docs/doctor-report.schema.json}), and as JUnit XML for CI (one test case per finding, a failure for
 * each FAIL, skipped for SKIP).
 */
public final class Output {
    /** The version of the JSON format; it changes only when a field changes meaning or goes away. */
    public static final int JSON_VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Output() {}

    public static String text(Report r, boolean verbose) {
        StringBuilder b = new StringBuilder();
        b.append("crossgate doctor ").append(r.target()).append('\n');
        for (String check : Report.CHECKS) {
            List<Finding> fs = r.in(check);
            if (fs.isEmpty()) {
                continue;
            }
            b.append('\n').append(title(check)).append('\n');
            for (Finding f : fs) {
                b.append("  ").append(mark(f.status())).append(' ').append(f.name()).append(": ").append(f.message());
                if (f.status() == Finding.Status.FAIL || f.status() == Finding.Status.WARN) {
                    b.append(" [").append(f.code()).append(']');
                }
                b.append('\n');
                if (verbose || f.status() == Finding.Status.FAIL || f.status() == Finding.Status.WARN) {
                    for (String e : f.evidence()) {
                        b.append("        ").append(e).append('\n');
                    }
                }
                if (f.fix() != null && f.status() != Finding.Status.PASS) {
                    b.append("      fix: ").append(f.fix()).append('\n');
                }
            }
        }
        b.append('\n').append(r.count(Finding.Status.PASS)).append(" passed, ").append(r.count(Finding.Status.WARN)).append(" warnings, ")
                .append(r.count(Finding.Status.FAIL)).append(" failed, ").append(r.count(Finding.Status.SKIP)).append(" skipped in ")
                .append(r.took().toMillis() / 1000.0).append(" s");
        if (r.deadlineReached()) {
            b.append(" (the run's deadline was reached: some probes did not run)");
        }
        return b.append('\n').toString();
    }

    private static String mark(Finding.Status s) {
        return switch (s) {
            case PASS -> "PASS";
            case WARN -> "WARN";
            case FAIL -> "FAIL";
            case SKIP -> "SKIP";
        };
    }

    private static String title(String check) {
        return switch (check) {
            case "dns" -> "DNS and connections";
            case "tls" -> "TLS";
            case "redirects" -> "Redirects";
            case "host" -> "Host handling";
            case "cors" -> "CORS";
            case "cors-errors" -> "CORS on error responses";
            case "hostile-origins" -> "Hostile origins";
            case "websocket" -> "WebSocket";
            case "socketio" -> "Socket.IO";
            case "mobile" -> "Mobile apps";
            default -> check;
        };
    }

    public static String json(Report r) {
        ObjectNode o = JSON.createObjectNode();
        o.put("version", JSON_VERSION);
        o.put("target", r.target());
        o.put("started", r.started().toString());
        o.put("durationMillis", r.took().toMillis());
        o.put("deadlineReached", r.deadlineReached());
        o.put("result", r.failed() ? "fail" : "pass");
        ObjectNode counts = o.putObject("counts");
        for (Finding.Status s : Finding.Status.values()) {
            counts.put(s.id(), r.count(s));
        }
        ArrayNode list = o.putArray("findings");
        for (Finding f : r.findings()) {
            ObjectNode n = list.addObject();
            n.put("check", f.check());
            n.put("name", f.name());
            n.put("status", f.status().id());
            n.put("code", f.code());
            n.put("message", f.message());
            ArrayNode ev = n.putArray("evidence");
            f.evidence().forEach(ev::add);
            if (f.fix() == null) {
                n.putNull("fix");
            } else {
                n.put("fix", f.fix());
            }
        }
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    public static String junit(Report r) {
        StringBuilder b = new StringBuilder("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        b.append("<testsuites name=\"crossgate doctor\" tests=\"").append(r.findings().size()).append("\" failures=\"")
                .append(r.count(Finding.Status.FAIL)).append("\" skipped=\"").append(r.count(Finding.Status.SKIP)).append("\" time=\"")
                .append(seconds(r.took().toMillis())).append("\">\n");
        for (String check : Report.CHECKS) {
            List<Finding> fs = r.in(check);
            if (fs.isEmpty()) {
                continue;
            }
            long failures = fs.stream().filter(f -> f.status() == Finding.Status.FAIL).count();
            long skipped = fs.stream().filter(f -> f.status() == Finding.Status.SKIP).count();
            b.append("  <testsuite name=\"").append(xml(check)).append("\" tests=\"").append(fs.size()).append("\" failures=\"").append(failures)
                    .append("\" skipped=\"").append(skipped).append("\">\n");
            for (Finding f : fs) {
                b.append("    <testcase classname=\"doctor.").append(xml(check)).append("\" name=\"").append(xml(f.name())).append("\"");
                if (f.status() == Finding.Status.PASS) {
                    b.append("/>\n");
                    continue;
                }
                b.append(">\n");
                String detail = f.message() + (f.fix() == null ? "" : "\nfix: " + f.fix()) + (f.evidence().isEmpty() ? "" : "\n" + String.join("\n", f.evidence()));
                switch (f.status()) {
                    case FAIL -> b.append("      <failure type=\"").append(xml(f.code())).append("\" message=\"").append(xml(f.message())).append("\">")
                            .append(xml(detail)).append("</failure>\n");
                    case SKIP -> b.append("      <skipped message=\"").append(xml(f.message())).append("\"/>\n");
                    default -> b.append("      <system-out>").append(xml("warning " + f.code() + ": " + detail)).append("</system-out>\n");
                }
                b.append("    </testcase>\n");
            }
            b.append("  </testsuite>\n");
        }
        return b.append("</testsuites>\n").toString();
    }

    private static String seconds(long millis) {
        return String.format(Locale.ROOT, "%.3f", millis / 1000.0);
    }

    static String xml(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '&' -> b.append("&amp;");
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&apos;");
                default -> {
                    if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') {
                        b.append(' ');
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.toString();
    }
}
