package dev.crossgate.server.limits;

import dev.crossgate.server.config.CrossgateConfig;
import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The counts {@code limits.store: redis} shares between nodes, in Redis, each decided by one Lua script (atomic on
 * the server, so two nodes never both take the last slot):
 * <ul>
 *   <li>a subject's WebSockets: a sorted set {@code crossgate:limits:subject:<sub>}, member = this node's id and a
 *       lease number, score = the lease's expiry in Redis's clock. Admission removes the expired members, counts
 *       the rest and adds one below the limit. This node renews its leases every {@code lease / 3} and removes one
 *       when its connection closes; a node that dies stops renewing, and its leases expire after {@code lease};</li>
 *   <li>a request rate: the generic cell rate algorithm (as {@link RateGate}) on one key per route and client
 *       address, {@code crossgate:limits:rate:<route>:<address>}, holding the theoretical arrival time.</li>
 * </ul>
 * Every key carries a TTL (twice the lease; the bucket's refill time plus a second), so nothing outlives its use.
 * Calls are asynchronous with a short deadline and never wait on an event loop; a failed or late call completes
 * exceptionally, and {@link Limits} then applies its per-node count. Reconnection is Lettuce's; while disconnected
 * commands are refused at once rather than queued ({@code DisconnectedBehavior.REJECT_COMMANDS}).
 */
final class RedisLimitStore implements AutoCloseable {
    /** Every key this store writes starts with this. */
    static final String PREFIX = "crossgate:limits:";

    /** How long a lease lives without renewal, and how long a call may take before the per-node count decides. */
    record Options(Duration lease, Duration timeout) {
        static Options defaults(CrossgateConfig.RealtimeRedis redis) {
            // An admission waits at most this: a slow Redis must not hold every handshake for realtime.redis.requestTimeout.
            Duration t = redis.requestTimeout().compareTo(Duration.ofMillis(500)) < 0 ? redis.requestTimeout() : Duration.ofMillis(500);
            return new Options(Duration.ofSeconds(30), t);
        }
    }

    /** One subject slot held by this node: its member in the subject's sorted set. */
    record Lease(String key, String member) {}

    /*
     * KEYS[1] the subject's set; ARGV: member, limit, lease ms. Redis's clock (TIME), so nodes' clocks do not matter;
     * scripts are replicated by effects (the default since Redis 5), so TIME is allowed.
     */
    private static final String ACQUIRE = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local lease = tonumber(ARGV[3])
            redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
            if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
              return 0
            end
            redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
            redis.call('PEXPIRE', KEYS[1], lease * 2)
            return 1
            """;
    /* KEYS[1] the subject's set; ARGV: lease ms, then the members this node still holds (renewed, or added back after a Redis restart). */
    private static final String RENEW = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
            local lease = tonumber(ARGV[1])
            for i = 2, #ARGV do
              redis.call('ZADD', KEYS[1], now + lease, ARGV[i])
            end
            redis.call('PEXPIRE', KEYS[1], lease * 2)
            return 1
            """;
    /*
     * GCRA: KEYS[1] the bucket; ARGV: emission interval (ms), burst. Returns 0 (admitted, counted) or the ms to wait.
     * The key lives until the bucket is full again, plus a second.
     */
    private static final String RATE = """
            local t = redis.call('TIME')
            local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
            local interval = tonumber(ARGV[1])
            local tolerance = interval * (tonumber(ARGV[2]) - 1)
            local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
            if tat < now then tat = now end
            local wait = tat - now - tolerance
            if wait > 0 then
              return math.ceil(wait)
            end
            local nxt = tat + interval
            redis.call('SET', KEYS[1], string.format('%.3f', nxt), 'PX', math.ceil(nxt - now) + 1000)
            return 0
            """;

    private final String node = UUID.randomUUID().toString();
    private final AtomicLong leases = new AtomicLong();
    private final Options options;
    private final ClientResources resources;
    private final AbstractRedisClient client;
    private final Object uri;
    private final ScheduledExecutorService timer;
    /** Leases this node holds, renewed by the heartbeat (also those admitted per node while Redis was away). */
    private final Set<Lease> held = ConcurrentHashMap.newKeySet();
    private volatile StatefulConnection<String, String> connection;
    private volatile RedisClusterAsyncCommands<String, String> commands;
    private volatile boolean closed;
    private volatile long retryMillis = 250;
    /** How long a starting node waits for its first connection to Redis. */
    static final Duration CONNECT_WAIT = Duration.ofSeconds(2);

    RedisLimitStore(CrossgateConfig.RealtimeRedis redis, Options options) {
        this.options = options;
        // Lettuce reconnects with exponential backoff from 100ms, capped at 5s (not its default 30s): the limits are
        // shared again within seconds of Redis coming back.
        this.resources = DefaultClientResources.builder().ioThreadPoolSize(2).computationThreadPoolSize(2)
                .reconnectDelay(io.lettuce.core.resource.Delay.exponential(Duration.ofMillis(100), Duration.ofSeconds(5), 2, TimeUnit.MILLISECONDS))
                .build();
        if (redis.cluster()) {
            RedisClusterClient c = RedisClusterClient.create(resources, io.lettuce.core.cluster.RedisClusterURIUtil
                    .toRedisURIs(java.net.URI.create(redis.url())));
            c.setOptions(ClusterClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
            this.client = c;
            this.uri = null;
        } else {
            RedisClient c = RedisClient.create(resources);
            c.setOptions(ClientOptions.builder().autoReconnect(true)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
            this.client = c;
            this.uri = RedisURI.create(redis.url());
        }
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "crossgate-limits-redis");
            t.setDaemon(true);
            return t;
        });
        // The first connection is waited for (at most CONNECT_WAIT, on the starting thread, never an event loop), so that
        // a node does not begin by deciding alone; if Redis is not there yet, the node starts with its own limits.
        try {
            connect().get(CONNECT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            // retried in the background; checks fall back meanwhile
        }
        long beat = Math.max(50, options.lease().toMillis() / 3);
        timer.scheduleAtFixedRate(this::renew, beat, beat, TimeUnit.MILLISECONDS);
    }

    /**
     * The first connection; retried with backoff (up to 10s) until it succeeds, since Lettuce reconnects only a
     * connection it once made. Until then every call fails at once and the per-node counts apply.
     */
    private CompletableFuture<?> connect() {
        if (closed) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<? extends StatefulConnection<String, String>> f = client instanceof RedisClusterClient c
                ? c.connectAsync(StringCodec.UTF8).toCompletableFuture()
                : ((RedisClient) client).connectAsync(StringCodec.UTF8, (RedisURI) uri).toCompletableFuture();
        return f.whenComplete((conn, err) -> {
            if (err != null) {
                long wait = retryMillis;
                retryMillis = Math.min(10_000, retryMillis * 2);
                if (!closed) {
                    timer.schedule(this::connect, wait, TimeUnit.MILLISECONDS);
                }
                return;
            }
            if (closed) {
                conn.closeAsync();
                return;
            }
            connection = conn;
            commands = conn instanceof StatefulRedisClusterConnection<String, String> cc ? cc.async()
                    : ((StatefulRedisConnection<String, String>) conn).async();
        });
    }

    Lease newLease(String subject) {
        return new Lease(PREFIX + "subject:" + subject, node + ":" + leases.incrementAndGet());
    }

    /** True when Redis admitted {@code lease} (it is then held and renewed), false when the subject is at {@code limit}. */
    CompletableFuture<Boolean> acquire(Lease lease, int limit) {
        return eval(ACQUIRE, lease.key(), lease.member(), Integer.toString(limit), Long.toString(options.lease().toMillis()))
                .thenApply(r -> {
                    if (r == 1L) {
                        held.add(lease);
                    }
                    return r == 1L;
                });
    }

    /** Keeps {@code lease}, admitted by this node alone while Redis did not answer: the heartbeat adds it once Redis is back. */
    void keep(Lease lease) {
        held.add(lease);
    }

    /** Gives a lease back (best effort: if Redis does not hear it, the lease expires). */
    void release(Lease lease) {
        if (held.remove(lease)) {
            RedisClusterAsyncCommands<String, String> c = commands;
            if (c != null) {
                try {
                    c.zrem(lease.key(), lease.member());
                } catch (RuntimeException e) {
                    // disconnected: the lease expires on its own
                }
            }
        }
    }

    /** 0 when a request on the bucket {@code key} may pass (and is counted), else the milliseconds until one may. */
    CompletableFuture<Long> rate(String key, double perSecond, int burst) {
        return eval(RATE, PREFIX + "rate:" + key, String.format(java.util.Locale.ROOT, "%.3f", 1000.0 / perSecond), Integer.toString(Math.max(1, burst)));
    }

    private CompletableFuture<Long> eval(String script, String key, String... args) {
        RedisClusterAsyncCommands<String, String> c = commands;
        if (c == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("not connected yet"));
        }
        try {
            // EVAL, not EVALSHA: a restarted Redis has lost its script cache, and these scripts are a few hundred bytes.
            CompletableFuture<Long> f = c.<Long>eval(script, ScriptOutputType.INTEGER, new String[] {key}, args).toCompletableFuture();
            return f.orTimeout(options.timeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** The heartbeat: renews (or re-adds) every lease this node holds, one script per subject. */
    private void renew() {
        RedisClusterAsyncCommands<String, String> c = commands;
        if (c == null || held.isEmpty()) {
            return;
        }
        Map<String, List<String>> bySubject = new HashMap<>();
        for (Lease l : held) {
            bySubject.computeIfAbsent(l.key(), k -> new ArrayList<>()).add(l.member());
        }
        for (Map.Entry<String, List<String>> e : bySubject.entrySet()) {
            List<String> args = new ArrayList<>(e.getValue().size() + 1);
            args.add(Long.toString(options.lease().toMillis()));
            args.addAll(e.getValue());
            try {
                c.eval(RENEW, ScriptOutputType.INTEGER, new String[] {e.getKey()}, args.toArray(String[]::new));
            } catch (RuntimeException ex) {
                return; // disconnected: renewed at the next beat after Lettuce reconnects
            }
        }
    }

    int heldLeases() {
        return held.size();
    }

    /** Stops renewing without giving anything back, as a crashed node would (tests). */
    void abandon() {
        held.clear();
        close();
    }

    /** Gives every lease back (waiting at most a second), then closes the connection and Lettuce's threads. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        timer.shutdownNow();
        RedisClusterAsyncCommands<String, String> c = commands;
        if (c != null && !held.isEmpty()) {
            List<CompletableFuture<?>> fs = new ArrayList<>();
            for (Lease l : held) {
                try {
                    fs.add(c.zrem(l.key(), l.member()).toCompletableFuture());
                } catch (RuntimeException e) {
                    break;
                }
            }
            try {
                CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new)).get(1, TimeUnit.SECONDS);
            } catch (Exception e) {
                // they expire on their own
            }
        }
        held.clear();
        try { // closes the connection too
            client.shutdownAsync(0, 2, TimeUnit.SECONDS).get(3, TimeUnit.SECONDS);
        } catch (Exception e) {
            // shutting down anyway
        }
        resources.shutdown(0, 2, TimeUnit.SECONDS);
    }
}
