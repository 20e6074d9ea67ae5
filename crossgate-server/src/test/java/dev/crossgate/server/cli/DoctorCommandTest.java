package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;

/** {@code crossgate doctor} as a command: exit status, the text report, --json (against the schema in docs/) and --junit. */
@ExtendWith(LeakCheck.class)
class DoctorCommandTest {
    static final String ORIGIN = "https://app.example.com";
    @TempDir
    Path dir;
    HttpServer backend;
    EdgeServer edge;

    @BeforeEach
    void backend() throws Exception {
        backend = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        // A backend with no CORS of its own, answering any Host: what the doctor should flag when it is exposed directly.
        backend.createContext("/", ex -> {
            byte[] b = (ex.getRequestURI().getPath().equals("/api/items") ? "[]" : "{\"error\":\"not found\"}").getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(ex.getRequestURI().getPath().equals("/api/items") ? 200 : 404, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        backend.start();
    }

    @AfterEach
    void stop() {
        if (edge != null) {
            edge.close();
        }
        backend.stop(0);
    }

    record Run(int status, String out, String err) {}

    private Run doctor(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(List.of("doctor"));
        all.addAll(List.of(args));
        int status = Main.run(all.toArray(new String[0]), new PrintWriter(out), new PrintWriter(err), new Main.Context(Map.of(), dir));
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void usageProblemsExitWithTwoAndNameEachProblem() {
        Run r = doctor("ftp://example.com/", "--origin", "https://app.example.com/path", "--header", "no colon", "--timeout", "soon");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("URL ftp://example.com/").contains("--origin https://app.example.com/path").contains("--header no colon")
                .contains("--timeout soon");
        assertThat(doctor().status()).isEqualTo(2); // no URL
    }

    @Test
    void aBackendWithoutCorsFailsWithChromiumsErrorNamesAndTheReportsAgree() throws Exception {
        String url = "http://127.0.0.1:" + backend.getAddress().getPort() + "/api/items";
        Path junit = dir.resolve("doctor.xml");
        Run r = doctor(url, "--origin", ORIGIN, "--method", "PUT", "--header", "Content-Type: application/json", "--json", "--junit",
                junit.toString(), "--timeout", "2s");
        assertThat(r.status()).as(r.out() + r.err()).isEqualTo(1);
        JsonNode report = new ObjectMapper().readTree(r.out());
        JsonNode schema = new ObjectMapper().readTree(Files.readString(Path.of("../docs/doctor-report.schema.json")));
        conforms(report, schema);
        assertThat(report.path("result").asText()).isEqualTo("fail");
        List<String> failures = new ArrayList<>();
        report.path("findings").forEach(f -> {
            if (f.path("status").asText().equals("fail")) {
                failures.add(f.path("check").asText() + "/" + f.path("code").asText());
            }
        });
        // The backend answers the preflight 200 without CORS (so the PUT is never sent), and serves any Host.
        assertThat(failures).contains("cors/PreflightMissingAllowOriginHeader", "host/host.any_host_served").doesNotContain("cors/MissingAllowOriginHeader");
        Document x = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(junit.toFile());
        assertThat(x.getDocumentElement().getAttribute("failures")).isEqualTo(Long.toString(report.path("counts").path("fail").asLong()));
        assertThat(x.getElementsByTagName("failure").getLength()).isEqualTo(report.path("counts").path("fail").asInt());
        assertThat(x.getElementsByTagName("testcase").getLength()).isEqualTo(report.path("findings").size());
        // The text report groups by check and gives the fix.
        Run text = doctor(url, "--origin", ORIGIN, "--timeout", "2s");
        assertThat(text.status()).isEqualTo(1);
        assertThat(text.out()).contains("\nCORS\n").contains("FAIL GET from " + ORIGIN).contains("[MissingAllowOriginHeader]")
                .contains("fix: allow " + ORIGIN);
    }

    @Test
    void theSameBackendBehindCrossgatePasses() throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                hosts: [127.0.0.1, localhost, 10.0.2.2]
                admin:
                  enabled: false
                cors:
                  allowedOrigins: [%s]
                  allowCredentials: true
                  allowedHeaders: [Content-Type]
                  allowedMethods: [GET, PUT]
                  routes:
                    - path: /legacy
                      enabled: false
                """.formatted(backend.getAddress().getPort(), ORIGIN));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
        Run r = doctor("http://127.0.0.1:" + edge.port() + "/api/items", "--config", f.toString(), "--method", "PUT", "--header",
                "Content-Type: application/json", "--credentials", "--timeout", "2s");
        assertThat(r.status()).as(r.out()).isZero();
        assertThat(r.out()).contains("PASS preflight PUT from " + ORIGIN).contains("PASS PUT from " + ORIGIN)
                .contains("PASS HTTP 404: a page on " + ORIGIN + " can read the 404 answer").contains("a wrong Host is refused (HTTP 421)")
                .contains("PASS GET /legacy from " + ORIGIN + " (as configured: refused)")
                .doesNotContain("FAIL");
    }

    @Test
    void aLocalServerThatRefusesTheAndroidEmulatorsHostIsFlagged() throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: prod
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                hosts: [127.0.0.1, localhost]
                admin:
                  enabled: false
                """.formatted(backend.getAddress().getPort()));
        edge = new EdgeServer(ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir)), AccessLog.discarding()).start();
        Run r = doctor("http://127.0.0.1:" + edge.port() + "/api/items", "--timeout", "2s");
        assertThat(r.status()).as(r.out()).isZero(); // a warning, not a failure
        assertThat(r.out()).contains("WARN Android emulator").contains("[mobile.emulator_host_refused]").contains("10.0.2.2");
    }

    /** A small check of the report against the schema's required fields, enums and closed objects (the subset the schema uses). */
    private static void conforms(JsonNode value, JsonNode schema) {
        if (schema.has("const")) {
            assertThat(value).isEqualTo(schema.get("const"));
        }
        if (schema.has("enum")) {
            List<JsonNode> options = new ArrayList<>();
            schema.get("enum").forEach(options::add);
            assertThat(options).as("enum").contains(value);
        }
        JsonNode type = schema.get("type");
        if (type != null && type.isTextual()) {
            switch (type.asText()) {
                case "object" -> assertThat(value.isObject()).isTrue();
                case "array" -> assertThat(value.isArray()).isTrue();
                case "string" -> assertThat(value.isTextual()).as(value.toString()).isTrue();
                case "integer" -> assertThat(value.isIntegralNumber()).isTrue();
                case "boolean" -> assertThat(value.isBoolean()).isTrue();
                default -> { }
            }
        }
        if (schema.has("required")) {
            schema.get("required").forEach(k -> assertThat(value.has(k.asText())).as("required " + k).isTrue());
        }
        if (schema.has("properties")) {
            Set<String> known = new java.util.HashSet<>();
            for (Iterator<String> it = schema.get("properties").fieldNames(); it.hasNext(); ) {
                known.add(it.next());
            }
            if (schema.path("additionalProperties").isBoolean() && !schema.get("additionalProperties").asBoolean()) {
                value.fieldNames().forEachRemaining(k -> assertThat(known).as("property " + k).contains(k));
            }
            for (String k : known) {
                if (value.has(k) && !value.get(k).isNull()) {
                    conforms(value.get(k), schema.get("properties").get(k));
                }
            }
        }
        if (schema.has("items")) {
            value.forEach(item -> conforms(item, schema.get("items")));
        }
    }
}
