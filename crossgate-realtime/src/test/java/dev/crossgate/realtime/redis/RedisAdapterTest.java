package dev.crossgate.realtime.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.crossgate.realtime.engine.RealtimeHttpServer;
import dev.crossgate.realtime.socketio.Adapter;
import dev.crossgate.realtime.socketio.SocketIoServer;
import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.realtime.testing.RedisServer;
import io.socket.client.Ack;
import io.socket.client.IO;
import io.socket.client.Socket;
import io.socket.engineio.client.transports.WebSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Two Crossgate nodes on one real redis-server, with the official Java client on each: broadcasts (rooms, except,
 * binary) and every cluster request, in the classic and the sharded wire formats; then Redis killed and restarted:
 * local delivery goes on, the loss is counted, cross-node delivery resumes.
 */
@ExtendWith(LeakCheck.class)
class RedisAdapterTest {
    static RedisServer redis;
    final List<SocketIoServer> servers = new ArrayList<>();
    final List<RealtimeHttpServer> https = new ArrayList<>();
    final List<Socket> clients = new ArrayList<>();

    @BeforeAll
    static void redis() throws Exception {
        redis = RedisServer.start();
    }

    @AfterAll
    static void stopRedis() throws Exception {
        redis.close();
    }

    @AfterEach
    void stop() {
        clients.forEach(Socket::close);
        https.forEach(RealtimeHttpServer::close);
        servers.forEach(SocketIoServer::closeAdapter);
    }

    /** A node whose clients join the rooms named in their auth ({"rooms": "a,b"}) and answer "who" server-side events. */
    private RealtimeHttpServer node(String name, RedisAdapter.Mode mode, String key) throws Exception {
        RedisAdapter adapter = RedisAdapter.connect(redis.url(), mode, key, Duration.ofSeconds(3));
        SocketIoServer io = SocketIoServer.builder().adapter(adapter).requestTimeout(Duration.ofSeconds(3)).build();
        io.of("/").onConnection(s -> {
            Object rooms = s.auth().get("rooms");
            if (rooms instanceof String r && !r.isEmpty()) {
                for (String room : r.split(",")) {
                    s.join(room);
                }
            }
            s.data().put("node", name);
        });
        io.of("/").onServerSideEmit("who", (args, ack) -> {
            if (ack != null) {
                ack.accept(Map.of("node", name, "arg", args.isEmpty() ? "" : args.get(0)));
            }
        });
        servers.add(io);
        RealtimeHttpServer http = io.listen("127.0.0.1", 0);
        https.add(http);
        return http;
    }

    record Client(Socket socket, Queue<Object[]> events) {
        List<String> texts(String event) {
            return events.stream().filter(e -> e[0].equals(event)).map(e -> String.valueOf(e[1])).collect(Collectors.toList());
        }
    }

    private Client client(RealtimeHttpServer http, String rooms) throws Exception {
        Socket s = IO.socket(URI.create("http://127.0.0.1:" + http.port()), IO.Options.builder()
                .setTransports(new String[] {WebSocket.NAME}).setAuth(Map.of("rooms", rooms)).setReconnection(false).setForceNew(true).build());
        Queue<Object[]> events = new ConcurrentLinkedQueue<>();
        for (String e : List.of("news", "bin", "late", "ask")) {
            s.on(e, args -> {
                if (args.length > 0 && args[args.length - 1] instanceof Ack ack) {
                    ack.call("ack-from-" + rooms);
                }
                Object[] row = new Object[args.length + 1];
                row[0] = e;
                System.arraycopy(args, 0, row, 1, args.length);
                events.add(row);
            });
        }
        s.on(Socket.EVENT_DISCONNECT, args -> events.add(new Object[] {"disconnect", args.length > 0 ? args[0] : null}));
        CompletableFuture<Void> f = new CompletableFuture<>();
        s.once(Socket.EVENT_CONNECT, a -> f.complete(null));
        s.connect();
        f.get(10, TimeUnit.SECONDS);
        clients.add(s);
        return new Client(s, events);
    }

