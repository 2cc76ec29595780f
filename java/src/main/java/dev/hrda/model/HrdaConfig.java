package dev.hrda.model;

/**
 * HRDA's multi-resolution settings (hrda_spec.md §3).
 *
 * @param contextScale    scale of the context crop (scales=[1, 0.5])
 * @param hrCropSize      detail crop at full resolution (512)
 * @param cropDivisible   detail-crop offsets are multiples of this (8)
 * @param hrLossWeight    weight of the detail-only loss (0.1); the fused loss gets 1 - this
 * @param hrSlideInference overlapping sliding detail windows (stride = crop/2) at inference
 * @param fixedAttention  NaN: learned scale attention; 0 = context only, 1 = detail only
 */
public record HrdaConfig(double contextScale, int hrCropSize, int cropDivisible, double hrLossWeight,
                         boolean hrSlideInference, double fixedAttention) {
    public HrdaConfig {
        if (hrCropSize % cropDivisible != 0) throw new IllegalArgumentException("hr_crop_size " + hrCropSize + " not divisible by " + cropDivisible);
        if (!Double.isNaN(fixedAttention) && (fixedAttention < 0 || fixedAttention > 1)) {
            throw new IllegalArgumentException("fixed attention must be in [0, 1], got " + fixedAttention);
        }
    }

    public static HrdaConfig defaults() {
        return new HrdaConfig(0.5, 512, 8, 0.1, true, Double.NaN);
    }

    public HrdaConfig withHrCrop(int size) {
        return new HrdaConfig(contextScale, size, cropDivisible, hrLossWeight, hrSlideInference, fixedAttention);
    }

    public HrdaConfig withFixedAttention(double value) {
        return new HrdaConfig(contextScale, hrCropSize, cropDivisible, hrLossWeight, hrSlideInference, value);
    }
}
