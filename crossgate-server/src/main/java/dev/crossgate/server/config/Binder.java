package dev.crossgate.server.config;

import dev.crossgate.server.config.ConfigProblem.Severity;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Reads typed values from the layered sources: profile defaults, then the YAML file, then environment
 * variables. Records each value's source and every problem, and at the end reports the file's keys
 * that nothing read (unknown keys, with a suggestion).
 */
final class Binder {
    /**
     * The longest string a setting takes. Secrets, URLs, paths and patterns are far shorter; a longer value is a
     * mistake (a file pasted in) or an attack on the checks that run on it, and is refused before any of them runs.
     */
    static final int MAX_STRING = 8192;
    /** How much of a value a message quotes. */
    private static final int QUOTED = 80;

    /** A value and where it came from. */
    record Sourced<T>(T value, Source source) {}

    private final String file;
    private final Map<String, String> env;
    private final Map<String, List<String>> aliases;
    private final List<ConfigProblem> problems = new ArrayList<>();
    private final List<Setting> settings = new ArrayList<>();
    private final Map<String, Source> sources = new LinkedHashMap<>();
    private final Map<YamlNode, Set<String>> consumed = new IdentityHashMap<>();
    private final Map<YamlNode, String> mapPaths = new IdentityHashMap<>();
    private final Set<String> usedEnv = new LinkedHashSet<>();

    private final Map<String, String> cli;

    Binder(String file, Map<String, String> env, Map<String, List<String>> aliases, Map<String, String> cli) {
        this.cli = cli;
        this.file = file;
        this.env = env;
        this.aliases = aliases;
    }

    /** A map in the file (or none) at a configuration path; list items get no environment overrides. */
    final class Section {
        private final YamlNode node;
        private final String prefix;
        private final boolean envAllowed;

        Section(YamlNode node, String prefix, boolean envAllowed) {
            this.node = node;
            this.prefix = prefix;
            this.envAllowed = envAllowed;
            if (node != null) {
                consumed.computeIfAbsent(node, k -> new LinkedHashSet<>());
                mapPaths.put(node, prefix);
            }
        }

        String path(String key) {
            return prefix.isEmpty() ? key : prefix + "." + key;
        }

        boolean has(String key) {
            return (node != null && node.entries().containsKey(key)) || (envAllowed && envFor(path(key)) != null);
        }

        private YamlNode take(String key) {
            if (node == null) {
                return null;
            }
            YamlNode v = node.entries().get(key);
            if (v != null) {
                consumed.get(node).add(key);
            }
            return v;
        }

        private Source fileSource(String key) {
            return Source.file(file, node.keyLine(key));
        }

        /**
         * Raw text from env or file for a scalar key; null when not set. A value of the wrong kind (a list or a
         * mapping where one value is expected) or longer than {@link #MAX_STRING} is recorded as a problem and
         * comes back as a value of null with its source: every typed reader below then falls back to its default,
         * so no binding ever sees a value it did not ask for.
         */
        private Sourced<String> scalar(String key, String expected) {
            String path = path(key);
            Sourced<String> fromEnv = envAllowed ? envFor(path) : null;
            YamlNode v = take(key);
            if (fromEnv != null) {
                return tooLong(path, fromEnv.value(), fromEnv.source()) ? new Sourced<>(null, fromEnv.source()) : fromEnv;
            }
            if (v == null || v.kind() == YamlNode.Kind.NULL) {
                return null;
            }
            if (v.kind() != YamlNode.Kind.SCALAR) {
                problem(path, fileSource(key), v.describeKind(), path + " is " + v.describeKind() + " (expected: " + expected + ")",
                        "write " + path + ": " + exampleFor(expected));
                return new Sourced<>(null, fileSource(key));
            }
            if (tooLong(path, v.text(), fileSource(key))) {
                return new Sourced<>(null, fileSource(key));
            }
            return new Sourced<>(v.text(), fileSource(key));
        }

        /** A string value: the default when unset or when the file holds something else (a problem already recorded). */
        Sourced<String> string(String key, String def, Source defSource) {
            Sourced<String> s = scalar(key, "a string");
            Sourced<String> r = s == null ? new Sourced<>(def, defSource) : s.value() == null ? new Sourced<>(def, s.source()) : s;
            record(path(key), r.value() == null ? "(none)" : r.value(), r.source());
            return r;
        }

        /** A secret string (null when unset): recorded as its length only, so that check, logs and the status page never show it. */
        Sourced<String> secret(String key, Source defSource) {
            Sourced<String> s = scalar(key, "a string");
            Sourced<String> r = s == null ? new Sourced<>(null, defSource) : s;
            record(path(key), r.value() == null ? "(none)" : "(set, " + r.value().length() + " characters, not shown)", r.source());
            return r;
        }

