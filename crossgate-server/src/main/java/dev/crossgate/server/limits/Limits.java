package dev.crossgate.server.limits;

import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.config.PathPrefix;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connection and request limits, shared by every event loop without locks: counters are atomics, rates are
 * {@link RateGate}s, and the per-address and per-subject state lives in concurrent maps read without locking
 * (an entry is created once per address, and swept when it holds nothing).
 */
public final class Limits {
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

    public Limits(CrossgateConfig.Limits config) {
        this.config = config;
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

    /** Admits a request on {@code path} from {@code client}, or says why not (the route's rate, per address). */
    public Refusal request(String path, String client) {
        CrossgateConfig.RateLimit r = rateFor(path);
        if (r == null) {
            return null;
        }
        Address a = address(client);
        RateGate g = a.requests.get(r.path());
        if (g == null) {
            g = a.requests.computeIfAbsent(r.path(), k -> new RateGate(r.requestsPerSecond(), r.burst()));
        }
        long wait = g.tryAcquire(System.nanoTime());
        return wait == 0 ? null : new Refusal("limit.rate", 429, seconds(wait), "too many requests from this address on "
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

    /** Reserves a WebSocket for an authenticated subject; null when over the limit. Released with {@link #release}. */
    public AtomicInteger reserveSubject(String subject) {
        if (config.connectionsPerSubject() <= 0 || subject == null) {
            return null;
        }
        AtomicInteger n = subjects.get(subject);
        if (n == null) {
            n = subjects.computeIfAbsent(subject, k -> new AtomicInteger());
        }
        if (n.incrementAndGet() > config.connectionsPerSubject()) {
            n.decrementAndGet();
            return null;
        }
        return n;
    }

    public boolean subjectLimited() {
        return config.connectionsPerSubject() > 0;
    }

    public Refusal subjectRefusal(String subject) {
        return new Refusal("limit.connections", 429, 1, "too many open WebSockets for this user (limit " + config.connectionsPerSubject() + ")");
    }

    public void release(AtomicInteger subjectSlot) {
        subjectSlot.decrementAndGet();
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
