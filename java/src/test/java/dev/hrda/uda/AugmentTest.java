package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.hrda.uda.TestTensors.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DACS's strong augmentation on the CPU: the colour-jitter and Gaussian-blur twins against naive
 * f64 references written here from kornia 0.5.8's definitions (textbook HSV forms, explicit
 * reflect padding, a full 2-D kernel), in f32 and f64, outputs poisoned with NaN; and known
 * values (identity factors, pure-colour hue rotations, constant and impulse images).
 */
class AugmentTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    // mmseg keeps img_norm_cfg as float32 arrays; the op takes them as floats
    private static final float[] MEAN_F = StrongAugment.PIPELINE_MEAN, STD_F = StrongAugment.PIPELINE_STD;
    private static final double[] MEAN = {MEAN_F[0], MEAN_F[1], MEAN_F[2]}, STD = {STD_F[0], STD_F[1], STD_F[2]};

    // =====================================================================================
    // naive references
    // =====================================================================================

    /** RGB in [0, 1] -> {h in turns [0, 1), s, v}: the textbook sector form with kornia's s = delta / (v + 1e-6). */
    static double[] hsv(double r, double g, double b) {
        double max = Math.max(r, Math.max(g, b)), min = Math.min(r, Math.min(g, b)), delta = max - min;
        double sector;
        if (delta == 0) sector = 0;
        else if (max == r) sector = (g - b) / delta;
        else if (max == g) sector = 2 + (b - r) / delta;
        else sector = 4 + (r - g) / delta;
        double turns = sector / 6 - Math.floor(sector / 6);
        return new double[] {turns, delta / (max + 1e-6), max};
    }

    /** {h in turns (any sign), s, v} -> RGB with chroma C = v s, X = C (1 - |h6 mod 2 - 1|), m = v - C. */
    static double[] rgb(double turns, double s, double v) {
        double h6 = turns * 6 - 6 * Math.floor(turns);
        double c = v * s, x = c * (1 - Math.abs(h6 % 2 - 1)), m = v - c;
        int sector = Math.min(5, (int) Math.floor(h6));
        double[][] table = {{c, x, 0}, {x, c, 0}, {0, c, x}, {0, x, c}, {x, 0, c}, {c, 0, x}};
        return new double[] {table[sector][0] + m, table[sector][1] + m, table[sector][2] + m};
    }

    static double clamp01(double v) { return Math.max(0, Math.min(1, v)); }

    /** One pixel through denorm, the four adjustments in the given order, renorm. factors: b, c, s, h. */
    static double[] jitterPixel(double[] x, double[] factors, int[] order) {
        double[] c = new double[3];
        for (int k = 0; k < 3; k++) c[k] = (x[k] * STD[k] + MEAN[k]) / 255;
        for (int op : order) {
            switch (op) {
                case 0 -> { for (int k = 0; k < 3; k++) c[k] = clamp01(c[k] + factors[0] - 1); }
                case 1 -> { for (int k = 0; k < 3; k++) c[k] = clamp01(c[k] * factors[1]); }
                case 2 -> { double[] p = hsv(c[0], c[1], c[2]); c = rgb(p[0], clamp01(p[1] * factors[2]), p[2]); }
                default -> { double[] p = hsv(c[0], c[1], c[2]); c = rgb(p[0] + factors[3], p[1], p[2]); }
            }
        }
        double[] out = new double[3];
        for (int k = 0; k < 3; k++) out[k] = (c[k] * 255 - MEAN[k]) / STD[k];
        return out;
    }

    static double[] naiveJitter(double[] x, float[] factors, int[] order, int b, int hw) {
        double[] y = new double[x.length];
        for (int i = 0; i < b; i++) {
            double[] f = new double[4];
            int[] o = new int[4];
            for (int j = 0; j < 4; j++) {
                f[j] = factors[4 * i + j];
                o[j] = order[4 * i + j];
            }
            for (int p = 0; p < hw; p++) {
                double[] px = {x[(i * 3) * hw + p], x[(i * 3 + 1) * hw + p], x[(i * 3 + 2) * hw + p]};
                double[] out = jitterPixel(px, f, o);
                for (int k = 0; k < 3; k++) y[(i * 3 + k) * hw + p] = out[k];
            }
        }
        return y;
    }

    /** kornia's normalised Gaussian of k taps: exp(-(i - k/2)^2 / (2 sigma^2)) / sum. */
    static double[] gaussian1d(int k, double sigma) {
        double[] w = new double[k];
        double sum = 0;
        for (int i = 0; i < k; i++) sum += (w[i] = Math.exp(-Math.pow(i - k / 2, 2) / (2 * sigma * sigma)));
        for (int i = 0; i < k; i++) w[i] /= sum;
        return w;
    }

    /** Reflect-pads each plane explicitly (mirror without the edge) and convolves with the full 2-D kernel. */
    static double[] naiveBlur(double[] x, float[] sigma, int b, int c, int h, int w, int kh, int kw) {
        int ry = kh / 2, rx = kw / 2, hp = h + 2 * ry, wp = w + 2 * rx;
        double[] y = new double[x.length];
        for (int i = 0; i < b; i++) {
            double[] gy = gaussian1d(kh, sigma[i]), gx = gaussian1d(kw, sigma[i]);
            for (int ch = 0; ch < c; ch++) {
                int plane = (i * c + ch) * h * w;
                double[][] pad = new double[hp][wp];
                for (int r = 0; r < hp; r++) {
                    int sr = r - ry;
                    sr = sr < 0 ? -sr : (sr >= h ? 2 * h - 2 - sr : sr);
                    for (int q = 0; q < wp; q++) {
                        int sq = q - rx;
                        sq = sq < 0 ? -sq : (sq >= w ? 2 * w - 2 - sq : sq);
                        pad[r][q] = x[plane + sr * w + sq];
                    }
                }
                for (int r = 0; r < h; r++) {
                    for (int q = 0; q < w; q++) {
                        double acc = 0;
                        for (int a = 0; a < kh; a++) for (int d = 0; d < kw; d++) acc += gy[a] * gx[d] * pad[r + a][q + d];
                        y[plane + r * w + q] = acc;
                    }
                }
            }
        }
        return y;
    }

    // =====================================================================================
    // helpers
    // =====================================================================================

    /** Normalised images from pixel values in [0, 255], with grey, primary and extreme pixels mixed in. */
    static double[] images(Random rnd, int b, int hw) {
        double[] x = new double[b * 3 * hw];
        for (int i = 0; i < b; i++) {
            for (int p = 0; p < hw; p++) {
                double[] px = {rnd.nextDouble() * 255, rnd.nextDouble() * 255, rnd.nextDouble() * 255};
                switch (p % 11) {
                    case 3 -> px[1] = px[2] = px[0];                 // grey
                    case 5 -> { px[0] = 255; px[1] = px[2] = 0; }    // pure red
                    case 7 -> px[2] = px[0];                        // two equal channels
                    case 9 -> { px[0] = 0; px[1] = 255; }           // extremes
                    default -> { }
                }
                for (int k = 0; k < 3; k++) x[(i * 3 + k) * hw + p] = (px[k] - MEAN[k]) / STD[k];
            }
        }
        return x;
    }

    static Tensor tensor(DType d, double[] v, int... shape) { return TestTensors.of(be, d, v, shape); }

    static Tensor poisoned(DType d, int... shape) { return TestTensors.poisoned(be, d, shape); }

    static double[] normalised(double r, double g, double b) {
        double[] px = {r, g, b};
        double[] x = new double[3];
        for (int k = 0; k < 3; k++) x[k] = (255 * px[k] - MEAN[k]) / STD[k];
        return x;
    }

    /** Colour jitter of one pixel (an image [1, 3, 1, 1]) on the CPU backend, f64. */
    static double[] jitterOne(double[] px, float[] factors, int[] order) {
        try (Arena a = Arena.open()) {
            Tensor x = tensor(DType.F64, px, 1, 3, 1, 1), y = poisoned(DType.F64, 1, 3, 1, 1);
            be.colorJitter(x, y, Tensor.of(be, factors, 1, 4), Tensor.of(be, order, 1, 4), MEAN_F, STD_F, 1, 1, 1);
            return y.toDoubleArray();
        }
    }

    // =====================================================================================
    // colour jitter
    // =====================================================================================

    @Test
    void colorJitterMatchesNaiveReference() {
        Random rnd = new Random(11);
        int b = 3, h = 7, w = 9;
        double[] x = images(rnd, b, h * w);
        float[] factors = new float[4 * b];
        int[] order = new int[4 * b];
        for (int i = 0; i < b; i++) {
            // wider than DACS's ranges so that the clamps and hue wrap-arounds are exercised
            factors[4 * i] = (float) (0.6 + 0.8 * rnd.nextDouble());
            factors[4 * i + 1] = (float) (0.5 + rnd.nextDouble());
            factors[4 * i + 2] = (float) (0.3 + 1.4 * rnd.nextDouble());
            factors[4 * i + 3] = (float) (rnd.nextDouble() - 0.5);
            System.arraycopy(StrongAugment.permutation(rnd, 4), 0, order, 4 * i, 4);
        }
        double[] ref = naiveJitter(x, factors, order, b, h * w);
        for (DType d : new DType[] {DType.F64, DType.F32}) {
            try (Arena a = Arena.open()) {
                Tensor xt = tensor(d, x, b, 3, h, w), y = poisoned(d, b, 3, h, w);
                be.colorJitter(xt, y, Tensor.of(be, factors, b, 4), Tensor.of(be, order, b, 4), MEAN_F, STD_F, b, h, w);
                assertClose("colorJitter " + d, ref, y.toDoubleArray(), d == DType.F64 ? 1e-9 : 1e-4);
                be.colorJitter(xt, xt, Tensor.of(be, factors, b, 4), Tensor.of(be, order, b, 4), MEAN_F, STD_F, b, h, w);
                assertClose("colorJitter in place " + d, ref, xt.toDoubleArray(), d == DType.F64 ? 1e-9 : 1e-4);
            }
        }
    }

    @Test
    void neutralFactorsAreTheIdentityInEveryOrder() {
        double[] x = images(new Random(12), 1, 25);
        for (int[] order : new int[][] {{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}}) {
            try (Arena a = Arena.open()) {
                Tensor xt = tensor(DType.F32, x, 1, 3, 5, 5), y = poisoned(DType.F32, 1, 3, 5, 5);
                be.colorJitter(xt, y, Tensor.of(be, new float[] {1, 1, 1, 0}, 1, 4), Tensor.of(be, order, 1, 4), MEAN_F, STD_F, 1, 5, 5);
                // HSV round trips move the minimum channel by delta * 1e-6 / v (kornia's eps): ~4e-6 normalised
                assertClose("identity, order " + Arrays.toString(order), x, y.toDoubleArray(), 2e-5);
            }
        }
    }

    @Test
    void hueRotatesRedTowardsYellowThenGreen() {
        double[][] expected = {normalised(1, 1, 0), normalised(0, 1, 0), normalised(0, 1, 1), normalised(1, 0, 1)};
        float[] turns = {1f / 6, 1f / 3, 0.5f, -1f / 6};
        for (int i = 0; i < turns.length; i++) {
            double[] got = jitterOne(normalised(1, 0, 0), new float[] {1, 1, 1, turns[i]}, new int[] {3, 0, 1, 2});
            assertClose("hue " + turns[i] + " of pure red", expected[i], got, 1e-4);
        }
    }

    @Test
    void brightnessAddsContrastMultipliesSaturationZeroGreys() {
        double[] px = normalised(0.2, 0.5, 0.95);
        assertClose("brightness 1.1 adds 0.1 and clamps at 1", normalised(0.3, 0.6, 1.0),
                    jitterOne(px, new float[] {1.1f, 1, 1, 0}, new int[] {0, 1, 2, 3}), 1e-5);
        assertClose("contrast 0.5 halves", normalised(0.1, 0.25, 0.475),
                    jitterOne(px, new float[] {1, 0.5f, 1, 0}, new int[] {1, 0, 2, 3}), 1e-5);
        assertClose("saturation 0 gives the grey of value max(r, g, b)", normalised(0.95, 0.95, 0.95),
                    jitterOne(px, new float[] {1, 1, 0, 0}, new int[] {2, 0, 1, 3}), 1e-5);
        // order matters: brightness then contrast differs from contrast then brightness
        double[] bc = jitterOne(px, new float[] {1.2f, 0.8f, 1, 0}, new int[] {0, 1, 2, 3});
        double[] cb = jitterOne(px, new float[] {1.2f, 0.8f, 1, 0}, new int[] {1, 0, 2, 3});
        assertClose("brightness then contrast", normalised(0.32, 0.56, 0.8), bc, 1e-5);
        assertClose("contrast then brightness", normalised(0.36, 0.6, 0.96), cb, 1e-5);
    }

    @Test
    void colorJitterRefusesAnOrderThatIsNotAPermutation() {
        NativeException e = assertThrows(NativeException.class,
            () -> jitterOne(normalised(0.1, 0.2, 0.3), new float[] {1, 1, 1, 0}, new int[] {0, 1, 1, 3}));
        assertTrue(e.getMessage().contains("not a permutation"), e.getMessage());
    }

    // =====================================================================================
    // Gaussian blur
    // =====================================================================================

    @Test
    void blurMatchesNaiveTwoDimensionalConvolution() {
        Random rnd = new Random(21);
        int b = 2, c = 3, h = 13, w = 17, kh = 5, kw = 9;
        double[] x = new double[b * c * h * w];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextGaussian();
        float[] sigma = {0.37f, 1.13f};
        double[] ref = naiveBlur(x, sigma, b, c, h, w, kh, kw);
        for (DType d : new DType[] {DType.F64, DType.F32}) {
            try (Arena a = Arena.open()) {
                Tensor xt = tensor(d, x, b, c, h, w), y = poisoned(d, b, c, h, w);
                be.gaussianBlur(xt, y, Tensor.of(be, sigma, b), b, c, h, w, kh, kw);
                assertClose("blur " + d, ref, y.toDoubleArray(), d == DType.F64 ? 1e-12 : 1e-5);
                be.gaussianBlur(xt, xt, Tensor.of(be, sigma, b), b, c, h, w, kh, kw);
                assertClose("blur in place " + d, ref, xt.toDoubleArray(), d == DType.F64 ? 1e-12 : 1e-5);
            }
        }
        // the largest radius reflect padding allows: radius = size - 1
        double[] small = new double[4 * 5];
        for (int i = 0; i < small.length; i++) small[i] = rnd.nextDouble();
        try (Arena a = Arena.open()) {
            Tensor y = poisoned(DType.F64, 1, 1, 4, 5);
            be.gaussianBlur(tensor(DType.F64, small, 1, 1, 4, 5), y, Tensor.of(be, new float[] {0.9f}, 1), 1, 1, 4, 5, 7, 9);
            assertClose("blur with radius = size - 1", naiveBlur(small, new float[] {0.9f}, 1, 1, 4, 5, 7, 9), y.toDoubleArray(), 1e-12);
        }
    }

    @Test
    void blurOfAConstantImageIsTheConstant() {
        double[] x = new double[2 * 3 * 20 * 24];
        Arrays.fill(x, -0.8125);
        try (Arena a = Arena.open()) {
            Tensor y = poisoned(DType.F32, 2, 3, 20, 24);
            be.gaussianBlur(tensor(DType.F32, x, 2, 3, 20, 24), y, Tensor.of(be, new float[] {0.15f, 1.15f}, 2), 2, 3, 20, 24,
                            StrongAugment.blurKernelSize(20), StrongAugment.blurKernelSize(24));
            assertClose("constant", x, y.toDoubleArray(), 1e-6);
        }
    }

    @Test
    void impulseResponseIsTheNormalisedGaussianKernel() {
        int h = 21, w = 23, kh = 7, kw = 11;
        float sigma = 1.15f;
        double[] x = new double[h * w];
        x[10 * w + 11] = 1;
        try (Arena a = Arena.open()) {
            Tensor y = poisoned(DType.F64, 1, 1, h, w);
            be.gaussianBlur(tensor(DType.F64, x, 1, 1, h, w), y, Tensor.of(be, new float[] {sigma}, 1), 1, 1, h, w, kh, kw);
            double[] v = y.toDoubleArray();
            double total = 0;
            for (double e : v) total += e;
            assertEquals(1.0, total, 1e-12, "the kernel sums to 1");
            // closed form: exp(-dy^2 / 2s^2) exp(-dx^2 / 2s^2) / (Z_y Z_x), Z the sums over the taps
            double s2 = 2.0 * sigma * sigma, zy = 0, zx = 0;
            for (int i = -kh / 2; i <= kh / 2; i++) zy += Math.exp(-i * i / s2);
            for (int i = -kw / 2; i <= kw / 2; i++) zx += Math.exp(-i * i / s2);
            for (int r = 0; r < h; r++) {
                for (int q = 0; q < w; q++) {
                    int dy = r - 10, dx = q - 11;
                    double want = Math.abs(dy) <= kh / 2 && Math.abs(dx) <= kw / 2
                                  ? Math.exp(-dy * dy / s2) * Math.exp(-dx * dx / s2) / (zy * zx) : 0;
                    assertEquals(want, v[r * w + q], 1e-15, "tap (" + dy + ", " + dx + ")");
                }
            }
        }
    }

    @Test
    void blurKernelSizeFollowsDacs() {
        assertEquals(51, StrongAugment.blurKernelSize(512));
        assertEquals(103, StrongAugment.blurKernelSize(1024));
        assertEquals(205, StrongAugment.blurKernelSize(2048));
        assertEquals(1, StrongAugment.blurKernelSize(10));   // ceil(1.0) = 1, odd
        assertEquals(1, StrongAugment.blurKernelSize(11));   // ceil(1.1) = 2 -> 1
        assertEquals(3, StrongAugment.blurKernelSize(21));   // ceil(2.1) = 3
        assertEquals(3, StrongAugment.blurKernelSize(30));   // 0.1 * 30 = 3.0000000000000004 in doubles: ceil 4 -> 3
        for (int n = 1; n < 3000; n++) {
            int k = StrongAugment.blurKernelSize(n);
            assertTrue(k % 2 == 1 && (k - 1) / 2 < n, "kernel " + k + " for size " + n + " is odd and fits");
        }
    }

    @Test
    void blurRefusesKernelsThatReflectPaddingCannotServe() {
        try (Arena a = Arena.open()) {
            Tensor x = tensor(DType.F32, new double[4 * 6], 1, 1, 4, 6), sigma = Tensor.of(be, new float[] {1f}, 1);
            NativeException big = assertThrows(NativeException.class, () -> be.gaussianBlur(x, x, sigma, 1, 1, 4, 6, 9, 3));
            assertTrue(big.getMessage().contains("too large for a 4 x 6 image"), big.getMessage());
            NativeException even = assertThrows(NativeException.class, () -> be.gaussianBlur(x, x, sigma, 1, 1, 4, 6, 3, 4));
            assertTrue(even.getMessage().contains("odd"), even.getMessage());
        }
    }

    // =====================================================================================
    // the wrapper
    // =====================================================================================

    @Test
    void strongAugmentAppliesTheDrawnJitterThenBlur() {
        StrongAugment aug = StrongAugment.dacs();
        int b = 2, h = 16, w = 12;
        double[] x = images(new Random(31), b, h * w);
        StrongAugment.Params p = null;
        for (long seed = 0; p == null || !(p.jitter() && p.blur()); seed++) p = aug.draw(new Random(seed), b);
        float[] factors = p.factors();
        double[] ref = naiveBlur(naiveJitter(x, factors, p.order(), b, h * w), p.sigma(), b, 3, h, w,
                                 StrongAugment.blurKernelSize(h), StrongAugment.blurKernelSize(w));
        try (Arena a = Arena.open()) {
            Tensor img = tensor(DType.F64, x, b, 3, h, w);
            aug.apply(be, img, p);
            assertClose("jitter then blur", ref, img.toDoubleArray(), 1e-9);
        }
    }
}
