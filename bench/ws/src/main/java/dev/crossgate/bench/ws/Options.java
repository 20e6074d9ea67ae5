package dev.crossgate.bench.ws;

import java.util.HashMap;
import java.util.Map;

/** Command-line options of the form {@code --name value} or {@code --name=value}; unknown names are refused. */
final class Options {
    private final Map<String, String> values = new HashMap<>();

    Options(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--") || arg.length() == 2) {
                throw new IllegalArgumentException("expected an option (--name value), got " + arg);
            }
            int eq = arg.indexOf('=');
            if (eq > 0) {
                values.put(arg.substring(2, eq), arg.substring(eq + 1));
            } else if (i + 1 < args.length) {
                values.put(arg.substring(2), args[++i]);
            } else {
                throw new IllegalArgumentException(arg + " needs a value");
            }
        }
    }

    /** The option's value, or {@code fallback} when it was not given (a null fallback makes it required). */
    String string(String name, String fallback) {
        String v = values.remove(name);
        if (v == null && fallback == null) {
            throw new IllegalArgumentException("--" + name + " is required");
        }
        return v == null ? fallback : v;
    }

    /** The option's whole-number value in [min, max], or {@code fallback} (null: required). */
    int integer(String name, Integer fallback, int min, int max) {
        String v = string(name, fallback == null ? null : fallback.toString());
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " " + v + " is not a whole number");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException("--" + name + " " + v + " is not between " + min + " and " + max);
        }
        return n;
    }

    /** Refuses options that no {@link #string} or {@link #integer} call asked for. */
    void noOthers() {
        if (!values.isEmpty()) {
            throw new IllegalArgumentException("unknown option(s): --" + String.join(", --", values.keySet()));
        }
    }
}
