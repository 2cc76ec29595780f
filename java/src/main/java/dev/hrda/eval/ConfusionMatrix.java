package dev.hrda.eval;

import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * Pixel counts per (ground-truth class, predicted class), accumulated over a whole data set:
 * everything mmseg 0.16's {@code eval_metrics} sums per class (area_intersect, area_pred_label,
 * area_label, area_union) follows from it. Pixels labelled 255 are left out.
 *
 * A label or prediction outside 0..numClasses-1 (other than a 255 label) falls into one extra
 * "outside" row or column. mmseg counts with {@code torch.histc} over the class range, so such a
 * label pixel still adds to the area of the class predicted there, and such a prediction to the
 * area of the class labelled there; the extra row and column reproduce exactly that.
 */
public final class ConfusionMatrix {
    public static final int IGNORE = 255;

    private final int classes;
    private final int side;       // classes + the "outside" bucket
    private final long[] counts;  // [label][prediction], row-major

    public ConfusionMatrix(int numClasses) {
        if (numClasses < 1 || numClasses >= IGNORE) throw new IllegalArgumentException("number of classes must be 1..254, got " + numClasses);
        this.classes = numClasses;
        this.side = numClasses + 1;
        this.counts = new long[side * side];
    }

    public int numClasses() { return classes; }

    /** Adds one image: predicted classes and train-id labels, both row-major over the same pixels. */
    public void add(byte[] prediction, byte[] label) {
        checkSizes(prediction.length, label.length);
        for (int i = 0; i < label.length; i++) {
            int l = label[i] & 0xFF;
            if (l == IGNORE) continue;
            tally(l, prediction[i] & 0xFF);
        }
    }

    /** As {@link #add(byte[], byte[])} for predictions held as ints. */
    public void add(int[] prediction, byte[] label) {
        checkSizes(prediction.length, label.length);
        for (int i = 0; i < label.length; i++) {
            int l = label[i] & 0xFF;
            if (l == IGNORE) continue;
            int p = prediction[i];
            tally(l, p < 0 ? classes : p);
        }
    }

    /** Adds a prediction tensor (U8 or I32 class ids, any shape with the label's pixel count), copied to the host. */
    public void add(Tensor prediction, byte[] label) {
        if (prediction.dtype() == DType.U8) add(prediction.toByteArray(), label);
        else if (prediction.dtype() == DType.I32) add(prediction.toIntArray(), label);
        else throw new IllegalArgumentException("predictions must be U8 or I32 class ids, got " + prediction.describe());
    }

    private void tally(int label, int prediction) {
        counts[Math.min(label, classes) * side + Math.min(prediction, classes)]++;
    }

    private static void checkSizes(int predictions, int labels) {
        if (predictions != labels) throw new IllegalArgumentException(predictions + " predictions for " + labels + " label pixels");
    }

    /** Adds another matrix's counts (e.g. from another worker). */
    public void addAll(ConfusionMatrix other) {
        if (other.classes != classes) throw new IllegalArgumentException(other.classes + " classes added to " + classes);
        for (int i = 0; i < counts.length; i++) counts[i] += other.counts[i];
    }

    /** Pixels labelled {@code label} and predicted {@code prediction}; numClasses() stands for "outside the classes". */
    public long count(int label, int prediction) {
        return counts[label * side + prediction];
    }

    /** area_intersect: pixels labelled c and predicted c. */
    public long intersection(int c) {
        return counts[c * side + c];
    }

    /** area_pred_label: pixels predicted c (among those not labelled 255). */
    public long predicted(int c) {
        long n = 0;
        for (int l = 0; l < side; l++) n += counts[l * side + c];
        return n;
    }

    /** area_label: pixels labelled c. */
    public long labelled(int c) {
        long n = 0;
        for (int p = 0; p < side; p++) n += counts[c * side + p];
        return n;
    }

    /** area_union = area_pred_label + area_label - area_intersect. */
    public long union(int c) {
        return predicted(c) + labelled(c) - intersection(c);
    }

    /** Pixels evaluated (not labelled 255), including labels outside the classes. */
    public long pixels() {
        long n = 0;
        for (long v : counts) n += v;
        return n;
    }
}
