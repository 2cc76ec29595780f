package dev.hrda.data;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JsonTest {
    @Test
    void writesLikePythonJsonDumpIndent2AndReadsBack() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", 1L);
        m.put("b", List.of("x\"y", 2.5, true));
        m.put("c", new LinkedHashMap<>());
        m.put("d", List.of());
        m.put("é", null);
        String s = Json.write(m);
        assertEquals("{\n  \"a\": 1,\n  \"b\": [\n    \"x\\\"y\",\n    2.5,\n    true\n  ],\n  \"c\": {},\n  \"d\": [],\n  \"\\u00e9\": null\n}", s);
        assertEquals(m, Json.parse(s));
    }

    @Test
    void writesCompactLikePythonSeparators() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("a", java.util.Arrays.asList(1L, 2.5, null, true));
        m.put("b", Map.of("c", "Zürich\""));
        m.put("e", new LinkedHashMap<>());
        m.put("f", List.of());
        // python3 -c "import json; print(json.dumps(m, separators=(',', ':')))"
        assertEquals("{\"a\":[1,2.5,null,true],\"b\":{\"c\":\"Z\\u00fcrich\\\"\"},\"e\":{},\"f\":[]}", Json.writeCompact(m));
        assertEquals(m, Json.parse(Json.writeCompact(m)));
    }

    @Test
    void parsesCompactJsonAndNamesErrors() {
        Object o = Json.parse("{\"0\":[[\"f.png\",12]],\"1\":[]}");
        assertEquals(List.of(List.of("f.png", 12L)), ((Map<?, ?>) o).get("0"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\n \"a\": [1, 2\n}"));
        assertTrue(e.getMessage().contains("line 3"), e.getMessage());
    }
}
