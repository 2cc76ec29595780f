package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * DACS pseudo-labels from the EMA teacher's logits (dacs.py forward_train): softmax over the
 * classes, arg-max label, and one pixel weight for the whole batch, the fraction of pixels whose
 * maximum probability is at least the threshold (0.968). The weight map is that fraction
 * everywhere, 0 on DAFormer's ignored top and bottom rows (pseudo_weight_ignore_top/bottom: 15
 * and 120 for DAFormer, 0 for HRDA), times HRDA's valid_pseudo_mask where given.
 */
public final class PseudoLabel {
    /** dacs.py pseudo_threshold of every DAFormer/HRDA config. */
    public static final double DACS_THRESHOLD = 0.968;

    private PseudoLabel() {}

    /** label i32 [B, H, W], weight [B, H, W] (logits dtype); confident of pixels pixels reached the threshold. */
    public record Result(Tensor label, Tensor weight, long confident, long pixels) implements AutoCloseable {
        /** The pseudo weight as DACS computes it: confident / pixels. */
        public double fraction() {
            return pixels == 0 ? 0 : (double) confident / pixels;
        }

        @Override
        public void close() {
            weight.close();
            label.close();
        }
    }

    /**
     * @param logits       teacher logits [B, K, H, W]
     * @param ignoreTop    rows at the top whose weight is 0
     * @param ignoreBottom rows at the bottom whose weight is 0
     * @param valid        [B, H, W] of the logits dtype (1 where pseudo-labels are trusted), or null
     */
    public static Result compute(Backend backend, Tensor logits, double threshold, int ignoreTop, int ignoreBottom, Tensor valid) {
        Checks.requireRank(logits, 4, "logits");
        Checks.requireFloat(logits, "logits");
        int b = logits.dim(0), k = logits.dim(1), h = logits.dim(2), w = logits.dim(3);
        if (valid != null) {
            Checks.requireShape(valid, "valid mask", b, h, w);
            Checks.requireDType(valid, logits.dtype(), "valid mask");
        }
        long pixels = (long) b * h * w;
        Tensor label = Tensor.empty(backend, DType.I32, b, h, w);
        Tensor weight = null;
        try {
            int confident;
            try (Tensor count = Tensor.empty(backend, DType.I32, 1)) {
                backend.pseudoLabel(logits, label, null, count, threshold, b, k, (long) h * w);
                confident = count.toIntArray()[0];  // DACS reads it to the host too (.item())
            }
            weight = Tensor.empty(backend, logits.dtype(), b, h, w);
            double fraction = pixels == 0 ? 0 : (double) confident / pixels;
            backend.pseudoWeightMap(valid, weight, fraction, ignoreTop, ignoreBottom, b, h, w);
            return new Result(label, weight, confident, pixels);
        } catch (RuntimeException e) {
            if (weight != null) weight.close();
            label.close();
            throw e;
        }
    }
}
