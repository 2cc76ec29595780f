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
    void writesFloatsAsPythonRepr() {
        // python3 -c "print([repr(x) for x in [1e-05, 0.0001, 0.1, 2.0, 1e16, 1.5e16, 123456789.0, -0.0, 73.7901234567891, 6e-05, 1/3]])"
        double[] xs = {1e-05, 0.0001, 0.1, 2.0, 1e16, 1.5e16, 123456789.0, -0.0, 73.7901234567891, 6e-05, 1.0 / 3};
        String[] py = {"1e-05", "0.0001", "0.1", "2.0", "1e+16", "1.5e+16", "123456789.0", "-0.0", "73.7901234567891", "6e-05",
                       "0.3333333333333333"};
        for (int i = 0; i < xs.length; i++) assertEquals(py[i], Json.pythonFloat(xs[i]));
        assertEquals("[1e-05, 5e-324, 1.7976931348623157e+308]", Json.writeLine(List.of(1e-05, Double.MIN_VALUE, Double.MAX_VALUE)));
        assertThrows(IllegalArgumentException.class, () -> Json.write(List.of(Double.NaN)));
    }

    @Test
    void escapesLikeEnsureAscii() {
        // python3 -c "import json; print(json.dumps({'k': '\x01\x7f\t/\U0001F600'}))"
        assertEquals("{\"k\": \"\\u0001\\u007f\\t/\\ud83d\\ude00\"}", Json.writeLine(Map.of("k", "\u0001\u007f\t/\uD83D\uDE00")));
        assertEquals("\u0001\u007f\t/\uD83D\uDE00", ((Map<?, ?>) Json.parse(Json.write(Map.of("k", "\u0001\u007f\t/\uD83D\uDE00")))).get("k"));
    }

    @Test
    void readsPythonNaNAndLongs() {
        List<?> l = (List<?>) Json.parse("[NaN, 1234567890123, 3]");
        assertTrue(Double.isNaN((Double) l.get(0)));
        assertEquals(1234567890123L, l.get(1));
        assertEquals(3L, l.get(2));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[12345678901234567890]"));
        assertThrows(IllegalArgumentException.class, () -> Json.parse("[1] 2"));
    }

    @Test
    void parsesCompactJsonAndNamesErrors() {
        Object o = Json.parse("{\"0\":[[\"f.png\",12]],\"1\":[]}");
        assertEquals(List.of(List.of("f.png", 12L)), ((Map<?, ?>) o).get("0"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\n \"a\": [1, 2\n}"));
        assertTrue(e.getMessage().contains("line 3"), e.getMessage());
    }
}
