package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Forward passes of the CPU backend against independent naive float64 implementations written
 * here from the PyTorch definitions (the gradient tests only prove backward matches forward).
 */
class ForwardReferenceTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    private final Random r = new Random(3);

    private double[] rand(int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = r.nextGaussian();
        return a;
    }

    private static void close(double[] expected, double[] actual, double tol) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol * (1 + Math.abs(expected[i])), "element " + i);
        }
    }

    @Test void conv2dMatchesDirectLoops() {
        int n = 2, c = 4, h = 9, w = 7, k = 6, kh = 3, stride = 2, pad = 2, dil = 2, groups = 2;
        double[] x = rand(n * c * h * w), wt = rand(k * (c / groups) * kh * kh), b = rand(k);
        int oh = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1, ow = (w + 2 * pad - dil * (kh - 1) - 1) / stride + 1;
        double[] ref = new double[n * k * oh * ow];
        int cg = c / groups, kg = k / groups;
        for (int in = 0; in < n; in++)
            for (int o = 0; o < k; o++)
                for (int y = 0; y < oh; y++)
                    for (int xx = 0; xx < ow; xx++) {
                        double s = b[o];
                        int g = o / kg;
                        for (int ci = 0; ci < cg; ci++)
                            for (int i = 0; i < kh; i++)
                                for (int j = 0; j < kh; j++) {
                                    int iy = y * stride - pad + i * dil, ix = xx * stride - pad + j * dil;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    s += x[((in * c + g * cg + ci) * h + iy) * w + ix] * wt[((o * cg + ci) * kh + i) * kh + j];
                                }
                        ref[((in * k + o) * oh + y) * ow + xx] = s;
                    }
        try (Arena a = Arena.open()) {
            Tensor y = F.conv2d(Tensor.of(be, x, n, c, h, w), Tensor.of(be, wt, k, c / groups, kh, kh), Tensor.of(be, b, k),
                                stride, pad, dil, groups);
            assertArrayEquals(new int[] {n, k, oh, ow}, y.shape());
            close(ref, y.toDoubleArray(), 1e-12);
        }
    }

    /** PyTorch's bilinear rule (align_corners=False) written out independently. */
    private static double[] bilinear(double[] x, int h, int w, int oh, int ow, double sh, double sw) {
        double[] out = new double[oh * ow];
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                double sy = Math.max(0, (i + 0.5) * sh - 0.5), sx = Math.max(0, (j + 0.5) * sw - 0.5);
                int y0 = Math.min((int) sy, h - 1), x0 = Math.min((int) sx, w - 1);
                int y1 = Math.min(y0 + 1, h - 1), x1 = Math.min(x0 + 1, w - 1);
                double ly = sy - y0, lx = sx - x0;
                out[i * ow + j] = (1 - ly) * ((1 - lx) * x[y0 * w + x0] + lx * x[y0 * w + x1])
                                  + ly * ((1 - lx) * x[y1 * w + x0] + lx * x[y1 * w + x1]);
            }
        return out;
    }

    /** Bias broadcast and per-channel sums in both layouts, large enough for the threaded paths. */
    @Test void biasAndChannelSumInTokenAndMapLayouts() {
        Random r = new Random(4);
        for (int[] dims : new int[][] {{3001, 37, 1}, {2, 37, 1500}}) {  // {outer, C, inner}: tokens, then NCHW
            int outer = dims[0], c = dims[1], inner = dims[2], n = outer * c * inner;
            double[] x = new double[n], b = new double[c], prior = new double[c];
            for (int i = 0; i < n; i++) x[i] = r.nextGaussian();
            for (int i = 0; i < c; i++) { b[i] = r.nextGaussian(); prior[i] = r.nextGaussian(); }
            double[] biased = x.clone(), sums = new double[c];
            for (int o = 0; o < outer; o++)
                for (int k = 0; k < c; k++)
                    for (int i = 0; i < inner; i++) {
                        biased[(o * c + k) * inner + i] += b[k];
                        sums[k] += x[(o * c + k) * inner + i];
                    }
            try (Arena a = Arena.open()) {
                Tensor tx = Tensor.of(be, x, n), tb = Tensor.of(be, b, c), out = Tensor.of(be, prior, c);
                be.channelSum(tx, out, outer, c, inner, true);
                double[] got = out.toDoubleArray();
                for (int k = 0; k < c; k++) assertEquals(prior[k] + sums[k], got[k], 1e-9, "channel sum " + k);
                be.channelSum(tx, out, outer, c, inner, false);
                assertArrayEquals(sums, out.toDoubleArray(), 1e-9);
                be.addBias(tx, tb, outer, c, inner);
                assertArrayEquals(biased, tx.toDoubleArray(), 1e-12);
            }
        }
    }

    @Test void bilinearResizeMatchesPyTorchRule() {
        int h = 5, w = 7;
        double[] x = rand(h * w);
        try (Arena a = Arena.open()) {
            Tensor t = Tensor.of(be, x, 1, 1, h, w);
            // the scale crosses the ABI as a float (PyTorch also computes it in float for f32 tensors)
            close(bilinear(x, h, w, 11, 13, 5.0 / 11, 7.0 / 13), F.resize(t, 11, 13).toDoubleArray(), 1e-6);
            close(bilinear(x, h, w, 3, 2, 5.0 / 3, 7.0 / 2), F.resize(t, 3, 2).toDoubleArray(), 1e-6);
            close(bilinear(x, h, w, 10, 14, 0.5, 0.5), F.resizeByFactor(t, 2.0).toDoubleArray(), 1e-12);
        }
        // a known PyTorch value: F.interpolate([[0,1],[2,3]], size=(4,4), mode='bilinear') first row
        try (Arena a = Arena.open()) {
            Tensor t = Tensor.of(be, new double[] {0, 1, 2, 3}, 1, 1, 2, 2);
            double[] y = F.resize(t, 4, 4).toDoubleArray();
            close(new double[] {0, 0.25, 0.75, 1}, new double[] {y[0], y[1], y[2], y[3]}, 1e-12);
        }
    }

    @Test void nearestResizeOfLabels() {
        int[] lab = {0, 1, 2, 3, 4, 5};  // 2x3
        try (Arena a = Arena.open()) {
            Tensor y = F.resizeNearest(Tensor.of(be, lab, 1, 2, 3), 4, 6);
            assertArrayEquals(new int[] {0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 3, 3, 4, 4, 5, 5}, y.toIntArray());
            // PyTorch computes the source row in float: floorf(50 * (2/100.f)) = 1, where double gives 0
            Tensor tall = F.resizeNearest(Tensor.of(be, new int[] {7, 9}, 1, 2, 1), 100, 1);
            int[] rows = tall.toIntArray();
            for (int r = 0; r < 100; r++) {
                int src = (int) Math.min(Math.floor((float) r * (2f / 100f)), 1);
                assertEquals(src == 0 ? 7 : 9, rows[r], "row " + r);
            }
            assertEquals(7, rows[49]);
            assertEquals(9, rows[50]);
        }
    }

    @Test void layerNormAndSoftmaxAndGelu() {
        int rows = 5, cols = 9;
        double[] x = rand(rows * cols), g = rand(cols), b = rand(cols);
        double[] ln = new double[x.length], sm = new double[x.length], ge = new double[x.length];
        for (int i = 0; i < rows; i++) {
            double m = 0, v = 0, mx = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < cols; j++) m += x[i * cols + j] / cols;
            for (int j = 0; j < cols; j++) v += Math.pow(x[i * cols + j] - m, 2) / cols;
            for (int j = 0; j < cols; j++) ln[i * cols + j] = (x[i * cols + j] - m) / Math.sqrt(v + 1e-6) * g[j] + b[j];
            for (int j = 0; j < cols; j++) mx = Math.max(mx, x[i * cols + j]);
            for (int j = 0; j < cols; j++) s += Math.exp(x[i * cols + j] - mx);
            for (int j = 0; j < cols; j++) sm[i * cols + j] = Math.exp(x[i * cols + j] - mx) / s;
        }
        for (int i = 0; i < x.length; i++) ge[i] = x[i] * 0.5 * (1 + erf(x[i] / Math.sqrt(2)));
        try (Arena a = Arena.open()) {
            Tensor t = Tensor.of(be, x, rows, cols);
            close(ln, F.layerNorm(t, Tensor.of(be, g, cols), Tensor.of(be, b, cols), 1e-6f).toDoubleArray(), 1e-6);
            close(sm, F.softmax(t, -1).toDoubleArray(), 1e-12);
            close(ge, F.gelu(t).toDoubleArray(), 1e-7);
        }
    }

    /** Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction accurate to 1e-12. */
    private static double erf(double z) {
        double t = Math.abs(z);
        if (t < 3) {  // Maclaurin series
            double sum = 0, term = t;
            for (int n = 0; n < 200; n++) {
                sum += term / (2 * n + 1);
                term *= -t * t / (n + 1);
            }
            return Math.copySign(2 / Math.sqrt(Math.PI) * sum, z);
        }
        return Math.copySign(1, z);  // |erf(3)| = 0.99997791...; x*Phi(x) vs x beyond 3 differs < 1e-4*x: not probed
    }

    @Test void batchNormUpdatesRunningStatsLikePyTorch() {
        int n = 3, c = 2, hw = 5;
        double[] x = rand(n * c * hw);
        try (Arena a = Arena.open()) {
            Tensor rm = Tensor.zeros(be, DType.F64, c), rv = Tensor.full(be, DType.F64, 1, c);
            Tensor y = F.batchNorm(Tensor.of(be, x, n, c, 1, hw), Tensor.full(be, DType.F64, 1, c), Tensor.zeros(be, DType.F64, c),
                                   rm, rv, true, 0.1f, 1e-5f);
            double[] yy = y.toDoubleArray();
            for (int ch = 0; ch < c; ch++) {
                double m = 0, v = 0;
                for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) m += x[(i * c + ch) * hw + j] / (n * hw);
                for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) v += Math.pow(x[(i * c + ch) * hw + j] - m, 2);
                assertEquals(0.1 * m, rm.toDoubleArray()[ch], 1e-7);
                assertEquals(0.9 + 0.1 * v / (n * hw - 1), rv.toDoubleArray()[ch], 1e-7);  // unbiased, as PyTorch
                double o = (x[ch * hw] - m) / Math.sqrt(v / (n * hw) + 1e-5);
                assertEquals(o, yy[ch * hw], 1e-6);
            }
        }
    }

    @Test void crossEntropyIsMeanOverAllPixelsIncludingIgnored() {
        int n = 2, c = 3, hw = 4;
        double[] logits = rand(n * c * hw);
        int[] labels = {0, 1, 255, 2, 1, 255, 255, 0};
        double expected = 0;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < hw; p++) {
                int l = labels[i * hw + p];
                if (l == 255) continue;
                double mx = Double.NEGATIVE_INFINITY, s = 0;
                for (int k = 0; k < c; k++) mx = Math.max(mx, logits[(i * c + k) * hw + p]);
                for (int k = 0; k < c; k++) s += Math.exp(logits[(i * c + k) * hw + p] - mx);
                expected += Math.log(s) + mx - logits[(i * c + l) * hw + p];
            }
        expected /= n * hw;  // mmseg 0.16: divide by all pixels
        try (Arena a = Arena.open()) {
            Tensor loss = F.crossEntropy(Tensor.of(be, logits, n, c, 2, 2), Tensor.of(be, labels, n, 2, 2), null, 255);
            assertEquals(expected, loss.item(), 1e-12);
        }
    }

    @Test void dropoutKeepsExpectedFractionAndScales() {
        int size = 200_000;
        try (Arena a = Arena.open()) {
            F.seed(11);
            Tensor ones = Tensor.full(be, DType.F32, 1, size);
            float[] y = F.dropout(ones, 0.3f, true).toFloatArray();
            int kept = 0;
            for (float v : y) {
                if (v != 0) {
                    kept++;
                    assertEquals(1 / 0.7f, v, 1e-6f);
                }
            }
            assertEquals(0.7, kept / (double) size, 0.005);
            // dropout2d drops whole channels: each [H, W] plane is all kept or all zero
            float[] z = F.dropout2d(Tensor.full(be, DType.F32, 1, 4, 50, 3, 5), 0.5f, true).toFloatArray();
            for (int ch = 0; ch < 200; ch++) {
                boolean keep = z[ch * 15] != 0;
                for (int i = 1; i < 15; i++) assertEquals(keep, z[ch * 15 + i] != 0);
            }
            assertTrue(F.dropout(ones, 0.3f, false) == ones, "eval mode is the identity");
        }
    }
}