        /**
         * One typed scalar: the default when unset, else {@code parse} of the text (null when the text is
         * not valid, which records a problem "{@code path: "text" is not <what> (expected: <expected>)}").
         */
        private <T> Sourced<T> typed(String key, T def, Source defSource, String kind, String what, String expected,
                                     String example, Function<String, T> parse, Function<T, String> format) {
            Sourced<String> s = scalar(key, kind);
            Sourced<T> r;
            String shown = null;
            if (s == null) {
                r = new Sourced<>(def, defSource);
            } else if (s.value() == null) {
                r = new Sourced<>(def, s.source());
            } else {
                T v = parse.apply(s.value().trim());
                if (v == null) {
                    problem(path(key), s.source(), shorten(s.value()), path(key) + ": \"" + shorten(s.value()) + "\" is not " + what
                                    + " (expected: " + expected + ")",
                            "write " + path(key) + ": " + example);
                    r = new Sourced<>(def, s.source());
                    // Shown as given, not as the default the running server would fall back to: "yes" displayed as
                    // "false" hid the mistake (issue 13). The configuration is invalid anyway, so nothing runs on it.
                    shown = "\"" + shorten(s.value()) + "\" (invalid)";
                } else {
                    r = new Sourced<>(v, s.source());
                }
            }
            record(path(key), shown != null ? shown : r.value() == null ? "(none)" : format.apply(r.value()), r.source());
            return r;
        }

        Sourced<Boolean> bool(String key, boolean def, Source defSource) {
            return typed(key, def, defSource, "true or false", "a boolean", "true or false", "true, or false",
                    t -> t.equalsIgnoreCase("true") ? Boolean.TRUE : t.equalsIgnoreCase("false") ? Boolean.FALSE : null, Object::toString);
        }

        Sourced<Duration> duration(String key, Duration def, Source defSource) {
            return typed(key, def, defSource, "a duration such as 30s", "a duration",
                    "a whole number with a unit ms, s, m, h or d, such as 30s; a bare number is seconds",
                    def == null ? "30s" : Units.format(def), Units::duration, Units::format);
        }

        Sourced<Long> size(String key, long def, Source defSource) {
            return typed(key, def, defSource, "a size such as 5MB", "a size",
                    "a whole number with a unit B, KB, KiB, MB, MiB, GB or GiB, such as 5MB", Units.formatSize(def),
                    t -> Units.size(t) < 0 ? null : Units.size(t), Units::formatSize);
        }

        Sourced<Integer> integer(String key, int def, Source defSource) {
            return typed(key, def, defSource, "a whole number", "a whole number", "digits, such as " + def, Integer.toString(def),
                    t -> {
                        try {
                            return Integer.valueOf(t);
                        } catch (NumberFormatException e) {
                            return null;
                        }
                    }, Object::toString);
        }

        /** A list of strings; from the environment, comma-separated. Item sources are recorded as path[i]. */
        Sourced<List<String>> list(String key, List<String> def, Source defSource) {
            String path = path(key);
            Sourced<String> fromEnv = envAllowed ? envFor(path) : null;
            YamlNode v = take(key);
            Sourced<List<String>> r;
            if (fromEnv != null) {
                List<String> items = new ArrayList<>();
                if (!tooLong(path, fromEnv.value(), fromEnv.source())) {
                    for (String part : fromEnv.value().split(",")) {
                        if (!part.isBlank()) {
                            items.add(part.trim());
                        }
                    }
                }
                for (int i = 0; i < items.size(); i++) {
                    sources.put(path + "[" + i + "]", fromEnv.source());
                }
                r = new Sourced<>(items, fromEnv.source());
            } else if (v == null) {
                r = new Sourced<>(def, defSource);
                for (int i = 0; i < def.size(); i++) {
                    sources.put(path + "[" + i + "]", defSource);
                }
            } else if (v.kind() == YamlNode.Kind.NULL) {
                r = new Sourced<>(List.of(), fileSource(key));
            } else if (v.kind() != YamlNode.Kind.LIST) {
                problem(path, fileSource(key), v.describeKind(), path + " is " + v.describeKind() + " (expected: a list)",
                        "write " + path + ": [" + (v.kind() == YamlNode.Kind.SCALAR ? shorten(v.text()) : "...") + "]");
                r = new Sourced<>(def, fileSource(key));
            } else {
                List<String> items = new ArrayList<>();
                for (int i = 0; i < v.items().size(); i++) {
                    YamlNode item = v.items().get(i);
                    Source src = Source.file(file, item.line());
                    sources.put(path + "[" + i + "]", src);
                    if (item.kind() != YamlNode.Kind.SCALAR) {
                        problem(path + "[" + i + "]", src, item.describeKind(), path + "[" + i + "] is " + item.describeKind()
                                + " (expected: a string)", "write each entry as a string");
                        items.add(null);
                    } else if (tooLong(path + "[" + i + "]", item.text(), src)) {
                        items.add(null);
                    } else {
                        items.add(item.text());
                    }
                }
                r = new Sourced<>(items, fileSource(key));
            }
            record(path, r.value().isEmpty() ? "(none)" : String.join(", ", r.value().stream().map(String::valueOf).toList()), r.source());
            return r;
        }