    @ParameterizedTest
    @EnumSource(RedisAdapter.Mode.class)
    void twoNodesShareBroadcastsAndAnswerEveryRequest(RedisAdapter.Mode mode) throws Exception {
        String key = "t-" + mode.name().toLowerCase();
        RealtimeHttpServer a = node("A", mode, key);
        RealtimeHttpServer b = node("B", mode, key);
        SocketIoServer ioA = servers.get(0);
        SocketIoServer ioB = servers.get(1);
        Client onA = client(a, "r");
        Client onB = client(b, "r,vip");
        Client outsider = client(b, "");

        // Both nodes see two servers before anything is asserted across them.
        await().atMost(Duration.ofSeconds(10)).until(() -> ioA.adapter().serverCount("/").get() == 2);

        // A room broadcast from A reaches the members on both nodes, and nobody else.
        ioA.to("r").emit("news", "hello");
        await().atMost(Duration.ofSeconds(10)).until(() -> onA.texts("news").contains("hello") && onB.texts("news").contains("hello"));
        // except: a broadcast to r except vip reaches A's member only; binary arrives as bytes.
        ioB.of("/").to("r").except("vip").emit("bin", "x", new byte[] {1, 2, 3});
        await().atMost(Duration.ofSeconds(10)).until(() -> onA.events().stream().anyMatch(e -> e[0].equals("bin")));
        Object[] bin = onA.events().stream().filter(e -> e[0].equals("bin")).findFirst().orElseThrow();
        assertThat((byte[]) bin[2]).containsExactly(1, 2, 3);

        // fetchSockets from A lists the three sockets of both nodes, with their data.
        List<Adapter.SocketInfo> all = ioA.of("/").fetchAllSockets().get(10, TimeUnit.SECONDS);
        assertThat(all).extracting(Adapter.SocketInfo::id).containsExactlyInAnyOrder(onA.socket().id(), onB.socket().id(), outsider.socket().id());
        assertThat(all).filteredOn(s -> s.id().equals(onB.socket().id())).singleElement()
                .satisfies(s -> {
                    assertThat(s.rooms()).contains("r", "vip");
                    assertThat(s.data()).containsEntry("node", "B");
                });

        // serverSideEmit with an ack from A gets B's answer.
        List<Object> answers = ioA.of("/").serverSideEmitWithAck("who", Duration.ofSeconds(5), "q").get(10, TimeUnit.SECONDS);
        assertThat(answers).hasSize(1);
        assertThat((Map<Object, Object>) answers.get(0)).containsEntry("node", "B").containsEntry("arg", "q");

        // socketsJoin from A moves B's outsider into a room; a later broadcast from A to it reaches the outsider.
        ioA.of("/").in(outsider.socket().id()).socketsJoin("late-room");
        await().atMost(Duration.ofSeconds(10)).until(() -> ioB.of("/").fetchSockets().stream()
                .anyMatch(s -> s.id().equals(outsider.socket().id()) && s.rooms().contains("late-room")));
        ioA.to("late-room").emit("late", "you joined");
        await().atMost(Duration.ofSeconds(10)).until(() -> outsider.texts("late").contains("you joined"));

        // A broadcast with acks from A gathers both members' acks.
        List<Object> acks = ioA.of("/").to("r").emitWithAck(Duration.ofSeconds(5), "ask", "?").get(10, TimeUnit.SECONDS);
        assertThat(acks).containsExactlyInAnyOrder("ack-from-r", "ack-from-r,vip");

        // allRooms (classic) lists B's rooms too.
        if (mode == RedisAdapter.Mode.CLASSIC) {
            assertThat(ioA.of("/").allRooms().get(10, TimeUnit.SECONDS)).contains("r", "vip", "late-room");
        }

        // disconnectSockets from A ends B's vip member.
        ioA.of("/").in("vip").disconnectSockets(false);
        await().atMost(Duration.ofSeconds(10)).until(() -> onB.events().stream().anyMatch(e -> e[0].equals("disconnect")));
        assertThat(onA.events().stream().noneMatch(e -> e[0].equals("disconnect"))).isTrue();
        assertThat(outsider.texts("news")).isEmpty();
    }

