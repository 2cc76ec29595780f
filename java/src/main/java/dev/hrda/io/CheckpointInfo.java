package dev.hrda.io;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a checkpoint file holds (name, dtype, shape, bytes of every tensor, its metadata) and,
 * given the names and shapes a model expects, how each tensor would load: loaded (and where),
 * mismatched, skipped or unexpected, plus the model tensors the file lacks. Reads only the
 * file's index, never the tensor data.
 */
public final class CheckpointInfo {
    public enum Status { LOADED, MISMATCH, SKIPPED, UNEXPECTED }

    /**
     * One tensor of the file; {@code status}, {@code target} (the model name it maps to) and
     * {@code note} are null without a model.
     */
    public record Entry(String name, StoredDType dtype, int[] shape, long bytes, Status status, String target, String note) {}

    private static final int META_WIDTH = 100;

    private final TensorFile file;
    private final List<Entry> entries;
    private final LoadReport report;

    private CheckpointInfo(TensorFile file, List<Entry> entries, LoadReport report) {
        this.file = file;
        this.entries = Collections.unmodifiableList(entries);
        this.report = report;
    }

    /** The file's tensors and metadata, without a model. */
    public static CheckpointInfo of(Path file) {
        TensorFile f = TensorFile.read(file);
        List<Entry> entries = new ArrayList<>();
        f.tensors().forEach((n, t) -> entries.add(new Entry(n, t.dtype(), t.shape(), t.byteSize(), null, null, null)));
        return new CheckpointInfo(f, entries, null);
    }

    /** The file's tensors and how they map onto a model expecting {@code modelShapes} (name -> shape). */
    public static CheckpointInfo of(Path file, Map<String, int[]> modelShapes, LoadOptions opts) {
        TensorFile f = TensorFile.read(file);
        LoadReport r = NameMapping.plan(f.path(), f.tensors(), modelShapes, null, opts);
        Map<String, Entry> status = new HashMap<>();
        for (LoadReport.Loaded l : r.loaded()) status.put(l.source(), entry(f, l.source(), Status.LOADED, l.target(), null));
        for (LoadReport.Mismatch m : r.mismatched()) status.put(m.source(), entry(f, m.source(), Status.MISMATCH, m.target(), m.reason()));
        for (LoadReport.Skipped s : r.skipped()) status.put(s.source(), entry(f, s.source(), Status.SKIPPED, null, s.reason()));
        for (String u : r.unexpected()) status.put(u, entry(f, u, Status.UNEXPECTED, null, null));
        List<Entry> entries = new ArrayList<>();
        for (String n : f.tensors().keySet()) entries.add(status.get(n));
        return new CheckpointInfo(f, entries, r);
    }

    private static Entry entry(TensorFile f, String name, Status s, String target, String note) {
        StoredTensor t = f.tensors().get(name);
        return new Entry(name, t.dtype(), t.shape(), t.byteSize(), s, target, note);
    }

    public TensorFile file() { return file; }

    /** The state dict's tensors in file order. */
    public List<Entry> entries() { return entries; }

    /** Model tensors the file does not provide (empty without a model). */
    public List<String> missing() { return report == null ? List.of() : report.missing(); }

    /** The load plan, or null without a model. */
    public LoadReport report() { return report; }

    public long totalBytes() {
        long n = 0;
        for (Entry e : entries) n += e.bytes();
        return n;
    }

    /** A table for the terminal: one line per tensor, then metadata, then the model's missing tensors. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        sb.append(file.path()).append(": ").append(file.format()).append(", ").append(entries.size()).append(" tensors, ")
          .append(totalBytes()).append(" bytes");
        if (!file.stateDictKey().isEmpty()) sb.append(", state dict under '").append(file.stateDictKey()).append('\'');
        if (!file.otherTensors().isEmpty()) sb.append(", ").append(file.otherTensors().size()).append(" other tensors (not loaded)");
        sb.append('\n');
        int width = 0;
        for (Entry e : entries) width = Math.max(width, e.name().length());
        for (Entry e : entries) {
            sb.append(String.format("  %-" + width + "s  %-4s %-18s %12d", e.name(), e.dtype(), Arrays.toString(e.shape()), e.bytes()));
            if (e.status() != null) {
                sb.append("  ").append(e.status());
                if (e.target() != null && !e.target().equals(e.name())) sb.append(" -> ").append(e.target());
                if (e.note() != null) sb.append(" (").append(e.note()).append(')');
            }
            sb.append('\n');
        }
        if (!file.metadata().isEmpty()) {
            sb.append("metadata:\n");
            file.metadata().forEach((k, v) -> {
                String one = v.replace("\n", "\\n");
                sb.append("  ").append(k).append(" = ")
                  .append(one.length() > META_WIDTH ? one.substring(0, META_WIDTH) + "... (" + v.length() + " chars)" : one).append('\n');
            });
        }
        if (report != null) {
            for (String m : report.mapping()) sb.append("names: ").append(m).append('\n');
            sb.append("model tensors missing in the file: ").append(report.missing().size()).append('\n');
            for (String m : report.missing()) sb.append("  ").append(m).append('\n');
        }
        return sb.toString().stripTrailing();
    }
}
