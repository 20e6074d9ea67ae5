package dev.crossgate.server.limits;

import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.config.PathPrefix;
import java.util.Iterator;
import java.util.Map;
import dev.crossgate.server.observe.Metrics;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connection and request limits, shared by every event loop without locks: counters are atomics, rates are
 * {@link RateGate}s, and the per-address and per-subject state lives in concurrent maps read without locking
 * (an entry is created once per address, and swept when it holds nothing).
 *
 * <p>Per node by default ({@code limits.store: local}): a user may hold {@code connectionsPerSubject} WebSockets on
 * every node. With {@code limits.store: redis} the per-subject quota and the request rates are shared by every node on
 * {@code realtime.redis} ({@link RedisLimitStore}); the per-address connection limits and the new-connection rate stay
 * per node (they are decided at accept, before any request). When Redis does not answer, each node applies its own
 * counts: never refuse everyone, never admit without bound.
 */
public final class Limits {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger("crossgate.limits");
    /** A refusal: the reason code, the status (429) and Retry-After in seconds. */
    public record Refusal(String reason, int status, long retryAfterSeconds, String message) {}

    /** What is remembered per client address. */
    public static final class Address {
        final AtomicInteger connections = new AtomicInteger();
        final RateGate newConnections;
        final ConcurrentHashMap<String, RateGate> requests = new ConcurrentHashMap<>();

        Address(CrossgateConfig.Limits c) {
            newConnections = c.newConnectionsPerSecond() > 0 ? new RateGate(c.newConnectionsPerSecond(), c.newConnectionsBurst()) : null;
        }
    }

    /**
     * Descriptors set aside, beyond those open when the listener starts (jars, event loops, the listeners),
     * for what opens later whatever the clients do: the admin listener's connections
     * ({@link #ADMIN_CONNECTIONS}), JWKS fetches, Redis, realtime hook calls, health checks, a log file.
     */
    public static final int RESERVED_DESCRIPTORS = 64;
    /** Connections the admin listener holds at once (part of {@link #RESERVED_DESCRIPTORS}); more are closed at accept. */
    public static final int ADMIN_CONNECTIONS = 16;
    /**
     * How long a connection refused by a per-address or per-user limit may wait for its first request (to be
     * answered 429 with CORS headers) before it is closed: such a connection holds a descriptor, so it gets a
     * short grace, not the idle timeout.
     */
    public static final java.time.Duration REFUSED_GRACE = java.time.Duration.ofSeconds(2);

    private final CrossgateConfig.Limits config;
    private final ConcurrentHashMap<String, Address> addresses = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicInteger> subjects = new ConcurrentHashMap<>();
    /** Where the per-subject quota and the request rates are shared across nodes; null: this node counts alone. */
    private final RedisLimitStore shared;
    private final Metrics metrics;
    /** Whether the last call to the shared store answered (false: the per-node counts decide until one does). */
    private final AtomicBoolean sharing = new AtomicBoolean(true);

    /** Per-node limits only ({@code limits.store: local}). */
    public Limits(CrossgateConfig.Limits config) {
        this(config, null, null, null);
    }

    /**
     * The limits of {@code config}: counted on this node, or, with {@code limits.store: redis}, the per-subject quota
     * and the request rates shared on {@code realtime.redis} (the one place where the store is chosen).
     */
    public Limits(CrossgateConfig config, Metrics metrics) {
        this(config.limits(), config.limits().store() == CrossgateConfig.LimitsStore.REDIS ? config.realtime().redis() : null, null, metrics);
    }

    Limits(CrossgateConfig.Limits config, CrossgateConfig.RealtimeRedis redis, RedisLimitStore.Options options, Metrics metrics) {
        this.config = config;
        this.metrics = metrics;
        this.shared = redis == null ? null : new RedisLimitStore(redis, options != null ? options : RedisLimitStore.Options.defaults(redis));
        if (metrics != null && shared != null) {
            metrics.gauge("crossgate.limits.store.shared", "1 while the limits are shared through Redis, 0 while each node counts alone (Redis unreachable)",
                    () -> sharing.get() ? 1 : 0);
        }
    }

    private Address address(String ip) {
        Address a = addresses.get(ip);
        return a != null ? a : addresses.computeIfAbsent(ip, k -> new Address(config));
    }

