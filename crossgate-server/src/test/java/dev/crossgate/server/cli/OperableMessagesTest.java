package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.crossgate.server.config.ConfigLoader;
import dev.crossgate.server.config.ConfigProblem;
import dev.crossgate.server.config.Setting;
import dev.crossgate.server.config.Units;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The small operator-facing items of issue 13: values shown as given, "did you mean" for variables, unbroken help, completion. */
class OperableMessagesTest {
    @TempDir
    Path dir;

    private ConfigLoader.Result inspect(String yaml, Map<String, String> env) throws Exception {
        Path f = dir.resolve("crossgate.yaml");
        Files.writeString(f, yaml);
        return ConfigLoader.inspect(new ConfigLoader.Options(f, null, env, dir));
    }

    private static String shown(ConfigLoader.Result r, String path) {
        return r.settings().stream().filter(s -> s.path().equals(path)).map(Setting::value).findFirst().orElseThrow();
    }

    @Test
    void anInvalidBooleanIsShownAsGivenAndRefusedNotShownAsTheDefault() throws Exception {
        ConfigLoader.Result r = inspect("cors:\n  allowedOrigins: [\"http://localhost:3000\"]\n  allowCredentials: yes\n", Map.of());
        assertThat(r.valid()).isFalse();
        assertThat(shown(r, "cors.allowCredentials")).isEqualTo("\"yes\" (invalid)");
        assertThat(r.errors()).extracting(ConfigProblem::message).contains("cors.allowCredentials: \"yes\" is not a boolean (expected: true or false)");
    }

    @Test
    void durationsAreShownInTheLargestUnitThatHoldsThemExactly() throws Exception {
        // Table: duration -> display.
        Map<Duration, String> table = Map.of(Duration.ofDays(365), "365d", Duration.ofHours(48), "2d", Duration.ofHours(36), "36h",
                Duration.ofMinutes(90), "90m", Duration.ofSeconds(90), "90s", Duration.ofMillis(1500), "1500ms", Duration.ZERO, "0s",
                Duration.ofMinutes(5), "5m");
        table.forEach((d, text) -> assertThat(Units.format(d)).as(d.toString()).isEqualTo(text));
        ConfigLoader.Result r = inspect("auth:\n  jwt:\n    jwksMinRefresh: 365d\n", Map.of());
        assertThat(shown(r, "auth.jwt.jwksMinRefresh")).isEqualTo("365d");
    }

    @Test
    void anUnknownVariableCloseToASettingsVariableGetsADidYouMean() throws Exception {
        ConfigLoader.Result r = inspect("profile: dev\n", Map.of("CROSSGATE_CORS_MAXAGE", "600", "CROSSGATE_LISTN", "127.0.0.1:0",
                "CROSSGATE_SOMETHING_ELSE_ENTIRELY", "1"));
        assertThat(r.problems()).filteredOn(p -> p.path().equals("CROSSGATE_CORS_MAXAGE")).singleElement()
                .satisfies(p -> assertThat(p.describe()).isEqualTo("warning: CROSSGATE_CORS_MAXAGE (env CROSSGATE_CORS_MAXAGE): environment variable"
                        + " CROSSGATE_CORS_MAXAGE names no setting and is ignored\n    fix: did you mean CROSSGATE_CORS_MAX_AGE?"));
        assertThat(r.problems()).filteredOn(p -> p.path().equals("CROSSGATE_LISTN")).singleElement()
                .satisfies(p -> assertThat(p.describe()).endsWith("fix: did you mean CROSSGATE_LISTEN?"));
        assertThat(r.problems()).filteredOn(p -> p.path().equals("CROSSGATE_SOMETHING_ELSE_ENTIRELY")).singleElement()
                .satisfies(p -> assertThat(p.describe()).endsWith("fix: check the spelling; crossgate check lists the settings, and CROSSGATE_"
                        + " plus the path in upper snake case overrides one"));
    }

    @Test
    void helpTextNeverSplitsAUrlOrAPathAcrossLines() {
        // Every URL or ./path written in a description must appear whole in the rendered help of its command.
        Pattern link = Pattern.compile("(https?://|\\./)[^\\s,;)]+[^\\s,;).]");
        CommandLine root = new CommandLine(new Main(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                try {
                    var c = cls.getDeclaredConstructor(Main.Context.class);
                    c.setAccessible(true);
                    return c.newInstance(new Main.Context(Map.of(), dir));
                } catch (NoSuchMethodException e) {
                    return CommandLine.defaultFactory().create(cls);
                }
            }
        });
        int links = 0;
        for (String name : root.getSubcommands().keySet()) {
            StringWriter out = new StringWriter();
            Main.run(new String[] {name, "--help"}, new PrintWriter(out), new PrintWriter(new StringWriter()), new Main.Context(Map.of(), dir));
            String help = out.toString();
            var spec = root.getSubcommands().get(name).getCommandSpec();
            List<String> texts = new ArrayList<>(List.of(spec.usageMessage().description()));
            spec.options().forEach(o -> texts.addAll(List.of(o.description())));
            for (String t : texts) {
                Matcher m = link.matcher(t);
                while (m.find()) {
                    links++;
                    assertThat(help).as(name + " --help shows " + m.group() + " whole").contains(m.group());
                }
            }
        }
        assertThat(links).as("descriptions with a URL or a path").isGreaterThan(3);
    }

    @Test
    void bashCompletionDefinesItsFunctionForEverySubcommandAndParses() throws Exception {
        StringWriter out = new StringWriter();
        int status = Main.run(new String[] {"completion", "bash"}, new PrintWriter(out), new PrintWriter(new StringWriter()), new Main.Context(Map.of(), dir));
        assertThat(status).isEqualTo(0);
        String script = out.toString();
        assertThat(script).contains("function _complete_crossgate()", "complete -F _complete_crossgate");
        for (String sub : List.of("serve", "demo", "check", "doctor", "conformance", "completion", "help")) {
            assertThat(script).as(sub).contains("_picocli_crossgate_" + sub + "()");
        }
        Path file = dir.resolve("crossgate-completion.bash");
        Files.writeString(file, script);
        Process bash = new ProcessBuilder("bash", "-n", file.toString()).redirectErrorStream(true).start();
        assertThat(bash.waitFor(20, TimeUnit.SECONDS)).isTrue();
        assertThat(bash.exitValue()).as(new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).isEqualTo(0);

        StringWriter zsh = new StringWriter();
        assertThat(Main.run(new String[] {"completion", "zsh"}, new PrintWriter(zsh), new PrintWriter(new StringWriter()), new Main.Context(Map.of(), dir))).isEqualTo(0);
        assertThat(zsh.toString()).startsWith("# crossgate completion for zsh").contains("bashcompinit", "complete -F _complete_crossgate");

        StringWriter err = new StringWriter();
        assertThat(Main.run(new String[] {"completion", "fish"}, new PrintWriter(new StringWriter()), new PrintWriter(err), new Main.Context(Map.of(), dir))).isEqualTo(2);
        assertThat(err.toString()).contains("fish").contains("bash, zsh");
    }
}
