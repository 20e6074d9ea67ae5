package dev.crossgate.server.realtime;

import static dev.crossgate.server.testing.NodePeer.bin;
import static dev.crossgate.server.testing.NodePeer.op;
import static dev.crossgate.server.testing.NodePeer.strings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.redis.RedisAdapter;
import dev.crossgate.realtime.socketio.Adapter;
import dev.crossgate.realtime.socketio.SocketIoServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.realtime.testing.RedisServer;
import dev.crossgate.server.testing.NodePeer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 12, "Must show": two Crossgate nodes (crossgate-realtime with {@link RedisAdapter}) and two Node.js socket.io
 * 4.8 nodes with the official @socket.io/redis-adapter 8.3 on one real redis-server form one cluster; official
 * clients (socket.io-client 4.8 in Node) on every node. Room broadcasts from a Node node and from a Crossgate node
 * reach every member on every node, except and binary included; fetchSockets, socketsJoin, disconnectSockets,
 * serverSideEmit with acks and broadcasts with acks issued from a Node node and from a Crossgate node act on all four;
 * the official emitter reaches Crossgate's clients. Classic and sharded adapters.
 */
@ExtendWith(LeakCheck.class)
class MixedClusterTest {
    static final Duration T = Duration.ofSeconds(15);
    static final String KEY = "socket.io";
    static final byte[] BYTES = {0, 1, 2, (byte) 0xfe, (byte) 0xff};

    @Test
    void classic() throws Exception {
        cluster("classic");
    }

    @Test
    void sharded() throws Exception {
        cluster("sharded");
    }

    /** A Crossgate node as the Node peers are: clients join the rooms of their auth, data {name, node}, answers "who". */
    private static SocketIoServer crossgate(String node, String redisUrl, String mode, List<Object> received) {
        RedisAdapter adapter = RedisAdapter.connect(redisUrl, mode.equals("classic") ? RedisAdapter.Mode.CLASSIC : RedisAdapter.Mode.SHARDED, KEY,
                Duration.ofSeconds(5));
        SocketIoServer io = SocketIoServer.builder().adapter(adapter).build();
        io.of("/").onConnection(s -> {
            s.data().put("name", String.valueOf(s.auth().get("name")));
            s.data().put("node", node);
            if (s.auth().get("rooms") instanceof List<?> rooms) {
                rooms.forEach(r -> s.join(String.valueOf(r)));
            }
        });
        io.of("/").onServerSideEmit("who", (args, ack) -> {
            if (ack != null) {
                ack.accept(Map.of("node", node, "arg", args.isEmpty() ? "" : args.get(0)));
            } else {
                received.add(args);
            }
        });
        return io;
    }

