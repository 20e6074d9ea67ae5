package dev.crossgate.server.observe;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Prometheus metrics of the edge. Every refusal is counted under its reason code, the same code as in
 * the response and the access log. Meters are looked up once per distinct label set and cached.
 */
public final class Metrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final ConcurrentHashMap<String, Timer> durations = new ConcurrentHashMap<>();
    /** The last minutes, per second, for the status page. */
    private final Activity activity = new Activity();
    /** Listens to the JVM's GC notifications: closed with the server. */
    private final io.micrometer.core.instrument.binder.jvm.JvmGcMetrics gc = new io.micrometer.core.instrument.binder.jvm.JvmGcMetrics();
    private final ConcurrentHashMap<RequestKey, Counter> requests = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> corsRefusals = new ConcurrentHashMap<>();
    private final Counter preflightsAllowed;
    private final Counter preflightsRefused;
    private final Timer upstreamLatency;
    private final AtomicInteger openConnections = new AtomicInteger();
    private final AtomicInteger openWebSockets = new AtomicInteger();
    private final ConcurrentHashMap<String, Counter> webSocketCloses = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Counter> limitRefusals = new ConcurrentHashMap<>();
    private final Counter framesToUpstream;
    private final Counter framesToClient;

    private record RequestKey(String route, int status, String reason) {}

    /** The request counters without a reason code, by route, then status - 100. */
    private final ConcurrentHashMap<String, Counter[]> plain = new ConcurrentHashMap<>();

    private record CounterKey(String name, List<String> tags) {}

    private final ConcurrentHashMap<CounterKey, Counter> counters = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<CounterKey, Timer> timers = new ConcurrentHashMap<>();

    public Metrics() {
        preflightsAllowed = Counter.builder("crossgate.preflights").tag("result", "allowed")
                .description("CORS preflights answered at the edge").register(registry);
        preflightsRefused = Counter.builder("crossgate.preflights").tag("result", "refused")
                .description("CORS preflights answered at the edge").register(registry);
        upstreamLatency = Timer.builder("crossgate.upstream.latency").description("Time from sending a request upstream to its response head")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry);
        Gauge.builder("crossgate.connections.open", openConnections, AtomicInteger::get).description("Open client connections").register(registry);
        Gauge.builder("crossgate.websockets.open", openWebSockets, AtomicInteger::get).description("Open WebSocket tunnels").register(registry);
        framesToUpstream = Counter.builder("crossgate.websocket.frames").tag("direction", "to_upstream")
                .description("WebSocket frames relayed").register(registry);
        framesToClient = Counter.builder("crossgate.websocket.frames").tag("direction", "to_client")
                .description("WebSocket frames relayed").register(registry);
        // The JVM and the process (issue 13): memory and GC, threads, classes, CPU, uptime, open descriptors.
        new io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.system.ProcessorMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.system.UptimeMetrics().bindTo(registry);
        new io.micrometer.core.instrument.binder.system.FileDescriptorMetrics().bindTo(registry);
        // The Prometheus info-metric convention (a gauge of 1 whose labels carry the facts, as go_build_info and
        // node_exporter's *_info): crossgate_build_info{version,commit} 1.
        BuildInfo build = BuildInfo.current();
        Gauge.builder("crossgate.build.info", () -> 1).description("This build of Crossgate: its version and Git commit")
                .tag("version", build.version()).tag("commit", build.commit()).register(registry);
    }

    /**
     * Records a finished exchange's duration, from its first byte read to its last written, in
     * {@code crossgate_request_duration_seconds{route}} (a histogram: buckets for quantiles across nodes).
     */
    public void requestDuration(String route, long nanos) {
        Timer t = durations.get(route);
        if (t == null) {
            t = durations.computeIfAbsent(route, r -> Timer.builder("crossgate.request.duration").description("Exchanges' durations by route")
                    .tag("route", r).publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000))
                    .maximumExpectedValue(Duration.ofSeconds(60)).register(registry));
        }
        t.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** A timer's mean and max in milliseconds and its count, by name and tags (null when it has not been used). */
    public Map<String, Object> timerSummary(String name, String... tags) {
        Timer t = registry.find(name).tags(tags).timer();
        if (t == null) {
            return null;
        }
        Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("count", t.count());
        m.put("meanMs", Math.round(t.mean(TimeUnit.MILLISECONDS) * 10) / 10.0);
        m.put("maxMs", Math.round(t.max(TimeUnit.MILLISECONDS) * 10) / 10.0);
        return m;
    }

    /** The value of a gauge by name (NaN when absent). */
    public double gaugeValue(String name) {
        Gauge g = registry.find(name).gauge();
        return g == null ? Double.NaN : g.value();
    }

    public Activity activity() {
        return activity;
    }

    @Override
    public void close() {
        gc.close();
    }

    /** Counts one finished exchange. {@code reason} is null for a normal answer. */
    public void request(String route, int status, String reason) {
        if (reason == null && status >= 100 && status < 600) {
            // The common case (no reason code: proxied and answered): found by route and status without a key object.
            Counter[] byStatus = plain.get(route);
            if (byStatus == null) {
                byStatus = plain.computeIfAbsent(route, r -> new Counter[500]);
            }
            Counter c = byStatus[status - 100];
            if (c == null) {
                c = requests.computeIfAbsent(new RequestKey(route, status, ""), k -> Counter.builder("crossgate.requests")
                        .description("Exchanges by route, status and reason code").tag("route", k.route()).tag("status", Integer.toString(k.status()))
                        .tag("reason", k.reason()).register(registry));
                byStatus[status - 100] = c; // a benign race: every thread finds the same registered counter
            }
            c.increment();
            return;
        }
        requests.computeIfAbsent(new RequestKey(route, status, reason == null ? "" : reason),
                k -> Counter.builder("crossgate.requests").description("Exchanges by route, status and reason code")
                        .tag("route", k.route()).tag("status", Integer.toString(k.status())).tag("reason", k.reason()).register(registry))
                .increment();
    }

    public void corsRefusal(String reason) {
        corsRefusals.computeIfAbsent(reason, r -> Counter.builder("crossgate.cors.refusals").description("CORS refusals by reason code")
                .tag("reason", r).register(registry)).increment();
    }

    public void preflight(boolean allowed) {
        (allowed ? preflightsAllowed : preflightsRefused).increment();
    }

    public void upstreamLatency(long nanos) {
        upstreamLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Counts a refusal by a limit (limit.connections, limit.rate). */
    public void limitRefusal(String reason) {
        limitRefusals.computeIfAbsent(reason, r -> Counter.builder("crossgate.limit.refusals").description("Requests and connections refused by a limit")
                .tag("reason", r).register(registry)).increment();
    }

    public AtomicInteger openWebSockets() {
        return openWebSockets;
    }

    /** Counts a relayed WebSocket frame. */
    public void webSocketFrame(boolean toUpstream) {
        (toUpstream ? framesToUpstream : framesToClient).increment();
    }

    /** Counts a closed WebSocket tunnel by why it ended (client_close, upstream_close, ws.idle_timeout, ...). */
    public void webSocketClosed(String why) {
        webSocketCloses.computeIfAbsent(why, r -> Counter.builder("crossgate.websocket.closes")
                .description("WebSocket tunnels closed, by why").tag("why", r).register(registry)).increment();
    }

    /** A check of the shared limits store ({@code limits.store: redis}) that Redis did not answer: the node's own count decided. */
    public void limitStoreFallback(String check) {
        count("crossgate.limits.store.fallbacks", "Limit checks decided per node because the shared store (Redis) did not answer", "check", check);
    }

    public AtomicInteger openConnections() {
        return openConnections;
    }

    /** Counts one event of a counter with tags given as name, value pairs (created on first use, then cached). */
    public void count(String name, String description, String... tags) {
        counters.computeIfAbsent(new CounterKey(name, List.of(tags)),
                k -> Counter.builder(name).description(description).tags(tags).register(registry)).increment();
    }

    /** Records a duration on a timer with tags given as name, value pairs. */
    public void time(String name, String description, long nanos, String... tags) {
        timers.computeIfAbsent(new CounterKey(name, List.of(tags)), k -> Timer.builder(name).description(description).tags(tags)
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(60))
                .register(registry)).record(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Counts a connection closed at accept, before it was given a pipeline:
     * {@code crossgate_connections_refused_total{listener, reason}} ({@code limit.connections}: the listener's
     * connection cap, which includes the descriptor budget).
     */
    public void connectionRefused(String listener, String reason) {
        count("crossgate.connections.refused", "Connections closed at accept, by listener and reason code", "listener", listener, "reason", reason);
    }

    /** Counts a failed {@code accept(2)} (EMFILE, ENFILE, ...): {@code crossgate_accept_errors_total{listener}}. */
    public void acceptError(String listener) {
        count("crossgate.accept.errors", "Failed accepts (out of descriptors, for example); accepting pauses, then resumes", "listener", listener);
    }

    /**
     * Registers a counter whose running total is read from {@code source} ({@code <name>_total} in Prometheus). Micrometer
     * holds {@code source} weakly: it must be an object its owner keeps (not a lambda made for the call).
     */
    public <T> void functionCounter(String name, String description, T source, java.util.function.ToDoubleFunction<T> total) {
        io.micrometer.core.instrument.FunctionCounter.builder(name, source, total).description(description).register(registry);
    }

    /** Registers a gauge read from {@code value}, with tags given as name, value pairs. */
    public void gauge(String name, String description, Supplier<Number> value, String... tags) {
        Gauge.builder(name, value).description(description).tags(tags).register(registry);
    }

    /** Registers a gauge read from {@code value} (pool sizes, for example). */
    public void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    /**
     * Registers the health meters of one upstream of a route, labelled {@code upstream} (host:port) and
     * {@code route} (the route's path, {@code *} for the default upstream):
     * {@code crossgate_upstream_ejections_total}, passive ejections only (an active health check that
     * fails is not an ejection; it shows in the gauge), registered now so that it reads 0 until the
     * first; and {@code crossgate_upstream_healthy}, 1 while the upstream is in rotation (its health
     * check passes and it is not ejected), else 0.
     */
    public void upstream(String upstream, String route, java.util.function.BooleanSupplier inRotation) {
        upstreamEjections(upstream, route);
        // A strong reference: the supplier is often a method reference that nothing else holds.
        Gauge.builder("crossgate.upstream.healthy", inRotation, s -> s.getAsBoolean() ? 1 : 0).strongReference(true)
                .description("1 while the upstream is in rotation (health check passing, not ejected), else 0")
                .tag("upstream", upstream).tag("route", route).register(registry);
    }

    /** Counts one passive ejection of an upstream of a route. */
    public void upstreamEjected(String upstream, String route) {
        upstreamEjections(upstream, route).increment();
    }

    private Counter upstreamEjections(String upstream, String route) {
        // Registering again returns the registered counter (ejections are rare: no cache needed).
        return Counter.builder("crossgate.upstream.ejections")
                .description("Upstreams taken out of rotation by passive health (consecutive connect failures, resets, response timeouts)")
                .tag("upstream", upstream).tag("route", route).register(registry);
    }

    /** The Prometheus text exposition. */
    public String scrape() {
        return registry.scrape();
    }
}
