package dev.hrda.io;

import dev.hrda.tensor.DType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * What loading a checkpoint into a model does (or did): which file tensor goes to which model
 * tensor, which model tensors get nothing (missing), which file tensors have no place
 * (unexpected), which differ in shape or cannot convert (mismatched), and which are skipped on
 * purpose (other UDA sub-models, BatchNorm's num_batches_tracked). {@link #toString()} is meant
 * for the user: it shows at once why a file does not load.
 */
public final class LoadReport {
    /** A file tensor copied into a model tensor; {@code to} is null when only shapes were known. */
    public record Loaded(String source, String target, StoredDType from, DType to) {
        public boolean converted() { return to != null && from.engineType() != to; }
    }

    public record Mismatch(String source, String target, int[] fileShape, int[] modelShape, String reason) {
        @Override
        public String toString() {
            return source + (source.equals(target) ? "" : " (-> " + target + ")") + ": " + reason;
        }
    }

    public record Skipped(String source, String reason) {}

    private static final int SHOW = 20;

    private final Path file;
    private final List<String> mapping;
    private final List<Loaded> loaded;
    private final List<String> missing;
    private final List<String> unexpected;
    private final List<Mismatch> mismatched;
    private final List<Skipped> skipped;
    private final int modelTensors;

    LoadReport(Path file, List<String> mapping, List<Loaded> loaded, List<String> missing, List<String> unexpected,
               List<Mismatch> mismatched, List<Skipped> skipped, int modelTensors) {
        this.file = file;
        this.mapping = List.copyOf(mapping);
        this.loaded = List.copyOf(loaded);
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.mismatched = List.copyOf(mismatched);
        this.skipped = List.copyOf(skipped);
        this.modelTensors = modelTensors;
    }

    public Path file() { return file; }

    /** How names were mapped ("DACS checkpoint: sub-model 'model.' selected", "prefixed 'backbone.'"). */
    public List<String> mapping() { return mapping; }

    public List<Loaded> loaded() { return loaded; }

    /** Model tensors that receive nothing. */
    public List<String> missing() { return missing; }

    /** File tensors (their names in the file) with no model tensor. */
    public List<String> unexpected() { return unexpected; }

    public List<Mismatch> mismatched() { return mismatched; }

    public List<Skipped> skipped() { return skipped; }

    /** True when every model tensor is loaded and every file tensor placed or skipped on purpose. */
    public boolean ok() { return missing.isEmpty() && unexpected.isEmpty() && mismatched.isEmpty(); }

    /** Dtype conversions done while loading, e.g. "BF16 -> F32" -> 2. */
    public Map<String, Integer> conversions() {
        Map<String, Integer> out = new TreeMap<>();
        for (Loaded l : loaded) if (l.converted()) out.merge(l.from() + " -> " + l.to(), 1, Integer::sum);
        return Collections.unmodifiableMap(out);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(file).append(": loaded ").append(loaded.size()).append(" of ").append(modelTensors).append(" model tensors");
        if (!conversions().isEmpty()) sb.append(", converted ").append(conversions());
        sb.append(ok() ? " (complete)" : "").append('\n');
        for (String m : mapping) sb.append("  names: ").append(m).append('\n');
        section(sb, "missing in the file", missing, Function.identity());
        section(sb, "unexpected (no such model tensor)", unexpected, Function.identity());
        section(sb, "mismatched", mismatched, Mismatch::toString);
        if (!skipped.isEmpty()) {
            Map<String, List<String>> byReason = new LinkedHashMap<>();
            for (Skipped s : skipped) byReason.computeIfAbsent(s.reason(), r -> new ArrayList<>()).add(s.source());
            sb.append("  skipped (").append(skipped.size()).append("):\n");
            for (var e : byReason.entrySet()) {
                sb.append("    ").append(e.getValue().size()).append(" x ").append(e.getKey()).append(": ")
                  .append(e.getValue().get(0)).append(e.getValue().size() > 1 ? ", ..." : "").append('\n');
            }
        }
        return sb.toString().stripTrailing();
    }

    private static <T> void section(StringBuilder sb, String title, List<T> items, Function<T, String> show) {
        if (items.isEmpty()) return;
        sb.append("  ").append(title).append(" (").append(items.size()).append("):\n");
        for (int i = 0; i < Math.min(SHOW, items.size()); i++) sb.append("    ").append(show.apply(items.get(i))).append('\n');
        if (items.size() > SHOW) sb.append("    ... and ").append(items.size() - SHOW).append(" more\n");
    }

    static String shape(int[] s) { return Arrays.toString(s); }
}
