package dev.hrda.data;

/**
 * One mmseg-style pipeline (hrda_spec.md §7): Resize (keep ratio) to {@code scale}, RandomCrop
 * (with {@code catMaxRatio} on labelled source data), RandomFlip, Normalize, Pad; optionally
 * the HRDA validity mask for pseudo-labels ({@code validMargins} top, bottom, left, right in
 * pixels at a {@code refW}x{@code refH} image, scaled to the image and carried through
 * resize, crop and flip).
 *
 * @param scaleW       img_scale width (0: no resize); with scaleH the largest (long, short) edges
 * @param cropH        crop height (0: no crop and no padding: test mode)
 * @param flipProb     RandomFlip's probability; in test mode 1 = test-time flip averaging
 *                     (MultiScaleFlipAug flip=True), 0 = none
 * @param catMaxRatio  RandomCrop cat_max_ratio (1: off)
 * @param withLabel    load the train-id label (source, validation)
 * @param invalidLabels what to do with train-id labels holding values outside 0..18 and 255
 * @param keepRatio    mmseg's Resize keep_ratio: true scales into the (long, short) edges; false
 *                     resizes to exactly scaleW x scaleH (RIPU's 1280x720 GTA frames)
 * @param interpolation the image's Resize interpolation (mmcv imresize's {@code interpolation});
 *                     labels are always resized nearest
 */
