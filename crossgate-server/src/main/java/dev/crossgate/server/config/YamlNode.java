package dev.crossgate.server.config;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.composer.Composer;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;
import org.yaml.snakeyaml.parser.Parser;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.ReaderException;
import org.yaml.snakeyaml.reader.StreamReader;
import org.yaml.snakeyaml.resolver.Resolver;

/**
 * A YAML document as a tree that remembers the line of every key and value, so that configuration
 * errors name the file and line. Built from SnakeYAML's node graph (composition, no object binding).
 *
 * <p>The file is hostile input until proven otherwise, so every cost is bounded before it is paid:
 * <ul>
 *   <li>size: at most {@link #MAX_BYTES} bytes, checked before the file is read (and SnakeYAML's code-point
 *       limit set to the same figure);</li>
 *   <li>encoding: strict UTF-8 (YAML 1.2 section 5.2); the first invalid byte is reported with its line,
 *       column and byte offset instead of being replaced or thrown as {@code MalformedInputException};</li>
 *   <li>nesting: at most {@link #MAX_DEPTH} levels, as written (SnakeYAML's {@code nestingDepthLimit}) and
 *       once aliases are followed;</li>
 *   <li>aliases: at most {@link #MAX_ALIASES} aliases of lists or mappings (SnakeYAML's
 *       {@code maxAliasesForCollections}), no recursive keys, and no alias inside the collection it names
 *       (a cycle: walking it would never end);</li>
 *   <li>expansion: at most {@link #MAX_VALUES} values once aliases are expanded. The alias limit alone does
 *       not bound expansion: in the "billion laughs" document every level aliases the one before twice, so
 *       50 aliases make 2^25 values (CVE-2017-18640 raised SnakeYAML's default alias limit, which only slows
 *       it down). Each alias is walked as a copy of what it names and every value visited is counted, so the
 *       walk stops after {@link #MAX_VALUES} steps whatever the shape. Aliases of lists and mappings stay
 *       usable (the same origin list for several routes), which refusing them outright would not allow.</li>
 * </ul>
 * Every one of these is a {@link SyntaxError} with a line (0 when the file as a whole is at fault), never an
 * exception of another type.
 */
public final class YamlNode {
    public enum Kind { MAP, LIST, SCALAR, NULL }

    /** The largest file read: a configuration is a few kilobytes; a megabyte is already nothing a person wrote. */
    public static final int MAX_BYTES = 1 << 20;
    /** Levels of nesting, as written and once aliases are followed; a configuration uses about five. */
    public static final int MAX_DEPTH = 50;
    /** Aliases that name a list or a mapping. */
    public static final int MAX_ALIASES = 50;
    /** Values (keys' values, list items, scalars) once aliases are expanded; a large configuration has a thousand. */
    public static final int MAX_VALUES = 10_000;
    /**
     * The longest line. SnakeYAML's reader copies the unread part of its window each time it refills it
     * ({@code StreamReader.update}), and a scanner looking for the end of a comment or a scalar keeps all of a line
     * unread: the cost of a line grows with the square of its length (a 1 MB line took seconds). Bounding lines
     * bounds that; the longest value a setting takes ({@code Binder.MAX_STRING}) fits on one with its key.
     */
    public static final int MAX_LINE = 16 * 1024;
    /** Parser events read while composing; every value is one or two (a collection starts and ends). */
    static final int MAX_EVENTS = 2 * MAX_VALUES + 16;

    private final Kind kind;
    private final String scalar;
    private final boolean plainString;
    private final Map<String, YamlNode> map;
    private final Map<String, Integer> keyLines;
    private final List<YamlNode> list;
    private final int line;

    private YamlNode(Kind kind, String scalar, boolean plainString, Map<String, YamlNode> map, Map<String, Integer> keyLines,
                     List<YamlNode> list, int line) {
        this.kind = kind;
        this.scalar = scalar;
        this.plainString = plainString;
        this.map = map;
        this.keyLines = keyLines;
        this.list = list;
        this.line = line;
    }

    /** A document that cannot be read as a configuration: bad syntax, encoding or size, with its line (0: the whole file). */
    public static final class SyntaxError extends Exception {
        private final int line;
        private final String fix;

        SyntaxError(String message, int line) {
            this(message, line, "fix the YAML syntax at that line");
        }

