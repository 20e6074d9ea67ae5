package dev.crossgate.server.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Issue 13: docs/configuration.md covers every setting and cannot drift. reference.yaml names exactly the keys the loader
 * reads (the same set as ConfigFuzzTest's base document, which its own test checks against the loader), each with a
 * description; the committed page is what ConfigReference generates now.
 */
class ConfigReferenceTest {
    static final Path PAGE = Path.of("..", "docs", "configuration.md").toAbsolutePath().normalize();

    @Test
    void theReferenceNamesEveryKeyTheLoaderReadsEachWithADescription() {
        List<ConfigReference.Key> keys = ConfigReference.keys();
        assertThat(new TreeSet<>(keys.stream().map(ConfigReference.Key::path).toList()))
                .as("reference.yaml's keys against the loader's (ConfigFuzzTest.base() sets every key the loader reads)")
                .isEqualTo(new TreeSet<>(ConfigFuzzTest.leaves()));
        assertThat(keys).allSatisfy(k -> assertThat(k.description()).as(k.path() + " has a description in reference.yaml").isNotBlank());
    }

    @Test
    void docsConfigurationMdIsUpToDate() throws Exception {
        String now = ConfigReference.markdown();
        if (Boolean.getBoolean("crossgate.regenerate")) {
            Files.writeString(PAGE, now, StandardCharsets.UTF_8);
        }
        assertThat(Files.exists(PAGE)).as(PAGE + " exists").isTrue();
        assertThat(Files.readString(PAGE)).as("docs/configuration.md is stale: run mvn -q -pl crossgate-server -am process-classes "
                + "-Dcrossgate.reference.out=$PWD/docs/configuration.md").isEqualTo(now);
        // The build's own copy (the config-reference execution, shipped in the release archive) is the same page.
        Path built = Path.of("target", "configuration.md");
        if (Files.exists(built)) {
            assertThat(Files.readString(built)).as(built + ", written by the build").isEqualTo(now);
        }
        assertThat(now).contains("| `cors.allowedOrigins` | list |", "`CROSSGATE_REALTIME_REDIS_URL`", "| `listen` | string | `");
    }
}
