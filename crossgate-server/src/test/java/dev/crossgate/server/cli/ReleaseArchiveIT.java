package dev.crossgate.server.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.crossgate.realtime.testing.LeakCheck;
import dev.crossgate.server.testing.RawHttp;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The release archive as a user gets it (issue 13, Must show): target/crossgate-VERSION.tar.gz, made by this module's
 * package phase, unpacked with tar into an empty directory and run through its own bin/crossgate with nothing but a
 * JAVA_HOME: version, check and serve with the packaged configuration, and its systemd unit verified.
 *
 * <p>Runs in the package phase, after the archive is made (the release-archive-test execution in crossgate-server/pom.xml):
 * {@code mvn -o -pl crossgate-server -am package -Dtest=ReleaseArchiveIT -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@ExtendWith(LeakCheck.class)
class ReleaseArchiveIT {
    private static final Duration DEADLINE = Duration.ofSeconds(60);

    @TempDir
    static Path unpacked;

    static Path home;
    static String version;

    @BeforeAll
    static void unpackTheArchiveIntoAnEmptyDirectory() throws Exception {
        Path archive = archive();
        version = System.getProperty("crossgate.version");
        assertThat(unpacked).isEmptyDirectory();
        Process tar = new ProcessBuilder("tar", "-xzf", archive.toString(), "-C", unpacked.toString()).redirectErrorStream(true).start();
        String out = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(tar.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(tar.exitValue()).as(out).isZero();
        try (Stream<Path> top = Files.list(unpacked)) {
            List<Path> entries = top.toList();
            assertThat(entries).as("one top directory, crossgate-VERSION").hasSize(1);
            home = entries.get(0);
        }
        if (version == null) {
            version = home.getFileName().toString().substring("crossgate-".length());
        }
        assertThat(home.getFileName().toString()).isEqualTo("crossgate-" + version);
    }

    /**
     * The archive the build made, whose path the release-archive-test execution passes. In the test phase (a -Dtest
     * naming this class runs it there too) the archive is not made yet: skipped there, with the command that runs it.
     */
    private static Path archive() {
        String given = System.getProperty("crossgate.releaseArchive");
        Assumptions.assumeTrue(given != null, "ReleaseArchiveIT runs in the package phase, after the archive is made: "
                + "mvn -pl crossgate-server -am package -Dtest=ReleaseArchiveIT -Dsurefire.failIfNoSpecifiedTests=false");
        assertThat(Path.of(given)).as("the release archive the package phase made").isRegularFile();
        return Path.of(given);
    }

    @Test
    void theArchiveHoldsTheLauncherTheJarTheConfigurationTheUnitTheLicenceAndTheDocs() throws IOException {
        assertThat(Files.getPosixFilePermissions(home.resolve("bin/crossgate"))).contains(PosixFilePermission.OWNER_EXECUTE,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_EXECUTE);
        assertThat(Files.readString(home.resolve("bin/crossgate"))).startsWith("#!/bin/sh\n");
        assertThat(home.resolve("lib/crossgate.jar")).isRegularFile();
        assertThat(home.resolve("conf/crossgate.yaml")).isRegularFile();
        // conf/jvm.options is the repository's, the options ./crossgate applies.
        assertThat(home.resolve("conf/jvm.options")).hasSameTextualContentAs(Path.of("..", "jvm.options"));
        assertThat(home.resolve("lib/systemd/crossgate.service")).isRegularFile();
        assertThat(Files.readString(home.resolve("LICENSE"))).contains("Apache License", "Version 2.0, January 2004");
        assertThat(Files.readString(home.resolve("README.md"))).contains("## Installing from the release archive");
    }

    @Test
    void versionPrintsTheVersionTheCommitAndTheBuildDate() throws Exception {
        Run r = run("version");
        assertThat(r.status).as(r.err).isZero();
        List<String> lines = r.out.lines().toList();
        assertThat(lines).hasSize(3);
        assertThat(lines.get(0)).isEqualTo("crossgate " + version);
        String expectedCommit = gitCommit();
        assertThat(lines.get(1)).isEqualTo("commit " + expectedCommit);
        assertThat(lines.get(2)).startsWith("built ");
        Instant built = Instant.parse(lines.get(2).substring("built ".length()));
        assertThat(built).isBefore(Instant.now().plusSeconds(60)).isAfter(Instant.now().minus(Duration.ofDays(1)));
        // --version prints the same lines (picocli's version provider).
        Run v = run("--version");
        assertThat(v.status).isZero();
        assertThat(v.out).isEqualTo(r.out);
    }

    /** The commit the build recorded: HEAD of this checkout, or "unknown" when this is no Git checkout (or git is missing). */
    private static String gitCommit() throws InterruptedException {
        try {
            Process git = new ProcessBuilder("git", "rev-parse", "--short", "HEAD").redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(git.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            assertThat(git.waitFor(30, TimeUnit.SECONDS)).isTrue();
            return git.exitValue() == 0 && !out.isEmpty() ? out : "unknown";
        } catch (IOException noGit) {
            return "unknown";
        }
    }

    @Test
    void thePackagedConfigurationPassesCheckWithoutAProblem() throws Exception {
        Run r = run("check", "--config", "conf/crossgate.yaml");
        assertThat(r.status).as(r.out + r.err).isZero();
        assertThat(r.out).contains("profile", "prod", "No problems.");
    }

    @Test
    void serveRunsThePackagedConfigurationAnswersReadyzAndExitsZeroOnSigterm() throws Exception {
        ProcessBuilder pb = launcher("serve", "--config", "conf/crossgate.yaml");
        // The packaged listen addresses (0.0.0.0:8080, 127.0.0.1:9090) through the environment, as a deployment overrides them.
        pb.environment().put("CROSSGATE_LISTEN", "127.0.0.1:0");
        pb.environment().put("CROSSGATE_ADMIN_LISTEN", "127.0.0.1:0");
        pb.redirectOutput(unpacked.resolve("serve.stdout").toFile());
        Process p = pb.start();
        try {
            List<String> err = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        err.add(line);
                    }
                } catch (IOException ended) {
                    // the process ended
                }
            }, "serve-stderr");
            reader.setDaemon(true);
            reader.start();
            Pattern listening = Pattern.compile("profile prod, listening on http://127\\.0\\.0\\.1:(\\d+), .*admin on http://127\\.0\\.0\\.1:(\\d+)");
            Matcher m = await("the listening line").atMost(DEADLINE).until(() -> err.stream().map(listening::matcher).filter(Matcher::find)
                    .findFirst().orElse(null), java.util.Objects::nonNull);
            int port = Integer.parseInt(m.group(1));
            int admin = Integer.parseInt(m.group(2));

            // The launcher execs the JVM (so that SIGTERM reaches it) with conf/jvm.options applied.
            List<String> args = p.info().arguments().map(List::of).orElse(List.of());
            assertThat(args).contains("-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError", "-jar", home.resolve("lib/crossgate.jar").toString());

            try (RawHttp c = new RawHttp(admin)) {
                RawHttp.Response ready = c.send(RawHttp.get("/readyz", "127.0.0.1")).read();
                assertThat(ready.status()).isEqualTo(200);
                assertThat(ready.body()).contains("\"status\":\"ready\"");
                RawHttp.Response metrics = c.send(RawHttp.get("/metrics", "127.0.0.1")).read();
                assertThat(metrics.body()).containsPattern("crossgate_build_info\\{commit=\"" + Pattern.quote(gitCommit()) + "\",version=\""
                        + Pattern.quote(version) + "\",?} 1(\\.0)?\n");
            }
            // The packaged policy is in force: a Host it does not list is refused.
            try (RawHttp c = new RawHttp(port)) {
                RawHttp.Response r = c.send(RawHttp.get("/", "evil.example")).read();
                assertThat(r.status()).isEqualTo(421);
                assertThat(r.header("x-crossgate-reason")).isEqualTo("host.not_allowed");
            }

            // SIGTERM, as systemd's KillSignal: through the handle, since Process.destroy() also closes our end of its stderr.
            assertThat(p.toHandle().destroy()).isTrue();
            assertThat(p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(String.join("\n", err)).isZero();
            reader.join(DEADLINE.toMillis()); // the process ended: its stderr ends too
            assertThat(err.stream().map(dev.crossgate.server.testing.LogLines::message)).as(String.join("\n", err)).contains("draining (up to 30s)", "stopped");
        } finally {
            p.destroyForcibly();
        }
    }

    @Test
    void theSystemdUnitStopsWithSigtermAndWaitsLongerThanTheDrain() throws Exception {
        String unit = Files.readString(home.resolve("lib/systemd/crossgate.service"));
        assertThat(unit).contains("\nKillSignal=SIGTERM\n", "\nExecStart=/opt/crossgate/bin/crossgate serve --config /etc/crossgate/crossgate.yaml");
        Matcher drain = Pattern.compile("--drain-timeout (\\d+)s").matcher(unit);
        Matcher stop = Pattern.compile("\nTimeoutStopSec=(\\d+)s\n").matcher(unit);
        assertThat(drain.find() && stop.find()).as(unit).isTrue();
        assertThat(Integer.parseInt(stop.group(1))).isGreaterThan(Integer.parseInt(drain.group(1)));

        Path analyze = onPath("systemd-analyze");
        Assumptions.assumeTrue(analyze != null, "systemd-analyze is not installed: the unit's syntax was not verified");
        // The unit installed where it says (the archive at /opt/crossgate, the configuration at /etc/crossgate): here
        // the unpacked archive stands for both, since verify checks that ExecStart's command exists.
        Path installed = unpacked.resolve("crossgate.service");
        Files.writeString(installed, unit.replace("/opt/crossgate", home.toString())
                .replace("/etc/crossgate/crossgate.yaml", home.resolve("conf/crossgate.yaml").toString()));
        Process v = new ProcessBuilder(analyze.toString(), "verify", installed.toString()).redirectErrorStream(true).start();
        String out = new String(v.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(v.waitFor(60, TimeUnit.SECONDS)).isTrue();
        // verify exits 0 even for a setting it ignores ("Failed to parse ..., ignoring"): every line about the unit is a failure.
        assertThat(v.exitValue()).as(out).isZero();
        assertThat(out.lines().filter(l -> l.contains("crossgate.service"))).as(out).isEmpty();
    }

    private static Path onPath(String command) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, command);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private record Run(int status, String out, String err) {}

    private static Run run(String... args) throws Exception {
        Process p = launcher(args).start();
        // Small outputs: read one stream after the other (check's few kilobytes fit in the pipe's buffer).
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out, err);
    }

    /** bin/crossgate from the unpacked directory, with only a JAVA_HOME: none of this JVM's or the developer's Crossgate settings. */
    private static ProcessBuilder launcher(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(home.resolve("bin/crossgate").toString());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(home.toFile());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("CROSSGATE_") || k.startsWith("CORS_") || k.equals("ALLOWED_HOSTS"));
        env.put("JAVA_HOME", System.getProperty("java.home"));
        return pb;
    }
}
