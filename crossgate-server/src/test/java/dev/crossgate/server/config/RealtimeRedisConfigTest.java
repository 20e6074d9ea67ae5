package dev.crossgate.server.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code realtime.redis} and {@code limits.store}: values, defaults, the environment variable, validation, and the URL never shown. */
class RealtimeRedisConfigTest {
    @TempDir
    Path dir;

    private ConfigLoader.Result load(String yaml, Map<String, String> env) throws IOException {
        Path file = dir.resolve("crossgate.yaml");
        Files.writeString(file, "profile: dev\n" + yaml);
        return ConfigLoader.inspect(new ConfigLoader.Options(file, null, env, dir));
    }

    private ConfigLoader.Result load(String yaml) throws IOException {
        return load(yaml, Map.of());
    }

    private static String everythingPrinted(ConfigLoader.Result r) {
        StringBuilder b = new StringBuilder();
        r.settings().forEach(s -> b.append(s).append('\n'));
        r.problems().forEach(p -> b.append(p.describe()).append('\n').append(p.value()).append('\n'));
        if (r.config() != null) {
            b.append(r.config());
        }
        return b.toString();
    }

    @Test
    void aRedisSectionIsReadIntoTheRealtimeConfigWithItsPasswordNeverShown() throws IOException {
        ConfigLoader.Result r = load("""
                realtime:
                  enabled: false
                  redis:
                    url: rediss://app:hunter2-secret@redis.internal:6380/2
                    sharded: true
                    key: myapp
                    requestTimeout: 2s
                limits:
                  connectionsPerSubject: 3
                  store: redis
                """);
        assertThat(r.problems()).isEmpty();
        CrossgateConfig.RealtimeRedis redis = r.config().realtime().redis();
        assertThat(redis).isEqualTo(new CrossgateConfig.RealtimeRedis("rediss://app:hunter2-secret@redis.internal:6380/2", false, true, "myapp",
                Duration.ofSeconds(2)));
        assertThat(r.config().limits().store()).isEqualTo(CrossgateConfig.LimitsStore.REDIS);
        assertThat(r.settings()).filteredOn(s -> s.path().equals("realtime.redis.url")).singleElement()
                .satisfies(s -> assertThat(s.value()).isEqualTo("rediss://(not shown)@redis.internal:6380/2"));
        assertThat(everythingPrinted(r)).doesNotContain("hunter2");
    }

    @Test
    void withoutAUrlNothingIsSharedAndTheStoreIsLocal() throws IOException {
        ConfigLoader.Result r = load("listen: 127.0.0.1:0\n");
        assertThat(r.problems()).isEmpty();
        assertThat(r.config().realtime().redis()).isNull();
        assertThat(r.config().limits().store()).isEqualTo(CrossgateConfig.LimitsStore.LOCAL);
        assertThat(r.settings()).filteredOn(s -> s.path().equals("realtime.redis.url")).singleElement()
                .satisfies(s -> assertThat(s.value()).isEqualTo("(none: this node shares nothing through Redis)"));
        assertThat(r.settings()).filteredOn(s -> s.path().equals("realtime.redis.key")).singleElement()
                .satisfies(s -> assertThat(s.value()).isEqualTo("socket.io"));
    }