        /** A nested map; absent is an empty section. */
        Section section(String key) {
            YamlNode v = take(key);
            String path = path(key);
            if (v != null && v.kind() != YamlNode.Kind.MAP && v.kind() != YamlNode.Kind.NULL) {
                problem(path, fileSource(key), v.describeKind(), path + " is " + v.describeKind() + " (expected: a mapping of keys)",
                        "write " + path + ": followed by indented keys");
                v = null;
            }
            return new Section(v != null && v.kind() == YamlNode.Kind.MAP ? v : null, path, envAllowed);
        }

        /** A list of maps, each a section without environment overrides. */
        List<Section> objects(String key) {
            YamlNode v = take(key);
            String path = path(key);
            List<Section> out = new ArrayList<>();
            if (v == null || v.kind() == YamlNode.Kind.NULL) {
                return out;
            }
            if (v.kind() != YamlNode.Kind.LIST) {
                problem(path, fileSource(key), v.describeKind(), path + " is " + v.describeKind() + " (expected: a list of mappings)",
                        "write " + path + ": followed by entries starting with '- '");
                return out;
            }
            for (int i = 0; i < v.items().size(); i++) {
                YamlNode item = v.items().get(i);
                String itemPath = path + "[" + i + "]";
                sources.put(itemPath, Source.file(file, item.line()));
                if (item.kind() != YamlNode.Kind.MAP) {
                    problem(itemPath, Source.file(file, item.line()), item.describeKind(), itemPath + " is " + item.describeKind()
                            + " (expected: a mapping of keys)", "write the entry as indented keys");
                    continue;
                }
                out.add(new Section(item, itemPath, false));
            }
            return out;
        }

        Source lineOf(String key) {
            return node != null && node.entries().containsKey(key) ? fileSource(key) : null;
        }
    }

    Section root(YamlNode node) {
        return new Section(node, "", true);
    }

    private Sourced<String> envFor(String path) {
        if (cli.containsKey(path)) {
            return new Sourced<>(cli.get(path), Source.cli("--" + path));
        }
        String name = envName(path);
        String v = env.get(name);
        if (v != null) {
            usedEnv.add(name);
            for (String alias : aliases.getOrDefault(path, List.of())) {
                if (env.containsKey(alias)) {
                    usedEnv.add(alias);
                    warn(path, Source.env(alias), env.get(alias), alias + " is ignored because " + name + " is also set",
                            "unset one of them");
                }
            }
            return new Sourced<>(v, Source.env(name));
        }
        for (String alias : aliases.getOrDefault(path, List.of())) {
            v = env.get(alias);
            if (v != null) {
                usedEnv.add(alias);
                return new Sourced<>(v, Source.env(alias));
            }
        }
        return null;
    }

    /** {@code cors.allowCredentials} becomes {@code CROSSGATE_CORS_ALLOW_CREDENTIALS}. */
    static String envName(String path) {
        StringBuilder b = new StringBuilder("CROSSGATE_");
        for (int i = 0; i < path.length(); i++) {
            char c = path.charAt(i);
            if (c == '.') {
                b.append('_');
            } else if (Character.isUpperCase(c)) {
                b.append('_').append(c);
            } else {
                b.append(Character.toUpperCase(c));
            }
        }
        return b.toString();
    }

    void record(String path, String value, Source source) {
        settings.add(new Setting(path, value, source));
        sources.putIfAbsent(path, source);
    }

    void problem(String path, Source source, String value, String message, String fix) {
        problems.add(new ConfigProblem(Severity.ERROR, path, source, value, message, fix));
    }

    void warn(String path, Source source, String value, String message, String fix) {
        problems.add(new ConfigProblem(Severity.WARNING, path, source, value, message, fix));
    }

    /** The source recorded for a path or its nearest recorded parent (cors.allowedOrigins[1] before cors.allowedOrigins). */
    Source sourceOf(String path) {
        String p = path;
        while (!p.isEmpty()) {
            Source s = sources.get(p);
            if (s != null) {
                return s;
            }
            int cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
            p = cut < 0 ? "" : p.substring(0, cut);
        }
        return null;
    }