    /**
     * Admits a new connection from {@code peer} (counted until {@link #closed}), or says why not. The
     * per-address limits do not apply to a trusted proxy, whose connections carry many clients. The global
     * limit is not checked here: it is a descriptor budget, enforced when the connection is accepted
     * ({@link #connectionCap}), so a connection over it never holds a descriptor.
     */
    public Refusal connect(String peer, boolean trustedProxy, Address[] slot) {
        if (trustedProxy) {
            return null;
        }
        long now = System.nanoTime();
        Address a = address(peer);
        if (a.newConnections != null) {
            long wait = a.newConnections.tryAcquire(now);
            if (wait > 0) {
                return new Refusal("limit.rate", 429, seconds(wait), "too many new connections from this address (limit "
                        + fmt(config.newConnectionsPerSecond()) + "/s)");
            }
        }
        int fromAddress = a.connections.incrementAndGet();
        if (config.connectionsPerAddress() > 0 && fromAddress > config.connectionsPerAddress()) {
            a.connections.decrementAndGet();
            return new Refusal("limit.connections", 429, 1, "too many open connections from this address (limit "
                    + config.connectionsPerAddress() + ")");
        }
        slot[0] = a;
        return null;
    }

    /** A connection admitted by {@link #connect} closed; {@code a} is what connect put in its slot (null for a trusted proxy). */
    public void closed(Address a) {
        if (a != null) {
            a.connections.decrementAndGet();
        }
    }

    private static final CompletableFuture<Refusal> ADMITTED = CompletableFuture.completedFuture(null);

    /**
     * Admits a request on {@code path} from {@code client}, or says why not (the route's rate, per address). Per node
     * the answer is there at once; with the shared store it comes from Redis (within the store's deadline, on a
     * Lettuce or timer thread), or from this node's own bucket when Redis did not answer.
     */
    public CompletableFuture<Refusal> request(String path, String client) {
        CrossgateConfig.RateLimit r = rateFor(path);
        if (r == null) {
            return ADMITTED;
        }
        if (shared == null) {
            return CompletableFuture.completedFuture(localRate(r, client));
        }
        return shared.rate(r.path() + ":" + client, r.requestsPerSecond(), r.burst()).handle((waitMillis, err) -> {
            if (err != null) {
                fellBack("rate", err);
                return localRate(r, client);
            }
            answered();
            return waitMillis == 0 ? null : rateRefusal(r, waitMillis * 1_000_000L);
        });
    }

    private Refusal localRate(CrossgateConfig.RateLimit r, String client) {
        Address a = address(client);
        RateGate g = a.requests.get(r.path());
        if (g == null) {
            g = a.requests.computeIfAbsent(r.path(), k -> new RateGate(r.requestsPerSecond(), r.burst()));
        }
        long wait = g.tryAcquire(System.nanoTime());
        return wait == 0 ? null : rateRefusal(r, wait);
    }

    private Refusal rateRefusal(CrossgateConfig.RateLimit r, long waitNanos) {
        return new Refusal("limit.rate", 429, seconds(waitNanos), "too many requests from this address on "
                + r.path() + " (limit " + fmt(r.requestsPerSecond()) + "/s, bursts of " + r.burst() + ")");
    }

    private CrossgateConfig.RateLimit rateFor(String path) {
        for (CrossgateConfig.RateLimit r : config.rates()) {
            if (PathPrefix.matches(r.path(), path)) {
                return r.requestsPerSecond() > 0 ? r : null;
            }
        }
        return null;
    }

    /** One WebSocket of a subject, counted until {@link #release}d (once; a second release does nothing). */
    public static final class SubjectSlot {
        private final AtomicInteger local;
        private final RedisLimitStore.Lease lease;
        private final AtomicBoolean released = new AtomicBoolean();

        SubjectSlot(AtomicInteger local, RedisLimitStore.Lease lease) {
            this.local = local;
            this.lease = lease;
        }
    }

    private static final CompletableFuture<SubjectSlot> OVER = CompletableFuture.completedFuture(null);

    /**
     * Reserves a WebSocket for an authenticated subject: the slot, or null when the subject is at
     * {@code limits.connectionsPerSubject}. Released with {@link #release}. This node's own count always applies (so
     * a node never admits more than the limit, whatever Redis says); with the shared store, Redis must admit it too
     * (one script over every node's leases). When Redis does not answer within the store's deadline, the node's own
     * count decides alone, the fallback is counted, and the slot is added to Redis when it is back.
     */
    public CompletableFuture<SubjectSlot> reserveSubject(String subject) {
        int limit = config.connectionsPerSubject();
        if (limit <= 0 || subject == null) {
            return OVER;
        }
        AtomicInteger n = subjects.get(subject);
        if (n == null) {
            n = subjects.computeIfAbsent(subject, k -> new AtomicInteger());
        }
        if (n.incrementAndGet() > limit) {
            n.decrementAndGet();
            return OVER;
        }
        if (shared == null) {
            return CompletableFuture.completedFuture(new SubjectSlot(n, null));
        }
        AtomicInteger counted = n;
        RedisLimitStore.Lease lease = shared.newLease(subject);
        return shared.acquire(lease, limit).handle((admitted, err) -> {
            if (err != null) {
                fellBack("subject", err);
                shared.keep(lease);
                return new SubjectSlot(counted, lease);
            }
            answered();
            if (!admitted) {
                counted.decrementAndGet();
                return null;
            }
            return new SubjectSlot(counted, lease);
        });
    }

