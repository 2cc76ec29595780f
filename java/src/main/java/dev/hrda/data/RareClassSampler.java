package dev.hrda.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Rare class sampling (hrda_spec.md §5, DAFormer's UDADataset): class c is drawn with
 * P(c) = softmax((1 - f_c) / T) over the classes present in the source statistics (f_c: the
 * class's share of all counted pixels), then a source file uniformly among those with more
 * than {@code minPixels} pixels of c. The caller re-crops up to 10 times until the crop has
 * more than {@code minPixels * minCropRatio} pixels of c.
 *
 * Classes no file has more than minPixels of cannot be sampled; the original asserts, this
 * drops them (with their probability mass renormalised over the rest) and lists them in
 * {@link #dropped()}.
 */
public final class RareClassSampler {
    private final int[] classes;      // ascending frequency, as the original orders them
    private final double[] probs;
    private final double[] cdf;
    private final Map<Integer, List<String>> files = new LinkedHashMap<>();
    private final List<Integer> dropped = new ArrayList<>();
    private final double temperature;
    private final int minPixels;
    private final double minCropRatio;

    public RareClassSampler(RareClassStats stats, double temperature, int minPixels, double minCropRatio) {
        this.temperature = temperature;
        this.minPixels = minPixels;
        this.minCropRatio = minCropRatio;
        long[] totals = stats.totals();
        List<Integer> present = new ArrayList<>();
        for (int c = 0; c < totals.length; c++) if (totals[c] > 0) present.add(c);
        if (present.isEmpty()) throw new IllegalArgumentException("rare class sampling: the statistics count no pixels");
        present.sort((a, b) -> Long.compare(totals[a], totals[b])); // stable: ties keep class order
        double sum = 0;
        for (int c : present) sum += totals[c];
        double[] logits = new double[present.size()];
        for (int i = 0; i < logits.length; i++) logits[i] = (1.0 - totals[present.get(i)] / sum) / temperature;
        double[] p = softmax(logits);

        Map<Integer, List<RareClassStats.FileCount>> swc = stats.samplesWithClass();
        List<Integer> keep = new ArrayList<>();
        List<Double> keepP = new ArrayList<>();
        for (int i = 0; i < present.size(); i++) {
            int c = present.get(i);
            List<String> fs = new ArrayList<>();
            for (RareClassStats.FileCount fc : swc.getOrDefault(c, List.of())) {
                if (fc.pixels() > minPixels) fs.add(baseName(fc.file()));
            }
            if (fs.isEmpty()) {
                dropped.add(c);
                continue;
            }
            files.put(c, fs);
            keep.add(c);
            keepP.add(p[i]);
        }
        if (keep.isEmpty()) {
            throw new IllegalArgumentException("rare class sampling: no class has a file with more than " + minPixels
                                               + " pixels of it (lower min_pixels for small images)");
        }
        classes = keep.stream().mapToInt(Integer::intValue).toArray();
        probs = new double[classes.length];
        double s = 0;
        for (int i = 0; i < probs.length; i++) s += keepP.get(i);
        for (int i = 0; i < probs.length; i++) probs[i] = keepP.get(i) / s;
        cdf = new double[probs.length];
        double acc = 0;
        for (int i = 0; i < probs.length; i++) {
            acc += probs[i];
            cdf[i] = acc;
        }
        cdf[cdf.length - 1] = 1.0;
    }

    /** HRDA defaults: T = 0.01, min_pixels = 3000, min_crop_ratio as configured (HRDA 2.0, DAFormer 0.5). */
    public static RareClassSampler hrda(RareClassStats stats, double minCropRatio) {
        return new RareClassSampler(stats, 0.01, 3000, minCropRatio);
    }

    static double[] softmax(double[] x) {
        double max = Arrays.stream(x).max().orElse(0);
        double[] e = new double[x.length];
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            e[i] = Math.exp(x[i] - max);
            s += e[i];
        }
        for (int i = 0; i < x.length; i++) e[i] /= s;
        return e;
    }

    static String baseName(String f) {
        return f.substring(f.replace('\\', '/').lastIndexOf('/') + 1);
    }

    /** Sampled classes, rarest first. */
    public int[] classes() { return classes.clone(); }

    /** P(class) aligned with {@link #classes()}. */
    public double[] probabilities() { return probs.clone(); }

    public double probability(int c) {
        for (int i = 0; i < classes.length; i++) if (classes[i] == c) return probs[i];
        return 0;
    }

    public List<Integer> dropped() { return dropped; }
    public int minPixels() { return minPixels; }
    public double minCropRatio() { return minCropRatio; }
    public double temperature() { return temperature; }

    /** Label file names (base names) with more than minPixels of c. */
    public List<String> filesWith(int c) { return files.getOrDefault(c, List.of()); }

    public int sampleClass(SplittableRandom rng) {
        double u = rng.nextDouble();
        for (int i = 0; i < cdf.length; i++) if (u < cdf[i]) return classes[i];
        return classes[classes.length - 1];
    }

    public String sampleFile(int c, SplittableRandom rng) {
        List<String> fs = files.get(c);
        return fs.get(rng.nextInt(fs.size()));
    }

    /** Crop pixels of the class needed to accept a crop. */
    public double minCropPixels() { return minPixels * minCropRatio; }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("RCS classes");
        for (int i = 0; i < classes.length; i++) sb.append(String.format(" %d:%.4f", classes[i], probs[i]));
        if (!dropped.isEmpty()) sb.append(" (no file with > ").append(minPixels).append(" px: ").append(dropped).append(')');
        return sb.toString();
    }
}