    /** Reports keys of the file that nothing read, and CROSSGATE_ variables that name no setting. */
    void finish(Set<String> knownEnv) {
        for (Map.Entry<YamlNode, Set<String>> e : consumed.entrySet()) {
            YamlNode node = e.getKey();
            String prefix = mapPaths.get(node);
            for (String key : node.entries().keySet()) {
                if (!e.getValue().contains(key)) {
                    String shown = shorten(key);
                    String path = prefix.isEmpty() ? shown : prefix + "." + shown;
                    String suggestion = closest(key, e.getValue(), node);
                    problem(path, Source.file(file, node.keyLine(key)), shown, "unknown key \"" + shown + "\""
                                    + (prefix.isEmpty() ? "" : " in " + prefix),
                            suggestion == null ? "remove it (see crossgate check for the keys in effect)" : "did you mean \"" + suggestion + "\"?");
                }
            }
        }
        for (String name : env.keySet()) {
            if (name.startsWith("CROSSGATE_") && !usedEnv.contains(name) && !knownEnv.contains(name)) {
                String suggestion = closestEnv(name, knownEnv);
                // The value is not quoted back: an unknown variable may well hold a secret under a misspelt name.
                warn(name, Source.env(name), "(not shown)", "environment variable " + name + " names no setting and is ignored",
                        suggestion != null ? "did you mean " + suggestion + "?"
                                : "check the spelling; crossgate check lists the settings, and CROSSGATE_ plus the path in upper snake case overrides one");
            }
        }
    }

    /**
     * The variable a misspelt {@code CROSSGATE_} name most likely meant: among the settings' variables and the
     * other known ones, the nearest by edit distance once underscores are ignored ({@code CROSSGATE_CORS_MAXAGE}
     * for {@code CROSSGATE_CORS_MAX_AGE}), or null when none is close.
     */
    private String closestEnv(String name, Set<String> knownEnv) {
        if (name.length() > 96) {
            return null;
        }
        Set<String> candidates = new LinkedHashSet<>(knownEnv);
        for (Setting s : settings) {
            if (s.path().indexOf('[') < 0) {
                candidates.add(envName(s.path()));
            }
        }
        String squeezed = name.replace("_", "");
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(squeezed, c.replace("_", ""));
            if (d < bestDistance) {
                bestDistance = d;
                best = c;
            }
        }
        int rest = name.length() - "CROSSGATE_".length();
        return best != null && bestDistance <= Math.max(2, rest / 4) ? best : null;
    }

    private final Map<YamlNode, Set<String>> known = new IdentityHashMap<>();

    /** Declares the keys a section accepts (for suggestions when a key is unknown). */
    void declare(Section s, String... keys) {
        if (s.node != null) {
            known.computeIfAbsent(s.node, k -> new LinkedHashSet<>()).addAll(List.of(keys));
        }
    }

    private String closest(String key, Set<String> used, YamlNode node) {
        if (key.length() > 64) {
            // No key is that long, so it is no typo of one; and the distance costs the product of the lengths.
            return null;
        }
        Set<String> candidates = new LinkedHashSet<>(used);
        candidates.addAll(known.getOrDefault(node, Set.of()));
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String c : candidates) {
            int d = distance(key.toLowerCase(Locale.ROOT), c.toLowerCase(Locale.ROOT));
            if (d < bestDistance) {
                bestDistance = d;
                best = c;
            }
        }
        return best != null && bestDistance <= Math.max(2, key.length() / 3) ? best : null;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    List<ConfigProblem> problems() {
        return problems;
    }

    List<Setting> settings() {
        return settings;
    }

    /** True (and a problem recorded) when a value is longer than {@link #MAX_STRING}. */
    private boolean tooLong(String path, String value, Source source) {
        if (value == null || value.length() <= MAX_STRING) {
            return false;
        }
        problem(path, source, shorten(value), path + " is " + value.length() + " characters long (expected: at most " + MAX_STRING + ")",
                "write the value itself; for a key or a certificate, give the path of its file");
        return true;
    }

    /** A value as a message quotes it: the first {@value #QUOTED} characters, then how many more there are. */
    static String shorten(String value) {
        if (value == null || value.length() <= QUOTED) {
            return value;
        }
        return value.substring(0, QUOTED) + "... (" + (value.length() - QUOTED) + " more characters)";
    }

    private static String exampleFor(String expected) {
        return switch (expected) {
            case "true or false" -> "true";
            case "a duration such as 30s" -> "30s";
            case "a size such as 5MB" -> "5MB";
            default -> "value";
        };
    }
}
