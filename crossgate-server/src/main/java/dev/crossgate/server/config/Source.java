package dev.crossgate.server.config;

/** Where a configuration value came from: a profile default, a file and line, an environment variable, or a command-line option. */
public record Source(Kind kind, String name, int line) {
    public enum Kind { DEFAULT, FILE, ENV, CLI }

    public static Source defaultOf(Profile profile) {
        return new Source(Kind.DEFAULT, profile.id(), 0);
    }

    public static Source file(String file, int line) {
        return new Source(Kind.FILE, file, line);
    }

    public static Source env(String variable) {
        return new Source(Kind.ENV, variable, 0);
    }

    public static Source cli(String option) {
        return new Source(Kind.CLI, option, 0);
    }

    /** For people: {@code default (dev profile)}, {@code crossgate.yaml:7}, {@code env CORS_ALLOWED_ORIGINS}, {@code --profile}. */
    @Override
    public String toString() {
        return switch (kind) {
            case DEFAULT -> "default (" + name + " profile)";
            case FILE -> line > 0 ? name + ":" + line : name;
            case ENV -> "env " + name;
            case CLI -> name;
        };
    }
}
