package dev.crossgate.server.realtime;

import static dev.crossgate.server.testing.NodePeer.bin;
import static dev.crossgate.server.testing.NodePeer.op;
import static dev.crossgate.server.testing.NodePeer.strings;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
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
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Issue 12, "Must show" (the Node.js side): two Node.js socket.io 4.8 nodes with the official @socket.io/redis-adapter
 * 8.3 on one real redis-server, official clients on both, driven through {@link NodePeer}. Shows that the peers and the
 * harness work before Crossgate nodes join the same cluster: room broadcasts (except and binary), fetchSockets,
 * serverSideEmit with and without ack, socketsJoin, disconnectSockets, broadcast with acks and the official emitter
 * act across both nodes; classic (PUBLISH/PSUBSCRIBE) and sharded (SPUBLISH/SSUBSCRIBE, Redis 7) adapters.
 */
@ExtendWith(LeakCheck.class)
class NodeClusterPeersTest {
    static final Duration T = Duration.ofSeconds(10);
    static final String KEY = "socket.io"; // the adapter's and the emitter's default key
    static final byte[] BYTES = {0, 1, 2, (byte) 0xfe, (byte) 0xff};

    @Test
    void classicAdapterNodesShareRoomsSocketsAndServerSideEventsAndTheEmitterReachesBoth() throws Exception {
        cluster("classic");
    }

    @Test
    void shardedAdapterNodesShareRoomsSocketsAndServerSideEvents() throws Exception {
        cluster("sharded");
    }