        SyntaxError(String message, int line, String fix) {
            super(message, null, false, false);
            this.line = line;
            this.fix = fix;
        }

        public int line() {
            return line;
        }

        /** What to do about it. */
        public String fix() {
            return fix;
        }
    }

    /** Reads and parses a file: refused unread when larger than {@link #MAX_BYTES}. */
    public static YamlNode read(Path file) throws IOException, SyntaxError {
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw tooLarge(size, true);
        }
        byte[] bytes;
        // Read at most one byte past the limit: the size can change between the check and the read.
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes(MAX_BYTES + 1);
        }
        if (bytes.length > MAX_BYTES) {
            throw tooLarge(bytes.length, false);
        }
        return parse(bytes);
    }

    /** {@code exact}: the size is known (else reading stopped one byte past the limit). */
    private static SyntaxError tooLarge(long size, boolean exact) {
        return new SyntaxError("the file is " + (exact ? size : "more than " + MAX_BYTES) + " bytes (expected: at most "
                + MAX_BYTES + " bytes, 1 MiB)", 0, "give the path of a crossgate.yaml (a configuration is a few kilobytes)");
    }

    /** Parses UTF-8 bytes; invalid UTF-8 is a {@link SyntaxError} at its line. */
    public static YamlNode parse(byte[] bytes) throws SyntaxError {
        if (bytes.length > MAX_BYTES) {
            throw tooLarge(bytes.length, true);
        }
        return parse(decode(bytes));
    }

    /** Parses one YAML document; an empty document is an empty map. Duplicate keys are syntax errors. */
    public static YamlNode parse(String text) throws SyntaxError {
        if (text.length() > MAX_BYTES) {
            throw tooLarge(text.length(), true);
        }
        checkLines(text);
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setAllowRecursiveKeys(false);
        options.setMaxAliasesForCollections(MAX_ALIASES);
        options.setNestingDepthLimit(MAX_DEPTH);
        options.setCodePointLimit(MAX_BYTES);
        options.setProcessComments(false);
        options.setMergeOnCompose(false);
        Parser parser = new Bounded(new ParserImpl(new StreamReader(text), options));
        Node root;
        try {
            root = new Composer(parser, new Resolver(), options).getSingleNode();
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() != null ? e.getProblemMark().getLine() + 1 : 0;
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
            throw new SyntaxError("YAML syntax: " + problem, line);
        } catch (ReaderException e) {
            // A character YAML does not allow (YAML 1.2 section 5.1: C0 controls other than tab, line feed and carriage return, ...).
            int line = lineAt(text, e.getPosition());
            throw new SyntaxError("YAML: the character U+" + String.format("%04X", e.getCodePoint()) + " is not allowed in a YAML file", line,
                    "remove it (or write it as an escape such as \\x00 inside a double-quoted string)");
        } catch (YAMLException e) {
            // SnakeYAML's limits (aliases, nesting, recursive keys, size) carry no mark: the parser's next event is where it stopped.
            throw new SyntaxError(limitMessage(e.getMessage()), lineNear(parser),
                    "simplify the file: a configuration needs no deep nesting and few aliases");
        } catch (StackOverflowError e) {
            // Not expected with the nesting limit above; kept so that no input can end the command with a stack trace.
            throw new SyntaxError("the document is nested too deeply (expected: at most " + MAX_DEPTH + " levels)", 0,
                    "simplify the file: a configuration needs no deep nesting");
        }
        if (root == null) {
            return new YamlNode(Kind.MAP, null, false, Map.of(), Map.of(), null, 1);
        }
        return new Walk().convert(root, 0, 0);
    }

    private static String limitMessage(String m) {
        String s = m == null ? "" : m;
        if (s.equals(Bounded.TOO_MANY)) {
            return "the document has more than " + MAX_VALUES + " values (expected: a configuration, a few hundred values)";
        }
        if (s.startsWith("Number of aliases")) {
            return "the document has more than " + MAX_ALIASES + " aliases (*name) of lists or mappings (expected: at most " + MAX_ALIASES + ")";
        }
        if (s.startsWith("Nesting Depth")) {
            return "the document is nested more than " + MAX_DEPTH + " levels deep (expected: at most " + MAX_DEPTH + ")";
        }
        if (s.startsWith("Recursive key")) {
            return "a key is an alias of the mapping that contains it (a recursive key)";
        }
        if (s.contains("exceeds the limit")) {
            return "the document is more than " + MAX_BYTES + " characters (expected: at most " + MAX_BYTES + ")";
        }
        return "YAML: " + s;
    }

    /** Refuses a line longer than {@link #MAX_LINE} before SnakeYAML reads it (see there why). */
    private static void checkLines(String text) throws SyntaxError {
        int line = 1;
        int start = 0;
        for (int i = 0, n = text.length(); i <= n; i++) {
            if (i == n || isBreak(text, i)) {
                if (i - start > MAX_LINE) {
                    throw new SyntaxError("line " + line + " is " + (i - start) + " characters long (expected: at most " + MAX_LINE + ")", line,
                            "break the line; a value that long belongs in a file of its own");
                }
                line++;
                start = i + 1;
            }
        }
    }

    /** Stops composing after {@link #MAX_EVENTS} events, so that a document of many small values costs no more than a bounded one. */
    private static final class Bounded implements Parser {
        static final String TOO_MANY = "too many events";
        private final Parser parser;
        private int events;

        Bounded(Parser parser) {
            this.parser = parser;
        }

        @Override
        public boolean checkEvent(Event.ID choice) {
            return parser.checkEvent(choice);
        }

        @Override
        public Event peekEvent() {
            return parser.peekEvent();
        }

        @Override
        public Event getEvent() {
            if (++events > MAX_EVENTS) {
                throw new YAMLException(TOO_MANY);
            }
            return parser.getEvent();
        }
    }

    private static int lineNear(Parser parser) {
        try {
            Event next = parser.peekEvent();
            Mark m = next == null ? null : next.getStartMark();
            return m == null ? 0 : m.getLine() + 1;
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private static int lineAt(String text, int position) {
        int line = 1;
        int end = Math.min(Math.max(position, 0), text.length());
        for (int i = 0; i < end; i++) {
            if (isBreak(text, i)) {
                line++;
            }
        }
        return line;
    }

    /**
     * True when the character at {@code i} ends a line as SnakeYAML counts lines (YAML 1.1 section 4.1.4: LF, CR,
     * NEL, LS and PS; CR LF counts once, at the LF), so that the lines reported here are the lines its marks report.
     */
    private static boolean isBreak(String text, int i) {
        char c = text.charAt(i);
        return c == '\n' || c == '\u0085' || c == '\u2028' || c == '\u2029'
                || (c == '\r' && (i + 1 == text.length() || text.charAt(i + 1) != '\n'));
    }

    /**
     * Strict UTF-8 (RFC 3629: overlong forms, surrogates and bytes that start no sequence are all invalid).
     * The error names the line, the column (characters before it on its line, plus one) and the byte offset.
     */
    static String decode(byte[] bytes) throws SyntaxError {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length + 1);
        CoderResult r = decoder.decode(in, out, true);
        if (!r.isError()) {
            r = decoder.flush(out);
        }
        if (r.isError()) {
            int offset = in.position();
            int line = 1;
            int lineStart = 0;
            for (int i = 0; i < offset; i++) {
                if (bytes[i] == '\n' || (bytes[i] == '\r' && (i + 1 == bytes.length || bytes[i + 1] != '\n'))) {
                    line++;
                    lineStart = i + 1;
                }
            }
            int column = 1;
            for (int i = lineStart; i < offset; i++) {
                if ((bytes[i] & 0xC0) != 0x80) {
                    column++;
                }
            }
            throw new SyntaxError("the file is not valid UTF-8: byte 0x" + String.format("%02X", bytes[offset] & 0xFF) + " at line " + line
                    + ", column " + column + " (byte offset " + offset + ")", line,
                    "save the file as UTF-8 (YAML 1.2 section 5.2); an editor's \"Latin-1\" or \"Windows-1252\" encoding writes such bytes");
        }
        out.flip();
        String s = out.toString();
        // A byte order mark is allowed at the start of a YAML stream (YAML 1.2 section 5.2).
        return s.startsWith("\uFEFF") ? s.substring(1) : s;
    }

    /**
     * Turns SnakeYAML's node graph, where an alias is the same node object as its anchor, into a tree. Counts every
     * value it visits (the expansion bound) and keeps the collections on the way down (a collection met again below
     * itself is a cycle through an alias). YAML defines an anchor before any alias of it (YAML 1.2 section 7.1) and the
     * walk goes in document order, so a node met a second time is met through an alias: its errors are reported at the
     * line that uses the alias, not at the anchor.
     */
    private static final class Walk {
        private final Map<Node, Boolean> ancestors = new IdentityHashMap<>();
        private final Map<Node, Boolean> seen = new IdentityHashMap<>();
        private int visited;

        /** {@code usedAt}: the line of the key whose value this is, or of the list it is an item of (0 for the root). */
        YamlNode convert(Node node, int depth, int usedAt) throws SyntaxError {
            int line = node.getStartMark().getLine() + 1;
            boolean viaAlias = seen.put(node, Boolean.TRUE) != null;
            int at = viaAlias && usedAt > 0 ? usedAt : line;
            if (++visited > MAX_VALUES) {
                throw new SyntaxError("the document has more than " + MAX_VALUES + " values once its aliases are expanded (expected: a configuration,"
                        + " a few hundred values)", at,
                        "remove the aliases (*name) that repeat lists or mappings; aliases of aliases double the values at each level");
            }
            if (depth > MAX_DEPTH) {
                throw new SyntaxError("the document is nested more than " + MAX_DEPTH + " levels deep once its aliases are followed (expected: at most "
                        + MAX_DEPTH + ")", at, "simplify the file: a configuration needs no deep nesting");
            }
            if (node instanceof ScalarNode s) {
                if (s.getTag().equals(Tag.NULL)) {
                    return new YamlNode(Kind.NULL, null, false, null, null, null, at);
                }
                return new YamlNode(Kind.SCALAR, s.getValue(), s.getTag().equals(Tag.STR), null, null, null, at);
            }
            if (ancestors.containsKey(node)) {
                String anchor = node.getAnchor() == null ? "an alias" : "the alias *" + node.getAnchor();
                throw new SyntaxError("a recursive alias: " + anchor + " names a " + (node instanceof MappingNode ? "mapping" : "list")
                        + " that contains the alias itself (its value would be infinite)", at,
                        "replace the alias with the values it should repeat");
            }
            ancestors.put(node, Boolean.TRUE);
            try {
                if (node instanceof MappingNode m) {
                    Map<String, YamlNode> map = new LinkedHashMap<>();
                    Map<String, Integer> lines = new LinkedHashMap<>();
                    for (NodeTuple t : m.getValue()) {
                        if (!(t.getKeyNode() instanceof ScalarNode k)) {
                            throw new SyntaxError("a key must be a plain name", viaAlias ? at : t.getKeyNode().getStartMark().getLine() + 1);
                        }
                        int keyLine = k.getStartMark().getLine() + 1;
                        if (map.containsKey(k.getValue())) {
                            throw new SyntaxError("duplicate key " + Binder.shorten(k.getValue()), viaAlias ? at : keyLine);
                        }
                        map.put(k.getValue(), convert(t.getValueNode(), depth + 1, keyLine));
                        lines.put(k.getValue(), keyLine);
                    }
                    return new YamlNode(Kind.MAP, null, false, map, lines, null, at);
                }
                List<YamlNode> list = new ArrayList<>();
                for (Node n : ((SequenceNode) node).getValue()) {
                    list.add(convert(n, depth + 1, at));
                }
                return new YamlNode(Kind.LIST, null, false, null, null, list, at);
            } finally {
                ancestors.remove(node);
            }
        }
    }

    public Kind kind() {
        return kind;
    }

    public int line() {
        return line;
    }

    /** The scalar's text (as written, without quotes). */
    public String text() {
        return scalar;
    }

    /** True for a scalar that YAML resolved to a string (quoted, or not a number, boolean or null). */
    public boolean isString() {
        return plainString;
    }

    public Map<String, YamlNode> entries() {
        return map;
    }

    public int keyLine(String key) {
        Integer l = keyLines.get(key);
        return l == null ? line : l;
    }

    public List<YamlNode> items() {
        return list;
    }

    public String describeKind() {
        return switch (kind) {
            case MAP -> "a mapping";
            case LIST -> "a list";
            case NULL -> "nothing (null)";
            case SCALAR -> '"' + Binder.shorten(scalar) + '"';
        };
    }
}
