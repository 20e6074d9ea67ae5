package dev.crossgate.server.cli;

import dev.crossgate.server.observe.BuildInfo;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code crossgate version}: the version, the Git commit and the build date (the same lines as {@code --version}). */
@Command(name = "version", mixinStandardHelpOptions = true,
        description = "Print the version, the Git commit and the build date of this Crossgate.",
        exitCodeListHeading = "%nExit status:%n",
        exitCodeList = {"0:always"})
final class VersionCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        for (String line : lines(BuildInfo.current())) {
            spec.commandLine().getOut().println(line);
        }
        spec.commandLine().getOut().flush();
        return 0;
    }

    /** {@code crossgate 0.1.0}, {@code commit 3bc3703}, {@code built 2026-12-05T20:17:14Z}: one fact a line, for people and scripts. */
    static String[] lines(BuildInfo b) {
        return new String[] {"crossgate " + b.version(), "commit " + b.commit(), "built " + b.date()};
    }
}
