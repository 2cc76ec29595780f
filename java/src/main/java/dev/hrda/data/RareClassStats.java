package dev.hrda.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Per-file class pixel counts of a source data set, for rare class sampling (hrda_spec.md §5),
 * in the files the original converters write at the data root:
 * <ul>
 *   <li>{@code sample_class_stats.json}: {@code [{"<trainId>": n, ..., "file": path}, ...]}</li>
 *   <li>{@code sample_class_stats_dict.json}: {@code {path: {"<trainId>": n, ...}, ...}}</li>
 *   <li>{@code samples_with_class.json}: {@code {"<trainId>": [[path, n], ...], ...}}</li>
 * </ul>
 * Only classes with n > 0 are listed. Files written by the original Python tools are read too.
 */
public final class RareClassStats {
    public static final String SAMPLE_CLASS_STATS = "sample_class_stats.json";
    public static final String SAMPLE_CLASS_STATS_DICT = "sample_class_stats_dict.json";
    public static final String SAMPLES_WITH_CLASS = "samples_with_class.json";

    /** Pixel counts of the 19 train ids in one label file. */
    public record FileStats(String file, long[] counts) {
        public FileStats {
            if (counts.length != LabelMaps.NUM_CLASSES) throw new IllegalArgumentException("need 19 counts");
        }
    }

    /** One entry of samples_with_class: a file and how many pixels of the class it has. */
    public record FileCount(String file, long pixels) {}

    private final List<FileStats> files;
    private final Map<Integer, List<FileCount>> samplesWithClass;

    public RareClassStats(List<FileStats> files) {
        this(files, derive(files));
    }

    private RareClassStats(List<FileStats> files, Map<Integer, List<FileCount>> samplesWithClass) {
        this.files = Collections.unmodifiableList(new ArrayList<>(files));
        this.samplesWithClass = samplesWithClass;
    }

    public List<FileStats> files() { return files; }

    /** Class -> files containing it, in file order (classes in order of first appearance). */
    public Map<Integer, List<FileCount>> samplesWithClass() { return samplesWithClass; }

    /** Counts train ids 0..18 in a label map (255 and anything else is not counted). */
    public static long[] count(byte[] trainIds) {
        long[] c = new long[256];
        for (byte b : trainIds) c[b & 0xFF]++;
        long[] out = new long[LabelMaps.NUM_CLASSES];
        System.arraycopy(c, 0, out, 0, out.length);
        return out;
    }

    /** Total pixels per class over all files. */
    public long[] totals() {
        long[] t = new long[LabelMaps.NUM_CLASSES];
        for (FileStats f : files) for (int c = 0; c < t.length; c++) t[c] += f.counts[c];
        return t;
    }

    private static Map<Integer, List<FileCount>> derive(List<FileStats> files) {
        Map<Integer, List<FileCount>> m = new LinkedHashMap<>();
        for (FileStats f : files) {
            for (int c = 0; c < LabelMaps.NUM_CLASSES; c++) {
                if (f.counts[c] > 0) m.computeIfAbsent(c, k -> new ArrayList<>()).add(new FileCount(f.file, f.counts[c]));
            }
        }
        return m;
    }

    public static boolean exists(Path root) {
        return Files.isRegularFile(root.resolve(SAMPLE_CLASS_STATS));
    }

    /** Writes the three JSON files (each atomically) in the originals' format. */
    public void write(Path root) {
        List<Object> list = new ArrayList<>();
        Map<String, Object> dict = new LinkedHashMap<>();
        for (FileStats f : files) {
            Map<String, Object> e = new LinkedHashMap<>();
            for (int c = 0; c < LabelMaps.NUM_CLASSES; c++) if (f.counts[c] > 0) e.put(Integer.toString(c), f.counts[c]);
            dict.put(f.file, new LinkedHashMap<>(e));
            e.put("file", f.file);
            list.add(e);
        }
        Map<String, Object> swc = new LinkedHashMap<>();
        for (Map.Entry<Integer, List<FileCount>> e : samplesWithClass.entrySet()) {
            List<Object> l = new ArrayList<>();
            for (FileCount fc : e.getValue()) l.add(List.of(fc.file, fc.pixels));
            swc.put(Integer.toString(e.getKey()), l);
        }
        AtomicFiles.writeString(root.resolve(SAMPLE_CLASS_STATS), Json.write(list));
        AtomicFiles.writeString(root.resolve(SAMPLE_CLASS_STATS_DICT), Json.write(dict));
        AtomicFiles.writeString(root.resolve(SAMPLES_WITH_CLASS), Json.write(swc));
    }

    /** Reads sample_class_stats.json and, where present, samples_with_class.json. */
    public static RareClassStats read(Path root) {
        Path p = root.resolve(SAMPLE_CLASS_STATS);
        List<FileStats> files = new ArrayList<>();
        Object parsed = parse(p);
        if (!(parsed instanceof List<?> list)) throw new DataException(p, "expected a JSON list of per-file class counts");
        for (Object o : list) {
            if (o == null) continue; // the original Cityscapes converter may leave nulls for val files
            if (!(o instanceof Map<?, ?> m)) throw new DataException(p, "expected objects in the list");
            long[] counts = new long[LabelMaps.NUM_CLASSES];
            String file = null;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                String k = (String) e.getKey();
                if (k.equals("file")) {
                    file = String.valueOf(e.getValue());
                    continue;
                }
                int c;
                try {
                    c = Integer.parseInt(k);
                } catch (NumberFormatException ex) {
                    throw new DataException(p, "unexpected key '" + k + "'");
                }
                if (c < 0 || c >= LabelMaps.NUM_CLASSES) throw new DataException(p, "class " + c + " out of range 0-18");
                counts[c] = ((Number) e.getValue()).longValue();
            }
            if (file == null) throw new DataException(p, "an entry without 'file'");
            files.add(new FileStats(file, counts));
        }
        Path q = root.resolve(SAMPLES_WITH_CLASS);
        if (!Files.isRegularFile(q)) return new RareClassStats(files);
        Object swcParsed = parse(q);
        if (!(swcParsed instanceof Map<?, ?> swcMap)) throw new DataException(q, "expected a JSON object");
        Map<Integer, List<FileCount>> swc = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : swcMap.entrySet()) {
            int c = Integer.parseInt((String) e.getKey());
            List<FileCount> l = new ArrayList<>();
            for (Object pair : (List<?>) e.getValue()) {
                List<?> pl = (List<?>) pair;
                l.add(new FileCount(String.valueOf(pl.get(0)), ((Number) pl.get(1)).longValue()));
            }
            swc.put(c, l);
        }
        return new RareClassStats(files, swc);
    }

    private static Object parse(Path p) {
        try {
            return Json.parse(Files.readString(p, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new DataException(p, "cannot read (" + e.getMessage() + ")", e);
        } catch (IllegalArgumentException e) {
            throw new DataException(p, e.getMessage(), e);
        }
    }

    /** Class pixel totals as a sorted map, for printing. */
    public Map<Integer, Long> totalsMap() {
        Map<Integer, Long> m = new TreeMap<>();
        long[] t = totals();
        for (int c = 0; c < t.length; c++) if (t[c] > 0) m.put(c, t[c]);
        return m;
    }
}
