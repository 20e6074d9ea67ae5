package dev.crossgate.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class DemoPageTest {
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private HttpResponse<String> get(DemoPage page, String path) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + page.port() + path))
                .timeout(Duration.ofSeconds(10)).GET().build(), BodyHandlers.ofString());
    }

    @Test
    void servesThePageWithTheApiBaseUrl() throws Exception {
        try (DemoPage page = DemoPage.start("127.0.0.1", 0, "http://127.0.0.1:8080/")) {
            HttpResponse<String> r = get(page, "/");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
            assertThat(r.body())
                    .contains("const API = \"http://127.0.0.1:8080\";")
                    .doesNotContain("__API__")
                    .contains("/api/hello", "/api/echo", "/api/private", "/api/missing", "/api/error",
                            "/api/slow", "/api/upload", "has been blocked by CORS policy", "X-Crossgate-Reason")
                    .doesNotContain("src=\"http", "href=\"http"); // no external resources
        }
    }

    @Test
    void otherPathsAre404() throws Exception {
        try (DemoPage page = DemoPage.start("127.0.0.1", 0, "http://127.0.0.1:8080")) {
            assertThat(get(page, "/index.html").statusCode()).isEqualTo(404);
            assertThat(get(page, "/api/hello").statusCode()).isEqualTo(404);
        }
    }

    @Test
    void apiBaseUrlIsEscapedForAScriptElement() {
        String literal = DemoPage.jsString("http://x/\"</script><script>alert(1)//'\\\n\u2028é");
        assertThat(literal)
                .startsWith("\"").endsWith("\"")
                .doesNotContain("</script>", "<", ">", "'", "\n", "\u2028")
                .contains("\\\"", "\\u003c/script\\u003e", "\\\\", "\\n", "\\u2028", "\\u00e9");
        assertThat(DemoPage.render("http://a.test").split("__API__", -1)).hasSize(1);
    }
}
