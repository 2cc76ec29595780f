package dev.hrda.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads one YAML document into a {@link Node} tree with the line of every value, through
 * Jackson's streaming YAML parser. Anchors and aliases are resolved here (Jackson reports an
 * alias as a string naming its anchor), and so are merge keys ({@code <<: *anchor} or a list
 * of them; keys written in the mapping win). Duplicate keys are refused.
 */
final class YamlReader {
    private YamlReader() {}

    private static final YAMLFactory FACTORY = YAMLFactory.builder().build();

    static Node.Dict read(Path file, String text) {
        Origin top = Origin.of(file, 1);
        try (YAMLParser p = (YAMLParser) FACTORY.createParser(text)) {
            YamlReader.Reader r = new Reader(p, file);
            if (p.nextToken() == null) return new Node.Dict(Map.of(), top);
            Node n = r.node(null);
            if (!(n instanceof Node.Dict d)) throw ConfigException.at(top, "the top level must be a mapping of keys, not " + n.kind());
            if (p.nextToken() != null) throw ConfigException.at(r.here(), "a config file holds one YAML document");
            return d;
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw ConfigException.at(at == null ? top : top.atLine(at.getLineNr()), "YAML syntax error: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ConfigException.at(top, "cannot read (" + e.getMessage() + ")");
        }
    }

    private static final class Reader {
        final YAMLParser p;
        final Path file;
        final Map<String, Node> anchors = new HashMap<>();

        Reader(YAMLParser p, Path file) {
            this.p = p;
            this.file = file;
        }

        Origin here() {
            return Origin.of(file, p.currentTokenLocation().getLineNr());
        }

        /** The value at the current token; {@code at}: the line of its key (null: its own). */
        Node node(Origin at) throws IOException {
            Origin where = at != null ? at : here();
            String anchor = p.getCurrentAnchor();
            Node n = switch (p.currentToken()) {
                case START_OBJECT -> dict(where);
                case START_ARRAY -> {
                    List<Node> items = new ArrayList<>();
                    while (p.nextToken() != JsonToken.END_ARRAY) items.add(node(null));
                    yield new Node.Seq(items, where);
                }
                case VALUE_STRING -> {
                    if (!p.isCurrentAlias()) yield new Node.Leaf(p.getText(), where);
                    Node target = anchors.get(p.getText());
                    if (target == null) throw ConfigException.at(where, "alias *" + p.getText() + " has no anchor &" + p.getText() + " before it");
                    yield target;
                }
                case VALUE_NUMBER_INT -> {
                    Number v = p.getNumberValue();
                    if (v instanceof BigInteger) throw ConfigException.at(where, "integer " + p.getText() + " is too large");
                    yield new Node.Leaf(v.longValue(), where);
                }
                case VALUE_NUMBER_FLOAT -> new Node.Leaf(p.getDoubleValue(), where);
                case VALUE_TRUE -> new Node.Leaf(Boolean.TRUE, where);
                case VALUE_FALSE -> new Node.Leaf(Boolean.FALSE, where);
                case VALUE_NULL -> new Node.Leaf(null, where);
                default -> throw ConfigException.at(where, "unexpected YAML content (" + p.currentToken() + ")");
            };
            if (anchor != null) anchors.put(anchor, n);
            return n;
        }

        private Node.Dict dict(Origin where) throws IOException {
            Map<String, Node> m = new LinkedHashMap<>();
            Set<String> written = new HashSet<>();
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                Origin keyAt = here();
                p.nextToken();
                Node v = node(keyAt);
                if (key.equals("<<")) {
                    List<Node> sources = v instanceof Node.Seq s ? s.items() : List.of(v);
                    for (Node src : sources) {
                        if (!(src instanceof Node.Dict d)) throw ConfigException.at(keyAt, "a merge key '<<' takes a mapping or a list of mappings, not " + src.kind());
                        d.entries().forEach(m::putIfAbsent);
                    }
                    continue;
                }
                if (!written.add(key)) throw ConfigException.at(keyAt, "duplicate key '" + key + "'");
                m.put(key, v);
            }
            return new Node.Dict(m, where);
        }
    }
}
