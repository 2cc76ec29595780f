package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Arrays;

/**
 * The fused training losses of DAFormer/HRDA (native/include/hrda/losses.h), differentiable
 * through the {@link Tape}: the decode head's segmentation loss at label resolution and DAFormer's
 * masked ImageNet feature distance. Results are allocated in the current arena, as {@link F}'s.
 * docs/losses.md has the semantics, and why they are fused.
 */
public final class SegLosses {
    private SegLosses() {}

    /**
     * A segmentation loss and its pixel counts.
     *
     * @param loss     the differentiable scalar ([1]; f64 for f64 logits, f32 otherwise)
     * @param accuracy mmseg 0.16's {@code acc_seg} in percent: 100 * correct / pixels (its
     *                 accuracy() divides by target.numel(), ignored pixels included)
     * @param correct  non-ignored pixels whose arg-max of the upsampled logits is the label
     * @param valid    non-ignored pixels
     * @param pixels   all label pixels, N * H * W
     */
    public record Result(Tensor loss, double accuracy, int correct, int valid, long pixels) {
        /** 100 * correct / valid: the accuracy over the non-ignored pixels only (0 when there is none). */
        public double validAccuracy() {
            return valid == 0 ? 0.0 : 100.0 * correct / valid;
        }
    }

    /** A feature distance and the number of masked pixels it averages over. */
    public record Distance(Tensor loss, int count) {}

    static Tensor result(Tensor out, Tape tape) {
        out.requiresGrad = tape != null;
        if (tape != null) tape.producedBy(out);
        return out;
    }

    static DType scalarType(Tensor data) {
        return data.dtype() == DType.F64 ? DType.F64 : DType.F32;
    }

    /** H, W of a label map [N, H, W] or [N, 1, H, W] for a batch of n. */
    static int[] labelSize(String op, Tensor labels, int n) {
        boolean ok = labels.dtype() == DType.I32 && labels.dim(0) == n
                     && (labels.rank() == 3 || (labels.rank() == 4 && labels.dim(1) == 1));
        if (!ok) throw new IllegalArgumentException(op + ": labels must be I32 [" + n + ", H, W] (or [" + n + ", 1, H, W]), got "
                                                    + labels.describe());
        return new int[] {labels.dim(-2), labels.dim(-1)};
    }