    @ParameterizedTest
    @EnumSource(RedisAdapter.Mode.class)
    void redisKilledAndRestartedLocalDeliveryGoesOnTheLossIsCountedAndSharingResumes(RedisAdapter.Mode mode) throws Exception {
        String key = "k-" + mode.name().toLowerCase();
        RealtimeHttpServer a = node("A", mode, key);
        RealtimeHttpServer b = node("B", mode, key);
        SocketIoServer ioA = servers.get(0);
        RedisAdapter adapterA = (RedisAdapter) ioA.adapter();
        Client onA = client(a, "room");
        Client onB = client(b, "room");
        await().atMost(Duration.ofSeconds(10)).until(() -> ioA.adapter().serverCount("/").get() == 2);
        try {
            redis.kill();
            await().atMost(Duration.ofSeconds(10)).until(() -> !adapterA.stats().connected());
            long lostBefore = adapterA.stats().lost();
            for (int i = 0; i < 20; i++) {
                ioA.to("room").emit("news", "during-" + i);
            }
            // Local delivery never stopped; each publish toward the other node is counted as lost.
            await().atMost(Duration.ofSeconds(10)).until(() -> onA.texts("news").contains("during-19"));
            assertThat(adapterA.stats().lost() - lostBefore).isEqualTo(20);
        } finally {
            redis.restart();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> adapterA.stats().connected());
        // Cross-node delivery resumes once both nodes have subscribed again.
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
            ioA.to("room").emit("news", "after");
            return onB.texts("news").contains("after");
        });
    }

    @org.junit.jupiter.api.Test
    void aNodeStartedWhileRedisIsDownServesLocallyAndJoinsTheClusterWhenRedisIsBack() throws Exception {
        RealtimeHttpServer a = node("A", RedisAdapter.Mode.CLASSIC, "late");
        Client onA = client(a, "room");
        RealtimeHttpServer b;
        redis.kill();
        try {
            b = node("B", RedisAdapter.Mode.CLASSIC, "late"); // starts although Redis is down
            RedisAdapter adapterB = (RedisAdapter) servers.get(1).adapter();
            assertThat(adapterB.stats().connected()).isFalse();
            assertThat(adapterB.lastError()).isNotBlank();
            Client onB = client(b, "room");
            servers.get(1).to("room").emit("news", "local-only");
            await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts("news").contains("local-only"));
            assertThat(adapterB.stats().lost()).isEqualTo(1);
        } finally {
            redis.restart();
        }
        SocketIoServer ioB = servers.get(1);
        await().atMost(Duration.ofSeconds(30)).until(() -> ((RedisAdapter) ioB.adapter()).stats().connected());
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(200)).until(() -> {
            ioB.to("room").emit("news", "joined");
            return onA.texts("news").contains("joined");
        });
    }

    /** A Redis Sentinel address ({@code redis-sentinel://host:port#master}): the adapter finds the master through it. */
    @org.junit.jupiter.api.Test
    void aSentinelAddressFindsTheMaster() throws Exception {
        java.nio.file.Path d = java.nio.file.Files.createTempDirectory("crossgate-sentinel");
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        java.nio.file.Path conf = d.resolve("sentinel.conf");
        java.nio.file.Files.writeString(conf, "port " + port + "\nbind 127.0.0.1\ndir " + d + "\nsentinel monitor mymaster 127.0.0.1 " + redis.port()
                + " 1\nsentinel down-after-milliseconds mymaster 5000\n");
        Process sentinel = new ProcessBuilder("/usr/bin/redis-sentinel", conf.toString()).redirectErrorStream(true)
                .redirectOutput(d.resolve("sentinel.log").toFile()).start();
        try {
            String url = "redis-sentinel://127.0.0.1:" + port + "#mymaster";
            // The sentinel answers once it has loaded its configuration: poll for it (bounded).
            await().atMost(Duration.ofSeconds(20)).ignoreExceptions().until(() -> {
                try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
                    return true;
                }
            });
            RedisAdapter one = RedisAdapter.connect(url, RedisAdapter.Mode.CLASSIC, "sentinel", Duration.ofSeconds(3));
            RedisAdapter two = RedisAdapter.connect(url, RedisAdapter.Mode.CLASSIC, "sentinel", Duration.ofSeconds(3));
            SocketIoServer a = SocketIoServer.builder().adapter(one).build();
            SocketIoServer b = SocketIoServer.builder().adapter(two).build();
            servers.add(a);
            servers.add(b);
            assertThat(one.address()).isEqualTo("redis-sentinel://127.0.0.1:" + port + "#mymaster");
            await().atMost(Duration.ofSeconds(20)).until(() -> one.stats().connected() && a.adapter().serverCount("/").get() == 2);
            RealtimeHttpServer hb = b.listen("127.0.0.1", 0);
            https.add(hb);
            Client onB = client(hb, "");
            a.of("/").emit("news", "through-sentinel-master");
            await().atMost(Duration.ofSeconds(10)).until(() -> onB.texts("news").contains("through-sentinel-master"));
        } finally {
            sentinel.destroy();
            sentinel.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Redis Cluster seed nodes: two nodes share broadcasts and requests, classic (PUBLISH is cluster-wide) and sharded. */
    @ParameterizedTest
    @EnumSource(RedisAdapter.Mode.class)
    void aRedisClusterCarriesBroadcastsAndRequests(RedisAdapter.Mode mode) throws Exception {
        try (dev.crossgate.realtime.testing.RedisCluster rc = dev.crossgate.realtime.testing.RedisCluster.start()) {
            List<SocketIoServer> nodes = new ArrayList<>();
            for (String name : List.of("A", "B")) {
                RedisAdapter adapter = RedisAdapter.connectCluster(rc.seeds(), mode, "c-" + mode.name().toLowerCase(), Duration.ofSeconds(3));
                SocketIoServer io = SocketIoServer.builder().adapter(adapter).build();
                io.of("/").onConnection(s -> s.join("room"));
                io.of("/").onServerSideEmit("who", (args, ack) -> ack.accept(name));
                servers.add(io);
                nodes.add(io);
            }
            RealtimeHttpServer hb = nodes.get(1).listen("127.0.0.1", 0);
            https.add(hb);
            Client onB = client(hb, "");
            await().atMost(Duration.ofSeconds(20)).until(() -> nodes.get(0).adapter().serverCount("/").get() == 2);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200)).until(() -> {
                nodes.get(0).to("room").emit("news", "through-the-cluster");
                return onB.texts("news").contains("through-the-cluster");
            });
            assertThat(nodes.get(0).of("/").fetchAllSockets().get(10, TimeUnit.SECONDS)).extracting(Adapter.SocketInfo::id)
                    .containsExactly(onB.socket().id());
            assertThat(nodes.get(0).of("/").serverSideEmitWithAck("who", Duration.ofSeconds(5)).get(10, TimeUnit.SECONDS)).containsExactly("B");
        }
    }
}
