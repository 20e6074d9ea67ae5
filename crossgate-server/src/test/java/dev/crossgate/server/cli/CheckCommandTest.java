package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckCommandTest {
    @TempDir
    Path dir;

    record Run(int status, String out, String err) {}

    private Run run(Map<String, String> env, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Main.run(args, new PrintWriter(out), new PrintWriter(err), new Main.Context(env, dir));
        return new Run(status, out.toString(), err.toString());
    }

    private Run run(String... args) {
        return run(Map.of(), args);
    }

    private Path write(String yaml) throws IOException {
        Path f = dir.resolve("test.yaml");
        Files.writeString(f, yaml);
        return f;
    }

    @Test
    void checkPrintsTheEffectiveConfigurationWithSourcesAndExitsZero() {
        Run r = run(Map.of("CORS_ALLOW_CREDENTIALS", "false"), "check");
        assertThat(r.status()).isEqualTo(0);
        assertThat(r.out()).startsWith("Configuration (no file: built-in defaults), profile dev (from default): valid");
        assertThat(r.out()).containsPattern("cors\\.allowCredentials +false +env CORS_ALLOW_CREDENTIALS");
        assertThat(r.out()).containsPattern("hosts +localhost, 127\\.0\\.0\\.1, \\[::1\\], 10\\.0\\.2\\.2 +default \\(dev profile\\)");
        assertThat(r.out()).contains("No problems.");
    }

    @Test
    void checkNeverPrintsASecretOnlyThatItIsSetAndWhereFrom() throws IOException {
        Path f = write("admin:\n  listen: 127.0.0.1:0\nrealtime:\n  hooks:\n    secret: hook-secret-value-0123456789\n  publish:\n"
                + "    token: publish-token-value-0123456789\n");
        Run r = run(Map.of("CROSSGATE_JWT_SECRET", "jwt-secret-value-0123456789abcdefghij"), "check", "--config", f.toString());
        assertThat(r.status()).isEqualTo(0);
        assertThat(r.out() + r.err()).doesNotContain("hook-secret-value").doesNotContain("publish-token-value").doesNotContain("jwt-secret-value");
        assertThat(r.out()).containsPattern("realtime\\.hooks\\.secret +\\(set, 28 bytes, not shown\\) +" + java.util.regex.Pattern.quote(f + ":5"));
        assertThat(r.out()).containsPattern("realtime\\.publish\\.token +\\(set, 30 characters, not shown\\) +" + java.util.regex.Pattern.quote(f + ":7"));
        assertThat(r.out()).containsPattern("auth\\.jwt\\.secret +\\(set, 37 bytes, not shown\\) +env CROSSGATE_JWT_SECRET");
    }

    @Test
    void anInvalidConfigurationListsEveryProblemAndExitsTwo() throws IOException {
        Path f = write("profile: prod\nhosts: [api.example.com]\ncors:\n  allowedOrigins: [\"*\"]\n  allowCredentials: true\n  maxAge: 1w\n");
        Run r = run("check", "--config", f.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.out()).contains("INVALID, 2 errors");
        assertThat(r.out()).contains("error: cors.allowedOrigins[0] (" + f + ":4): \"*\" cannot be used with allowCredentials: true");
        assertThat(r.out()).contains("error: cors.maxAge (" + f + ":6): cors.maxAge: \"1w\" is not a duration");
    }

    @Test
    void anAllowedRequestPrintsThePreflightAndTheHeadersAndExitsZero() throws IOException {
        Path f = write("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowedOrigins: [https://app.example.com]
                  allowCredentials: true
                  allowedMethods: [GET, PUT]
                  allowedHeaders: [Authorization, X-Custom]
                """);
        Run r = run("check", "--config", f.toString(), "--origin", "https://app.example.com", "--method", "PUT",
                "--header", "Authorization", "--header", "X-Custom", "--credentials", "--path", "/api/items");
        assertThat(r.status()).isEqualTo(0);
        assertThat(r.out()).contains("1. Preflight: OPTIONS /api/items (PUT is not a CORS-safelisted method;");
        assertThat(r.out()).contains("allowed; the edge answers 204:");
        assertThat(r.out()).contains("Access-Control-Allow-Methods: GET, PUT");
        assertThat(r.out()).contains("Access-Control-Allow-Headers: Authorization, X-Custom");
        assertThat(r.out()).contains("Access-Control-Allow-Credentials: true");
        assertThat(r.out()).endsWith("Result: ALLOWED; the page can read the response.\n");
    }

    @Test
    void aRefusedRequestNamesTheReasonAndTheChangeThatWouldAllowItAndExitsOne() throws IOException {
        Path f = write("profile: prod\nhosts: [api.example.com]\ncors:\n  allowedOrigins: [https://app.example.com]\n");
        Run r = run("check", "--config", f.toString(), "--origin", "https://app.example.com", "--method", "DELETE");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out()).contains("refused: cors.method_not_allowed");
        assertThat(r.out()).contains("fix:  add \"DELETE\" to cors.allowedMethods");
        assertThat(r.out()).contains("Result: REFUSED (cors.method_not_allowed); the browser does not send the DELETE request.");

        Run origin = run("check", "--config", f.toString(), "--origin", "https://other.example.com");
        assertThat(origin.status()).isEqualTo(1);
        assertThat(origin.out()).contains("fix:  add \"https://other.example.com\" to cors.allowedOrigins");
        assertThat(origin.out()).contains("Vary: Origin");
    }

    @Test
    void credentialsOnAPolicyWithoutThemAreRefused() throws IOException {
        Path f = write("profile: prod\nhosts: [api.example.com]\ncors:\n  allowedOrigins: [https://app.example.com]\n");
        Run r = run("check", "--config", f.toString(), "--origin", "https://app.example.com", "--credentials");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out()).contains("refused: cors.credentials_not_allowed");
        assertThat(r.out()).contains("fix:  set cors.allowCredentials: true, or send the request without credentials");
    }

    @Test
    void aNullOriginIsExplainedAsSomethingNotToAllow() {
        Run r = run("check", "--origin", "null");
        assertThat(r.status()).isEqualTo(1);
        assertThat(r.out()).contains("fix:  do not allow it: any site can send Origin: null from a sandboxed iframe");
    }

    @Test
    void theRoutePolicyIsChosenByPath() throws IOException {
        Path f = write("""
                profile: prod
                hosts: [api.example.com]
                cors:
                  allowedOrigins: [https://app.example.com]
                  routes:
                    - path: /public
                      allowedOrigins: ["*"]
                """);
        Run r = run("check", "--config", f.toString(), "--origin", "https://elsewhere.example", "--path", "/public/feed");
        assertThat(r.status()).isEqualTo(0);
        assertThat(r.out()).contains("Policy:  cors.routes[0] (path prefix /public)");
        assertThat(r.out()).contains("Access-Control-Allow-Origin: *");
    }

    @Test
    void aDecisionOnAnInvalidConfigurationExitsTwo() throws IOException {
        Path f = write("cors:\n  allowCredentials: maybe\n");
        Run r = run("check", "--config", f.toString(), "--origin", "https://app.example.com");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.out()).contains("The configuration is invalid; no decision can be made.");
    }

    @Test
    void aUsageErrorExitsTwo() {
        Run r = run("check", "--no-such-option");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("Unknown option: '--no-such-option'");
    }
}