    /**
     * mmseg 0.16's decode-head loss (BaseDecodeHead.losses with CrossEntropyLoss): logits
     * [N, C, h, w] bilinearly upsampled (align_corners=False) to the labels' size [N, H, W]
     * (H >= h, W >= w; equal sizes skip nothing but the interpolation), pixel-wise cross-entropy
     * times {@code weight} ([N, H, W] of the logits' dtype, or null), 0 at {@code ignoreIndex},
     * averaged over all N*H*W pixels; equal to {@code F.crossEntropy(F.resize(logits, H, W), labels,
     * weight, ignoreIndex)} without the upsampled logits. Recorded on the tape when logits require
     * gradients. Reads the pixel counts back to the host (a device synchronisation, as mmseg's
     * logged accuracy).
     */
    public static Result crossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignoreIndex) {
        return crossEntropy("SegLosses.crossEntropy", logits, labels, weight, ignoreIndex, false);
    }

    /**
     * The fused loss with mmseg's mean over all pixels, or ({@code overValid}) torch's mean over
     * the non-ignored pixels (a rescaling by pixels / valid; with no valid pixel the loss is 0 and
     * is not recorded on the tape).
     */
    static Result crossEntropy(String op, Tensor logits, Tensor labels, Tensor weight, int ignoreIndex, boolean overValid) {
        if (logits.rank() != 4) throw new IllegalArgumentException(op + ": logits must be [N, C, h, w], got " + logits.describe());
        int n = logits.dim(0), c = logits.dim(1), h = logits.dim(2), w = logits.dim(3);
        int[] hw = labelSize(op, labels, n);
        int outH = hw[0], outW = hw[1];
        long pixels = (long) n * outH * outW;
        if (weight != null && weight.numel() != pixels) {
            throw new IllegalArgumentException(op + ": weight " + weight.describe() + " does not match labels " + labels.describe());
        }
        Backend be = logits.backend();
        Tensor loss = Tensor.empty(be, scalarType(logits), 1);
        int[] counts;
        try (Tensor cnt = Tensor.empty(be, DType.I32, 2)) {
            be.segCrossEntropy(logits, labels, weight, ignoreIndex, loss, cnt, n, c, h, w, outH, outW);
            counts = cnt.toIntArray();
        }
        double accuracy = 100.0 * counts[0] / pixels;
        if (overValid && counts[1] == 0) return new Result(loss, accuracy, counts[0], 0, pixels);
        double denom = overValid ? counts[1] : pixels;
        if (overValid) be.axpby(pixels / denom, loss, 0, null, loss);
        Tape tape = Tape.active(logits);
        if (tape != null) tape.push(() -> {
            if (loss.grad == null) return;
            double g = loss.grad.item();
            boolean acc = Tape.prepareGrad(logits);
            be.segCrossEntropyBackward(logits, labels, weight, ignoreIndex, g / denom, logits.grad, n, c, h, w, outH, outW, acc);
        }, logits, labels, weight);
        return new Result(result(loss, tape), accuracy, counts[0], counts[1], pixels);
    }

    /** A 256-bit set of label values as i32 [8] (bit v % 32 of word v / 32), as ClassMix's sets. */
    static int[] classSet(int[] classes) {
        int[] words = new int[8];
        for (int v : classes) {
            if (v < 0 || v > 255) throw new IllegalArgumentException("feature-distance class " + v + " is outside 0..255");
            words[v >>> 5] |= 1 << (v & 31);
        }
        return words;
    }

    /**
     * DAFormer's masked ImageNet feature distance (dacs.py calc_feat_dist / masked_feat_dist,
     * before the lambda): mean over the pixels whose label is one of {@code classes} of
     * ||fs - fi||_2 over channels; fs, fi [N, C, h, w] (student and frozen ImageNet features of
     * one dtype), labels I32 [N, h, w] (or [N, 1, h, w]) at feature resolution (downscale_label_ratio).
     * 0 with a zero gradient when no pixel is masked (the original's mean of nothing is NaN).
     * Only fs receives a gradient. Reads the masked count back to the host (a synchronisation).
     */
    public static Distance featureDistance(Tensor fs, Tensor fi, Tensor labels, int[] classes) {
        String op = "SegLosses.featureDistance";
        if (fs.rank() != 4 || !Arrays.equals(fs.shape(), fi.shape()) || fs.dtype() != fi.dtype()) {
            throw new IllegalArgumentException(op + ": fs and fi must be [N, C, h, w] of one shape and dtype, got "
                                               + fs.describe() + " and " + fi.describe());
        }
        int n = fs.dim(0), c = fs.dim(1);
        long hw = (long) fs.dim(2) * fs.dim(3);
        int[] size = labelSize(op, labels, n);
        if ((long) size[0] * size[1] != hw) {
            throw new IllegalArgumentException(op + ": labels " + labels.describe() + " are not at the features' resolution "
                                               + fs.shapeString() + " (downscale them first)");
        }
        Backend be = fs.backend();
        Tensor set = Tensor.of(be, classSet(classes), 8);
        Tensor out = Tensor.empty(be, scalarType(fs), 1);
        int count;
        try (Tensor cnt = Tensor.empty(be, DType.I32, 1)) {
            be.featureDistance(fs, fi, labels, set, out, cnt, n, c, hw);
            count = cnt.toIntArray()[0];
        }
        Tape tape = Tape.active(fs);
        if (tape != null) tape.push(() -> {
            if (out.grad == null) return;
            double scale = count == 0 ? 0.0 : out.grad.item() / count;
            boolean acc = Tape.prepareGrad(fs);
            be.featureDistanceBackward(fs, fi, labels, set, scale, fs.grad, n, c, hw, acc);
        }, fs, fi, labels, set);
        else set.close();
        return new Distance(result(out, tape), count);
    }
}
