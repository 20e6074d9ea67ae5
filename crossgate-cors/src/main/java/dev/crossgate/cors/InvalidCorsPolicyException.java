package dev.crossgate.cors;

import java.util.List;
import java.util.stream.Collectors;

/** Thrown by {@code build()} when a policy has errors; carries every problem found, not only the first. */
public final class InvalidCorsPolicyException extends IllegalArgumentException {
    private final List<CorsProblem> problems;

    public InvalidCorsPolicyException(List<CorsProblem> problems) {
        super(describe(problems));
        this.problems = List.copyOf(problems);
    }

    /** Every problem found, errors and warnings, in configuration order. */
    public List<CorsProblem> problems() {
        return problems;
    }

    /** The errors only. */
    public List<CorsProblem> errors() {
        return problems.stream().filter(CorsProblem::isError).collect(Collectors.toList());
    }

    private static String describe(List<CorsProblem> problems) {
        long errors = problems.stream().filter(CorsProblem::isError).count();
        return "invalid CORS policy, " + errors + (errors == 1 ? " error" : " errors") + ":\n  "
                + problems.stream().map(CorsProblem::toString).collect(Collectors.joining("\n  "));
    }
}
