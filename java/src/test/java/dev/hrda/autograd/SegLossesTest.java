package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fused losses (SegLosses, losses.h) and the eval-mode batch-norm backward on the CPU: the
 * segmentation loss against the composition F.resize + F.crossEntropy of existing ops (loss,
 * accuracy against a brute-force count, gradient), finite differences in f64, the accumulate
 * flag, bad labels and refused downsampling; the feature distance against a plain float64 loop,
 * finite differences, empty masks and zero distances; batch norm with frozen statistics.
 */
class SegLossesTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    /** (n, c, h, w) -> (H, W): integer, unit and non-integer factors, odd sizes. */
    private static final int[][] SHAPES = {{2, 5, 7, 5, 28, 20}, {2, 4, 7, 5, 7, 5}, {1, 6, 7, 9, 16, 21}, {2, 3, 4, 6, 9, 13}};

    static double[] gaussian(Random r, int n, double sd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = sd * r.nextGaussian();
        return v;
    }

    /** Train ids in [0, c) with about one in six pixels ignored (255). */
    static int[] labels(Random r, int n, int c) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = r.nextInt(6) == 0 ? 255 : r.nextInt(c);
        return l;
    }

    static Tensor tensor(DType d, double[] v, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        t.copyFrom(v);
        return t;
    }

    static void assertRel(String what, double[] ref, double[] got, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        double scale = 0;
        for (double v : ref) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(got[i] - ref[i]) <= rtol * Math.max(Math.abs(ref[i]), scale * 1e-3))) {  // NaN fails
                fail(String.format(Locale.ROOT, "%s: element %d of %d: expected %.15g, got %.15g", what, i, ref.length, ref[i], got[i]));
            }
        }
    }

    /** Correct pixels by arg-max (lowest index on ties) of upsampled logits [n, c, hw]. */
    static int bruteCorrect(double[] up, int[] lab, int n, int c, int hw) {
        int correct = 0;
        for (int b = 0; b < n; b++)
            for (int p = 0; p < hw; p++) {
                int l = lab[b * hw + p];
                if (l == 255) continue;
                int arg = 0;
                for (int k = 1; k < c; k++) if (up[(b * c + k) * hw + p] > up[(b * c + arg) * hw + p]) arg = k;
                if (arg == l) correct++;
            }
        return correct;
    }

    // =====================================================================================
    // segmentation cross-entropy
    // =====================================================================================

    @Test
    void fusedLossEqualsResizeThenCrossEntropy() {
        Random r = new Random(11);
        for (int[] s : SHAPES) {
            int n = s[0], c = s[1], h = s[2], w = s[3], oh = s[4], ow = s[5];
            double[] x = gaussian(r, n * c * h * w, 3), wt = new double[n * oh * ow];
            for (int i = 0; i < wt.length; i++) wt[i] = 0.1 + 1.9 * r.nextDouble();
            int[] lab = labels(r, n * oh * ow, c);
            for (DType d : new DType[] {DType.F64, DType.F32}) {
                double rtol = d == DType.F64 ? 1e-12 : 1e-5;
                for (boolean weighted : new boolean[] {false, true}) {
                    String tag = String.format(Locale.ROOT, "%s %dx%d->%dx%d weighted=%s", d, h, w, oh, ow, weighted);
                    try (Arena a = Arena.open()) {
                        Tensor labels = Tensor.of(be, lab, n, oh, ow), weight = weighted ? tensor(d, wt, n, oh, ow) : null;
                        Tensor lf = tensor(d, x, n, c, h, w), lc = tensor(d, x, n, c, h, w);
                        lf.requiresGrad = true;
                        lc.requiresGrad = true;
                        SegLosses.Result fused;
                        Tensor composed, up;
                        try (Tape t = Tape.record()) {
                            fused = SegLosses.crossEntropy(lf, labels, weight, 255);
                            t.backward(fused.loss());
                        }
                        try (Tape t = Tape.record()) {
                            up = F.resize(lc, oh, ow);
                            composed = F.crossEntropy(up, labels, weight, 255);
                            t.backward(composed);
                        }
                        assertEquals(d == DType.F64 ? DType.F64 : DType.F32, fused.loss().dtype(), tag + ": loss dtype");
                        assertRel(tag + ": loss", composed.toDoubleArray(), fused.loss().toDoubleArray(), rtol);
                        assertRel(tag + ": dlogits", lc.grad.toDoubleArray(), lf.grad.toDoubleArray(), rtol * 10);
                        int valid = 0;
                        for (int l : lab) if (l != 255) valid++;
                        int correct = bruteCorrect(up.toDoubleArray(), lab, n, c, oh * ow);
                        assertEquals(valid, fused.valid(), tag + ": valid pixels");
                        assertEquals(correct, fused.correct(), tag + ": correct pixels");
                        assertEquals((long) n * oh * ow, fused.pixels(), tag);
                        assertEquals(100.0 * correct / (n * oh * ow), fused.accuracy(), 1e-12, tag + ": acc_seg (mmseg 0.16)");
                        assertEquals(100.0 * correct / valid, fused.validAccuracy(), 1e-12, tag + ": accuracy over valid pixels");
                    }
                }
            }
        }
    }

    @Test
    void backwardOverwritesOrAccumulates() {
        Random r = new Random(12);
        int n = 2, c = 5, h = 7, w = 5, oh = 16, ow = 13;
        double[] x = gaussian(r, n * c * h * w, 2), prior = gaussian(r, n * c * h * w, 1);
        int[] lab = labels(r, n * oh * ow, c);
        try (Arena a = Arena.open()) {
            Tensor logits = tensor(DType.F64, x, n, c, h, w), labels = Tensor.of(be, lab, n, oh, ow);
            Tensor fresh = Tensor.empty(be, DType.F64, n, c, h, w);
            be.fill(fresh, Double.NaN);
            be.segCrossEntropyBackward(logits, labels, null, 255, 0.37, fresh, n, c, h, w, oh, ow, false);
            Tensor added = tensor(DType.F64, prior, n, c, h, w);
            be.segCrossEntropyBackward(logits, labels, null, 255, 0.37, added, n, c, h, w, oh, ow, true);
            double[] f = fresh.toDoubleArray(), g = added.toDoubleArray(), want = new double[f.length];
            for (int i = 0; i < f.length; i++) want[i] = prior[i] + f[i];
            assertRel("accumulate=1 adds to the gradient", want, g, 1e-14);
            for (double v : f) assertTrue(Double.isFinite(v), "accumulate=0 writes every element");
        }
    }

    @Test
    void lossGradientMatchesFiniteDifferences() {
        Random r = new Random(13);
        int[][] shapes = {{2, 4, 5, 4, 11, 9}, {1, 3, 3, 4, 3, 4}};
        for (int[] s : shapes) {
            int n = s[0], c = s[1], h = s[2], w = s[3], oh = s[4], ow = s[5];
            int[] lab = labels(r, n * oh * ow, c);
            double[] wt = new double[n * oh * ow];
            for (int i = 0; i < wt.length; i++) wt[i] = 0.25 + r.nextDouble();
            try (Tensor labels = Tensor.of(be, lab, n, oh, ow); Tensor weight = tensor(DType.F64, wt, n, oh, ow);
                 Tensor x = GradCheck.random(be, r, n, c, h, w)) {
                GradCheck.check("seg cross-entropy " + Arrays.toString(s), List.of(x),
                                in -> SegLosses.crossEntropy(in.get(0), labels, weight, 255).loss(), 80, 1);
            }
        }
    }

    @Test
    void badLabelIsNamedByPixel() {
        int n = 2, c = 4, h = 3, w = 3, oh = 7, ow = 6;
        int[] lab = labels(new Random(14), n * oh * ow, c);
        lab[oh * ow + 3 * ow + 4] = 7;  // sample 1, row 3, column 4
        lab[oh * ow + 5 * ow] = -2;
        try (Arena a = Arena.open()) {
            Tensor logits = tensor(DType.F32, gaussian(new Random(15), n * c * h * w, 1), n, c, h, w);
            Tensor labels = Tensor.of(be, lab, n, oh, ow);
            NativeException e = assertThrows(NativeException.class, () -> SegLosses.crossEntropy(logits, labels, null, 255));
            assertTrue(e.getMessage().contains("2 label(s) outside [0, 4)") && e.getMessage().contains("sample 1 row 3 column 4 has value 7"),
                       e.getMessage());
        }
    }

    @Test
    void downsamplingIsRefused() {
        try (Arena a = Arena.open()) {
            Tensor logits = tensor(DType.F32, gaussian(new Random(16), 2 * 3 * 8 * 8, 1), 2, 3, 8, 8);
            Tensor labels = Tensor.of(be, new int[2 * 4 * 16], 2, 4, 16);
            NativeException e = assertThrows(NativeException.class, () -> SegLosses.crossEntropy(logits, labels, null, 255));
            assertEquals(2, e.code, "HRDA_ERR_UNSUPPORTED");
            assertTrue(e.getMessage().contains("labels 4 x 16 are smaller than the logits 8 x 8"), e.getMessage());
        }
    }

    @Test
    void argumentsAreCheckedWithNames() {
        try (Arena a = Arena.open()) {
            Tensor logits = tensor(DType.F32, gaussian(new Random(17), 2 * 3 * 4 * 4, 1), 2, 3, 4, 4);
            Tensor labels = Tensor.of(be, new int[2 * 8 * 8], 2, 8, 8);
            Tensor weight64 = Tensor.zeros(be, DType.F64, 2, 8, 8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                                      () -> SegLosses.crossEntropy(logits, labels, weight64, 255));
            assertTrue(e.getMessage().contains("weight must be F32 of 2x8x8 elements, got F64[2, 8, 8]"), e.getMessage());
            Tensor loss = Tensor.empty(be, DType.F32, 1), counts = Tensor.empty(be, DType.I32, 2);
            e = assertThrows(IllegalArgumentException.class,
                             () -> be.segCrossEntropy(logits, labels, null, 255, loss, counts, 2, 3, 4, 5, 8, 8));
            assertTrue(e.getMessage().contains("logits must be a float tensor of 2x3x4x5 elements, got F32[2, 3, 4, 4]"), e.getMessage());
            Tensor labels3 = Tensor.of(be, new int[8 * 8], 1, 8, 8);
            e = assertThrows(IllegalArgumentException.class, () -> SegLosses.crossEntropy(logits, labels3, null, 255));
            assertTrue(e.getMessage().contains("labels must be I32 [2, H, W]"), e.getMessage());
        }
    }

    @Test
    void noGradientNoTapeStep() {
        try (Arena a = Arena.open(); Tape t = Tape.record()) {
            Tensor logits = tensor(DType.F32, gaussian(new Random(18), 2 * 3 * 4 * 4, 1), 2, 3, 4, 4);
            SegLosses.Result res = SegLosses.crossEntropy(logits, Tensor.of(be, labels(new Random(19), 2 * 64, 3), 2, 8, 8), null, 255);
            assertEquals(0, t.size(), "logits without requiresGrad record nothing");
            assertTrue(!res.loss().requiresGrad);
        }
    }

    // =====================================================================================
    // feature distance
    // =====================================================================================

    /** {sum of distances, count} of the masked pixels, by a plain float64 loop. */
    static double[] bruteDistance(double[] fs, double[] fi, int[] lab, int[] classes, int n, int c, int hw) {
        double sum = 0;
        int count = 0;
        for (int b = 0; b < n; b++)
            for (int p = 0; p < hw; p++) {
                int l = lab[b * hw + p];
                if (Arrays.stream(classes).noneMatch(k -> k == l)) continue;
                double s = 0;
                for (int k = 0; k < c; k++) {
                    double d = fs[(b * c + k) * hw + p] - fi[(b * c + k) * hw + p];
                    s += d * d;
                }
                sum += Math.sqrt(s);
                count++;
            }
        return new double[] {sum, count};
    }

    static final int[] FD_CLASSES = {6, 7, 11, 12, 13, 14, 15, 16, 17, 18};

    @Test
    void featureDistanceEqualsPlainLoop() {
        Random r = new Random(21);
        int n = 2, c = 37, h = 5, w = 7, hw = h * w;
        double[] fs = gaussian(r, n * c * hw, 1), fi = gaussian(r, n * c * hw, 1);
        int[] lab = new int[n * hw];
        for (int i = 0; i < lab.length; i++) lab[i] = r.nextInt(8) == 0 ? 255 : r.nextInt(19);
        double[] ref = bruteDistance(fs, fi, lab, FD_CLASSES, n, c, hw);
        assertTrue(ref[1] > 0, "the draw masks some pixels");
        for (DType d : new DType[] {DType.F64, DType.F32}) {
            try (Arena a = Arena.open(); Tape t = Tape.record()) {
                Tensor s = tensor(d, fs, n, c, h, w), im = tensor(d, fi, n, c, h, w);
                s.requiresGrad = true;
                im.requiresGrad = true;  // the frozen model's features: never receive a gradient
                SegLosses.Distance dist = SegLosses.featureDistance(s, im, Tensor.of(be, lab, n, h, w), FD_CLASSES);
                assertEquals((int) ref[1], dist.count(), d + ": masked pixels");
                assertEquals(ref[0] / ref[1], dist.loss().item(), (d == DType.F64 ? 1e-14 : 1e-6) * ref[0] / ref[1], d + ": distance");
                t.backward(dist.loss());
                assertNull(im.grad, "fi receives no gradient");
                // d/dfs = (fs - fi) / (dist * count) at masked pixels, 0 elsewhere
                double[] g = s.grad.toDoubleArray(), want = new double[g.length];
                for (int b = 0; b < n; b++)
                    for (int p = 0; p < hw; p++) {
                        int l = lab[b * hw + p];
                        if (Arrays.stream(FD_CLASSES).noneMatch(k -> k == l)) continue;
                        double ss = 0;
                        for (int k = 0; k < c; k++) ss += Math.pow(fs[(b * c + k) * hw + p] - fi[(b * c + k) * hw + p], 2);
                        for (int k = 0; k < c; k++) {
                            int i = (b * c + k) * hw + p;
                            want[i] = (fs[i] - fi[i]) / (Math.sqrt(ss) * ref[1]);
                        }
                    }
                assertRel(d + ": dfs", want, g, d == DType.F64 ? 1e-13 : 1e-5);
            }
        }
    }

    @Test
    void featureDistanceMatchesFiniteDifferences() {
        Random r = new Random(22);
        int n = 2, c = 6, h = 3, w = 4;
        int[] lab = new int[n * h * w];
        for (int i = 0; i < lab.length; i++) lab[i] = i % 5 == 0 ? 255 : r.nextInt(19);
        try (Tensor labels = Tensor.of(be, lab, n, h, w); Tensor fs = GradCheck.random(be, r, n, c, h, w);
             Tensor fi = Tensor.of(be, gaussian(r, n * c * h * w, 1), n, c, h, w)) {
            GradCheck.check("feature distance", List.of(fs), in -> SegLosses.featureDistance(in.get(0), fi, labels, FD_CLASSES).loss(),
                            80, 1);
        }
    }

    @Test
    void emptyMaskGivesZeroAndZeroGradient() {
        Random r = new Random(23);
        int n = 2, c = 5, h = 3, w = 3;
        int[] lab = new int[n * h * w];
        Arrays.fill(lab, 3);  // not one of the classes
        try (Arena a = Arena.open(); Tape t = Tape.record()) {
            Tensor fs = tensor(DType.F64, gaussian(r, n * c * h * w, 1), n, c, h, w);
            fs.requiresGrad = true;
            SegLosses.Distance d = SegLosses.featureDistance(fs, tensor(DType.F64, gaussian(r, n * c * h * w, 1), n, c, h, w),
                                                             Tensor.of(be, lab, n, h, w), FD_CLASSES);
            assertEquals(0, d.count());
            assertEquals(0.0, d.loss().item(), "documented choice: 0 instead of the original's NaN");
            t.backward(d.loss());
            for (double v : fs.grad.toDoubleArray()) assertEquals(0.0, v, "zero gradient on an empty mask");
        }
    }

    @Test
    void zeroDistancePixelsHaveZeroGradient() {
        Random r = new Random(24);
        int n = 1, c = 4, h = 2, w = 3, hw = h * w;
        double[] fs = gaussian(r, n * c * hw, 1), fi = gaussian(r, n * c * hw, 1);
        for (int k = 0; k < c; k++) fi[k * hw + 2] = fs[k * hw + 2];  // pixel 2: identical features
        int[] lab = {6, 7, 6, 1, 6, 255};
        try (Arena a = Arena.open(); Tape t = Tape.record()) {
            Tensor s = tensor(DType.F64, fs, n, c, h, w);
            s.requiresGrad = true;
            SegLosses.Distance d = SegLosses.featureDistance(s, tensor(DType.F64, fi, n, c, h, w), Tensor.of(be, lab, n, h, w), FD_CLASSES);
            double[] ref = bruteDistance(fs, fi, lab, FD_CLASSES, n, c, hw);
            assertEquals(4, d.count(), "the zero-distance pixel counts");
            assertEquals(ref[0] / 4, d.loss().item(), 1e-14);
            t.backward(d.loss());
            double[] g = s.grad.toDoubleArray();
            for (int k = 0; k < c; k++) {
                assertEquals(0.0, g[k * hw + 2], "zero distance: zero gradient (torch's norm backward), not NaN");
                assertEquals(0.0, g[k * hw + 3], "unmasked pixel");
                assertTrue(g[k * hw] != 0 && Double.isFinite(g[k * hw]));
            }
        }
    }

    @Test
    void featureDistanceArgumentChecks() {
        try (Arena a = Arena.open()) {
            Tensor fs = Tensor.zeros(be, DType.F32, 2, 3, 4, 4), fi = Tensor.zeros(be, DType.F64, 2, 3, 4, 4);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                                      () -> SegLosses.featureDistance(fs, fi, Tensor.of(be, new int[32], 2, 4, 4), FD_CLASSES));
            assertTrue(e.getMessage().contains("one shape and dtype"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                             () -> SegLosses.featureDistance(fs, fs, Tensor.of(be, new int[128], 2, 8, 8), FD_CLASSES));
            assertTrue(e.getMessage().contains("not at the features' resolution"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                             () -> SegLosses.featureDistance(fs, fs, Tensor.of(be, new int[32], 2, 4, 4), new int[] {256}));
            assertTrue(e.getMessage().contains("outside 0..255"), e.getMessage());
        }
    }

    // =====================================================================================
    // batch norm with frozen statistics
    // =====================================================================================

    @Test
    void evalBatchNormBackwardMatchesFiniteDifferences() {
        Random r = new Random(31);
        int c = 3;
        double[] rmv = {0.3, -0.7, 1.1}, rvv = {0.5, 2.0, 0.9};
        try (Tensor rm = Tensor.of(be, rmv, c); Tensor rv = Tensor.of(be, rvv, c); Tensor x = GradCheck.random(be, r, 2, c, 5, 7);
             Tensor gamma = GradCheck.random(be, r, c); Tensor beta = GradCheck.random(be, r, c)) {
            GradCheck.check("batchnorm eval", List.of(x, gamma, beta),
                            in -> F.batchNorm(in.get(0), in.get(1), in.get(2), rm, rv, false, 0.1f, 1e-5f), 60, 1);
            assertArrayEquals(rmv, rm.toDoubleArray(), "running mean unchanged");
            assertArrayEquals(rvv, rv.toDoubleArray(), "running var unchanged");
        }
    }

    @Test
    void evalBatchNormBackwardByHand() {
        Random r = new Random(32);
        int n = 2, c = 3, hw = 11;
        double[] x = gaussian(r, n * c * hw, 2), dy = gaussian(r, n * c * hw, 1), g = {0.5, -1.5, 2.0}, rmv = {0.3, -0.7, 1.1},
                 rvv = {0.5, 2.0, 0.9}, prior = gaussian(r, n * c * hw, 1);
        float eps = 1e-3f;
        for (DType d : new DType[] {DType.F64, DType.F32}) {
            DType stat = d;
            try (Arena a = Arena.open()) {
                Tensor xt = tensor(d, x, n, c, hw), dyt = tensor(d, dy, n, c, hw), gt = tensor(d, g, c);
                Tensor rm = tensor(stat, rmv, c), rv = tensor(stat, rvv, c);
                double[] rm0 = rm.toDoubleArray(), rv0 = rv.toDoubleArray();
                Tensor dx = Tensor.empty(be, d, n, c, hw), dg = tensor(d, new double[] {1, 2, 3}, c), db = tensor(d, new double[] {-1, 0, 1}, c);
                be.fill(dx, Double.NaN);
                be.batchNormEvalBackward(xt, gt, rm, rv, dyt, dx, dg, db, n, c, hw, eps, false);
                Tensor dx2 = tensor(d, prior, n, c, hw);
                be.batchNormEvalBackward(xt, gt, rm, rv, dyt, dx2, null, null, n, c, hw, eps, true);
                double[] wdx = new double[x.length], wdx2 = new double[x.length], wdg = {1, 2, 3}, wdb = {-1, 0, 1};
                for (int b = 0; b < n; b++)
                    for (int k = 0; k < c; k++)
                        for (int i = 0; i < hw; i++) {
                            int j = (b * c + k) * hw + i;
                            double rs = 1 / Math.sqrt(rvv[k] + (double) eps);
                            wdx[j] = dy[j] * g[k] * rs;
                            wdx2[j] = prior[j] + wdx[j];
                            wdg[k] += dy[j] * (x[j] - rmv[k]) * rs;
                            wdb[k] += dy[j];
                        }
                double tol = d == DType.F64 ? 1e-14 : 1e-5;
                assertRel(d + " dx", wdx, dx.toDoubleArray(), tol);
                assertRel(d + " dx accumulated", wdx2, dx2.toDoubleArray(), tol);
                assertRel(d + " dgamma (added to)", wdg, dg.toDoubleArray(), tol);
                assertRel(d + " dbeta (added to)", wdb, db.toDoubleArray(), tol);
                assertArrayEquals(rm0, rm.toDoubleArray(), d + " running mean unchanged");
                assertArrayEquals(rv0, rv.toDoubleArray(), d + " running var unchanged");
            }
        }
    }

    @Test
    void evalBatchNormArgumentChecks() {
        try (Arena a = Arena.open()) {
            Tensor x = Tensor.zeros(be, DType.F32, 2, 3, 5), g = Tensor.zeros(be, DType.F32, 3), rm = Tensor.zeros(be, DType.F64, 3);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                                                      () -> be.batchNormEvalBackward(x, g, rm, rm, x, null, null, null, 2, 3, 5, 1e-5f, false));
            assertTrue(e.getMessage().contains("running_mean must be F32 of 3 elements, got F64[3]"), e.getMessage());
        }
    }
}
