package dev.hrda.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A value of a config tree and where it was set. Trees are immutable: merging builds new
 * mappings and shares the unchanged values. Scalars are {@link Long}, {@link Double},
 * {@link Boolean}, {@link String} or null.
 */
sealed interface Node permits Node.Dict, Node.Seq, Node.Leaf {
    Origin origin();

    /** The value as plain Java objects (LinkedHashMap, ArrayList, scalars), for dumping. */
    Object plain();

    /** What kind of value this is, for messages. */
    String kind();

    record Dict(Map<String, Node> entries, Origin origin) implements Node {
        public Dict {
            entries = Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        }

        Node get(String key) {
            return entries.get(key);
        }

        @Override
        public Object plain() {
            Map<String, Object> m = new LinkedHashMap<>();
            entries.forEach((k, v) -> m.put(k, v.plain()));
            return m;
        }

        @Override
        public String kind() {
            return "a mapping";
        }
    }

    record Seq(List<Node> items, Origin origin) implements Node {
        public Seq {
            items = List.copyOf(items);
        }

        @Override
        public Object plain() {
            List<Object> l = new ArrayList<>();
            for (Node n : items) l.add(n.plain());
            return l;
        }

        @Override
        public String kind() {
            return "a list";
        }
    }

    record Leaf(Object value, Origin origin) implements Node {
        @Override
        public Object plain() {
            return value;
        }

        @Override
        public String kind() {
            if (value == null) return "null";
            if (value instanceof String) return "a string";
            if (value instanceof Boolean) return "a boolean";
            if (value instanceof Long) return "an integer";
            return "a number";
        }

        /** The value as written in a message: strings quoted. */
        String show() {
            return value instanceof String s ? "'" + s + "'" : String.valueOf(value);
        }
    }

    /** A value for messages: scalars as written, else its kind. */
    static String show(Node n) {
        return n instanceof Leaf l ? l.show() : n.kind();
    }
}
