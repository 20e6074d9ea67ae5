package dev.crossgate.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

/**
 * Hostile configuration files through the loader: recursive and doubling aliases, deep nesting, every known key
 * given a list, a mapping, a number, a huge string, null and invalid UTF-8, generated documents and mutations of a
 * valid one. Whatever the input, the loader returns (never throws) within a deadline, and an invalid file is a list
 * of problems, each with its path and, when the file is at fault, its line.
 *
 * <p>The deadline is generous (this is no benchmark; the machine running the suite may be loaded): it catches the
 * seconds-long or endless loads of an unbounded alias expansion or a quadratic scan, not a slow millisecond.
 */
class ConfigFuzzTest {
    private static final Duration DEADLINE = Duration.ofSeconds(5);
    private static final ExecutorService LOADS = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "config-fuzz-load");
        t.setDaemon(true);
        return t;
    });
    private static final Path DIR = tempDir();

    // ---- the harness -------------------------------------------------------------------------------------------

    private static Path tempDir() {
        try {
            Path d = Files.createTempDirectory("config-fuzz");
            d.toFile().deleteOnExit();
            Path pub = d.resolve("key.pub");
            Files.writeString(pub, "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n");
            pub.toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Loads the bytes as crossgate.yaml in a future: a load that throws or passes the deadline fails the test. */
    static ConfigLoader.Result load(byte[] bytes, Map<String, String> env) {
        Path file;
        try {
            file = Files.createTempFile(DIR, "crossgate", ".yaml");
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        try {
            return within(() -> ConfigLoader.inspect(new ConfigLoader.Options(file, null, env, DIR)));
        } finally {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temporary file
            }
        }
    }

    static ConfigLoader.Result load(String yaml) {
        return load(yaml.getBytes(StandardCharsets.UTF_8), Map.of());
    }

    static ConfigLoader.Result within(java.util.concurrent.Callable<ConfigLoader.Result> load) {
        Future<ConfigLoader.Result> f = LOADS.submit(load);
        try {
            return f.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            return fail("the load took more than " + DEADLINE);
        } catch (ExecutionException e) {
            return fail("the load threw " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted");
        }
    }

    /**
     * What every result satisfies: valid exactly when it has no error; every problem has a path, a message and a fix
     * on one line each, free of control characters and exception names; a problem from the file has a line within it
     * (0 only for the file as a whole, path {@code config}).
     */
    static void assertWellFormed(ConfigLoader.Result r, byte[] file) {
        // Lines as YAML counts them: LF, CR (CR LF once), NEL, LS and PS.
        String text = new String(file, StandardCharsets.UTF_8);
        int lines = 1;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '\n' || c == '\u0085' || c == '\u2028' || c == '\u2029' || (c == '\r' && (i + 1 == text.length() || text.charAt(i + 1) != '\n'))) {
                lines++;
            }
        }
        assertThat(r.valid()).as("valid exactly when there is no error: %s", r.problems()).isEqualTo(r.errors().isEmpty());
        for (ConfigProblem p : r.problems()) {
            assertThat(p.path()).as("path of %s", p).isNotBlank();
            assertThat(p.message()).as("message of %s", p).isNotBlank();
            assertThat(p.fix()).as("fix of %s", p).isNotBlank();
            String shown = p.path() + p.message() + p.fix() + (p.value() == null ? "" : p.value());
            assertThat(shown).as("one printable line: %s", p).doesNotContainPattern("[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]");
            assertThat(p.describe()).as("no exception in %s", p).doesNotContain("Exception").doesNotContain("\tat ");
            if (p.source() != null && p.source().kind() == Source.Kind.FILE) {
                if (p.path().equals("config")) {
                    assertThat(p.source().line()).as("line of %s", p).isBetween(0, lines);
                } else {
                    assertThat(p.source().line()).as("line of %s", p).isBetween(1, lines);
                }
            }
        }
    }

    private static ConfigProblem onlyError(ConfigLoader.Result r) {
        assertThat(r.errors()).as("%s", r.problems()).hasSize(1);
        return r.errors().get(0);
    }

    // ---- a valid document with every key, and each key given hostile values ------------------------------------

    /** A valid configuration that sets every key the loader reads (checked by {@link #theBaseDocumentSetsEveryKeyTheLoaderReads}). */
    static Map<String, Object> base() {
        return map(
                "profile", "prod",
                "listen", "127.0.0.1:8080",
                "upstream", "http://127.0.0.1:8000",
                "hosts", List.of("api.example.com"),
                "routes", List.of(map(
                        "path", "/api",
                        "upstreams", List.of("http://127.0.0.1:8001"),
                        "healthCheck", map("path", "/health", "interval", "5s", "timeout", "2s"),
                        "ejectAfter", 3,
                        "ejectFor", "10s",
                        "sessionAffinity", true)),
                "http", map("maxBodySize", "5MB", "requestHeadTimeout", "10s", "idleTimeout", "60s", "upstreamConnectTimeout", "5s",
                        "upstreamResponseTimeout", "60s", "upstreamIdleTimeout", "30s", "trustedProxies", List.of("10.0.0.0/8"),
                        "redirectHttps", false),
                "tls", map("certificate", "key.pub", "key", "key.pub", "selfSigned", false, "hsts", "0s"),
                "admin", map("listen", "127.0.0.1:9090", "enabled", true, "readyRequiresUpstream", false, "token", "admin-token-0123456789abcdef"),
                "log", map("access", true),
                "cors", map(
                        "allowedOrigins", List.of("https://app.example.com"),
                        "allowCredentials", true,
                        "allowedMethods", List.of("GET", "POST"),
                        "allowedHeaders", List.of("Authorization"),
                        "exposedHeaders", List.of("X-Request-Id"),
                        "maxAge", "10m",
                        "dangerouslyAllowNullOrigin", false,
                        "preflightRequestHeadersLimit", 4096,
                        "routes", List.of(map(
                                "path", "/public",
                                "enabled", true,
                                "allowedOrigins", List.of("https://other.example.com"),
                                "allowCredentials", false,
                                "allowedMethods", List.of("GET"),
                                "allowedHeaders", List.of("X-A"),
                                "exposedHeaders", List.of("X-B"),
                                "maxAge", "1m",
                                "dangerouslyAllowNullOrigin", false,
                                "preflightRequestHeadersLimit", 2048))),
                "websocket", map("paths", List.of("/ws"), "missingOrigin", "authenticated", "pingInterval", "30s", "idleTimeout", "120s",
                        "maxFrameSize", "1MB", "maxMessageSize", "4MB"),
                "auth", map(
                        "paths", List.of("/private"),
                        "tokenFrom", List.of("header"),
                        "claimHeaders", List.of("sub=X-User-Id"),
                        "jwt", map("secret", "0123456789abcdef0123456789abcdef01", "publicKey", "key.pub",
                                "jwksUrl", "https://issuer.example.com/jwks.json", "algorithms", List.of("HS256", "RS256"), "issuer", "me",
                                "audience", List.of("you"), "clockSkew", "30s", "jwksMinRefresh", "30s")),
                "limits", map("maxConnections", 100, "connectionsPerAddress", 10, "connectionsPerSubject", 5, "newConnectionsPerSecond", 10,
                        "newConnectionsBurst", 20, "requestsPerSecond", 50, "requestBurst", 100,
                        "routes", List.of(map("path", "/login", "requestsPerSecond", 1, "burst", 2)), "store", "redis"),
                "realtime", map("enabled", true, "path", "/socket.io/", "namespaces", List.of("/"), "pingInterval", "25s",
                        "pingTimeout", "20s", "maxPayload", "1MB", "maxBuffered", "16MB", "connectTimeout", "45s", "stickyCookie", "io",
                        "recovery", "0s", "token", "required",
                        "hooks", map("connect", "/rt/connect", "event", "/rt/event", "disconnect", "/rt/disconnect", "events", List.of("*"),
                                "timeout", "5s", "maxConcurrent", 64, "maxQueued", 1024, "secret", "hook-secret"),
                        "publish", map("token", "abcdefghijklmnopqrstuvwxyz0123"),
                        "redis", map("url", "redis://:redis-password@127.0.0.1:6379/0", "cluster", false, "sharded", false, "key", "socket.io",
                                "requestTimeout", "5s")));
    }

    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    /** Every path of the document whose value is a scalar or a list of scalars (keys), or a mapping or list of mappings (sections). */
    static void paths(Object node, String prefix, List<String> leaves, List<String> sections) {
        if (node instanceof Map<?, ?> m) {
            if (!prefix.isEmpty()) {
                sections.add(prefix);
            }
            for (Map.Entry<?, ?> e : m.entrySet()) {
                paths(e.getValue(), prefix.isEmpty() ? (String) e.getKey() : prefix + "." + e.getKey(), leaves, sections);
            }
        } else if (node instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map) {
            sections.add(prefix);
            for (int i = 0; i < l.size(); i++) {
                paths(l.get(i), prefix + "[" + i + "]", leaves, sections);
            }
        } else {
            leaves.add(prefix);
        }
    }

    static List<String> leaves() {
        List<String> leaves = new ArrayList<>();
        paths(base(), "", leaves, new ArrayList<>());
        return leaves;
    }

    static List<String> sections() {
        List<String> sections = new ArrayList<>();
        paths(base(), "", new ArrayList<>(), sections);
        return sections;
    }

    /** A deep copy of the base with the value at {@code path} (such as {@code cors.routes[0].maxAge}) replaced. */
    @SuppressWarnings("unchecked")
    static Map<String, Object> with(String path, Object value) {
        Map<String, Object> root = copy(base());
        Object node = root;
        String[] parts = path.split("\\.");
        for (int i = 0; i < parts.length; i++) {
            String part = parts[i];
            int bracket = part.indexOf('[');
            String key = bracket < 0 ? part : part.substring(0, bracket);
            Map<String, Object> m = (Map<String, Object>) node;
            if (i == parts.length - 1 && bracket < 0) {
                m.put(key, value);
                return root;
            }
            node = m.get(key);
            if (bracket >= 0) {
                int index = Integer.parseInt(part.substring(bracket + 1, part.length() - 1));
                List<Object> l = (List<Object>) node;
                if (i == parts.length - 1) {
                    l.set(index, value);
                    return root;
                }
                node = l.get(index);
            }
        }
        return root;
    }

    @SuppressWarnings("unchecked")
    private static <T> T copy(T node) {
        if (node instanceof Map<?, ?> m) {
            Map<Object, Object> c = new LinkedHashMap<>();
            m.forEach((k, v) -> c.put(k, copy(v)));
            return (T) c;
        }
        if (node instanceof List<?> l) {
            List<Object> c = new ArrayList<>();
            l.forEach(v -> c.add(copy(v)));
            return (T) c;
        }
        return node;
    }

    static String dump(Object document) {
        DumperOptions o = new DumperOptions();
        o.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        o.setWidth(Integer.MAX_VALUE);
        o.setSplitLines(false);
        return new Yaml(o).dump(document);
    }

    private static final String BAD_BYTES = "@@INVALID-UTF8@@";

    /** The hostile values every key is given. */
    static List<Object> hostileValues() {
        return java.util.Arrays.asList(List.of("a", "b"), map("a", 1, "b", List.of("c")), new java.math.BigInteger("123456789012345678901234567890"),
                -1, 3.5, "x".repeat(Binder.MAX_STRING + 1), null, "", true, List.of(List.of("nested")), "\u001b[2J\u0000\u202e", BAD_BYTES);
    }

    static Stream<Arguments> everyKeyWithEveryHostileValue() {
        List<Arguments> out = new ArrayList<>();
        for (String leaf : leaves()) {
            for (Object v : hostileValues()) {
                out.add(Arguments.of(leaf, v));
            }
        }
        for (String section : sections()) {
            for (Object v : java.util.Arrays.asList("text", 42, List.of("a"), "x".repeat(Binder.MAX_STRING + 1), null, BAD_BYTES)) {
                out.add(Arguments.of(section, v));
            }
        }
        return out.stream();
    }

    private static byte[] bytes(String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        String s = text;
        int at = s.indexOf(BAD_BYTES);
        if (at < 0) {
            return b;
        }
        // A Latin-1 "é" (0xE9) followed by '(' where a UTF-8 continuation byte must come: invalid UTF-8.
        String before = s.substring(0, at);
        String after = s.substring(at + BAD_BYTES.length());
        byte[] head = before.getBytes(StandardCharsets.UTF_8);
        byte[] tail = after.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[head.length + 2 + tail.length];
        System.arraycopy(head, 0, out, 0, head.length);
        out[head.length] = (byte) 0xE9;
        out[head.length + 1] = '(';
        System.arraycopy(tail, 0, out, head.length + 2, tail.length);
        return out;
    }

    /** The line of the key at {@code path} in a block-style document: each part's key is searched after its parent's. */
    private static int keyLine(String text, String path) {
        int pos = 0;
        for (String part : path.split("\\.")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?m)^[ -]*" + java.util.regex.Pattern.quote(part.replaceAll("\\[\\d+]$", "")) + ":(?=\\s|$)")
                    .matcher(text);
            assertThat(m.find(pos)).as("%s in%n%s", part, text).isTrue();
            pos = m.start();
        }
        return (int) text.substring(0, pos).chars().filter(c -> c == '\n').count() + 1;
    }

    private static int lineOf(String text, String marker) {
        int at = text.indexOf(marker);
        return at < 0 ? -1 : (int) text.substring(0, at).chars().filter(c -> c == '\n').count() + 1;
    }

    @Test
    void theBaseDocumentIsValidAndSetsEveryKeyTheLoaderReads() {
        String text = dump(base());
        ConfigLoader.Result r = load(text);
        assertWellFormed(r, bytes(text));
        assertThat(r.errors()).isEmpty();
        Set<String> known = new LinkedHashSet<>(leaves());
        for (Setting s : r.settings()) {
            assertThat(known).as("the base document sets %s, which the loader reads (add it to base())", s.path()).contains(s.path());
            assertThat(s.source().kind()).as(s.path()).isEqualTo(Source.Kind.FILE);
        }
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("everyKeyWithEveryHostileValue")
    void everyKeyGivenAHostileValueIsLoadedOrRefusedWithProblemsNeverAnException(String path, Object value) {
        String text = dump(with(path, value));
        byte[] file = bytes(text);
        ConfigLoader.Result r = load(file, Map.of());
        assertWellFormed(r, file);
        boolean structured = value instanceof Map || (value instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof List)
                || (value instanceof String s && s.length() > Binder.MAX_STRING);
        boolean section = sections().contains(path);
        if (BAD_BYTES.equals(value)) {
            // The file as a whole is refused, at the line of the key.
            ConfigProblem p = onlyError(r);
            assertThat(p.path()).isEqualTo("config");
            assertThat(p.source().line()).isEqualTo(lineOf(text, BAD_BYTES));
            assertThat(p.message()).startsWith("the file is not valid UTF-8: byte 0xE9 at line " + lineOf(text, BAD_BYTES) + ", column ");
        } else if (structured && !section || section && value != null && !(value instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof Map)) {
            // A mapping, a nested list or an over-long string is wrong for every key; a scalar or a list of scalars for every section.
            // The error names the key (or an item under it) at the key's line, or an item's on the next lines.
            int keyLine = keyLine(text, path);
            assertThat(r.errors()).as("%s: %s", path, r.problems())
                    .anySatisfy(p -> {
                        assertThat(p.path()).startsWith(path);
                        assertThat(p.source().kind()).isEqualTo(Source.Kind.FILE);
                        assertThat(p.source().line()).isBetween(keyLine, keyLine + 2);
                    });
        }
    }

    // ---- table cases: aliases, nesting, size, encoding ---------------------------------------------------------

    @Test
    void aRecursiveAliasInAListIsAProblemAtItsLine() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: &h [api.example.com, *h]\n"));
        assertThat(p.path()).isEqualTo("config");
        assertThat(p.source().line()).isEqualTo(2);
        assertThat(p.message()).isEqualTo("a recursive alias: the alias *h names a list that contains the alias itself (its value would be infinite)");
    }

    @Test
    void aRecursiveAliasThroughAMappingIsAProblemAtTheLineThatUsesIt() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: [a]\ncors: &c\n  maxAge: 10s\n  routes:\n    - *c\n"));
        assertThat(p.source().line()).isEqualTo(6);
        assertThat(p.message()).startsWith("a recursive alias: the alias *c names a mapping");
    }

    @Test
    void aRecursiveKeyIsAProblemNotAnException() {
        ConfigLoader.Result r = load("? &k [*k]\n: 1\n");
        assertWellFormed(r, "? &k [*k]\n: 1\n".getBytes(StandardCharsets.UTF_8));
        assertThat(onlyError(r).path()).isEqualTo("config");
    }

    /** The "billion laughs": each level names the one before {@code width} times; 2^25 values from 25 lines. */
    static String laughs(int levels, int width) {
        StringBuilder b = new StringBuilder("l0: &l0 [" + "x, ".repeat(width - 1) + "x]\n");
        for (int i = 1; i < levels; i++) {
            b.append('l').append(i).append(": &l").append(i).append(" [").append(("*l" + (i - 1) + ", ").repeat(width - 1))
                    .append("*l").append(i - 1).append("]\n");
        }
        return b.toString();
    }

    @Test
    void doublingAliasesWithinTheAliasLimitAreRefusedQuicklyByTheExpansionBound() {
        String doc = laughs(25, 2);
        long start = System.nanoTime();
        ConfigProblem p = onlyError(load(doc));
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertThat(p.path()).isEqualTo("config");
        assertThat(p.message()).isEqualTo("the document has more than " + YamlNode.MAX_VALUES
                + " values once its aliases are expanded (expected: a configuration, a few hundred values)");
        assertThat(p.source().line()).isBetween(2, 25);
        assertThat(millis).as("well inside the deadline (it took 87 s before the bound)").isLessThan(DEADLINE.toMillis());
    }

    @Test
    void moreThanFiftyAliasesOfCollectionsAreRefused() {
        StringBuilder b = new StringBuilder("a: &a [x]\nb:\n");
        for (int i = 0; i < YamlNode.MAX_ALIASES + 1; i++) {
            b.append("  - *a\n");
        }
        ConfigProblem p = onlyError(load(b.toString()));
        assertThat(p.message()).isEqualTo("the document has more than 50 aliases (*name) of lists or mappings (expected: at most 50)");
        assertThat(p.source().line()).isGreaterThan(2);
    }

    @Test
    void aliasesOfScalarsAndAFewListsAreStillAllowed() {
        ConfigLoader.Result r = load("""
                profile: prod
                hosts: &hosts [api.example.com]
                cors:
                  allowedOrigins: &origins [https://app.example.com]
                  allowedMethods: [&get GET, POST]
                  routes:
                    - path: /public
                      allowedOrigins: *origins
                      allowedMethods: [*get]
                """);
        assertThat(r.errors()).isEmpty();
        assertThat(r.config().cors().policyFor("/public").actual("https://app.example.com").allowed()).isTrue();
    }

    @Test
    void nestingDeeperThanTheLimitAsWrittenIsRefused() {
        String doc = "a: " + "[".repeat(60) + "]".repeat(60) + "\n";
        ConfigProblem p = onlyError(load(doc));
        assertThat(p.message()).isEqualTo("the document is nested more than 50 levels deep (expected: at most 50)");
        assertThat(p.source().line()).isEqualTo(1);
    }

    @Test
    void nestingDeeperThanTheLimitThroughAliasesIsRefused() {
        String doc = "a: &a " + "[".repeat(40) + "]".repeat(40) + "\nb: " + "[".repeat(40) + "*a" + "]".repeat(40) + "\n";
        ConfigProblem p = onlyError(load(doc));
        assertThat(p.message()).isEqualTo("the document is nested more than 50 levels deep once its aliases are followed (expected: at most 50)");
        assertThat(p.source().line()).isEqualTo(2);
    }

    @Test
    void aFileOverOneMebibyteIsRefusedUnread() {
        byte[] big = ("# " + "x".repeat(70) + "\n").repeat(YamlNode.MAX_BYTES / 73 + 1).getBytes(StandardCharsets.US_ASCII);
        ConfigProblem p = onlyError(load(big, Map.of()));
        assertThat(p.path()).isEqualTo("config");
        assertThat(p.source().line()).isZero();
        assertThat(p.message()).isEqualTo("the file is " + big.length + " bytes (expected: at most 1048576 bytes, 1 MiB)");
    }

    static Stream<Arguments> largeDocumentsUnderTheSizeLimit() {
        int n = YamlNode.MAX_BYTES - 64;
        return Stream.of(
                Arguments.of("one long comment line", "#" + "x".repeat(n) + "\n", "line 1 is "),
                Arguments.of("one long plain value", "listen: " + "x".repeat(n) + "\n", "line 1 is "),
                Arguments.of("one long quoted value", "listen: \"" + "x".repeat(n) + "\"\n", "line 1 is "),
                Arguments.of("a flow list on one line", "hosts: [" + "a,".repeat(n / 2 - 8) + "a]\n", "line 1 is "),
                Arguments.of("a block list of many items", "hosts:\n" + "- a\n".repeat(n / 4 - 4), "the document has more than 10000 values"),
                Arguments.of("many keys", "x:\n" + lines("  k", ": v\n", n / 12),
                        "the document has more than 10000 values"),
                Arguments.of("short comment lines", ("#" + "c".repeat(78) + "\n").repeat(n / 80) + "profile: prod\nhosts: [a]\n", null),
                Arguments.of("a long block scalar", "listen: |\n" + ("  " + "x".repeat(77) + "\n").repeat(n / 80), "listen is "),
                Arguments.of("a long quoted value over many lines", "listen: \"" + ("x".repeat(78) + "\n").repeat(n / 80) + "\"\n", "listen is "));
    }

    private static String lines(String prefix, String suffix, int count) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < count; i++) {
            b.append(prefix).append(i).append(suffix);
        }
        return b.toString();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("largeDocumentsUnderTheSizeLimit")
    void largeDocumentsUnderTheSizeLimitAreAnsweredWithinTheDeadline(String name, String doc, String expected) {
        byte[] file = doc.getBytes(StandardCharsets.UTF_8);
        assertThat(file.length).isLessThanOrEqualTo(YamlNode.MAX_BYTES);
        ConfigLoader.Result r = load(file, Map.of());
        assertWellFormed(r, file);
        if (expected != null) {
            assertThat(r.errors()).as("%s", r.problems()).anySatisfy(p -> assertThat(p.message()).startsWith(expected));
        }
    }

    static Stream<Arguments> invalidUtf8() {
        return Stream.of(
                Arguments.of("Latin-1 e-acute", new byte[] {(byte) 0xE9, 'x'}, "byte 0xE9"),
                Arguments.of("a lone continuation byte", new byte[] {(byte) 0x80}, "byte 0x80"),
                Arguments.of("an overlong slash", new byte[] {(byte) 0xC0, (byte) 0xAF}, "byte 0xC0"),
                Arguments.of("an encoded surrogate", new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, "byte 0xED"),
                Arguments.of("a sequence cut by the end of the file", new byte[] {(byte) 0xE2, (byte) 0x82}, "byte 0xE2"),
                Arguments.of("0xFF", new byte[] {(byte) 0xFF}, "byte 0xFF"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidUtf8")
    void invalidUtf8IsAProblemWithItsLineColumnAndOffset(String name, byte[] bad, String what) {
        byte[] head = "profile: prod\nhosts: [a]\nlisten: \"caf".getBytes(StandardCharsets.UTF_8);
        byte[] file = new byte[head.length + bad.length];
        System.arraycopy(head, 0, file, 0, head.length);
        System.arraycopy(bad, 0, file, head.length, bad.length);
        ConfigProblem p = onlyError(load(file, Map.of()));
        assertThat(p.path()).isEqualTo("config");
        assertThat(p.source().line()).isEqualTo(3);
        assertThat(p.message()).isEqualTo("the file is not valid UTF-8: " + what + " at line 3, column 13 (byte offset " + head.length + ")");
        assertThat(p.fix()).startsWith("save the file as UTF-8");
    }

    @Test
    void theColumnOfInvalidUtf8CountsCharactersNotBytes() {
        byte[] head = "profile: prod\n# ünïcödé ".getBytes(StandardCharsets.UTF_8);
        byte[] file = java.util.Arrays.copyOf(head, head.length + 1);
        file[head.length] = (byte) 0xFE;
        assertThat(onlyError(load(file, Map.of())).message()).isEqualTo("the file is not valid UTF-8: byte 0xFE at line 2, column 11 (byte offset "
                + head.length + ")");
    }

    @Test
    void linesAreCountedAsYamlCountsThemWithCarriageReturns() {
        for (String eol : List.of("\r\n", "\r")) {
            ConfigProblem p = onlyError(load(String.join(eol, "profile: prod", "hosts: [a]", "", "websocket:", "  missingOrigin: [x]", "")));
            assertThat(p.source().line()).as("line breaks %s", eol.replace("\r", "CR").replace("\n", "LF")).isEqualTo(5);
        }
        ConfigProblem p = onlyError(load("profile: prod\rhosts: [a]\rlisten: " + "x".repeat(Binder.MAX_STRING + 1) + "\r"));
        assertThat(p.source().line()).isEqualTo(3);
        assertThat(p.path()).isEqualTo("listen");
    }

    @Test
    void anEmptyRealtimePathIsAProblemNotAnIndexError() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: [a]\nrealtime:\n  path: ''\n"));
        assertThat(p.path()).isEqualTo("realtime.path");
        assertThat(p.message()).isEqualTo("realtime.path: \"\" is not a request path (expected: it starts with /)");
    }

    @Test
    void aByteOrderMarkIsAllowed() {
        assertThat(load("\uFEFFprofile: prod\nhosts: [a]\n").errors()).isEmpty();
    }

    @Test
    void aControlCharacterIsAProblemAtItsLine() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: [a]\nlisten: a\u0000b\n"));
        assertThat(p.source().line()).isEqualTo(3);
        assertThat(p.message()).isEqualTo("YAML: the character U+0000 is not allowed in a YAML file");
    }

    @Test
    void aListWhereAStringIsExpectedIsAProblemNotANullPointer() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: [a]\nrealtime:\n  token: [required]\n"));
        assertThat(p.describe()).isEqualTo("error: realtime.token (" + p.source().name() + ":4): realtime.token is a list (expected: a string)\n"
                + "    fix: write realtime.token: value");
        ConfigProblem q = onlyError(load("profile: prod\nhosts: [a]\nwebsocket:\n  missingOrigin: {allow: true}\n"));
        assertThat(q.message()).isEqualTo("websocket.missingOrigin is a mapping (expected: a string)");
        assertThat(q.source().line()).isEqualTo(4);
    }

    @Test
    void aHugeStringIsRefusedBeforeAnyCheckRunsOnIt() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: [a]\nrealtime:\n  stickyCookie: " + "c".repeat(10_000) + "\n"));
        assertThat(p.path()).isEqualTo("realtime.stickyCookie");
        assertThat(p.message()).isEqualTo("realtime.stickyCookie is 10000 characters long (expected: at most 8192)");
        assertThat(p.value()).hasSizeLessThan(200);
    }

    @Test
    void controlCharactersInValuesAreEscapedInProblems() {
        ConfigProblem p = onlyError(load("profile: prod\nhosts: [a]\nlisten: \"x\\e[2J\\u202Eevil\"\n"));
        assertThat(p.message()).isEqualTo("listen: \"x\\u001B[2J\\u202Eevil\" is not an address (expected: HOST:PORT such as 0.0.0.0:8080 or [::]:8080)");
    }

    @Test
    void aPathWithANulCharacterIsAProblem() {
        String doc = "profile: prod\nhosts: [a]\ntls:\n  certificate: \"a\\0b\"\n  key: key.pub\n";
        ConfigLoader.Result r = load(doc);
        assertThat(r.errors()).anySatisfy(p -> {
            assertThat(p.path()).isEqualTo("tls.certificate");
            assertThat(p.message()).startsWith("tls.certificate: \"a\\u0000b\" is not a file path");
        });
        assertWellFormed(r, doc.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void aPublicKeyThatIsNoRegularFileIsNotRead() {
        Path zero = Path.of("/dev/zero");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(zero));
        ConfigLoader.Result r = load("profile: prod\nhosts: [a]\nauth:\n  jwt:\n    publicKey: /dev/zero\n");
        assertThat(r.errors()).anySatisfy(p -> {
            assertThat(p.path()).isEqualTo("auth.jwt.publicKey");
            assertThat(p.message()).isEqualTo("auth.jwt.publicKey: /dev/zero cannot be read (not a regular file of at most 1 MiB)");
        });
    }

    @Test
    void aConfigPathWithANulCharacterInTheEnvironmentIsAProblem() {
        ConfigLoader.Result r = within(() -> ConfigLoader.inspect(new ConfigLoader.Options(null, null, Map.of("CROSSGATE_CONFIG", "a\0b"), DIR)));
        assertThat(r.errors()).first().satisfies(p -> {
            assertThat(p.path()).isEqualTo("config");
            assertThat(p.message()).startsWith("CROSSGATE_CONFIG is not a path");
        });
    }

    @Test
    void anUnexpectedFailureWhileLoadingIsOneProblemNotAThrow() {
        // No environment at all is nothing a command passes; it stands here for a failure no check foresaw.
        ConfigLoader.Result r = within(() -> ConfigLoader.inspect(new ConfigLoader.Options(null, null, null, DIR)));
        ConfigProblem p = onlyError(r);
        assertThat(p.path()).isEqualTo("config");
        assertThat(p.message()).startsWith("the configuration could not be read: internal error (NullPointerException");
        assertThat(p.describe()).doesNotContain("\n\tat ").hasLineCount(2);
        assertThat(r.valid()).isFalse();
    }

    // ---- generated documents ------------------------------------------------------------------------------------

    private static final List<String> KEYS = keyNames();

    private static List<String> keyNames() {
        Set<String> names = new LinkedHashSet<>();
        for (String p : leaves()) {
            for (String part : p.split("\\.")) {
                names.add(part.replaceAll("\\[\\d+]", ""));
            }
        }
        names.addAll(List.of("<<", "unknownKey", "", "~"));
        return List.copyOf(names);
    }

    private static Arbitrary<String> scalars() {
        return Arbitraries.oneOf(
                Arbitraries.of("prod", "dev", "true", "false", "~", "null", "0", "-1", "1e400", "0x1F", "10s", "5MB", "/api", "*", "\"\"",
                        "'quoted'", "http://127.0.0.1:8000", "https://app.example.com", "0.0.0.0:8080", "[::1]:8080", "!!binary aGk=",
                        "!!str 1", "!custom x", "!!java.lang.Object x", "\"\\e[31m\"", "\"\\0\"", "|", ">-", "&a x", "*a", "*undefined"),
                Arbitraries.strings().ofMaxLength(20),
                Arbitraries.integers().map(String::valueOf),
                Arbitraries.strings().withChars('x').ofMinLength(Binder.MAX_STRING - 2).ofMaxLength(Binder.MAX_STRING + 2));
    }

    /** Lines made of known keys, values, anchors, aliases and YAML's odder syntax, at random indentation. */
    private static Arbitrary<String> fragmentDocuments() {
        Arbitrary<String> line = Combinators.combine(
                Arbitraries.integers().between(0, 8),
                Arbitraries.of(KEYS),
                scalars(),
                Arbitraries.of("%s: %s", "%s:", "- %s: %s", "- %2$s", "%s: &a%s", "%s: *a", "%s: [*a, *a, *a]", "%s: {k: *a}", "%s: &b [*a, *a]",
                        "%s: [*b, *b, *b, *b]", "<<: *a", "? %s\n: %s", "%s: [%s, [%s]]", "# %s", "---", "...", "%%YAML 1.1", "%s: !!map {}",
                        "%s: &r [*r]", "%s: &m {x: *m}", "%s: [[[[[[[[[[[[[[[[[[[[%s]]]]]]]]]]]]]]]]]]]]", "%s:\t%s", "%s: '%s", "%s: \"%s"))
                .as((indent, key, value, shape) -> " ".repeat(indent) + String.format(shape, key, value, value));
        return line.list().ofMinSize(1).ofMaxSize(30).map(l -> String.join("\n", l) + "\n");
    }

    /** The valid base document with a few edits: text inserted, removed or repeated, and bytes replaced. */
    private static Arbitrary<byte[]> mutatedDocuments() {
        byte[] base = dump(base()).getBytes(StandardCharsets.UTF_8);
        Arbitrary<Mutation> mutation = Combinators.combine(
                Arbitraries.integers().between(0, 4),
                Arbitraries.integers().between(0, base.length),
                Arbitraries.integers().between(0, 200),
                Arbitraries.oneOf(fragmentDocuments(), Arbitraries.strings().ofMaxLength(12)),
                Arbitraries.integers().between(0, 255))
                .as(Mutation::new);
        return mutation.list().ofMinSize(1).ofMaxSize(6).map(ms -> {
            byte[] doc = base;
            for (Mutation m : ms) {
                doc = m.apply(doc);
            }
            return doc;
        });
    }

    record Mutation(int kind, int at, int length, String text, int octet) {
        byte[] apply(byte[] doc) {
            int from = Math.min(at, doc.length);
            int to = Math.min(doc.length, from + length);
            byte[] insert = text.getBytes(StandardCharsets.UTF_8);
            return switch (kind) {
                case 0 -> splice(doc, from, from, insert);
                case 1 -> splice(doc, from, to, new byte[0]);
                case 2 -> splice(doc, to, to, java.util.Arrays.copyOfRange(doc, from, to));
                case 3 -> splice(doc, from, Math.min(doc.length, from + 1), new byte[] {(byte) octet});
                default -> splice(doc, from, from, (text + "\n").repeat(3).getBytes(StandardCharsets.UTF_8));
            };
        }

        private static byte[] splice(byte[] doc, int from, int to, byte[] insert) {
            byte[] out = new byte[doc.length - (to - from) + insert.length];
            System.arraycopy(doc, 0, out, 0, from);
            System.arraycopy(insert, 0, out, from, insert.length);
            System.arraycopy(doc, to, out, from + insert.length, doc.length - to);
            return out;
        }
    }

    @Provide
    Arbitrary<byte[]> documents() {
        return Arbitraries.oneOf(
                fragmentDocuments().map(s -> s.getBytes(StandardCharsets.UTF_8)),
                mutatedDocuments(),
                Arbitraries.bytes().array(byte[].class).ofMaxSize(300));
    }

    @Property(tries = 1500)
    void generatedDocumentsAreLoadedOrRefusedWithProblemsNeverAnException(@ForAll("documents") byte[] doc) {
        assertWellFormed(load(doc, Map.of()), doc);
    }

    @Property(tries = 60)
    void aliasesThatMultiplyAreBoundedWhateverTheirShape(@ForAll @IntRange(min = 1, max = 30) int levels,
                                                         @ForAll @IntRange(min = 1, max = 12) int width) {
        String doc = laughs(levels, width);
        ConfigLoader.Result r = load(doc);
        assertWellFormed(r, doc.getBytes(StandardCharsets.UTF_8));
        long aliases = (long) (levels - 1) * width;
        // Values the walk visits: the root, and each level's list (1 + width copies of the level before; level 0 holds width scalars).
        long values = 1;
        long level = 1 + width;
        for (int i = 0; i < levels && values <= YamlNode.MAX_VALUES; i++) {
            values += level;
            level = Math.min(1 + width * level, Integer.MAX_VALUE);
        }
        if (aliases > YamlNode.MAX_ALIASES) {
            assertThat(r.errors()).singleElement().satisfies(p -> assertThat(p.message()).contains("aliases"));
        } else if (values > YamlNode.MAX_VALUES) {
            assertThat(r.errors()).singleElement().satisfies(p -> assertThat(p.message()).contains("values once its aliases are expanded"));
        } else {
            // Within both bounds the document parses: its only problems are its unknown keys.
            assertThat(r.errors()).allSatisfy(p -> assertThat(p.message()).startsWith("unknown key"));
        }
    }
}
