package dev.crossgate.server.realtime;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.crossgate.server.config.CrossgateConfig;
import dev.crossgate.server.observe.Metrics;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Calls the backend's hooks: a JSON POST per call, bounded in time ({@code hooks.timeout}, the whole
 * exchange) and in number ({@code maxConcurrent} in flight, {@code maxQueued} waiting, refused beyond).
 * Every call ends in a {@link Result}: the answer, or why there is none, as a reason code. Never blocks
 * the caller; results complete on the HTTP client's threads.
 */
final class HookClient {
    /** A hook's answer: status and JSON body (an empty object when the body is empty), or the failure's reason code and detail. */
    record Result(int status, JsonNode body, String failure, String detail) {
        boolean answered() {
            return failure == null;
        }
    }

    /** The largest hook answer read; a longer one is a failure (a hook answers with an ack and emits, not with bulk data). */
    static final int MAX_ANSWER = 1 << 20;
    static final ObjectMapper JSON = new ObjectMapper();

    private final CrossgateConfig.Hooks config;
    private final URI upstream;
    private final Metrics metrics;
    private final HttpClient http;
    private final long timeoutNanos;
    private int inFlight;
    private final ArrayDeque<Runnable> waiting = new ArrayDeque<>();

    HookClient(CrossgateConfig.Hooks config, URI upstream, Metrics metrics) {
        this.config = config;
        this.upstream = upstream;
        this.metrics = metrics;
        this.timeoutNanos = config.timeout().toNanos();
        // HTTP/1.1 only: an h2c upgrade attempt confuses some backends' development servers.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(config.timeout())
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** The hook's address: absolute as configured, or a path on the default upstream. */
    URI resolve(URI hook) {
        return hook.isAbsolute() ? hook : upstream.resolve(hook);
    }

    /**
     * POSTs {@code body} to a hook ({@code name}: connect, event or disconnect, for the metrics). The timeout counts
     * from this call, time spent waiting for a slot included.
     */
    CompletableFuture<Result> post(String name, URI hook, JsonNode body) {
        CompletableFuture<Result> out = new CompletableFuture<>();
        long start = System.nanoTime();
        Runnable call = () -> send(name, resolve(hook), body, out, start);
        boolean now;
        synchronized (this) {
            now = inFlight < config.maxConcurrent();
            if (now) {
                inFlight++;
            } else if (waiting.size() < config.maxQueued()) {
                waiting.add(call);
                return out;
            } else {
                metrics.count("crossgate.realtime.hook.calls", "Calls to the backend's hooks, by outcome", "hook", name, "outcome", "realtime.hook_overloaded");
                out.complete(new Result(0, null, "realtime.hook_overloaded",
                        config.maxConcurrent() + " hook calls are in flight and " + config.maxQueued() + " wait (realtime.hooks.maxConcurrent, maxQueued)"));
                return out;
            }
        }
        call.run();
        return out;
    }

    /** Runs one call in the slot it holds; whatever happens, the slot is given back through {@link #finish}. */
    private void send(String name, URI url, JsonNode body, CompletableFuture<Result> out, long start) {
        long left = timeoutNanos - (System.nanoTime() - start);
        if (left <= 0) {
            finish(name, start, out, new Result(0, null, "realtime.hook_timeout", "waited " + config.timeout().toMillis()
                    + " ms for a free slot (realtime.hooks.maxConcurrent) without getting one"));
            return;
        }
        CompletableFuture<HttpResponse<byte[]>> exchange;
        try {
            HttpRequest.Builder rb = HttpRequest.newBuilder(url).timeout(java.time.Duration.ofNanos(left))
                    .header("Content-Type", "application/json").header("Accept", "application/json")
                    .header("User-Agent", "crossgate-realtime");
            if (config.secret() != null) {
                rb.header("X-Crossgate-Hook-Secret", config.secret());
            }
            HttpRequest req = rb.POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build();
            exchange = http.sendAsync(req, info -> limited(MAX_ANSWER));
        } catch (Exception e) {
            finish(name, start, out, new Result(0, null, "realtime.hook_failed", "the call could not be made: " + e.getMessage()));
            return;
        }
        exchange.orTimeout(left, TimeUnit.NANOSECONDS).whenComplete((res, err) -> {
            if (err != null) {
                exchange.cancel(true); // a call past its deadline does not keep running beside the next ones
            }
            finish(name, start, out, err != null ? failure(url, err) : parse(url, res));
        });
    }

    private void finish(String name, long start, CompletableFuture<Result> out, Result r) {
        String outcome = r.failure() != null ? r.failure() : r.status() / 100 == 2 ? "ok" : "status_" + r.status() / 100 + "xx";
        metrics.count("crossgate.realtime.hook.calls", "Calls to the backend's hooks, by outcome", "hook", name, "outcome", outcome);
        metrics.time("crossgate.realtime.hook.latency", "Time from calling a hook to its answer", System.nanoTime() - start, "hook", name);
        Runnable next;
        synchronized (this) {
            next = waiting.poll();
            if (next == null) {
                inFlight--;
            }
        }
        out.complete(r);
        if (next != null) {
            next.run(); // the slot passes to the oldest waiting call
        }
    }

    private Result failure(URI url, Throwable err) {
        Throwable e = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
        if (e instanceof HttpTimeoutException || e instanceof TimeoutException) {
            return new Result(0, null, "realtime.hook_timeout", url + " did not answer within " + config.timeout().toMillis() + " ms");
        }
        if (e instanceof AnswerTooLarge) {
            return new Result(0, null, "realtime.hook_failed", url + " answered with more than " + MAX_ANSWER + " bytes");
        }
        String what = e.getMessage() == null ? e.getClass().getSimpleName() : e.getClass().getSimpleName() + ": " + e.getMessage();
        return new Result(0, null, "realtime.hook_failed", url + " could not be called (" + what + ")");
    }

    private Result parse(URI url, HttpResponse<byte[]> res) {
        byte[] bytes = res.body();
        if (bytes == null || bytes.length == 0) {
            return new Result(res.statusCode(), JSON.createObjectNode(), null, null);
        }
        try {
            JsonNode n = JSON.readTree(bytes);
            return new Result(res.statusCode(), n == null ? JSON.createObjectNode() : n, null, null);
        } catch (Exception e) {
            if (res.statusCode() / 100 != 2) {
                return new Result(res.statusCode(), JSON.createObjectNode(), null, null); // an error page: the status says it
            }
            return new Result(0, null, "realtime.hook_failed", url + " answered " + res.statusCode() + " with a body that is not JSON");
        }
    }

    private static final class AnswerTooLarge extends RuntimeException {
        AnswerTooLarge() {
            super("hook answer too large", null, false, false);
        }
    }

    /** A body read into bytes, refused (and the exchange cancelled) beyond {@code max} bytes. */
    private static HttpResponse.BodySubscriber<byte[]> limited(int max) {
        HttpResponse.BodySubscriber<byte[]> inner = HttpResponse.BodySubscribers.ofByteArray();
        return new HttpResponse.BodySubscriber<>() {
            private long seen;
            private Flow.Subscription subscription;
            private final CompletableFuture<byte[]> result = new CompletableFuture<>();

            @Override
            public CompletionStage<byte[]> getBody() {
                return inner.getBody().applyToEither(result, b -> b);
            }

            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscription = s;
                inner.onSubscribe(s);
            }

            @Override
            public void onNext(List<ByteBuffer> item) {
                for (ByteBuffer b : item) {
                    seen += b.remaining();
                }
                if (seen > max) {
                    subscription.cancel();
                    result.completeExceptionally(new AnswerTooLarge());
                    return;
                }
                inner.onNext(item);
            }

            @Override
            public void onError(Throwable t) {
                inner.onError(t);
            }

            @Override
            public void onComplete() {
                inner.onComplete();
            }
        };
    }
}
