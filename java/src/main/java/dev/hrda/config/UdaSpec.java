package dev.hrda.config;

/**
 * The {@code uda} section (mmseg/models/uda/dacs.py, hrda_spec.md §4): DACS self-training with
 * an EMA teacher ({@code alpha}), confidence-weighted pseudo-labels, ClassMix, colour jitter
 * and blur, the ImageNet feature distance on thing classes, and MIC ({@code mask}, null: off).
 * {@code sourceOnly}: DACS's {@code source_only} (MIC's dacs.py, HRDA's DG branch), the source
 * loss and feature distance only.
 *
 * @param imnetFeatureDistClasses      null: every class
 * @param imnetFeatureDistScaleMinRatio NaN where the config has None (then the feature distance is off)
 */
public record UdaSpec(String type, boolean sourceOnly, double alpha, double pseudoThreshold, int pseudoWeightIgnoreTop,
                      int pseudoWeightIgnoreBottom, double imnetFeatureDistLambda, int[] imnetFeatureDistClasses,
                      double imnetFeatureDistScaleMinRatio, String mix, boolean blur, double colorJitterStrength,
                      double colorJitterProbability, int debugImgInterval, boolean printGradMagnitude, MaskSpec mask) {

    static final String[] KEYS = {"type", "source_only", "alpha", "pseudo_threshold", "pseudo_weight_ignore_top",
                                  "pseudo_weight_ignore_bottom", "imnet_feature_dist_lambda", "imnet_feature_dist_classes",
                                  "imnet_feature_dist_scale_min_ratio", "imnet_feature_dist_scale_method", "mix", "blur",
                                  "color_jitter_strength", "color_jitter_probability", "mask_mode", "mask_alpha",
                                  "mask_pseudo_threshold", "mask_lambda", "mask_generator", "debug_img_interval",
                                  "print_grad_magnitude"};

    /** True when the feature distance is on. */
    public boolean featureDistance() {
        return imnetFeatureDistLambda > 0;
    }

    static UdaSpec bind(Section s) {
        String type = s.string("type");
        if (!type.equals("DACS")) {
            throw s.error("type", "uda type '" + type + "' is not supported (DACS only; the originals' AdvSeg and MinEnt are not implemented)");
        }
        double fdLambda = s.number("imnet_feature_dist_lambda", 0, 0, Double.MAX_VALUE);
        int[] fdClasses = s.has("imnet_feature_dist_classes") ? s.ints("imnet_feature_dist_classes", -1) : null;
        if (fdClasses != null) {
            for (int c : fdClasses) if (c < 0 || c > 18) throw s.error("imnet_feature_dist_classes", "class " + c + " is not a Cityscapes train id (0-18)");
        }
        double fdMin = s.has("imnet_feature_dist_scale_min_ratio") ? s.number("imnet_feature_dist_scale_min_ratio", 0, 1) : Double.NaN;
        if (fdLambda > 0 && Double.isNaN(fdMin)) {
            throw s.error("imnet_feature_dist_scale_min_ratio", "must be set where imnet_feature_dist_lambda > 0 (0.75 in the originals)");
        }
        s.fixed("imnet_feature_dist_scale_method", "ratio", "downscale_label_ratio");
        int ignoreTop = s.integer("pseudo_weight_ignore_top", 0, 0, Integer.MAX_VALUE);
        int ignoreBottom = s.integer("pseudo_weight_ignore_bottom", 0, 0, Integer.MAX_VALUE);
        return new UdaSpec(type, s.flag("source_only", false), s.number("alpha", 0, 1), s.number("pseudo_threshold", 0, 1),
                           ignoreTop, ignoreBottom, fdLambda, fdClasses, fdMin, s.choice("mix", null, "class"), s.flag("blur"),
                           s.number("color_jitter_strength", 0, 1), s.number("color_jitter_probability", 0, 1),
                           s.integer("debug_img_interval", 1, Integer.MAX_VALUE), s.flag("print_grad_magnitude", false), MaskSpec.bind(s));
    }
}
