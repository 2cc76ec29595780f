package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Tensor;

import java.util.random.RandomGenerator;

/**
 * DACS's strong augmentation of the mixed images (dacs_transforms.py color_jitter and
 * gaussian_blur, after the mix): kornia 0.5.8 ColorJitter between denormalisation and
 * renormalisation, then kornia GaussianBlur2d. The random parameters are drawn here from the
 * caller's generator, as DACS draws them:
 * <ul>
 * <li>one colour-jitter draw and one blur draw per iteration (dacs.py strong_parameters), shared
 * by every sample of the batch: jitter when the draw exceeds the probability parameter 0.2 (so
 * with probability 0.8), blur when it exceeds 0.5;</li>
 * <li>per sample (DACS calls kornia once per mixed image): brightness, contrast, hue and
 * saturation factors uniform in kornia's ranges for strength s (brightness and contrast and
 * saturation in [1 - s, 1 + s] clipped to kornia's bounds, hue in [-s, s] turns), a uniformly
 * random order of the four adjustments, and the blur sigma uniform in [0.15, 1.15).</li>
 * </ul>
 * The blur kernel is odd, about 10 % of the image size: 51 for 512, 103 for 1024.
 */
public final class StrongAugment {
    /** DACS defaults (configs/_base_/uda/dacs.py): color_jitter_strength, color_jitter_probability. */
    public static final double DACS_STRENGTH = 0.2, DACS_JITTER_PROBABILITY = 0.2;
    /** gaussian_blur's fixed threshold and sigma range. */
    public static final double BLUR_THRESHOLD = 0.5, SIGMA_MIN = 0.15, SIGMA_MAX = 1.15;
    /** mmseg's img_norm_cfg (0..255 units, RGB after to_rgb). */
    public static final float[] PIPELINE_MEAN = {123.675f, 116.28f, 103.53f}, PIPELINE_STD = {58.395f, 57.12f, 57.375f};

    /** Index of each adjustment in the factors and in the order (kornia's transform list). */
    public static final int BRIGHTNESS = 0, CONTRAST = 1, SATURATION = 2, HUE = 3;

    private final double strength;
    private final double jitterProbability;
    private final boolean blurEnabled;
    private final float[] mean;
    private final float[] std;

    /**
     * One iteration's draws for a batch of {@code batch} images: factors [batch * 4] (brightness,
     * contrast, saturation, hue per sample) and order [batch * 4] are filled only when jitter is
     * set, sigma [batch] only when blur is set.
     */
    public record Params(int batch, boolean jitter, boolean blur, float[] factors, int[] order, float[] sigma) {
        public Params {
            if (factors.length != 4 * batch || order.length != 4 * batch || sigma.length != batch) {
                throw new IllegalArgumentException("params of " + batch + " samples need 4, 4 and 1 values per sample");
            }
        }
    }

    public StrongAugment(double strength, double jitterProbability, boolean blurEnabled, float[] mean, float[] std) {
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 values (RGB)");
        this.strength = strength;
        this.jitterProbability = jitterProbability;
        this.blurEnabled = blurEnabled;
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** DACS as configured for DAFormer and HRDA: strength 0.2, probability parameter 0.2, blur on. */
    public static StrongAugment dacs() {
        return new StrongAugment(DACS_STRENGTH, DACS_JITTER_PROBABILITY, true, PIPELINE_MEAN, PIPELINE_STD);
    }

    /** DACS's kernel size for an image side: floor(ceil(0.1 n) - 0.5 + ceil(0.1 n) % 2), odd. */
    public static int blurKernelSize(int size) {
        if (size < 1) throw new IllegalArgumentException("image size " + size + " must be positive");
        double c = Math.ceil(0.1 * size);
        return (int) Math.floor(c - 0.5 + c % 2);
    }

    /** Draws one iteration's parameters in DACS's order (gates first, then per sample jitter and sigma). */
    public Params draw(RandomGenerator rng, int batch) {
        boolean jitter = rng.nextDouble() > jitterProbability;
        boolean blur = blurEnabled && rng.nextDouble() > BLUR_THRESHOLD;
        float[] factors = new float[4 * batch];
        int[] order = new int[4 * batch];
        float[] sigma = new float[batch];
        // kornia's _range_bound: [center - s, center + s] clipped to the adjustment's bounds
        double[] brightness = range(1, 0, 2), contrast = range(1, 0, Double.POSITIVE_INFINITY);
        double[] saturation = range(1, 0, Double.POSITIVE_INFINITY), hue = range(0, -0.5, 0.5);
        for (int i = 0; i < batch; i++) {
            if (jitter) {
                // random_color_jitter_generator draws brightness, contrast, hue, saturation, then randperm(4)
                factors[4 * i + BRIGHTNESS] = uniform(rng, brightness);
                factors[4 * i + CONTRAST] = uniform(rng, contrast);
                factors[4 * i + HUE] = uniform(rng, hue);
                factors[4 * i + SATURATION] = uniform(rng, saturation);
                int[] perm = permutation(rng, 4);
                System.arraycopy(perm, 0, order, 4 * i, 4);
            }
            if (blur) sigma[i] = (float) (SIGMA_MIN + (SIGMA_MAX - SIGMA_MIN) * rng.nextDouble());
        }
        return new Params(batch, jitter, blur, factors, order, sigma);
    }

    /** Applies the drawn augmentation in place to normalised RGB images [batch, 3, H, W]. */
    public void apply(Backend backend, Tensor images, Params p) {
        if (images.rank() != 4 || images.dim(1) != 3 || images.dim(0) != p.batch()) {
            throw new IllegalArgumentException("strong augmentation needs [" + p.batch() + ", 3, H, W] images, got "
                                               + images.describe());
        }
        Checks.requireFloat(images, "images");
        int b = images.dim(0), h = images.dim(2), w = images.dim(3);
        if (p.jitter()) {
            try (Tensor factors = Tensor.of(backend, p.factors(), b, 4); Tensor order = Tensor.of(backend, p.order(), b, 4)) {
                backend.colorJitter(images, images, factors, order, mean, std, b, h, w);
            }
        }
        if (p.blur()) {
            try (Tensor sigma = Tensor.of(backend, p.sigma(), b)) {
                backend.gaussianBlur(images, images, sigma, b, 3, h, w, blurKernelSize(h), blurKernelSize(w));
            }
        }
    }

    private double[] range(double center, double lowBound, double highBound) {
        return new double[] {Math.max(lowBound, center - strength), Math.min(highBound, center + strength)};
    }

    /** torch.distributions.Uniform(low, high): low + (high - low) * U[0, 1). */
    private static float uniform(RandomGenerator rng, double[] range) {
        return (float) (range[0] + (range[1] - range[0]) * rng.nextDouble());
    }

    /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
    static int[] permutation(RandomGenerator rng, int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
