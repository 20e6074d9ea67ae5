package dev.crossgate.server.config;

import java.io.Reader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * A YAML document as a tree that remembers the line of every key and value, so that configuration
 * errors name the file and line. Built from SnakeYAML's node graph (composition, no object binding).
 */
public final class YamlNode {
    public enum Kind { MAP, LIST, SCALAR, NULL }

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

    /** A syntax error in the document, with its line. */
    public static final class SyntaxError extends Exception {
        private final int line;

        SyntaxError(String message, int line) {
            super(message);
            this.line = line;
        }

        public int line() {
            return line;
        }
    }

    /** Parses one YAML document; an empty document is an empty map. Duplicate keys are syntax errors. */
    public static YamlNode parse(Reader reader) throws SyntaxError {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(50);
        options.setCodePointLimit(4 * 1024 * 1024);
        Node root;
        try {
            root = new Yaml(options).compose(reader);
        } catch (MarkedYAMLException e) {
            int line = e.getProblemMark() != null ? e.getProblemMark().getLine() + 1 : 0;
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
            throw new SyntaxError("YAML syntax: " + problem, line);
        } catch (RuntimeException e) {
            throw new SyntaxError("YAML syntax: " + e.getMessage(), 0);
        }
        if (root == null) {
            return new YamlNode(Kind.MAP, null, false, Map.of(), Map.of(), null, 1);
        }
        return convert(root);
    }

    private static YamlNode convert(Node node) throws SyntaxError {
        int line = node.getStartMark().getLine() + 1;
        if (node instanceof MappingNode m) {
            Map<String, YamlNode> map = new LinkedHashMap<>();
            Map<String, Integer> lines = new LinkedHashMap<>();
            for (NodeTuple t : m.getValue()) {
                if (!(t.getKeyNode() instanceof ScalarNode k)) {
                    throw new SyntaxError("a key must be a plain name", t.getKeyNode().getStartMark().getLine() + 1);
                }
                if (map.containsKey(k.getValue())) {
                    throw new SyntaxError("duplicate key " + k.getValue(), k.getStartMark().getLine() + 1);
                }
                map.put(k.getValue(), convert(t.getValueNode()));
                lines.put(k.getValue(), k.getStartMark().getLine() + 1);
            }
            return new YamlNode(Kind.MAP, null, false, map, lines, null, line);
        }
        if (node instanceof SequenceNode s) {
            List<YamlNode> list = new ArrayList<>();
            for (Node n : s.getValue()) {
                list.add(convert(n));
            }
            return new YamlNode(Kind.LIST, null, false, null, null, list, line);
        }
        ScalarNode s = (ScalarNode) node;
        if (s.getTag().equals(Tag.NULL)) {
            return new YamlNode(Kind.NULL, null, false, null, null, null, line);
        }
        return new YamlNode(Kind.SCALAR, s.getValue(), s.getTag().equals(Tag.STR), null, null, null, line);
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
            case SCALAR -> '"' + scalar + '"';
        };
    }
}