public record PipelineConfig(int scaleW, int scaleH, int cropH, int cropW, double catMaxRatio, double flipProb,
                             float[] mean, float[] std, boolean withLabel, int[] validMargins, int refW, int refH,
                             InvalidLabels invalidLabels, boolean keepRatio, Interpolation interpolation) {

    /**
     * Image interpolation of Resize: OpenCV's INTER_LINEAR (mmcv's default) or INTER_CUBIC
     * (RIPU's transform.Resize resizes images with PIL's BICUBIC). OpenCV's bicubic kernel has
     * a = -0.75 and does not antialias; PIL's has a = -0.5 and widens its support when
     * downscaling, so a bicubic downscale here is sharper than RIPU's, and not emulated.
     */
    public enum Interpolation {
        BILINEAR("bilinear"), BICUBIC("bicubic");

        private final String key;

        Interpolation(String key) { this.key = key; }

        /** The config value (mmcv's name). */
        public String key() { return key; }

        /** The config values, in order. */
        public static String[] keys() {
            return java.util.Arrays.stream(values()).map(Interpolation::key).toArray(String[]::new);
        }

        /** The value of a config's {@code interpolation} key, or null if unknown. */
        public static Interpolation of(String key) {
            for (Interpolation i : values()) if (i.key.equals(key)) return i;
            return null;
        }
    }

    public enum InvalidLabels {
        /** Refuse the file, naming it and the number of bad pixels (default). */
        REFUSE,
        /** Treat the bad pixels as ignore (255). */
        IGNORE
    }

    public static final float[] MEAN = {123.675f, 116.28f, 103.53f};
    public static final float[] STD = {58.395f, 57.12f, 57.375f};
    /** HRDA crop_pseudo_margins (top, bottom, left, right) at 2048x1024. */
    public static final int[] HRDA_MARGINS = {30, 240, 30, 30};

    public PipelineConfig {
        if (cropH < 0 || cropW < 0 || (cropH == 0) != (cropW == 0)) throw new IllegalArgumentException("bad crop size");
        if (validMargins != null && validMargins.length != 4) throw new IllegalArgumentException("margins: top, bottom, left, right");
        if (interpolation == null) interpolation = Interpolation.BILINEAR;
    }

    /** A bilinear pipeline. */
    public PipelineConfig(int scaleW, int scaleH, int cropH, int cropW, double catMaxRatio, double flipProb, float[] mean, float[] std,
                          boolean withLabel, int[] validMargins, int refW, int refH, InvalidLabels invalidLabels, boolean keepRatio) {
        this(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels, keepRatio,
             Interpolation.BILINEAR);
    }

    /** A keep-ratio pipeline (mmseg's default Resize). */
    public PipelineConfig(int scaleW, int scaleH, int cropH, int cropW, double catMaxRatio, double flipProb, float[] mean, float[] std,
                          boolean withLabel, int[] validMargins, int refW, int refH, InvalidLabels invalidLabels) {
        this(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels, true,
             Interpolation.BILINEAR);
    }

    /** The same pipeline resizing to exactly scaleW x scaleH ({@code false}) or keeping the ratio. */
    public PipelineConfig withKeepRatio(boolean on) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels, on, interpolation);
    }

    /** The same pipeline with another image interpolation. */
    public PipelineConfig withInterpolation(Interpolation i) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels,
                                  keepRatio, i);
    }

    /** Labelled source: resize, crop with cat_max_ratio 0.75, flip 0.5, normalise, pad. */
    public static PipelineConfig source(int scaleW, int scaleH, int crop) {
        return new PipelineConfig(scaleW, scaleH, crop, crop, 0.75, 0.5, MEAN, STD, true, null, 2048, 1024, InvalidLabels.REFUSE);
    }

    /** Unlabelled target: resize, crop, flip 0.5, normalise, pad, validity mask with the HRDA margins. */
    public static PipelineConfig target(int scaleW, int scaleH, int crop) {
        return new PipelineConfig(scaleW, scaleH, crop, crop, 1.0, 0.5, MEAN, STD, false, HRDA_MARGINS, 2048, 1024, InvalidLabels.REFUSE);
    }

    /** Evaluation: resize and normalise only; the label stays at its original size. */
    public static PipelineConfig test(int scaleW, int scaleH) {
        return new PipelineConfig(scaleW, scaleH, 0, 0, 1.0, 0.0, MEAN, STD, true, null, 2048, 1024, InvalidLabels.REFUSE);
    }

    // presets of the original configs
    public static PipelineConfig hrdaGta() { return source(2560, 1440, 1024); }
    public static PipelineConfig hrdaSynthia() { return source(2560, 1520, 1024); }
    public static PipelineConfig hrdaCityscapesSource() { return source(2048, 1024, 1024); }
    public static PipelineConfig hrdaCityscapesTarget() { return target(2048, 1024, 1024); }
    public static PipelineConfig daformerGta() { return source(1280, 720, 512); }
    public static PipelineConfig daformerCityscapesTarget() { return target(1024, 512, 512).withValidMargins(null); }

    public PipelineConfig withLabel(boolean on) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, on, validMargins, refW, refH, invalidLabels, keepRatio, interpolation);
    }

    public PipelineConfig withCatMaxRatio(double r) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, r, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels, keepRatio, interpolation);
    }

    public PipelineConfig withFlipProb(double p) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, p, mean, std, withLabel, validMargins, refW, refH, invalidLabels, keepRatio, interpolation);
    }

    public PipelineConfig withValidMargins(int[] m) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, m, refW, refH, invalidLabels, keepRatio, interpolation);
    }

    public PipelineConfig withValidMargins(int[] m, int refWidth, int refHeight) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, m, refWidth, refHeight, invalidLabels, keepRatio, interpolation);
    }

    public PipelineConfig withInvalidLabels(InvalidLabels p) {
        return new PipelineConfig(scaleW, scaleH, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, p, keepRatio, interpolation);
    }

    public PipelineConfig withScale(int w, int h) {
        return new PipelineConfig(w, h, cropH, cropW, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels, keepRatio, interpolation);
    }

    public PipelineConfig withCrop(int h, int w) {
        return new PipelineConfig(scaleW, scaleH, h, w, catMaxRatio, flipProb, mean, std, withLabel, validMargins, refW, refH, invalidLabels, keepRatio, interpolation);
    }

    /**
     * mmcv rescale_size with keep_ratio: the largest size with long edge <= max(scale) and
     * short edge <= min(scale); returns {width, height}.
     */
    public int[] resizedSize(int w, int h) {
        if (scaleW <= 0 || scaleH <= 0) return new int[] {w, h};
        if (!keepRatio) return new int[] {scaleW, scaleH};
        double longEdge = Math.max(scaleW, scaleH), shortEdge = Math.min(scaleW, scaleH);
        double f = Math.min(longEdge / Math.max(w, h), shortEdge / Math.min(w, h));
        return new int[] {(int) (w * f + 0.5), (int) (h * f + 0.5)};
    }
}
