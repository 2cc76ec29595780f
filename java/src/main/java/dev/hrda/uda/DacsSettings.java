package dev.hrda.uda;

/**
 * The DACS self-training settings of a run (configs/_base_/uda/dacs*.yaml, hrda_spec.md §4).
 *
 * @param sourceOnly        no target terms: the source loss (and the feature distance) only
 * @param alpha             EMA teacher momentum (0.999)
 * @param pseudoThreshold   confidence of a pseudo-label counted as confident (0.968)
 * @param ignoreTop         pseudo-label rows of weight 0 at the top of the crop (DAFormer: 15)
 * @param ignoreBottom      ... at the bottom (DAFormer: 120)
 * @param fdLambda          ImageNet feature distance weight (0.005; 0 = off)
 * @param fdClasses         the classes the feature distance is computed on (thing classes)
 * @param fdMinRatio        downscale_label_ratio's min_ratio (0.75)
 * @param blur              Gaussian blur in the strong augmentation of the mixed images
 * @param jitterStrength    colour jitter strength (0.2)
 * @param jitterProbability colour jitter gate parameter (0.2: jitter with probability 0.8)
 * @param mic               masked image consistency (MIC), or null
 */
public record DacsSettings(boolean sourceOnly, double alpha, double pseudoThreshold, int ignoreTop, int ignoreBottom,
                           double fdLambda, int[] fdClasses, double fdMinRatio, boolean blur, double jitterStrength,
                           double jitterProbability, Mic mic) {
    /** Cityscapes train ids of the thing classes (traffic light ... bicycle): imnet_feature_dist_classes. */
    public static final int[] THING_CLASSES = {6, 7, 11, 12, 13, 14, 15, 16, 17, 18};

    /**
     * MIC's masking consistency module.
     *
     * @param mode      separatetrg or separatesrc, with 'aug' a fresh strong augmentation first
     * @param lambda    weight of the masked loss's decode.loss_seg term
     * @param maskRatio share of masked blocks (0.7)
     * @param blockSize block size in pixels (64 for HRDA, 32 for DAFormer)
     */
    public record Mic(String mode, double lambda, double maskRatio, int blockSize) {
        public Mic {
            if (mode.equals("separate") || mode.equals("separateaug")) {
                throw new IllegalArgumentException("MIC mask_mode '" + mode + "' (one source and one target image) is not supported:"
                                                   + " use separatetrg(aug) (MIC's configs) or separatesrc(aug)");
            }
            if (!java.util.List.of("separatesrc", "separatetrg", "separatesrcaug", "separatetrgaug").contains(mode)) {
                throw new IllegalArgumentException("unknown MIC mask_mode '" + mode + "' (separatetrgaug, separatetrg, separatesrcaug, separatesrc)");
            }
        }

        public boolean augment() { return mode.endsWith("aug"); }

        /** Masks the target images (else the source images). */
        public boolean useTarget() { return mode.startsWith("separatetrg"); }
    }

    public DacsSettings {
        if (!(alpha >= 0 && alpha <= 1)) throw new IllegalArgumentException("alpha " + alpha + " must be in [0, 1]");
        if (fdLambda > 0 && (fdClasses == null || fdClasses.length == 0)) throw new IllegalArgumentException("the feature distance needs its classes");
    }

    /** DAFormer's gta2cs_uda_warm_fdthings_rcs_croppl_a999: FD on things, rows 15/120 ignored. */
    public static DacsSettings daformer() {
        return new DacsSettings(false, 0.999, PseudoLabel.DACS_THRESHOLD, 15, 120, 0.005, THING_CLASSES, LabelDownscale.DACS_MIN_RATIO,
                                true, StrongAugment.DACS_STRENGTH, StrongAugment.DACS_JITTER_PROBABILITY, null);
    }

    /** HRDA's gtaHR2csHR_hrda: as DAFormer but the valid pseudo mask instead of ignored rows. */
    public static DacsSettings hrda() {
        return daformer().withIgnoredRows(0, 0);
    }

    public DacsSettings withIgnoredRows(int top, int bottom) {
        return new DacsSettings(sourceOnly, alpha, pseudoThreshold, top, bottom, fdLambda, fdClasses, fdMinRatio, blur, jitterStrength,
                                jitterProbability, mic);
    }

    public DacsSettings withMic(Mic m) {
        return new DacsSettings(sourceOnly, alpha, pseudoThreshold, ignoreTop, ignoreBottom, fdLambda, fdClasses, fdMinRatio, blur,
                                jitterStrength, jitterProbability, m);
    }

    public DacsSettings withFeatureDistance(double lambda, int[] classes) {
        return new DacsSettings(sourceOnly, alpha, pseudoThreshold, ignoreTop, ignoreBottom, lambda, classes, fdMinRatio, blur,
                                jitterStrength, jitterProbability, mic);
    }

    public DacsSettings withPseudoThreshold(double t) {
        return new DacsSettings(sourceOnly, alpha, t, ignoreTop, ignoreBottom, fdLambda, fdClasses, fdMinRatio, blur, jitterStrength,
                                jitterProbability, mic);
    }

    public DacsSettings asSourceOnly() {
        return new DacsSettings(true, alpha, pseudoThreshold, ignoreTop, ignoreBottom, fdLambda, fdClasses, fdMinRatio, blur, jitterStrength,
                                jitterProbability, mic);
    }
}
