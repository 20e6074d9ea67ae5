package dev.crossgate.server.config;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code docs/configuration.md}: every setting, its type, its default in each profile, its environment variable and what it
 * does. The keys and descriptions come from {@code reference.yaml} (a document that sets every key the loader reads, each
 * with a comment; ConfigReferenceTest checks it against the loader), the defaults from the loader itself (an empty file
 * in each profile), the variable names from the loader's naming rule: so the page cannot drift from the code.
 * {@code java -cp crossgate.jar dev.crossgate.server.config.ConfigReference docs/configuration.md} writes it.
 */
public final class ConfigReference {
    /** A key of reference.yaml: its path (list items as [0]), its example value and its description. */
    public record Key(String path, String example, String description) {}

    private static final Pattern LINE = Pattern.compile("^( *)(- )?([A-Za-z][A-Za-z0-9]*):(.*)$");

    private ConfigReference() {}

    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "docs/configuration.md");
        Files.writeString(out, markdown(), StandardCharsets.UTF_8);
        System.out.println("wrote " + out);
    }

    /** The keys of reference.yaml, in order. */
    public static List<Key> keys() {
        String text;
        try (InputStream in = ConfigReference.class.getResourceAsStream("reference.yaml")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Key> keys = new ArrayList<>();
        // indentation -> path prefix of the section open at that depth
        List<int[]> depths = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.stripLeading().startsWith("#")) {
                continue;
            }
            Matcher m = LINE.matcher(line);
            if (!m.matches()) {
                throw new IllegalStateException("reference.yaml: cannot read the line \"" + line + "\"");
            }
            int indent = m.group(1).length();
            boolean item = m.group(2) != null;
            int keyIndent = indent + (item ? 2 : 0);
            while (!depths.isEmpty() && depths.get(depths.size() - 1)[0] >= keyIndent) {
                depths.remove(depths.size() - 1);
                names.remove(names.size() - 1);
            }
            if (item && !names.isEmpty()) {
                names.set(names.size() - 1, names.get(names.size() - 1).replaceAll("\\[0]$", "") + "[0]");
            }
            String prefix = names.isEmpty() ? "" : names.get(names.size() - 1) + ".";
            String path = prefix + m.group(3);
            String rest = m.group(4);
            int hash = rest.indexOf(" #");
            String value = (hash < 0 ? rest : rest.substring(0, hash)).trim();
            String description = hash < 0 ? "" : rest.substring(hash + 2).trim();
            if (value.isEmpty()) {
                depths.add(new int[] {keyIndent});
                names.add(path);
            } else {
                keys.add(new Key(path, value, description));
            }
        }
        return keys;
    }

    /** The defaults the loader gives with an empty file in {@code profile} (prod needs hosts: given, and not shown as a default). */
    static Map<String, String> defaults(String profile) {
        // An otherwise empty file with one item of each list section and an empty realtime section, so that their keys'
        // defaults are recorded too (the items' own path and upstreams are the file's, not defaults).
        String doc = (profile.equals("prod") ? "profile: prod\nhosts: [example.com]\n" : "profile: dev\n")
                + "routes:\n  - path: /r\n    upstreams: [http://127.0.0.1:1]\n"
                + "cors:\n  routes:\n    - path: /c\n"
                + "limits:\n  routes:\n    - path: /l\n"
                + "realtime: {}\n";
        Path dir;
        try {
            dir = Files.createTempDirectory("crossgate-reference");
            Path f = Files.writeString(dir.resolve("crossgate.yaml"), doc);
            ConfigLoader.Result r = ConfigLoader.inspect(new ConfigLoader.Options(f, null, Map.of(), dir));
            Map<String, String> out = new LinkedHashMap<>();
            for (Setting s : r.settings()) {
                if (s.source() == null || s.source().kind() == Source.Kind.DEFAULT) { // list items' defaults carry no source
                    out.put(s.path(), s.value());
                }
            }
            Files.deleteIfExists(f);
            Files.deleteIfExists(dir);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String type(Key k) {
        String v = k.example();
        if (v.startsWith("[")) {
            return "list";
        }
        if (v.equals("true") || v.equals("false")) {
            return "boolean";
        }
        if (v.matches("-?\\d+")) {
            return "integer";
        }
        if (v.matches("\\d+(ms|s|m|h|d)")) {
            return "duration";
        }
        if (v.matches("\\d+(B|KB|KiB|MB|MiB|GB|GiB)")) {
            return "size";
        }
        return "string";
    }

    /** The environment variable that overrides {@code path} (list items have none). */
    static String env(String path) {
        return path.contains("[") ? "" : Binder.envName(path);
    }

    public static String markdown() {
        Map<String, String> dev = defaults("dev");
        Map<String, String> prod = defaults("prod");
        StringBuilder b = new StringBuilder();
        b.append("# Configuration reference\n\n");
        b.append("Generated from the loader's own settings by `ConfigReference` (`ConfigReferenceTest` fails when this file is stale;\n");
        b.append("regenerate with `mvn -q -o -pl crossgate-server -am test -Dtest=ConfigReferenceTest -Dcrossgate.regenerate=true`).\n");
        b.append("Every key can be set in `crossgate.yaml`; a key outside a list can also be set with its environment variable,\n");
        b.append("which wins over the file (lists: comma-separated). Durations: ms, s, m, h, d; sizes: B, KB, KiB, MB, MiB, GB, GiB.\n");
        b.append("Secrets are never printed: `crossgate check` shows whether they are set and how long they are.\n");
        String section = null;
        for (Key k : keys()) {
            String top = k.path().contains(".") ? k.path().substring(0, k.path().indexOf('.')).replaceAll("\\[0]$", "") : "(top level)";
            if (!top.equals(section)) {
                section = top;
                b.append("\n## ").append(top.equals("(top level)") ? "Top level" : "`" + top + "`").append("\n\n");
                b.append("| key | type | default (dev) | default (prod) | environment | what it does |\n");
                b.append("| --- | --- | --- | --- | --- | --- |\n");
            }
            b.append("| `").append(k.path()).append("` | ").append(type(k)).append(" | ").append(cell(dev.get(k.path())))
                    .append(" | ").append(cell(prod.get(k.path()))).append(" | ")
                    .append(env(k.path()).isEmpty() ? "—" : "`" + env(k.path()) + "`").append(" | ")
                    .append(k.description().replace("|", "\\|")).append(" |\n");
        }
        return b.toString();
    }

    private static String cell(String v) {
        return v == null ? "—" : "`" + v.replace("|", "\\|").replace("`", "'") + "`";
    }
}
