package dev.hrda.data;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;

/**
 * JSON through Jackson, written as Python's {@code json} module writes it, so files we write
 * look like the ones the original tools write (sample_class_stats.json, metrics, safetensors
 * headers). {@link #parse} gives {@link java.util.LinkedHashMap} objects (key order kept),
 * {@link java.util.ArrayList} arrays, {@link Long} integers (beyond 64 bits: an error),
 * {@link Double} other numbers (NaN accepted, as Python writes it). The writers take maps,
 * lists, strings, numbers, booleans and null: {@link #write} is {@code json.dump(v, f,
 * indent=2)}, {@link #writeCompact} {@code json.dumps(v, separators=(',', ':'))},
 * {@link #writeLine} {@code json.dumps(v)}; floats as Python's {@code repr} (1e-05, 0.1, 2.0),
 * non-ASCII as {@code \u00e9} (ensure_ascii).
 */
public final class Json {
    private Json() {}

    private static final JsonMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.USE_LONG_FOR_INTS, DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    /** The project's configured mapper (for tree or typed reading). */
    public static JsonMapper mapper() {
        return MAPPER;
    }

    /** @throws IllegalArgumentException naming the line and column of a syntax error */
    public static Object parse(String text) {
        try {
            return MAPPER.readValue(text, Object.class);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw new IllegalArgumentException("JSON " + e.getOriginalMessage()
                                               + (at == null ? "" : " at line " + at.getLineNr() + " column " + at.getColumnNr()), e);
        }
    }

    /** Python {@code json.dumps(v, indent=2)}. */
    public static String write(Object v) {
        return write(v, ",", ": ", true);
    }

    /** One line, no spaces: Python {@code json.dumps(v, separators=(',', ':'))}. */
    public static String writeCompact(Object v) {
        return write(v, ",", ":", false);
    }

    /** One line: Python {@code json.dumps(v)} (mmseg's log.json lines). */
    public static String writeLine(Object v) {
        return write(v, ", ", ": ", false);
    }

    private static String write(Object v, String itemSep, String keySep, boolean indent) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = MAPPER.getFactory().createGenerator(out)) {
            g.setPrettyPrinter(new PythonPrinter(itemSep, keySep, indent));
            g.setCharacterEscapes(PythonEscapes.INSTANCE);
            value(g, v);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }

    private static void value(JsonGenerator g, Object v) throws IOException {
        if (v == null) {
            g.writeNull();
        } else if (v instanceof String s) {
            g.writeString(s);
        } else if (v instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (v instanceof Double || v instanceof Float) {
            g.writeNumber(pythonFloat(((Number) v).doubleValue()));
        } else if (v instanceof BigInteger b) {
            g.writeNumber(b);
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            g.writeNumber(((Number) v).longValue());
        } else if (v instanceof Map<?, ?> m) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                g.writeFieldName(String.valueOf(e.getKey()));
                value(g, e.getValue());
            }
            g.writeEndObject();
        } else if (v instanceof List<?> l) {
            g.writeStartArray();
            for (Object o : l) value(g, o);
            g.writeEndArray();
        } else {
            throw new IllegalArgumentException("cannot write " + v.getClass().getName() + " as JSON");
        }
    }

    /**
     * Python's {@code repr(float)}: the shortest decimal that reads back as {@code d}, in
     * positional notation for exponents -4…15 (always with a fraction: 2.0) and as
     * {@code 1e-05} / {@code 1.5e+16} otherwise.
     *
     * @throws IllegalArgumentException for NaN and infinities, which JSON cannot hold
     */
    public static String pythonFloat(double d) {
        if (Double.isNaN(d) || Double.isInfinite(d)) throw new IllegalArgumentException("JSON cannot hold " + d);
        if (d == 0) return 1 / d < 0 ? "-0.0" : "0.0";
        BigDecimal exact = new BigDecimal(d), r = exact;
        for (int p = 1; p <= 17; p++) {
            r = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
            if (r.doubleValue() == d) break;
        }
        r = r.stripTrailingZeros();
        String digits = r.unscaledValue().abs().toString();
        int exp = digits.length() - 1 - r.scale();  // decimal exponent of the first digit
        StringBuilder sb = new StringBuilder(d < 0 ? "-" : "");
        if (exp < -4 || exp >= 16) {
            sb.append(digits.charAt(0));
            if (digits.length() > 1) sb.append('.').append(digits, 1, digits.length());
            sb.append(exp < 0 ? "e-" : "e+");
            if (Math.abs(exp) < 10) sb.append('0');
            return sb.append(Math.abs(exp)).toString();
        }
        if (exp < 0) return sb.append("0.").append("0".repeat(-exp - 1)).append(digits).toString();
        if (digits.length() <= exp + 1) return sb.append(digits).append("0".repeat(exp + 1 - digits.length())).append(".0").toString();
        return sb.append(digits, 0, exp + 1).append('.').append(digits, exp + 1, digits.length()).toString();
    }

    /** Python's layout: indent 2 (or one line), its separators, "{}" and "[]" when empty. */
    private static final class PythonPrinter implements PrettyPrinter {
        private final String itemSep, keySep;
        private final boolean indent;
        private int depth;

        PythonPrinter(String itemSep, String keySep, boolean indent) {
            this.itemSep = itemSep;
            this.keySep = keySep;
            this.indent = indent;
        }

        private void newline(JsonGenerator g) throws IOException {
            if (indent) g.writeRaw("\n" + "  ".repeat(depth));
        }

        @Override public void writeRootValueSeparator(JsonGenerator g) {}
        @Override public void writeStartObject(JsonGenerator g) throws IOException { g.writeRaw('{'); depth++; }
        @Override public void beforeObjectEntries(JsonGenerator g) throws IOException { newline(g); }
        @Override public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException { g.writeRaw(keySep); }
        @Override public void writeObjectEntrySeparator(JsonGenerator g) throws IOException { g.writeRaw(itemSep); newline(g); }
        @Override public void writeStartArray(JsonGenerator g) throws IOException { g.writeRaw('['); depth++; }
        @Override public void beforeArrayValues(JsonGenerator g) throws IOException { newline(g); }
        @Override public void writeArrayValueSeparator(JsonGenerator g) throws IOException { writeObjectEntrySeparator(g); }

        @Override
        public void writeEndObject(JsonGenerator g, int entries) throws IOException {
            depth--;
            if (entries > 0) newline(g);
            g.writeRaw('}');
        }

        @Override
        public void writeEndArray(JsonGenerator g, int values) throws IOException {
            depth--;
            if (values > 0) newline(g);
            g.writeRaw(']');
        }
    }

    /** ensure_ascii: \n \r \t \b \f, and four lower-case hex digits for other controls, DEL and non-ASCII. */
    private static final class PythonEscapes extends CharacterEscapes {
        static final PythonEscapes INSTANCE = new PythonEscapes();
        private final int[] ascii = standardAsciiEscapesForJSON();

        PythonEscapes() {
            for (int c = 0; c < 0x20; c++) ascii[c] = ESCAPE_CUSTOM;
            ascii[0x7f] = ESCAPE_CUSTOM;
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ascii;
        }

        @Override
        public SerializableString getEscapeSequence(int c) {
            return new SerializedString(switch (c) {
                case '\n' -> "\\n";
                case '\r' -> "\\r";
                case '\t' -> "\\t";
                case '\b' -> "\\b";
                case '\f' -> "\\f";
                default -> String.format("\\u%04x", c);
            });
        }
    }
}