    private static void cluster(String mode) throws Exception {
        try (RedisServer redis = RedisServer.start();
                NodePeer a = NodePeer.clusterNode("A", NodePeer.freePort(), redis.url(), mode, KEY, T);
                NodePeer b = NodePeer.clusterNode("B", NodePeer.freePort(), redis.url(), mode, KEY, T);
                NodePeer clients = NodePeer.clients("clients", T)) {
            String urlA = "http://127.0.0.1:" + a.awaitEvent(e -> e.has("listening"), T).get("listening").asInt();
            String urlB = "http://127.0.0.1:" + b.awaitEvent(e -> e.has("listening"), T).get("listening").asInt();
            Map<String, String> sids = new HashMap<>();
            sids.put("a1", connect(clients, "a1", urlA, "websocket", "news"));
            sids.put("a2", connect(clients, "a2", urlA, "polling", "news"));
            sids.put("b1", connect(clients, "b1", urlB, "websocket", "news"));
            sids.put("b2", connect(clients, "b2", urlB, "polling", "other"));

            // A room broadcast from A reaches the room's members on A and on B, except the excluded socket (its id is a
            // room); the binary argument arrives as bytes. A later broadcast to everyone, on the same Redis connections,
            // is the marker after which nothing more of the first can arrive.
            a.call(op("broadcast").<ObjectNode>set("rooms", strings("news")).<ObjectNode>set("except", strings(sids.get("a2")))
                    .put("event", "headline").set("args", NodePeer.JSON.createArrayNode().add("hello").add(bin(BYTES))), T);
            a.call(op("broadcast").put("event", "marker").set("args", NodePeer.JSON.createArrayNode().add(1)), T);
            clients.awaitEvents(event("marker"), 4, T);
            List<JsonNode> headlines = clients.events(event("headline"));
            assertThat(receivers(headlines)).containsExactlyInAnyOrder("a1", "b1");
            for (JsonNode h : headlines) {
                assertThat(h.path("args").get(0).asText()).isEqualTo("hello");
                assertThat(NodePeer.bytes(h.path("args").get(1))).as("the binary argument, at " + h.path("client")).isEqualTo(BYTES);
            }

            // The local flag keeps a broadcast on the node that sends it.
            a.call(op("broadcast").<ObjectNode>set("rooms", strings("news")).<ObjectNode>set("flags", NodePeer.JSON.createObjectNode().put("local", true))
                    .put("event", "local-only").set("args", NodePeer.JSON.createArrayNode()), T);
            a.call(op("broadcast").put("event", "marker2").set("args", NodePeer.JSON.createArrayNode()), T);
            clients.awaitEvents(event("marker2"), 4, T);
            assertThat(receivers(clients.events(event("local-only")))).containsExactlyInAnyOrder("a1", "a2");

            // fetchSockets from A lists the clients of both nodes, with their data.
            JsonNode all = a.call(op("fetchSockets"), T);
            Map<String, String> nodeOf = new HashMap<>();
            for (JsonNode s : all) {
                nodeOf.put(s.path("data").path("name").asText(), s.path("data").path("node").asText());
                assertThat(s.path("id").asText()).isEqualTo(sids.get(s.path("data").path("name").asText()));
            }
            assertThat(nodeOf).isEqualTo(Map.of("a1", "A", "a2", "A", "b1", "B", "b2", "B"));
            JsonNode news = a.call(op("fetchSockets").set("rooms", strings("news")), T);
            assertThat(names(news)).containsExactlyInAnyOrder("a1", "a2", "b1");

            // serverSideEmit with ack from A: B answers (a server never receives its own serverSideEmit).
            JsonNode answers = a.call(op("serverSideEmitWithAck").put("event", "who").put("timeout", 5000)
                    .set("args", NodePeer.JSON.createArrayNode().add("q1")), T);
            assertThat(answers.toString()).isEqualTo("[{\"node\":\"B\",\"arg\":\"q1\"}]");
            // ... and without ack: B records it, A does not.
            a.call(op("serverSideEmit").put("event", "note").set("args", NodePeer.JSON.createArrayNode().add(bin(BYTES))), T);
            await().atMost(T).until(() -> b.call(op("received"), T).toString().contains("\"note\""));
            JsonNode note = null;
            for (JsonNode r : b.call(op("received"), T)) {
                if (r.path("event").asText().equals("note")) {
                    note = r;
                }
            }
            if (mode.equals("classic")) {
                // The classic adapter sends serverSideEmit requests as JSON (JSON.stringify, index.js serverSideEmit): a
                // Buffer arrives as Node's Buffer.toJSON form, not as bytes. Crossgate must read (and may send) the same.
                assertThat(note.path("args").get(0).toString()).isEqualTo("{\"type\":\"Buffer\",\"data\":[0,1,2,254,255]}");
            } else {
                // The sharded adapter (ClusterAdapter) encodes every message with msgpack: the bytes arrive as bytes.
                assertThat(NodePeer.bytes(note.path("args").get(0))).isEqualTo(BYTES);
            }
            assertThat(a.call(op("received"), T).toString()).doesNotContain("\"note\"");

            // broadcastWithAck from B: every member of the room, on both nodes, acknowledges.
            JsonNode acks = b.call(op("broadcastWithAck").<ObjectNode>set("rooms", strings("news")).put("event", "ask").put("timeout", 5000)
                    .set("args", NodePeer.JSON.createArrayNode()), T);
            List<String> ackers = new ArrayList<>();
            acks.forEach(x -> ackers.add(x.path("client").asText()));
            assertThat(ackers).containsExactlyInAnyOrder("a1", "a2", "b1");

            // socketsJoin from A moves B's client b2 into a room that a later broadcast from A reaches.
            a.call(op("socketsJoin").<ObjectNode>set("rooms", strings("other")).put("room", "late"), T);
            await().atMost(T).until(() -> names(a.call(op("fetchSockets").set("rooms", strings("late")), T)).equals(List.of("b2")));
            b.call(op("settle"), T); // B's subscription to the new room's channel is confirmed (sharded, dynamic mode)
            a.call(op("broadcast").<ObjectNode>set("rooms", strings("late")).put("event", "late-news")
                    .set("args", NodePeer.JSON.createArrayNode().add("x")), T);
            assertThat(clients.awaitEvent(event("late-news"), T).path("client").asText()).isEqualTo("b2");

            if (mode.equals("classic")) {
                // allRooms from A: the rooms of both nodes (the sharded adapter does not implement allRooms).
                Set<String> rooms = new TreeSet<>();
                a.call(op("allRooms"), T).forEach(r -> rooms.add(r.asText()));
                assertThat(rooms).contains("news", "other", "late", sids.get("b2"));
                // The official emitter (classic channels only) reaches the room's members on both nodes, binary included.
                try (NodePeer emitter = NodePeer.emitter("emitter", redis.url(), KEY, T)) {
                    emitter.call(op("emit").<ObjectNode>set("rooms", strings("news")).put("event", "from-backend")
                            .set("args", NodePeer.JSON.createArrayNode().add(bin(BYTES))), T);
                    List<JsonNode> got = clients.awaitEvents(event("from-backend"), 3, T);
                    assertThat(receivers(got)).containsExactlyInAnyOrder("a1", "a2", "b1");
                    assertThat(NodePeer.bytes(got.get(0).path("args").get(0))).isEqualTo(BYTES);
                }
            }

            // disconnectSockets from A disconnects B's client in the room, and only it.
            a.call(op("disconnectSockets").<ObjectNode>set("rooms", strings("late")).put("close", false), T);
            JsonNode gone = clients.awaitEvent(e -> e.path("event").asText().equals("disconnect"), T);
            assertThat(gone.path("client").asText()).isEqualTo("b2");
            assertThat(gone.path("reason").asText()).isEqualTo("io server disconnect");
            await().atMost(T).until(() -> names(a.call(op("fetchSockets"), T)).size() == 3);
            assertThat(names(a.call(op("fetchSockets"), T))).containsExactlyInAnyOrder("a1", "a2", "b1");

            // socketsLeave from B, with except: every member but a1 leaves the room, on both nodes; a broadcast with the
            // compress flag off then reaches a1 only.
            b.call(op("socketsLeave").<ObjectNode>set("rooms", strings("news")).<ObjectNode>set("except", strings(sids.get("a1"))).put("room", "news"), T);
            await().atMost(T).until(() -> names(b.call(op("fetchSockets").set("rooms", strings("news")), T)).equals(List.of("a1")));
            b.call(op("broadcast").<ObjectNode>set("rooms", strings("news")).<ObjectNode>set("flags", NodePeer.JSON.createObjectNode().put("compress", false))
                    .put("event", "last").set("args", NodePeer.JSON.createArrayNode()), T);
            b.call(op("broadcast").put("event", "marker3").set("args", NodePeer.JSON.createArrayNode()), T);
            clients.awaitEvents(event("marker3"), 3, T);
            assertThat(receivers(clients.events(event("last")))).containsExactly("a1");
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
