package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * DAFormer's downscale_label_ratio (mmseg/utils/utils.py), the label map of the ImageNet feature
 * distance: per scale x scale block the majority class (ignore counted as a class of its own, ties
 * to the lowest class), 255 where the majority is ignore or holds less than min_ratio of the block.
 * Trailing rows and columns that do not fill a block are dropped (avg_pool2d).
 */
public final class LabelDownscale {
    /** dacs.py imnet_feature_dist_scale_min_ratio. */
    public static final float DACS_MIN_RATIO = 0.75f;
    public static final int IGNORE_INDEX = 255;

    private LabelDownscale() {}

    /** labels i32 [B, H, W] -> new i32 [B, H / scale, W / scale]; labels in [0, numClasses) or 255. */
    public static Tensor majority(Backend backend, Tensor labels, int scale, float minRatio, int numClasses) {
        Checks.requireRank(labels, 3, "labels");
        Checks.requireDType(labels, DType.I32, "labels");
        int b = labels.dim(0), h = labels.dim(1), w = labels.dim(2);
        if (scale < 2 || h < scale || w < scale) {
            throw new IllegalArgumentException("scale " + scale + " must be at least 2 and fit " + labels.describe());
        }
        Tensor out = Tensor.empty(backend, DType.I32, b, h / scale, w / scale);
        try {
            backend.downscaleLabelRatio(labels, out, b, h, w, scale, minRatio, numClasses, IGNORE_INDEX);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }
}
