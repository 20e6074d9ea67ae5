package dev.crossgate.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DemoBackendTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static DemoBackend backend;
    private static HttpClient client;

    @BeforeAll
    static void start() {
        backend = DemoBackend.start("127.0.0.1", 0);
        client = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    private static HttpRequest.Builder request(String pathAndQuery) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + backend.port() + pathAndQuery))
                .timeout(Duration.ofSeconds(20));
    }

    private static HttpResponse<String> get(String pathAndQuery) throws Exception {
        return client.send(request(pathAndQuery).GET().build(), BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> response) throws Exception {
        assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
        return JSON.readTree(response.body());
    }

    @Test
    void listensOnAnEphemeralPort() {
        assertThat(backend.port()).isPositive();
    }

    @Test
    void helloAnswersWithAnAuthorizationResponseHeader() throws Exception {
        HttpResponse<String> r = get("/api/hello");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r).path("message").asText()).isEqualTo("hello from the demo backend");
        assertThat(r.headers().firstValue("Authorization")).hasValue("Bearer demo-response-token");
        assertThat(r.headers().firstValue("X-Demo")).hasValue("1");
        assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"GET", "POST", "PUT", "DELETE", "PATCH"})
    void echoDescribesTheRequest(String method) throws Exception {
        byte[] body = method.equals("GET") ? new byte[0] : new byte[1234];
        HttpResponse<String> r = client.send(request("/api/echo?a=1&b=two")
                        .method(method, body.length == 0 ? BodyPublishers.noBody() : BodyPublishers.ofByteArray(body))
                        .header("X-Custom", "1")
                        .header("Authorization", "Bearer demo-token")
                        .build(),
                BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        JsonNode j = json(r);
        assertThat(j.path("method").asText()).isEqualTo(method);
        assertThat(j.path("path").asText()).isEqualTo("/api/echo");
        assertThat(j.path("query").asText()).isEqualTo("a=1&b=two");
        assertThat(j.path("headers").path("x-custom").asText()).isEqualTo("1");
        assertThat(j.path("headers").path("authorization").asText()).isEqualTo("Bearer demo-token");
        assertThat(j.path("headers").path("host").asText()).isEqualTo("127.0.0.1:" + backend.port());
        assertThat(j.path("bodyBytes").asLong()).isEqualTo(body.length);
    }

    @Test
    void echoRefusesOtherMethods() throws Exception {
        HttpResponse<String> r = client.send(request("/api/echo")
                .method("OPTIONS", BodyPublishers.noBody()).build(), BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(405);
        assertThat(r.headers().firstValue("Allow")).hasValue("DELETE, GET, PATCH, POST, PUT");
    }

    @ParameterizedTest
    @ValueSource(ints = {200, 201, 301, 400, 403, 418, 429, 500, 502, 503, 599})
    void statusAnswersTheRequestedStatus(int code) throws Exception {
        HttpResponse<String> r = client.send(request("/api/status/" + code).GET().build(), BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(code);
        assertThat(json(r).path("status").asInt()).isEqualTo(code);
    }

    @ParameterizedTest
    @ValueSource(ints = {204, 304})
    void statusWithoutBody(int code) throws Exception {
        HttpResponse<String> r = get("/api/status/" + code);
        assertThat(r.statusCode()).isEqualTo(code);
        assertThat(r.body()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"100", "99", "600", "abc", ""})
    void statusRefusesWhatCannotBeAFinalStatus(String code) throws Exception {
        HttpResponse<String> r = get("/api/status/" + code);
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(json(r).path("error").asText()).contains("200 to 599");
    }

    @Test
    void privateNeedsTheDemoToken() throws Exception {
        HttpResponse<String> anonymous = get("/api/private");
        assertThat(anonymous.statusCode()).isEqualTo(401);
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValue("Bearer");
        assertThat(json(anonymous).path("error").asText()).isEqualTo("unauthorized");

        HttpResponse<String> wrong = client.send(request("/api/private")
                .header("Authorization", "Bearer nope").GET().build(), BodyHandlers.ofString());
        assertThat(wrong.statusCode()).isEqualTo(401);

        HttpResponse<String> authorized = client.send(request("/api/private")
                .header("Authorization", "Bearer demo-token").GET().build(), BodyHandlers.ofString());
        assertThat(authorized.statusCode()).isEqualTo(200);
        assertThat(authorized.headers().firstValue("WWW-Authenticate")).isEmpty();
    }

    @Test
    void missingAndError() throws Exception {
        HttpResponse<String> missing = get("/api/missing");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(json(missing).path("error").asText()).isEqualTo("not found");

        HttpResponse<String> error = get("/api/error");
        assertThat(error.statusCode()).isEqualTo(500);
        assertThat(json(error).path("error").asText()).isEqualTo("boom");
    }

    @Test
    void unknownPathsAre404() throws Exception {
        for (String path : List.of("/", "/api", "/api/nope", "/index.html")) {
            HttpResponse<String> r = get(path);
            assertThat(r.statusCode()).as(path).isEqualTo(404);
            assertThat(json(r).path("error").asText()).isEqualTo("not found");
        }
    }

    @Test
    void slowWaitsAtLeastTheRequestedTime() throws Exception {
        long started = System.nanoTime();
        HttpResponse<String> r = get("/api/slow?ms=200");
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r).path("sleptMs").asLong()).isEqualTo(200);
        assertThat(elapsedMs).isGreaterThanOrEqualTo(200);
    }

    @Test
    void slowRequestsDoNotBlockOthers() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> slow = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            slow.add(client.sendAsync(request("/api/slow?ms=1500").GET().build(), BodyHandlers.ofString()));
        }
        long started = System.nanoTime();
        HttpResponse<String> fast = get("/api/hello");
        long elapsedMs = (System.nanoTime() - started) / 1_000_000;
        assertThat(fast.statusCode()).isEqualTo(200);
        assertThat(elapsedMs).isLessThan(1000);
        for (CompletableFuture<HttpResponse<String>> f : slow) {
            assertThat(f.get().statusCode()).isEqualTo(200);
        }
    }

    @Test
    void slowRefusesANonNumber() throws Exception {
        assertThat(get("/api/slow?ms=soon").statusCode()).isEqualTo(400);
    }

    @ParameterizedTest
    @ValueSource(strings = {"POST", "PUT"})
    void uploadCountsTheBytes(String method) throws Exception {
        byte[] body = new byte[1024 * 1024];
        HttpResponse<String> r = client.send(request("/api/upload")
                .method(method, BodyPublishers.ofByteArray(body)).build(), BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(json(r).path("bytes").asLong()).isEqualTo(1024 * 1024);
    }

    @Test
    void uploadRefusesGet() throws Exception {
        assertThat(get("/api/upload").statusCode()).isEqualTo(405);
    }

    @ParameterizedTest
    @ValueSource(strings = {"GET", "PUT", "OPTIONS"})
    void withOwnCorsSetsItsOwnCorsHeaders(String method) throws Exception {
        HttpResponse<String> r = client.send(request("/api/with-own-cors")
                        .method(method, BodyPublishers.noBody())
                        .header("Origin", "https://evil.example")
                        .build(),
                BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Access-Control-Allow-Origin")).hasValue("*");
        assertThat(r.headers().firstValue("Access-Control-Allow-Credentials")).hasValue("true");
        assertThat(r.headers().firstValue("Access-Control-Allow-Methods")).hasValue("GET, PUT");
        assertThat(r.headers().firstValue("Access-Control-Allow-Headers")).hasValue("*");
        assertThat(json(r).path("message").asText()).isNotBlank();
    }
}
