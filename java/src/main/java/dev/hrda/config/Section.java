package dev.hrda.config;

import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * One mapping of the merged config being bound into records: typed getters that name the
 * dotted key, its value and where it was set when something is wrong. The keys a section may
 * hold are declared when it is opened; any other key is refused there, with the nearest
 * valid key as a suggestion, before any value is read.
 */
final class Section {
    final String path;
    final Node.Dict node;

    private Section(String path, Node.Dict node) {
        this.path = path;
        this.node = node;
    }

    /** The root, whose keys are {@code valid} or accepted by {@code alsoValid}. */
    static Section root(Node.Dict node, Collection<String> valid, Predicate<String> alsoValid) {
        Section s = new Section("", node);
        s.checkKeys(valid, alsoValid);
        return s;
    }

    private void checkKeys(Collection<String> valid, Predicate<String> alsoValid) {
        for (var e : node.entries().entrySet()) {
            String k = e.getKey();
            if (valid.contains(k) || alsoValid.test(k)) continue;
            String near = nearest(k, valid);
            throw ConfigException.at(e.getValue().origin(), "unknown key '" + key(k) + "'"
                                     + (near != null ? " (did you mean '" + key(near) + "'?)"
                                                     : " (valid here: " + String.join(", ", valid) + ")"));
        }
    }

    /** The dotted key of an entry of this section. */
    String key(String k) {
        return path.isEmpty() ? k : path + "." + k;
    }

    boolean has(String k) {
        Node n = node.get(k);
        return n != null && !(n instanceof Node.Leaf l && l.value() == null);
    }

    Node get(String k) {
        return node.get(k);
    }

    /** Where an entry was set (the section's own place where absent). */
    Origin origin(String k) {
        Node n = node.get(k);
        return n != null ? n.origin() : node.origin();
    }

    ConfigException error(String k, String message) {
        return ConfigException.at(origin(k), key(k) + ": " + message);
    }

    /** The section's own error (a key that is missing, a combination that does not work). */
    ConfigException error(String message) {
        return ConfigException.at(node.origin(), (path.isEmpty() ? "" : path + ": ") + message);
    }

    private Node required(String k) {
        if (!has(k)) throw ConfigException.at(node.origin(), "missing key '" + key(k) + "'");
        return node.get(k);
    }

    private ConfigException wrongType(String k, String expected) {
        Node n = node.get(k);
        return error(k, "expected " + expected + ", got " + Node.show(n) + (n instanceof Node.Leaf ? " (" + n.kind() + ")" : ""));
    }

    // ------------------------------------------------------------------ sections

    Section section(String k, String... valid) {
        Node n = required(k);
        if (!(n instanceof Node.Dict d)) throw wrongType(k, "a mapping");
        Section s = new Section(key(k), d);
        s.checkKeys(Arrays.asList(valid), x -> false);
        return s;
    }

    /** A mapping that may be absent or null (then null). */
    Section optSection(String k, String... valid) {
        return has(k) ? section(k, valid) : null;
    }

    /** A mapping whose keys are names, not settings (custom_keys): its entries. */
    java.util.Map<String, Node> entries(String k) {
        Node n = required(k);
        if (!(n instanceof Node.Dict d)) throw wrongType(k, "a mapping");
        return d.entries();
    }

    /** A mapping that is an item of a list (e.g. a pipeline step), {@code path} naming it. */
    static Section item(String path, Node n, String what, String... valid) {
        if (!(n instanceof Node.Dict d)) throw ConfigException.at(n.origin(), path + ": expected " + what + " (a mapping), got " + Node.show(n));
        Section s = new Section(path, d);
        s.checkKeys(Arrays.asList(valid), x -> false);
        return s;
    }

    /** A list (a single mapping counts as a list of one where {@code single} is true). */
    List<Node> list(String k, boolean single) {
        Node n = required(k);
        if (n instanceof Node.Seq s) return s.items();
        if (single && n instanceof Node.Dict) return List.of(n);
        throw wrongType(k, single ? "a mapping or a list of mappings" : "a list");
    }

    // ------------------------------------------------------------------ scalars

    private Object scalar(String k) {
        Node n = required(k);
        if (!(n instanceof Node.Leaf l)) throw wrongType(k, "a single value");
        return l.value();
    }

    double number(String k) {
        Object v = scalar(k);
        if (v instanceof Long || v instanceof Double) return ((Number) v).doubleValue();
        throw wrongType(k, "a number");
    }

    double number(String k, double def) {
        return has(k) ? number(k) : def;
    }

    /** A number in [lo, hi]. */
    double number(String k, double lo, double hi) {
        double v = number(k);
        if (!(v >= lo && v <= hi)) throw error(k, fmt(v) + " is out of range (expected " + fmt(lo) + " to " + fmt(hi) + ")");
        return v;
    }

    double number(String k, double def, double lo, double hi) {
        return has(k) ? number(k, lo, hi) : def;
    }

