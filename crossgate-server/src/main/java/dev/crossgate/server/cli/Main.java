package dev.crossgate.server.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code crossgate} command: one program, several subcommands. */
@Command(name = "crossgate",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Crossgate: the edge between browsers, mobile apps and your backend.%n"
                + "One validated cross-origin policy for every response and WebSocket handshake.",
        subcommands = {ServeCommand.class, DemoCommand.class, CheckCommand.class, DoctorCommand.class, ConformanceCommand.class, VersionCommand.class,
                ReloadCommand.class, CompletionCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    /** What a command runs with: its environment and working directory (tests pass their own). */
    public record Context(Map<String, String> env, Path workingDirectory) {}

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, true);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(run(args, out, err, new Context(System.getenv(), Path.of(""))));
    }

    /** Runs the command line and returns its exit status. */
    public static int run(String[] args, PrintWriter out, PrintWriter err, Context context) {
        CommandLine cl = new CommandLine(new Main(), new Factory(context));
        cl.setOut(out);
        cl.setErr(err);
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setUsageHelpWidth(120); // wide enough that no URL or path in a description is split across lines (issue 13)
        // Usage errors exit with 2, the same status as an invalid configuration: the command could not run.
        cl.setExitCodeExceptionMapper(e -> 2);
        cl.setParameterExceptionHandler((ex, a) -> {
            ex.getCommandLine().getErr().println("crossgate: " + ex.getMessage());
            ex.getCommandLine().usage(ex.getCommandLine().getErr());
            return 2;
        });
        int status = cl.execute(args);
        out.flush();
        err.flush();
        return status;
    }

    private record Factory(Context context) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            if (cls == CheckCommand.class) {
                return cls.cast(new CheckCommand(context));
            }
            if (cls == ServeCommand.class) {
                return cls.cast(new ServeCommand(context));
            }
            if (cls == DoctorCommand.class) {
                return cls.cast(new DoctorCommand(context));
            }
            if (cls == DemoCommand.class) {
                return cls.cast(new DemoCommand(context));
            }
            return CommandLine.defaultFactory().create(cls);
        }
    }

    /** {@code --version}: the lines of {@code crossgate version}, from the build's {@link dev.crossgate.server.observe.BuildInfo}. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return VersionCommand.lines(dev.crossgate.server.observe.BuildInfo.current());
        }
    }
}