    @Test
    void theUrlComesFromCrossgateRealtimeRedisUrlAndIsRecordedRedacted() throws IOException {
        ConfigLoader.Result r = load("limits:\n  store: redis\n", Map.of("CROSSGATE_REALTIME_REDIS_URL", "redis://:env-s3cret@10.0.0.5:6379"));
        assertThat(r.problems()).isEmpty();
        assertThat(r.config().realtime().redis().url()).isEqualTo("redis://:env-s3cret@10.0.0.5:6379");
        assertThat(r.config().realtime().enabled()).as("the variable alone does not turn hosted mode on").isFalse();
        assertThat(r.settings()).filteredOn(s -> s.path().equals("realtime.redis.url")).singleElement().satisfies(s -> {
            assertThat(s.value()).isEqualTo("redis://(not shown)@10.0.0.5:6379");
            assertThat(s.source().kind()).isEqualTo(Source.Kind.ENV);
        });
        assertThat(everythingPrinted(r)).doesNotContain("env-s3cret");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "redis://127.0.0.1:6379|false",
            "redis://:pw@127.0.0.1|false",
            "rediss://user:pw@redis.example.com:6380/1|false",
            "redis-sentinel://:pw@s1:26379,s2:26379/0#mymaster|false",
            "redis://h1:7000,h2:7001,h3:7002|true",
            "rediss://h1:7000|true"})
    void lettuceUrlsAreAccepted(String url, boolean cluster) throws IOException {
        ConfigLoader.Result r = load("realtime:\n  enabled: false\n  redis:\n    url: \"" + url + "\"\n    cluster: " + cluster + "\n");
        assertThat(r.problems()).isEmpty();
        assertThat(r.config().realtime().redis().url()).isEqualTo(url);
        assertThat(r.config().realtime().redis().cluster()).isEqualTo(cluster);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "http://:hunter2@127.0.0.1:6379|false|realtime.redis.url: \"http://(not shown)@127.0.0.1:6379\" is not a Redis address (expected: a URL starting with redis://, rediss:// or redis-sentinel://)",
            "127.0.0.1:6379|false|realtime.redis.url: \"127.0.0.1:6379\" is not a Redis address (expected: a URL starting with redis://, rediss:// or redis-sentinel://)",
            "redis://:hunter2@|false|realtime.redis.url: \"redis://(not shown)@\" could not be parsed (IllegalArgumentException)",
            "redis-sentinel://s1:26379|false|realtime.redis.url: \"redis-sentinel://s1:26379\" could not be parsed (IllegalArgumentException)",
            "redis://h1:7000,h2:7001|false|realtime.redis.url: \"redis://h1:7000,h2:7001\" names several hosts (expected: one host, or cluster: true for Cluster seed nodes)",
            "redis-sentinel://s1:26379#m|true|realtime.redis.url: \"redis-sentinel://s1:26379#m\" is a Sentinel address, but cluster is true (expected: redis:// or rediss:// seed nodes with cluster)",
            "redis://:hunter2@exa mple:6379|false|realtime.redis.url: \"redis://(not shown)@exa mple:6379\" could not be parsed (IllegalArgumentException)"})
    void aUrlLettuceCannotUseIsAProblemWithTheFixAndWithoutThePassword(String url, boolean cluster, String message) throws IOException {
        ConfigLoader.Result r = load("realtime:\n  enabled: false\n  redis:\n    url: \"" + url + "\"\n    cluster: " + cluster + "\n");
        assertThat(r.valid()).isFalse();
        assertThat(r.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("realtime.redis.url");
            assertThat(p.message()).isEqualTo(message);
            assertThat(p.fix()).startsWith("write redis://host:6379");
            assertThat(p.source().line()).isEqualTo(5);
        });
        assertThat(everythingPrinted(r)).doesNotContain("hunter2");
    }

    @Test
    void aRedisStoreNeedsARedisUrlAndAStoreIsLocalOrRedis() throws IOException {
        ConfigLoader.Result noUrl = load("limits:\n  store: redis\n");
        assertThat(noUrl.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("limits.store");
            assertThat(p.message()).isEqualTo("limits.store is redis but realtime.redis.url is not set: there is no Redis to share the limits through");
            assertThat(p.fix()).contains("realtime.redis.url").contains("CROSSGATE_REALTIME_REDIS_URL").contains("limits.store: local");
        });
        ConfigLoader.Result bogus = load("limits:\n  store: memcached\n");
        assertThat(bogus.errors()).singleElement().satisfies(p -> {
            assertThat(p.path()).isEqualTo("limits.store");
            assertThat(p.message()).isEqualTo("limits.store: \"memcached\" (expected: local or redis)");
        });
        // A bad URL is reported once, on the URL, not again on the store.
        ConfigLoader.Result badUrl = load("limits:\n  store: redis\nrealtime:\n  enabled: false\n  redis:\n    url: ftp://x\n");
        assertThat(badUrl.errors()).extracting(ConfigProblem::path).containsExactly("realtime.redis.url");
    }

    @Test
    void aBadKeyOrTimeoutIsAProblem() throws IOException {
        ConfigLoader.Result r = load("realtime:\n  enabled: false\n  redis:\n    url: redis://127.0.0.1\n    key: \"two words\"\n    requestTimeout: 0s\n");
        assertThat(r.errors()).extracting(ConfigProblem::path).containsExactlyInAnyOrder("realtime.redis.key", "realtime.redis.requestTimeout");
    }
}
