package dev.crossgate.server.realtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.edge.EdgeServer;
import dev.crossgate.server.observe.AccessLog;
import dev.crossgate.server.testing.RawHttp;
import dev.crossgate.server.testing.RawWs;
import io.socket.client.Ack;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.socket.engineio.client.transports.Polling;
import io.socket.engineio.client.transports.WebSocket;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.json.JSONObject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hosted mode: {@code crossgate serve} with a {@code realtime} section answers Socket.IO itself, and a small
 * backend (a real HTTP server on loopback) takes part through the hooks and the publish API. Clients are the
 * official Java client {@code io.socket:socket.io-client}.
 */
@ExtendWith(LeakCheck.class)
class HostedRealtimeTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String PUBLISH_TOKEN = "publish-0123456789abcdef-token";
    static final String HOOK_SECRET = "hook-secret-value";
    static final String JWT_SECRET = "django-insecure-0123456789abcdefghijklmnopqrstuvwxyz-SECRET";

    @TempDir
    Path dir;

    HttpServer backend;
    ExecutorService backendThreads;
    final BlockingQueue<JsonNode> connectCalls = new LinkedBlockingQueue<>();
    final BlockingQueue<JsonNode> eventCalls = new LinkedBlockingQueue<>();
    final BlockingQueue<JsonNode> disconnectCalls = new LinkedBlockingQueue<>();
    final BlockingQueue<String> hookSecrets = new LinkedBlockingQueue<>();
    EdgeServer edge;
    final List<Socket> clients = new ArrayList<>();
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeEach
    void backend() throws Exception {
        backendThreads = Executors.newFixedThreadPool(8);
        backend = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
        backend.setExecutor(backendThreads);
        backend.createContext("/hooks/connect", ex -> {
            JsonNode call = read(ex, connectCalls);
            JsonNode auth = call.path("auth");
            switch (auth.path("name").asText()) {
                case "mallory" -> answer(ex, 200, "{\"allow\":false,\"message\":\"wrong password\",\"data\":{\"retry\":false}}");
                case "down" -> answer(ex, 503, "<html>maintenance</html>");
                default -> answer(ex, 200, "{\"user\":\"" + auth.path("name").asText(call.path("user").asText()) + "\",\"rooms\":[\"lobby\"],"
                        + "\"data\":{\"name\":\"" + auth.path("name").asText() + "\"}}");
            }
        });
        backend.createContext("/hooks/event", ex -> {
            JsonNode call = read(ex, eventCalls);
            JsonNode args = call.path("args");
            switch (call.path("event").asText()) {
                case "chat" -> answer(ex, 200, "{\"ack\":[\"stored\"," + args.get(0) + "],\"emit\":[{\"event\":\"chat\",\"args\":[{\"from\":\""
                        + call.path("user").asText() + "\",\"text\":" + args.get(0) + "}],\"rooms\":[\"lobby\"],\"except\":[\"" + call.path("socketId").asText() + "\"]}]}");
                case "join" -> answer(ex, 200, "{\"join\":[" + args.get(0) + "],\"ack\":[\"joined\"," + args.get(0) + "]}");
                case "bin" -> answer(ex, 200, "{\"ack\":[" + args.get(0) + "]}");
                case "slow" -> {
                    sleep(3000);
                    answer(ex, 200, "{\"ack\":[\"too late\"]}");
                }
                case "boom" -> answer(ex, 500, "Internal Server Error");
                case "forbidden" -> answer(ex, 403, "{\"message\":\"not yours\"}");
                case "bye" -> answer(ex, 200, "{\"disconnect\":true}");
                default -> answer(ex, 200, "{}");
            }
        });
        backend.createContext("/hooks/disconnect", ex -> {
            read(ex, disconnectCalls);
            answer(ex, 204, "");
        });
        backend.start();
    }

    @AfterEach
    void stop() {
        for (Socket c : clients) {
            c.close();
        }
        if (edge != null) {
            edge.close();
        }
        backend.stop(0);
        backendThreads.shutdownNow();
    }

    private JsonNode read(HttpExchange ex, BlockingQueue<JsonNode> calls) throws java.io.IOException {
        hookSecrets.add(String.valueOf(ex.getRequestHeaders().getFirst("X-Crossgate-Hook-Secret")));
        JsonNode n = JSON.readTree(ex.getRequestBody().readAllBytes());
        calls.add(n);
        return n;
    }

    private static void answer(HttpExchange ex, int status, String body) throws java.io.IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", body.startsWith("{") ? "application/json" : "text/html");
        ex.sendResponseHeaders(status, status == 204 ? -1 : b.length);
        if (status != 204) {
            ex.getResponseBody().write(b);
        }
        ex.close();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void start(String realtime, String extra) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, """
                profile: dev
                listen: 127.0.0.1:0
                upstream: http://127.0.0.1:%d
                admin:
                  listen: 127.0.0.1:0
                %s
                realtime:
                %s
                """.formatted(backend.getAddress().getPort(), extra, realtime.indent(2).stripTrailing()));
        CrossgateConfig c = ConfigLoader.load(new ConfigLoader.Options(f, null, Map.of(), dir));
        edge = new EdgeServer(c, AccessLog.discarding()).start();
    }

    private void startWithHooks() throws Exception {
        start("""
                namespaces: ["/", "/team-*"]
                hooks:
                  connect: /hooks/connect
                  event: /hooks/event
                  disconnect: /hooks/disconnect
                  timeout: 1s
                  secret: %s
                publish:
                  token: %s
                """.formatted(HOOK_SECRET, PUBLISH_TOKEN), ""); // the Java client sends no Origin: admitted by default
    }

    private Socket client(String namespace, String[] transports, Map<String, String> auth) {
        IO.Options o = IO.Options.builder().setTransports(transports).setAuth(auth).setReconnection(false).setForceNew(true).build();
        Socket s = IO.socket(URI.create("http://127.0.0.1:" + edge.port() + namespace), o);
        clients.add(s);
        return s;
    }

    private static CompletableFuture<Object[]> once(Socket s, String event) {
        CompletableFuture<Object[]> f = new CompletableFuture<>();
        s.once(event, f::complete);
        return f;
    }

    private static Object[] connect(Socket s) throws Exception {
        CompletableFuture<Object[]> ok = once(s, Socket.EVENT_CONNECT);
        CompletableFuture<Object[]> err = once(s, Socket.EVENT_CONNECT_ERROR);
        s.connect();
        Object done = CompletableFuture.anyOf(ok, err).get(10, TimeUnit.SECONDS);
        return ok.isDone() ? null : (Object[]) done;
    }

    private static Object[] emitWithAck(Socket s, String event, Object... args) throws Exception {
        CompletableFuture<Object[]> acked = new CompletableFuture<>();
        s.emit(event, args, (Ack) acked::complete);
        return acked.get(10, TimeUnit.SECONDS);
    }

    private HttpResponse<String> admin(String method, String path, String token, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + edge.adminAddress().getPort() + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theBackendAdmitsThroughTheConnectHookReceivesEventsAnswersWithAcksAndEmitsAndPublishes() throws Exception {
        startWithHooks();
        Socket alice = client("/", new String[] {WebSocket.NAME}, Map.of("name", "alice", "token", "not-for-the-backend"));
        Socket bob = client("/", new String[] {Polling.NAME}, Map.of("name", "bob"));
        assertThat(connect(alice)).isNull();
        assertThat(connect(bob)).isNull();
        JsonNode first = connectCalls.poll(5, TimeUnit.SECONDS);
        assertThat(first.path("type").asText()).isEqualTo("connect");
        assertThat(first.path("namespace").asText()).isEqualTo("/");
        assertThat(first.path("auth").path("name").asText()).isIn("alice", "bob");
        assertThat(first.path("auth").has("token")).isFalse(); // a token is checked at the edge, never passed on
        assertThat(first.path("handshake").path("address").asText()).isEqualTo("127.0.0.1");
        assertThat(first.path("handshake").path("headers").isObject()).isTrue();
        assertThat(hookSecrets.poll(5, TimeUnit.SECONDS)).isEqualTo(HOOK_SECRET);

        // An event goes to the backend; its answer is the ack, and its emit reaches the room except the sender.
        CompletableFuture<Object[]> bobGetsChat = once(bob, "chat");
        CompletableFuture<Object[]> aliceGetsChat = once(alice, "chat");
        Object[] ack = emitWithAck(alice, "chat", "hi all");
        assertThat(ack).containsExactly("stored", "hi all");
        JSONObject chat = (JSONObject) bobGetsChat.get(5, TimeUnit.SECONDS)[0];
        assertThat(chat.getString("from")).isEqualTo("alice");
        assertThat(chat.getString("text")).isEqualTo("hi all");
        JsonNode event = eventCalls.poll(5, TimeUnit.SECONDS);
        assertThat(event.path("event").asText()).isEqualTo("chat");
        assertThat(event.path("user").asText()).isEqualTo("alice");
        assertThat(event.path("data").path("name").asText()).isEqualTo("alice");
        assertThat(event.path("ack").asBoolean()).isTrue();

        // The hook's answer can join rooms; binary arguments travel as {"$binary": base64} and come back as binary.
        assertThat(emitWithAck(bob, "join", "vip")).containsExactly("joined", "vip");
        Object[] bin = emitWithAck(alice, "bin", (Object) new byte[] {1, 2, 3, (byte) 0xff});
        assertThat((byte[]) bin[0]).containsExactly(1, 2, 3, 0xff);

        // The publish API: to a user, to a room, to everyone; and the sockets of a room.
        CompletableFuture<Object[]> bobNews = once(bob, "news");
        HttpResponse<String> pub = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{\"event\":\"news\",\"args\":[{\"n\":1}],\"users\":[\"bob\"]}");
        assertThat(pub.statusCode()).isEqualTo(200);
        assertThat(JSON.readTree(pub.body()).path("sockets").asInt()).isEqualTo(1);
        assertThat(((JSONObject) bobNews.get(5, TimeUnit.SECONDS)[0]).getInt("n")).isEqualTo(1);
        CompletableFuture<Object[]> vip = once(bob, "vip-only");
        pub = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{\"event\":\"vip-only\",\"args\":[\"x\"],\"rooms\":[\"vip\"]}");
        assertThat(JSON.readTree(pub.body()).path("sockets").asInt()).isEqualTo(1);
        assertThat(vip.get(5, TimeUnit.SECONDS)).containsExactly("x");
        CompletableFuture<Object[]> aliceAll = once(alice, "all");
        CompletableFuture<Object[]> bobAll = once(bob, "all");
        pub = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{\"event\":\"all\",\"args\":[]}");
        assertThat(JSON.readTree(pub.body()).path("sockets").asInt()).isEqualTo(2);
        aliceAll.get(5, TimeUnit.SECONDS);
        bobAll.get(5, TimeUnit.SECONDS);
        JsonNode lobby = JSON.readTree(admin("GET", "/realtime/sockets?room=lobby", PUBLISH_TOKEN, null).body());
        assertThat(lobby.path("count").asInt()).isEqualTo(2);
        List<String> users = new ArrayList<>();
        lobby.path("sockets").forEach(s -> users.add(s.path("user").asText()));
        assertThat(users).containsExactlyInAnyOrder("alice", "bob");
        JsonNode vipRoom = JSON.readTree(admin("GET", "/realtime/sockets?room=vip", PUBLISH_TOKEN, null).body());
        assertThat(vipRoom.path("sockets").get(0).path("transport").asText()).isEqualTo("polling");
        assertThat(vipRoom.path("sockets").get(0).path("rooms").toString()).contains("lobby", "vip", "user:bob");
        assertThat(aliceGetsChat.isDone()).isFalse();

        // The hook can end a socket; the disconnect hook hears why.
        CompletableFuture<Object[]> gone = once(alice, Socket.EVENT_DISCONNECT);
        alice.emit("bye");
        assertThat(gone.get(5, TimeUnit.SECONDS)[0]).isEqualTo("io server disconnect");
        JsonNode left = disconnectCalls.poll(5, TimeUnit.SECONDS);
        assertThat(left.path("user").asText()).isEqualTo("alice");
        assertThat(left.path("reason").asText()).isEqualTo("server namespace disconnect");
        bob.close();
        JsonNode bobLeft = disconnectCalls.poll(5, TimeUnit.SECONDS);
        assertThat(bobLeft.path("reason").asText()).isEqualTo("client namespace disconnect");

        // Dynamic namespaces by pattern; a namespace not configured is refused.
        Socket team = client("/team-red", new String[] {WebSocket.NAME}, Map.of("name", "carol"));
        assertThat(connect(team)).isNull();
        assertThat(connectCalls.stream().anyMatch(c -> c.path("namespace").asText().equals("/team-red"))
                || connectCalls.poll(5, TimeUnit.SECONDS).path("namespace").asText().equals("/team-red")).isTrue();
        Socket other = client("/admin", new String[] {WebSocket.NAME}, Map.of("name", "carol"));
        Object[] refused = connect(other);
        assertThat(refused).isNotNull();
        assertThat(((JSONObject) refused[0]).getString("message")).isEqualTo("Invalid namespace");

        String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + edge.adminAddress().getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("crossgate_realtime_connects_total{reason=\"\",result=\"accepted\"} 3.0");
        assertThat(metrics).containsPattern("crossgate_realtime_hook_calls_total\\{hook=\"event\",outcome=\"ok\"\\} [4-9]");
        assertThat(metrics).contains("crossgate_realtime_sockets 1.0");
    }

    @Test
    void aRefusingOrFailingHookReachesTheClientAsAnErrorNeverAsSilence() throws Exception {
        startWithHooks();
        // The connect hook refuses: connect_error with its message and data, and the reason code.
        Object[] refused = connect(client("/", new String[] {WebSocket.NAME}, Map.of("name", "mallory")));
        JSONObject err = (JSONObject) refused[0];
        assertThat(err.getString("message")).isEqualTo("wrong password");
        assertThat(err.getJSONObject("data").getString("reason")).isEqualTo("realtime.hook_refused");
        assertThat(err.getJSONObject("data").getBoolean("retry")).isFalse();
        // The connect hook fails (503): connect_error with realtime.hook_failed.
        err = (JSONObject) connect(client("/", new String[] {Polling.NAME}, Map.of("name", "down")))[0];
        assertThat(err.getJSONObject("data").getString("reason")).isEqualTo("realtime.hook_failed");
        assertThat(err.getString("message")).contains("503");

        Socket s = client("/", new String[] {WebSocket.NAME}, Map.of("name", "dave"));
        assertThat(connect(s)).isNull();
        // Too slow (hooks.timeout 1s): the ack carries the error.
        JSONObject slow = ((JSONObject) emitWithAck(s, "slow")[0]).getJSONObject("error");
        assertThat(slow.getString("reason")).isEqualTo("realtime.hook_timeout");
        // Refused by the backend (403 with a message), with an ack.
        JSONObject forbidden = ((JSONObject) emitWithAck(s, "forbidden")[0]).getJSONObject("error");
        assertThat(forbidden.getString("reason")).isEqualTo("realtime.hook_refused");
        assertThat(forbidden.getString("message")).isEqualTo("not yours");
        // Failing without an ack: the event crossgate:error says so.
        CompletableFuture<Object[]> error = once(s, Hub.ERROR_EVENT);
        s.emit("boom", "x");
        JSONObject e = (JSONObject) error.get(5, TimeUnit.SECONDS)[0];
        assertThat(e.getString("reason")).isEqualTo("realtime.hook_failed");
        assertThat(e.getString("event")).isEqualTo("boom");
        // The backend's hook being down altogether (connection refused) is a failure too.
        backend.stop(0);
        JSONObject down = ((JSONObject) emitWithAck(s, "chat", "anyone?")[0]).getJSONObject("error");
        assertThat(down.getString("reason")).isIn("realtime.hook_failed", "realtime.hook_timeout");

        String metrics = admin("GET", "/metrics", null, null).body();
        assertThat(metrics).contains("crossgate_realtime_connects_total{reason=\"realtime.hook_refused\",result=\"refused\"} 1.0");
        assertThat(metrics).contains("crossgate_realtime_connects_total{reason=\"realtime.hook_failed\",result=\"refused\"} 1.0");
        assertThat(metrics).contains("crossgate_realtime_hook_calls_total{hook=\"event\",outcome=\"realtime.hook_timeout\"} 1.0");
    }

    @Test
    void thePublishApiRequiresItsTokenAndRefusesBadRequestsWithAReason() throws Exception {
        startWithHooks();
        HttpResponse<String> r = admin("POST", "/realtime/publish", null, "{\"event\":\"x\"}");
        assertThat(r.statusCode()).isEqualTo(401);
        assertThat(r.body()).contains("realtime.publish_unauthorized");
        assertThat(admin("POST", "/realtime/publish", PUBLISH_TOKEN + "x", "{\"event\":\"x\"}").statusCode()).isEqualTo(401);
        r = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{not json");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("realtime.publish_invalid");
        r = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{\"event\":\"disconnect\"}");
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("reserved");
        r = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{\"event\":\"x\",\"namespace\":\"/nope\"}");
        assertThat(r.statusCode()).isEqualTo(404);
        assertThat(r.body()).contains("realtime.namespace_unknown");
        assertThat(admin("GET", "/realtime/publish", PUBLISH_TOKEN, null).statusCode()).isEqualTo(405);
        r = admin("POST", "/realtime/publish", PUBLISH_TOKEN, "{\"event\":\"x\",\"rooms\":[\"empty\"]}");
        assertThat(JSON.readTree(r.body()).path("sockets").asInt()).isZero();
    }

    @Test
    void theEdgeChecksOriginsAndCorsOnTheRealtimePathAndNamesEveryRefusal() throws Exception {
        startWithHooks();
        String handshake = "/socket.io/?EIO=4&transport=polling";
        try (RawHttp c = new RawHttp(edge.port())) {
            RawHttp.Response ok = c.send(RawHttp.get(handshake, "127.0.0.1", "Origin: http://localhost:5173")).read();
            assertThat(ok.status()).isEqualTo(200);
            assertThat(ok.body()).startsWith("0{\"sid\":");
            assertThat(ok.header("access-control-allow-origin")).isEqualTo("http://localhost:5173");
            assertThat(ok.header("x-request-id")).isNotBlank();
        }
        try (RawHttp c = new RawHttp(edge.port())) {
            RawHttp.Response evil = c.send(RawHttp.get(handshake, "127.0.0.1", "Origin: https://evil.example")).read();
            assertThat(evil.status()).isEqualTo(403);
            assertThat(evil.header("x-crossgate-reason")).isEqualTo("cors.origin_not_allowed");
        }
        try (RawHttp c = new RawHttp(edge.port())) {
            RawHttp.Response unknown = c.send(RawHttp.get("/socket.io/?EIO=4&transport=polling&sid=nope", "127.0.0.1",
                    "Origin: http://localhost:5173")).read();
            assertThat(unknown.status()).isEqualTo(400);
            assertThat(unknown.body()).contains("Session ID unknown");
            assertThat(unknown.header("x-crossgate-reason")).isEqualTo("realtime.session_unknown");
            assertThat(unknown.header("access-control-allow-origin")).isEqualTo("http://localhost:5173"); // CORS on errors too
        }
        try (RawHttp c = new RawHttp(edge.port())) {
            RawHttp.Response v3 = c.send(RawHttp.get("/socket.io/?EIO=3&transport=polling", "127.0.0.1")).read();
            assertThat(v3.status()).isEqualTo(400);
            assertThat(v3.header("x-crossgate-reason")).isEqualTo("realtime.protocol_version");
        }
        try (RawWs ws = new RawWs(edge.port())) {
            String[] h = ws.request(RawWs.handshake("/socket.io/?EIO=4&transport=websocket", "127.0.0.1", "Origin: https://evil.example"));
            assertThat(h[0]).isEqualTo("403");
            assertThat(h[1]).containsIgnoringCase("x-crossgate-reason: ws.origin_rejected");
        }
        try (RawWs ws = new RawWs(edge.port())) {
            String[] h = ws.request(RawWs.handshake("/socket.io/?EIO=4&transport=websocket", "127.0.0.1", "Origin: http://localhost:3000"));
            assertThat(h[0]).isEqualTo("101");
            RawWs.Frame open = ws.read(5000);
            assertThat(open.text()).startsWith("0{\"sid\":");
        }
        // A proxied path still goes to the upstream: the hub takes only its own path.
        try (RawHttp c = new RawHttp(edge.port())) {
            assertThat(c.send(RawHttp.get("/hooks/unknown", "127.0.0.1")).read().status()).isEqualTo(404);
        }
    }

    private double gauge(String name) throws Exception {
        for (String line : admin("GET", "/metrics", null, null).body().split("\n")) {
            if (line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(name.length() + 1).trim());
            }
        }
        throw new AssertionError("no gauge " + name);
    }

    static String jwt(String subject, long expSeconds) throws Exception {
        JWTClaimsSet claims = new JWTClaimsSet.Builder().subject(subject).expirationTime(new Date(System.currentTimeMillis() + expSeconds * 1000)).build();
        SignedJWT t = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
        t.sign(new MACSigner(JWT_SECRET));
        return t.serialize();
    }

    @Test
    void tokensAreCheckedAtConnectWithPerUserQuotasAndASocketEndsWithItsToken() throws Exception {
        start("""
                token: required
                namespaces: ["/", "/team-*"]
                """, """
                auth:
                  jwt:
                    secret: %s
                limits:
                  connectionsPerSubject: 1
                  requestsPerSecond: 50
                """.formatted(JWT_SECRET));
        Socket a1 = client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("alice", 60)));
        assertThat(connect(a1)).isNull();
        // The quota counts connections: the same connection in a second namespace shares alice's one slot.
        Socket a1team = a1.io().socket("/team-red", IO.Options.builder().setAuth(Map.of("token", jwt("alice", 60))).build());
        clients.add(a1team);
        assertThat(connect(a1team)).isNull();
        // A browser's token as a subprotocol: the marker comes back, or the browser would fail the handshake.
        try (RawWs ws = new RawWs(edge.port())) {
            String[] h = ws.request(RawWs.handshake("/socket.io/?EIO=4&transport=websocket", "127.0.0.1", "Origin: http://localhost:5173",
                    "Sec-WebSocket-Protocol: access_token, " + jwt("erin", 60)));
            assertThat(h[0]).isEqualTo("101");
            assertThat(h[1]).containsIgnoringCase("sec-websocket-protocol: access_token");
        }
        // The same user again: over the quota.
        JSONObject quota = (JSONObject) connect(client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("alice", 60))))[0];
        assertThat(quota.getJSONObject("data").getString("reason")).isEqualTo("limit.connections");
        // No token, an expired one, a forged one.
        JSONObject missing = (JSONObject) connect(client("/", new String[] {Polling.NAME}, Map.of()))[0];
        assertThat(missing.getJSONObject("data").getString("reason")).isEqualTo("auth.missing");
        JSONObject expired = (JSONObject) connect(client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("bob", -60))))[0];
        assertThat(expired.getJSONObject("data").getString("reason")).isEqualTo("auth.expired");
        JSONObject forged = (JSONObject) connect(client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("bob", 60) + "x")))[0];
        assertThat(forged.getJSONObject("data").getString("reason")).isEqualTo("auth.invalid");
        // The token on the handshake (Authorization header) works as well as in the auth payload.
        IO.Options o = IO.Options.builder().setTransports(new String[] {WebSocket.NAME}).setReconnection(false).setForceNew(true)
                .setExtraHeaders(Map.of("Authorization", List.of("Bearer " + jwt("carol", 60)))).build();
        Socket carol = IO.socket(URI.create("http://127.0.0.1:" + edge.port()), o);
        clients.add(carol);
        assertThat(connect(carol)).isNull();
        // When alice's connection leaves (both its sockets), her slot is free again: once the server has seen both go.
        double before = gauge("crossgate_realtime_sockets");
        a1team.close();
        a1.close();
        for (int i = 0; i < 100 && gauge("crossgate_realtime_sockets") > before - 2; i++) {
            Thread.sleep(50);
        }
        assertThat(gauge("crossgate_realtime_sockets")).isEqualTo(before - 2);
        assertThat(connect(client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("alice", 60))))).isNull();
        // A socket does not outlive its token: crossgate:error auth.expired, then a server disconnect.
        Socket shortLived = client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("dave", 2)));
        CompletableFuture<Object[]> expiredEvent = once(shortLived, Hub.ERROR_EVENT);
        CompletableFuture<Object[]> gone = once(shortLived, Socket.EVENT_DISCONNECT);
        assertThat(connect(shortLived)).isNull();
        assertThat(((JSONObject) expiredEvent.get(6, TimeUnit.SECONDS)[0]).getString("reason")).isEqualTo("auth.expired");
        assertThat(gone.get(5, TimeUnit.SECONDS)[0]).isEqualTo("io server disconnect");

        String metrics = admin("GET", "/metrics", null, null).body();
        for (String reason : List.of("limit.connections", "auth.missing", "auth.expired", "auth.invalid")) {
            assertThat(metrics).contains("crossgate_realtime_connects_total{reason=\"" + reason + "\",result=\"refused\"} 1.0");
        }
    }

    @Test
    void aSocketWhoseTokenExpiresReachesTheDisconnectHookWithReasonAuthExpired() throws Exception {
        start("""
                token: required
                namespaces: ["/"]
                hooks:
                  disconnect: /hooks/disconnect
                """, """
                auth:
                  jwt:
                    secret: %s
                """.formatted(JWT_SECRET));
        Socket frank = client("/", new String[] {WebSocket.NAME}, Map.of("token", jwt("frank", 2)));
        CompletableFuture<Object[]> gone = once(frank, Socket.EVENT_DISCONNECT);
        assertThat(connect(frank)).isNull();
        // The client sees a server disconnect (a DISCONNECT packet carries no reason, Socket.IO protocol v5) ...
        assertThat(gone.get(6, TimeUnit.SECONDS)[0]).isEqualTo("io server disconnect");
        // ... and the backend learns why.
        JsonNode call = disconnectCalls.poll(5, TimeUnit.SECONDS);
        assertThat(call).isNotNull();
        assertThat(call.path("user").asText()).isEqualTo("frank");
        assertThat(call.path("reason").asText()).isEqualTo("auth.expired");
        assertThat(admin("GET", "/metrics", null, null).body())
                .contains("crossgate_realtime_disconnects_total{reason=\"auth.expired\"} 1.0");
    }

    @Test
    void aNewSessionCountsAgainstTheRequestRateHoweverItsQueryIsWritten() throws Exception {
        start("namespaces: [\"/\"]\n", "limits:\n  requestsPerSecond: 1\n  requestBurst: 1\n");
        try (RawHttp c = new RawHttp(edge.port())) {
            assertThat(c.send(RawHttp.get("/socket.io/?EIO=4&transport=polling", "127.0.0.1")).read().status()).isEqualTo(200);
        }
        // "?sid=" inside another parameter's value is not a session id: still a new session, still rate-limited.
        try (RawHttp c = new RawHttp(edge.port())) {
            RawHttp.Response r = c.send(RawHttp.get("/socket.io/?EIO=4&transport=polling&a=%3Fsid%3D&b=?sid=", "127.0.0.1")).read();
            assertThat(r.status()).isEqualTo(429);
            assertThat(r.header("x-crossgate-reason")).isEqualTo("limit.rate");
        }
    }

    @Test
    void hookCallsAreBoundedInNumberAndTheOverflowIsRefusedAtOnce() throws Exception {
        start("""
                hooks:
                  event: /hooks/event
                  timeout: 5s
                  maxConcurrent: 1
                  maxQueued: 1
                """, "");
        Socket a = client("/", new String[] {WebSocket.NAME}, Map.of());
        Socket b = client("/", new String[] {WebSocket.NAME}, Map.of());
        Socket c = client("/", new String[] {WebSocket.NAME}, Map.of());
        assertThat(connect(a)).isNull();
        assertThat(connect(b)).isNull();
        assertThat(connect(c)).isNull();
        // One call in flight (3 s), one waiting for the slot, the third refused at once.
        CompletableFuture<Object[]> first = new CompletableFuture<>();
        a.emit("slow", new Object[0], (Ack) first::complete);
        assertThat(eventCalls.poll(5, TimeUnit.SECONDS).path("event").asText()).isEqualTo("slow");
        CompletableFuture<Object[]> second = new CompletableFuture<>();
        b.emit("chat", new Object[] {"queued"}, (Ack) second::complete);
        Thread.sleep(200);
        long t0 = System.nanoTime();
        JSONObject third = ((JSONObject) emitWithAck(c, "chat", "refused")[0]).getJSONObject("error");
        assertThat(third.getString("reason")).isEqualTo("realtime.hook_overloaded");
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isLessThan(2000); // refused, not queued
        assertThat(first.get(10, TimeUnit.SECONDS)).containsExactly("too late");
        assertThat(second.get(10, TimeUnit.SECONDS)).containsExactly("stored", "queued"); // the waiting call ran after the slot freed
        // A socket's events reach the hook one at a time, in order.
        List<Object> order = new java.util.concurrent.CopyOnWriteArrayList<>();
        CompletableFuture<Object[]> last = new CompletableFuture<>();
        for (int i = 0; i < 5; i++) {
            int n = i;
            a.emit("chat", new Object[] {"m" + i}, (Ack) args -> {
                order.add(args[1]);
                if (n == 4) {
                    last.complete(args);
                }
            });
        }
        last.get(10, TimeUnit.SECONDS);
        assertThat(order).containsExactly("m0", "m1", "m2", "m3", "m4");
    }
}
