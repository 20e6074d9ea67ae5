package dev.crossgate.server.config;

import java.util.List;
import java.util.stream.Collectors;

/** The configuration has errors; carries every problem found (errors and warnings), not only the first. */
public final class InvalidConfigException extends RuntimeException {
    private final List<ConfigProblem> problems;

    public InvalidConfigException(List<ConfigProblem> problems) {
        super(describe(problems));
        this.problems = List.copyOf(problems);
    }

    public List<ConfigProblem> problems() {
        return problems;
    }

    public List<ConfigProblem> errors() {
        return problems.stream().filter(ConfigProblem::isError).collect(Collectors.toList());
    }

    private static String describe(List<ConfigProblem> problems) {
        long n = problems.stream().filter(ConfigProblem::isError).count();
        return "invalid configuration, " + n + (n == 1 ? " error" : " errors") + ":\n"
                + problems.stream().map(ConfigProblem::describe).collect(Collectors.joining("\n"));
    }
}