    long integer(String k) {
        Object v = scalar(k);
        if (v instanceof Long l) return l;
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15) return (long) (double) d;
        throw wrongType(k, "an integer");
    }

    /** An integer in [lo, hi]. */
    int integer(String k, long lo, long hi) {
        long v = integer(k);
        if (v < lo || v > hi) throw error(k, v + " is out of range (expected " + lo + (hi == Integer.MAX_VALUE ? " or more" : " to " + hi) + ")");
        return (int) v;
    }

    int integer(String k, int def, long lo, long hi) {
        return has(k) ? integer(k, lo, hi) : def;
    }

    private <T> T typed(String k, Class<T> type, String expected) {
        Object v = scalar(k);
        if (type.isInstance(v)) return type.cast(v);
        throw wrongType(k, expected);
    }

    boolean flag(String k) {
        return typed(k, Boolean.class, "true or false");
    }

    boolean flag(String k, boolean def) {
        return has(k) ? flag(k) : def;
    }

    String string(String k) {
        return typed(k, String.class, "a string");
    }

    /** A string or null where absent / null. */
    String string(String k, String def) {
        return has(k) ? string(k) : def;
    }

    /** One of {@code allowed} (case-sensitive), else an error listing them. */
    String choice(String k, String def, String... allowed) {
        String v = has(k) || def == null ? string(k) : def;
        for (String a : allowed) if (a.equals(v)) return v;
        throw error(k, "'" + v + "' is not supported (" + String.join(", ", allowed) + ")");
    }

    /**
     * A value the engine supports in one setting only: absent, or equal to {@code expected}
     * (numbers compare by value); otherwise "not supported" with {@code why}.
     */
    void fixed(String k, Object expected, String why) {
        if (!node.entries().containsKey(k)) return;
        Node n = node.get(k);
        Object v = n instanceof Node.Leaf l ? l.value() : n.plain();
        boolean same = expected instanceof Number e && v instanceof Number x ? e.doubleValue() == x.doubleValue()
                : expected == null ? v == null : expected.equals(v);
        if (!same) throw error(k, Node.show(n) + " is not supported (only " + show(expected) + (why.isEmpty() ? "" : ": " + why) + ")");
    }

    private List<Node> items(String k, int len) {
        List<Node> items = list(k, false);
        if (len >= 0 && items.size() != len) throw error(k, "expected " + len + " values, got " + items.size());
        return items;
    }

    private Object itemValue(String k, Node n) {
        if (n instanceof Node.Leaf l && (l.value() instanceof Long || l.value() instanceof Double)) return l.value();
        throw error(k, "expected a list of numbers, got " + Node.show(n) + " in it");
    }

    /** A list of {@code len} integers ({@code len} -1: any length). */
    int[] ints(String k, int len) {
        List<Node> items = items(k, len);
        int[] out = new int[items.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = itemValue(k, items.get(i));
            double d = ((Number) v).doubleValue();
            if (d != Math.rint(d) || Math.abs(d) > Integer.MAX_VALUE) throw error(k, "expected integers, got " + fmt(d));
            out[i] = (int) d;
        }
        return out;
    }

    /** A list of {@code len} numbers ({@code len} -1: any length). */
    double[] numbers(String k, int len) {
        List<Node> items = items(k, len);
        double[] out = new double[items.size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) itemValue(k, items.get(i))).doubleValue();
        return out;
    }

    /** A size given as [a, a] or a single a, which must be square for us. */
    int square(String k, String what) {
        Node n = required(k);
        if (n instanceof Node.Leaf) return integer(k, 1, Integer.MAX_VALUE);
        int[] v = ints(k, 2);
        if (v[0] != v[1]) throw error(k, Arrays.toString(v) + ": only square " + what + " are supported");
        if (v[0] < 1) throw error(k, "sizes must be positive, got " + Arrays.toString(v));
        return v[0];
    }

    // ------------------------------------------------------------------ helpers

    static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : Double.toString(v);
    }

    private static String show(Object v) {
        if (v instanceof String s) return "'" + s + "'";
        if (v instanceof Number n) return fmt(n.doubleValue());
        return String.valueOf(v);
    }

    /** The valid key closest to {@code k} by edit distance, or null if none is close. */
    static String nearest(String k, Collection<String> valid) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        String kn = k.toLowerCase(Locale.ROOT).replace("-", "_");
        for (String v : valid) {
            int d = distance(kn, v.toLowerCase(Locale.ROOT));
            if (d < bestD) {
                bestD = d;
                best = v;
            }
        }
        return best != null && bestD <= Math.max(2, Math.min(k.length(), best.length()) / 3) ? best : null;
    }

    /** Optimal-string-alignment distance (Levenshtein with adjacent transpositions). */
    static int distance(String a, String b) {
        int[][] d = new int[a.length() + 1][b.length() + 1];
        for (int i = 0; i <= a.length(); i++) d[i][0] = i;
        for (int j = 0; j <= b.length(); j++) d[0][j] = j;
        for (int i = 1; i <= a.length(); i++) {
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                d[i][j] = Math.min(Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                if (i > 1 && j > 1 && a.charAt(i - 1) == b.charAt(j - 2) && a.charAt(i - 2) == b.charAt(j - 1)) {
                    d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
                }
            }
        }
        return d[a.length()][b.length()];
    }
}
