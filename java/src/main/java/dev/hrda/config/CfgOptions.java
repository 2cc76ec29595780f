package dev.hrda.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code --cfg-options key=value}: mmcv's DictAction and {@code Config.merge_from_dict}. The
 * key is dotted ({@code model.decode_head.hr_loss_weight}); a number indexes a list
 * ({@code data.train.source.pipeline.2.img_scale}); missing mappings on the way are created
 * (the binder then refuses keys it does not know). The value is an integer, a float, True /
 * False (any case), None / null, a list {@code [a,b]} or {@code a,b}, a tuple {@code (a,b)}
 * (a list here), nested {@code [(1,2),[a,b]]}, or else a string. Deviation from mmcv: a value
 * in quotes stays a string ({@code name='1'}), and spaces inside quotes are kept.
 */
final class CfgOptions {
    private CfgOptions() {}

    private static final Pattern INT = Pattern.compile("[-+]?\\d+");
    private static final Pattern FLOAT = Pattern.compile("[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?|[-+]?(inf|infinity|nan)",
                                                         Pattern.CASE_INSENSITIVE);

    static Node.Dict apply(Node.Dict tree, String keyValue) {
        int eq = keyValue.indexOf('=');
        Origin at = Origin.option(keyValue);
        if (eq <= 0) throw ConfigException.at(at, "expected key=value");
        String key = keyValue.substring(0, eq).strip();
        Node value = toNode(parse(keyValue.substring(eq + 1)), at);
        String[] path = key.split("\\.", -1);
        for (String p : path) if (p.isEmpty()) throw ConfigException.at(at, "empty component in key '" + key + "'");
        return (Node.Dict) set(tree, path, 0, value, at);
    }

    private static Node set(Node node, String[] path, int i, Node value, Origin at) {
        String k = path[i];
        boolean last = i == path.length - 1;
        if (node instanceof Node.Seq s && INT.matcher(k).matches()) {
            int idx = Integer.parseInt(k);
            if (idx < 0 || idx >= s.items().size()) {
                throw ConfigException.at(at, "index " + idx + " is out of range: '" + String.join(".", java.util.Arrays.copyOf(path, i))
                                             + "' has " + s.items().size() + " items");
            }
            List<Node> items = new ArrayList<>(s.items());
            items.set(idx, last ? value : set(items.get(idx), path, i + 1, value, at));
            return new Node.Seq(items, s.origin());
        }
        if (!(node instanceof Node.Dict d)) {
            throw ConfigException.at(at, "cannot set '" + String.join(".", path) + "': '" + String.join(".", java.util.Arrays.copyOf(path, i))
                                         + "' is " + node.kind() + " (" + node.origin() + ")");
        }
        Map<String, Node> m = new LinkedHashMap<>(d.entries());
        Node old = m.get(k);
        if (last) m.put(k, value);
        else m.put(k, set(old == null || (old instanceof Node.Leaf l && l.value() == null) ? new Node.Dict(Map.of(), at) : old,
                          path, i + 1, value, at));
        return new Node.Dict(m, d.origin());
    }

    private static Node toNode(Object v, Origin at) {
        if (v instanceof List<?> l) {
            List<Node> items = new ArrayList<>();
            for (Object o : l) items.add(toNode(o, at));
            return new Node.Seq(items, at);
        }
        return new Node.Leaf(v, at);
    }

    /** A DictAction value as Java: Long, Double, Boolean, null, String or a List of those. */
    static Object parse(String raw) {
        String v = raw.strip();
        if (v.length() >= 2 && (v.charAt(0) == '\'' || v.charAt(0) == '"') && v.charAt(v.length() - 1) == v.charAt(0)) {
            return v.substring(1, v.length() - 1);
        }
        boolean list = v.startsWith("[") && v.endsWith("]"), tuple = v.startsWith("(") && v.endsWith(")");
        if (!list && !tuple && topLevelComma(v) < 0) return scalar(v);
        if (list || tuple) v = v.substring(1, v.length() - 1).strip();
        List<Object> out = new ArrayList<>();
        while (!v.isEmpty()) {
            int c = topLevelComma(v);
            String item = c < 0 ? v : v.substring(0, c);
            out.add(parse(item));
            v = c < 0 ? "" : v.substring(c + 1).strip();
        }
        return out;
    }

    private static int topLevelComma(String s) {
        int depth = 0;
        char quote = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == quote) quote = 0;
            } else if (c == '\'' || c == '"') {
                quote = c;
            } else if (c == '[' || c == '(') {
                depth++;
            } else if (c == ']' || c == ')') {
                depth--;
            } else if (c == ',' && depth == 0) {
                return i;
            }
        }
        return -1;
    }

    private static Object scalar(String s) {
        if (INT.matcher(s).matches()) {
            try {
                return Long.parseLong(s);
            } catch (NumberFormatException e) {
                return s;
            }
        }
        if (FLOAT.matcher(s).matches()) {
            String t = s.toLowerCase(Locale.ROOT).replace("infinity", "inf");
            if (t.endsWith("inf")) return t.startsWith("-") ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
            if (t.endsWith("nan")) return Double.NaN;
            return Double.parseDouble(s);
        }
        String l = s.toLowerCase(Locale.ROOT);
        if (l.equals("true") || l.equals("false")) return l.equals("true");
        if (s.equals("None") || s.equals("null") || s.equals("~")) return null;
        return s;
    }
}