    private static void cluster(String mode) throws Exception {
        List<SocketIoServer> servers = new ArrayList<>();
        List<RealtimeHttpServer> https = new ArrayList<>();
        List<Object> receivedC = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (RedisServer redis = RedisServer.start();
                NodePeer a = NodePeer.clusterNode("A", NodePeer.freePort(), redis.url(), mode, KEY, T);
                NodePeer b = NodePeer.clusterNode("B", NodePeer.freePort(), redis.url(), mode, KEY, T);
                NodePeer clients = NodePeer.clients("clients", T)) {
            SocketIoServer c = crossgate("C", redis.url(), mode, receivedC);
            SocketIoServer d = crossgate("D", redis.url(), mode, new ArrayList<>());
            servers.add(c);
            servers.add(d);
            https.add(c.listen("127.0.0.1", 0));
            https.add(d.listen("127.0.0.1", 0));
            String urlA = "http://127.0.0.1:" + a.awaitEvent(e -> e.has("listening"), T).get("listening").asInt();
            String urlB = "http://127.0.0.1:" + b.awaitEvent(e -> e.has("listening"), T).get("listening").asInt();
            String urlC = "http://127.0.0.1:" + https.get(0).port();
            String urlD = "http://127.0.0.1:" + https.get(1).port();
            // Every node counts four servers (Crossgate subscribes to the channels Node counts with NUMSUB/SHARDNUMSUB).
            await().atMost(T).until(() -> c.adapter().serverCount("/").get() == 4);

            Map<String, String> sids = new HashMap<>();
            sids.put("a1", connect(clients, "a1", urlA, "websocket", "news"));
            sids.put("b1", connect(clients, "b1", urlB, "polling", "news"));
            sids.put("c1", connect(clients, "c1", urlC, "websocket", "news"));
            sids.put("c2", connect(clients, "c2", urlC, "polling", "other"));
            sids.put("d1", connect(clients, "d1", urlD, "websocket", "news"));
            b.call(op("settle"), T);
            a.call(op("settle"), T);
            // Crossgate's sharded room subscriptions are confirmed once a broadcast from a Node node to the room arrives.
            await().atMost(T).pollInterval(Duration.ofMillis(200)).until(() -> {
                a.call(op("broadcast").<ObjectNode>set("rooms", strings("news")).put("event", "probe").set("args", NodePeer.JSON.createArrayNode()), T);
                return receivers(clients.events(event("probe"))).containsAll(List.of("c1", "d1"));
            });

            // From a Node node: a room broadcast, one socket excepted, binary included, reaches the members on all four.
            a.call(op("broadcast").<ObjectNode>set("rooms", strings("news")).<ObjectNode>set("except", strings(sids.get("c1")))
                    .put("event", "headline").set("args", NodePeer.JSON.createArrayNode().add("from-node").add(bin(BYTES))), T);
            a.call(op("broadcast").put("event", "marker").set("args", NodePeer.JSON.createArrayNode()), T);
            clients.awaitEvents(event("marker"), 5, T);
            List<JsonNode> headlines = clients.events(event("headline"));
            assertThat(receivers(headlines)).containsExactlyInAnyOrder("a1", "b1", "d1");
            for (JsonNode h : headlines) {
                assertThat(NodePeer.bytes(h.path("args").get(1))).as("binary at " + h.path("client")).isEqualTo(BYTES);
            }

            // From a Crossgate node: the same, reaching the Node nodes' clients.
            c.of("/").to("news").except(sids.get("b1")).emit("headline2", "from-crossgate", BYTES);
            c.of("/").emit("marker2");
            clients.awaitEvents(event("marker2"), 5, T);
            List<JsonNode> headlines2 = clients.events(event("headline2"));
            assertThat(receivers(headlines2)).containsExactlyInAnyOrder("a1", "c1", "d1");
            for (JsonNode h : headlines2) {
                assertThat(h.path("args").get(0).asText()).isEqualTo("from-crossgate");
                assertThat(NodePeer.bytes(h.path("args").get(1))).as("binary at " + h.path("client")).isEqualTo(BYTES);
            }

            // fetchSockets from a Node node and from a Crossgate node: all five, with their data.
            Map<String, String> nodeOf = new HashMap<>();
            for (JsonNode s : a.call(op("fetchSockets"), T)) {
                nodeOf.put(s.path("data").path("name").asText(), s.path("data").path("node").asText());
                assertThat(s.path("id").asText()).isEqualTo(sids.get(s.path("data").path("name").asText()));
            }
            assertThat(nodeOf).isEqualTo(Map.of("a1", "A", "b1", "B", "c1", "C", "c2", "C", "d1", "D"));
            List<Adapter.SocketInfo> fromC = c.of("/").fetchAllSockets().get(15, TimeUnit.SECONDS);
            Map<String, String> nodeOfC = new HashMap<>();
            fromC.forEach(s -> nodeOfC.put(String.valueOf(s.data().get("name")), String.valueOf(s.data().get("node"))));
            assertThat(nodeOfC).isEqualTo(Map.of("a1", "A", "b1", "B", "c1", "C", "c2", "C", "d1", "D"));
            assertThat(c.of("/").to("news").fetchSockets().get(15, TimeUnit.SECONDS)).extracting(Adapter.SocketInfo::id)
                    .containsExactlyInAnyOrder(sids.get("a1"), sids.get("b1"), sids.get("c1"), sids.get("d1"));

            // serverSideEmit with acks, from a Node node (B, C and D answer) and from a Crossgate node (A, B and D answer).
            Set<String> answered = new TreeSet<>();
            a.call(op("serverSideEmitWithAck").put("event", "who").put("timeout", 5000).set("args", NodePeer.JSON.createArrayNode().add("q")), T)
                    .forEach(x -> answered.add(x.path("node").asText()));
            assertThat(answered).containsExactly("B", "C", "D");
            List<Object> fromCrossgate = c.of("/").serverSideEmitWithAck("who", Duration.ofSeconds(5), "q2").get(15, TimeUnit.SECONDS);
            Set<String> answered2 = new TreeSet<>();
            fromCrossgate.forEach(x -> answered2.add(String.valueOf(((Map<?, ?>) x).get("node"))));
            assertThat(answered2).containsExactly("A", "B", "D");
            // ... and without an ack: a Node node's serverSideEmit reaches Crossgate's handler.
            a.call(op("serverSideEmit").put("event", "who").set("args", NodePeer.JSON.createArrayNode().add("note")), T);
            await().atMost(T).until(() -> receivedC.toString().contains("note"));

            // Broadcasts with acks: from a Crossgate node and from a Node node, every member on every node acknowledges.
            List<Object> acks = c.of("/").to("news").emitWithAck(Duration.ofSeconds(5), "ask").get(15, TimeUnit.SECONDS);
            assertThat(acks).extracting(x -> String.valueOf(((Map<?, ?>) x).get("client"))).containsExactlyInAnyOrder("a1", "b1", "c1", "d1");
            JsonNode nodeAcks = b.call(op("broadcastWithAck").<ObjectNode>set("rooms", strings("news")).put("event", "ask2").put("timeout", 5000)
                    .set("args", NodePeer.JSON.createArrayNode()), T);
            List<String> ackers = new ArrayList<>();
            nodeAcks.forEach(x -> ackers.add(x.path("client").asText()));
            assertThat(ackers).containsExactlyInAnyOrder("a1", "b1", "c1", "d1");

            // socketsJoin from a Node node moves Crossgate's client c2 into a room; a broadcast from the other Crossgate
            // node to it reaches c2 (re-sent until Crossgate C's subscription to the new room's channel is confirmed).
            a.call(op("socketsJoin").<ObjectNode>set("rooms", strings("other")).put("room", "late"), T);
            await().atMost(T).until(() -> c.of("/").fetchSockets().stream().anyMatch(s -> s.rooms().contains("late")));
            await().atMost(T).pollInterval(Duration.ofMillis(200)).until(() -> {
                d.of("/").to("late").emit("late-news", "x");
                return receivers(clients.events(event("late-news"))).contains("c2");
            });
            assertThat(receivers(clients.events(event("late-news")))).containsOnly("c2");
            // socketsJoin from a Crossgate node moves a Node node's client.
            c.of("/").in(sids.get("a1")).socketsJoin("vip");
            await().atMost(T).until(() -> names(a.call(op("fetchSockets").set("rooms", strings("vip")), T)).equals(List.of("a1")));

            if (mode.equals("classic")) {
                // allRooms from a Node node includes Crossgate's rooms, and from Crossgate the Node nodes'.
                Set<String> rooms = new TreeSet<>();
                a.call(op("allRooms"), T).forEach(r -> rooms.add(r.asText()));
                assertThat(rooms).contains("news", "other", "late", "vip", sids.get("c2"));
                assertThat(c.of("/").allRooms().get(15, TimeUnit.SECONDS)).contains("news", "vip", sids.get("a1"));
                // The official Node emitter reaches every member, Crossgate's clients included, binary intact.
                try (NodePeer emitter = NodePeer.emitter("emitter", redis.url(), KEY, T)) {
                    emitter.call(op("emit").<ObjectNode>set("rooms", strings("news")).put("event", "from-backend")
                            .set("args", NodePeer.JSON.createArrayNode().add(bin(BYTES))), T);
                    List<JsonNode> got = clients.awaitEvents(event("from-backend"), 4, T);
                    assertThat(receivers(got)).containsExactlyInAnyOrder("a1", "b1", "c1", "d1");
                    for (JsonNode g : got) {
                        assertThat(NodePeer.bytes(g.path("args").get(0))).isEqualTo(BYTES);
                    }
                    // The emitter's disconnectSockets reaches Crossgate's sockets too.
                    emitter.call(op("disconnectSockets").<ObjectNode>set("rooms", strings(sids.get("d1"))).put("close", false), T);
                    JsonNode gone = clients.awaitEvent(e -> e.path("event").asText().equals("disconnect") && e.path("client").asText().equals("d1"), T);
                    assertThat(gone.path("reason").asText()).isEqualTo("io server disconnect");
                }
            }

            // disconnectSockets from a Node node ends Crossgate's c2; from a Crossgate node, the Node node's b1.
            a.call(op("disconnectSockets").<ObjectNode>set("rooms", strings("late")).put("close", false), T);
            assertThat(clients.awaitEvent(e -> e.path("event").asText().equals("disconnect") && e.path("client").asText().equals("c2"), T)
                    .path("reason").asText()).isEqualTo("io server disconnect");
            c.of("/").in(sids.get("b1")).disconnectSockets(false);
            assertThat(clients.awaitEvent(e -> e.path("event").asText().equals("disconnect") && e.path("client").asText().equals("b1"), T)
                    .path("reason").asText()).isEqualTo("io server disconnect");
        } finally {
            https.forEach(RealtimeHttpServer::close);
            servers.forEach(SocketIoServer::closeAdapter);
        }
    }

    private static String connect(NodePeer clients, String name, String url, String transport, String... rooms) {
        ObjectNode c = op("connect").put("client", name).put("url", url).put("name", name);
        c.set("rooms", strings(rooms));
        c.set("transports", strings(transport));
        return clients.call(c, T).path("sid").asText();
    }

    private static Predicate<JsonNode> event(String name) {
        return e -> e.path("event").asText().equals(name);
    }

    private static List<String> receivers(List<JsonNode> events) {
        return events.stream().map(e -> e.path("client").asText()).toList();
    }

    private static List<String> names(JsonNode sockets) {
        List<String> n = new ArrayList<>();
        sockets.forEach(s -> n.add(s.path("data").path("name").asText()));
        return n;
    }
}