    public boolean subjectLimited() {
        return config.connectionsPerSubject() > 0;
    }

    /** Whether the per-subject quota and the rates are shared across nodes ({@code limits.store: redis}). */
    public boolean sharedAcrossNodes() {
        return shared != null;
    }

    public Refusal subjectRefusal(String subject) {
        return new Refusal("limit.connections", 429, 1, "too many open WebSockets for this user (limit " + config.connectionsPerSubject()
                + (shared != null ? ", across all nodes" : "") + ")");
    }

    public void release(SubjectSlot slot) {
        if (slot != null && slot.released.compareAndSet(false, true)) {
            slot.local.decrementAndGet();
            if (slot.lease != null && shared != null) {
                shared.release(slot.lease);
            }
        }
    }

    /** A call to the shared store failed: counted, and logged once when the store stops answering. */
    private void fellBack(String check, Throwable err) {
        if (metrics != null) {
            metrics.limitStoreFallback(check);
        }
        if (sharing.compareAndSet(true, false)) {
            // One line, no stack trace, no URL (it may carry a password).
            LOG.warn("limits.store redis is not answering (" + describe(err) + "): each node applies its own"
                    + " limits (connectionsPerSubject and request rates per node) until it answers again");
        }
    }

    private void answered() {
        if (sharing.compareAndSet(false, true)) {
            LOG.info("limits.store redis answers again: connectionsPerSubject and request rates are shared across nodes");
        }
    }

    private static String describe(Throwable e) {
        Throwable t = e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e;
        if (t instanceof java.util.concurrent.TimeoutException) {
            return "no answer in time";
        }
        String m = t.getMessage() == null ? "" : t.getMessage().lines().findFirst().orElse("");
        m = m.replaceAll("://[^@/\\s]*@", "://(not shown)@");
        return t.getClass().getSimpleName() + (m.isEmpty() ? "" : ": " + (m.length() > 160 ? m.substring(0, 160) + "..." : m));
    }

    /** Stops the shared store: this node's leases are given back (a node that dies without it lets them expire). */
    public void close() {
        if (shared != null) {
            shared.close();
        }
    }

    /** Whether the shared store answered the last call (always true per node). */
    boolean sharing() {
        return sharing.get();
    }

    /** Leases this node holds in the shared store (0 per node). */
    int heldLeases() {
        return shared == null ? 0 : shared.heldLeases();
    }

    /** As a crash: stops renewing this node's leases without giving them back (tests). */
    void abandon() {
        if (shared != null) {
            shared.abandon();
        }
    }

    /** Forgets addresses and subjects that hold nothing (called now and then; never on a request). */
    public void sweep() {
        long now = System.nanoTime();
        for (Iterator<Map.Entry<String, Address>> it = addresses.entrySet().iterator(); it.hasNext(); ) {
            Address a = it.next().getValue();
            if (a.connections.get() == 0 && (a.newConnections == null || a.newConnections.idle(now))
                    && a.requests.values().stream().allMatch(g -> g.idle(now))) {
                it.remove();
            }
        }
        subjects.entrySet().removeIf(e -> e.getValue().get() == 0);
    }

    public int trackedAddresses() {
        return addresses.size();
    }

    /**
     * The client connections the edge holds at once: {@code limits.maxConnections} (0: no configured limit),
     * lowered to what the process's descriptors allow. Descriptors are a budget (issue 11): from the limit
     * ({@code maxDescriptors}) the descriptors already open at start ({@code openDescriptors}) and
     * {@link #RESERVED_DESCRIPTORS} are set aside, and client connections get half of the rest, because each
     * may hold one upstream connection at worst (a proxied exchange or a WebSocket tunnel takes one; pooled
     * connections are reused before a new one is opened). Connections over it are closed at accept.
     * {@code maxDescriptors} &lt;= 0 means unknown (not a Unix JVM): only the configured limit applies.
     */
    public static int connectionCap(int maxConnections, long maxDescriptors, long openDescriptors) {
        long cap = maxConnections > 0 ? maxConnections : Integer.MAX_VALUE;
        if (maxDescriptors > 0) {
            long budget = (maxDescriptors - Math.max(0, openDescriptors) - RESERVED_DESCRIPTORS) / 2;
            cap = Math.min(cap, Math.max(1, budget));
        }
        return (int) cap;
    }

    public int maxConnections() {
        return config.maxConnections();
    }

    private static long seconds(long nanos) {
        return Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
