package dev.hrda.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * mmcv's {@code Config.fromfile} for YAML: {@code _base_} (a path or a list, relative to the
 * file that names it) is loaded first, recursively; bases may not share top-level keys; the
 * file then overrides its bases: mappings merge recursively, anything else (lists too)
 * replaces, and a mapping with {@code _delete_: true} replaces the base's value whole. Then
 * {@code --cfg-options} as mmcv's {@code merge_from_dict}: dotted keys, a number indexes a list.
 */
final class ConfigLoader {
    private ConfigLoader() {}

    static final String BASE = "_base_", DELETE = "_delete_";

    static Node.Dict load(Path file, List<String> cfgOptions) {
        Path abs = file.toAbsolutePath().normalize();
        if (!Files.isRegularFile(abs)) throw new ConfigException(Origin.display(abs) + ": config file not found");
        Node.Dict tree = loadFile(abs, new ArrayDeque<>());
        for (String kv : cfgOptions) tree = CfgOptions.apply(tree, kv);
        return tree;
    }

    private static Node.Dict loadFile(Path file, Deque<Path> including) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(Origin.display(file) + ": cannot read (" + e.getMessage() + ")", e);
        }
        Node.Dict d = YamlReader.read(file, text);
        Node baseNode = d.get(BASE);
        Map<String, Node> rest = new LinkedHashMap<>(d.entries());
        rest.remove(BASE);
        Node.Dict child = new Node.Dict(rest, d.origin());
        if (baseNode == null) return merge(child, new Node.Dict(Map.of(), d.origin()));
        List<Node> names = baseNode instanceof Node.Seq s ? s.items() : List.of(baseNode);
        including.push(file);
        Map<String, Node> bases = new LinkedHashMap<>();
        Map<String, Path> setBy = new LinkedHashMap<>();
        for (Node n : names) {
            if (!(n instanceof Node.Leaf l) || !(l.value() instanceof String name)) {
                throw ConfigException.at(n.origin(), "_base_ takes a file name or a list of file names, not " + n.kind());
            }
            if (name.endsWith(".py")) {
                throw ConfigException.at(n.origin(), "_base_ file '" + name + "' is a Python config: name its YAML mirror (.yaml)");
            }
            Path base = file.resolveSibling(name).normalize();
            if (including.contains(base)) {
                List<Path> chain = new ArrayList<>(including);
                Collections.reverse(chain);
                chain = chain.subList(chain.indexOf(base), chain.size());
                throw ConfigException.at(n.origin(), "_base_ cycle: " + chain.stream().map(Origin::display).collect(Collectors.joining(" -> "))
                                                     + " -> " + Origin.display(base));
            }
            if (!Files.isRegularFile(base)) {
                throw ConfigException.at(n.origin(), "_base_ file '" + name + "' not found (" + Origin.display(base) + ")");
            }
            Node.Dict b = loadFile(base, including);
            for (Map.Entry<String, Node> e : b.entries().entrySet()) {
                Path other = setBy.putIfAbsent(e.getKey(), base);
                if (other != null) {
                    throw ConfigException.at(n.origin(), "key '" + e.getKey() + "' is set by two _base_ files, " + Origin.display(other) + " and "
                                                         + Origin.display(base) + " (mmcv allows no duplicate keys among bases)");
                }
                bases.put(e.getKey(), e.getValue());
            }
        }
        including.pop();
        return merge(child, new Node.Dict(bases, d.origin()));
    }

    /** {@code child} over {@code base}, as mmcv's {@code _merge_a_into_b}. */
    static Node.Dict merge(Node.Dict child, Node.Dict base) {
        Map<String, Node> out = new LinkedHashMap<>(base.entries());
        for (Map.Entry<String, Node> e : child.entries().entrySet()) {
            String k = e.getKey();
            Node v = e.getValue(), b = base.get(k);
            if (v instanceof Node.Dict vd && !deletes(vd) && b != null) {
                if (!(b instanceof Node.Dict bd)) {
                    throw ConfigException.at(vd.origin(), "'" + k + "' is a mapping here but " + b.kind() + " in the base (" + b.origin()
                                                          + "); add '_delete_: true' to replace it");
                }
                out.put(k, merge(withoutDelete(vd), bd));
            } else {
                out.put(k, strip(v));
            }
        }
        return new Node.Dict(out, child.origin());
    }

    private static boolean deletes(Node.Dict d) {
        Node n = d.get(DELETE);
        if (n == null) return false;
        if (n instanceof Node.Leaf l && l.value() instanceof Boolean b) return b;
        throw ConfigException.at(n.origin(), "_delete_ takes true or false, not " + Node.show(n));
    }

    private static Node.Dict withoutDelete(Node.Dict d) {
        if (d.get(DELETE) == null) return d;
        Map<String, Node> m = new LinkedHashMap<>(d.entries());
        m.remove(DELETE);
        return new Node.Dict(m, d.origin());
    }

    /** The value with every {@code _delete_} below it removed (checked, then meaningless). */
    private static Node strip(Node n) {
        if (n instanceof Node.Dict d) {
            deletes(d);
            Map<String, Node> m = new LinkedHashMap<>();
            d.entries().forEach((k, v) -> {
                if (!k.equals(DELETE)) m.put(k, strip(v));
            });
            return new Node.Dict(m, d.origin());
        }
        if (n instanceof Node.Seq s) {
            List<Node> items = new ArrayList<>();
            for (Node i : s.items()) items.add(strip(i));
            return new Node.Seq(items, s.origin());
        }
        return n;
    }
}
