package dev.hrda.backend;

import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;
import java.util.function.Function;

import static dev.hrda.backend.CudaAttentionParityTest.maxAbs;
import static dev.hrda.backend.CudaAttentionParityTest.maxErr;
import static dev.hrda.backend.CudaParityTest.rand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fused losses (losses.h) and the eval-mode batch-norm backward of {@link CudaBackend}
 * against the CPU library in f64 (the reference), on fresh random inputs of odd sizes, outputs
 * poisoned (NaN) before each call.
 *
 * <ul>
 *   <li>f32: the loss scalars within 1e-5 relative, valid counts exact, correct counts within one
 *       (an arg-max tie within f32 rounding), gradients elementwise within
 *       1e-5 max|ref| + 1e-4 |ref|.</li>
 *   <li>bf16 and f16, against the f64 reference on the same rounded inputs. Segmentation loss:
 *       the error of the fused loss and of its gradient is at most twice that of the same-precision
 *       composition of existing ops on the GPU (resize, cross_entropy, sum; cross_entropy_backward,
 *       resize backward), plus an f32 floor. Feature distance and batch norm (no composition
 *       exists): f32 arithmetic on the rounded inputs with outputs rounded once, so each element is
 *       within the dtype's rounding (2^-8 relative for bf16, 2^-11 for f16) plus an f32 allowance
 *       (1e-5 of the largest reference value, or of the summed magnitudes for the parameter
 *       gradients).</li>
 *   <li>Determinism: three runs give identical bits (f32 and bf16).</li>
 * </ul>
 * Skipped where CUDA is not usable; {@code -Dhrda.parity.selftest=true} runs the f32 checks with a
 * CpuBackend standing in for CUDA.
 */
@Tag("gpu")
class LossParityTest extends GpuParity {
    private static final DType F32 = DType.F32, F64 = DType.F64;
    private static final DType[] LOW = {DType.BF16, DType.F16};

    /** (n, c, h, w) -> (H, W): x4 (HRDA's decode head), odd, non-integer, more classes than a register chunk, equal sizes. */
    private static final int[][] SEG_SHAPES = {{2, 19, 16, 16, 64, 64}, {2, 19, 7, 5, 28, 20}, {1, 7, 9, 11, 20, 27},
                                               {2, 40, 6, 5, 13, 11}, {2, 5, 9, 9, 9, 9}, {1, 3, 5, 4, 40, 37}};
    private static final int[] CLASSES = {6, 7, 11, 12, 13, 14, 15, 16, 17, 18};

    // ---- tensors ----

    /** A tensor of dtype d on b holding v (f64 tensors exactly; others converted from f32). */
    private static Tensor up(Backend b, DType d, float[] v, int... shape) {
        Tensor t = Tensor.empty(b, d, shape);
        if (d == F64) {
            double[] w = new double[v.length];
            for (int i = 0; i < v.length; i++) w[i] = v[i];
            t.copyFrom(w);
        } else {
            t.copyFrom(v);
        }
        return t;
    }

    private static Tensor nan(Backend b, DType d, int... shape) {
        float[] v = new float[Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
        Arrays.fill(v, Float.NaN);
        return up(b, d, v, shape);
    }

    private static Tensor ints(Backend b, int[] v, int... shape) {
        return Tensor.of(b, v, shape);
    }

    private static Tensor poisonedInts(Backend b, int n) {
        int[] v = new int[n];
        Arrays.fill(v, -77777);
        return Tensor.of(b, v, n);
    }

    /** v as dtype d stores it (the rounded inputs of a low-precision run). */
    private float[] rounded(DType d, float[] v) {
        if (d == F32) return v;
        try (Tensor t = up(gpu, d, v, v.length)) {
            return t.toFloatArray();
        }
    }

    private static int[] labels(long seed, int n, int c) {
        Random r = new Random(seed);
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = r.nextInt(6) == 0 ? 255 : r.nextInt(c);
        return l;
    }

    // ---- comparisons ----

    private static double[] doubles(Tensor t) {
        return t.toDoubleArray();
    }

    /** |got - ref| <= atol + rtol |ref| elementwise (NaN fails). */
    private static void assertElementwise(String what, double[] ref, double[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            double lim = atol + rtol * Math.abs(ref[i]);
            if (!(Math.abs(got[i] - ref[i]) <= lim)) {
                fail(String.format(Locale.ROOT, "%s: element %d of %d: cpu f64 %.9g, cuda %.9g (limit %.3g)", what, i, ref.length,
                                   ref[i], got[i], lim));
            }
        }
    }

    private static void assertScalar(String what, double ref, double got, double rtol) {
        if (!(Math.abs(got - ref) <= rtol * Math.abs(ref) + 1e-12)) {
            fail(String.format(Locale.ROOT, "%s: cpu f64 %.12g, cuda %.12g (rtol %.1g)", what, ref, got, rtol));
        }
    }

    /** The low-precision rule against the same-precision composition. */
    private static void assertWithinComposition(String what, double[] ref, double[] fused, double[] composed) {
        double ef = maxErr(ref, fused), ec = maxErr(ref, composed), floor = 1e-5 * maxAbs(ref) + 1e-9;
        if (!(ef <= 2 * ec + floor)) {
            fail(String.format(Locale.ROOT, "%s: max |err| %.4g of the fused op exceeds 2 x %.4g (composition of existing ops) + %.2g",
                               what, ef, ec, floor));
        }
    }

    private static double rounding(DType d) {
        return d == DType.BF16 ? 0x1p-8 : 0x1p-11;
    }

    // =====================================================================================
    // segmentation cross-entropy
    // =====================================================================================

    /** Inputs of one seg-loss case. */
    private record Seg(int n, int c, int h, int w, int oh, int ow, float[] logits, float[] weight, int[] labels) {
        long pixels() { return (long) n * oh * ow; }

        String tag() {
            return String.format(Locale.ROOT, "[%d, %d, %d, %d] -> %dx%d", n, c, h, w, oh, ow);
        }
    }

    private static Seg seg(int[] s, long seed) {
        int n = s[0], c = s[1], h = s[2], w = s[3], oh = s[4], ow = s[5];
        return new Seg(n, c, h, w, oh, ow, rand(seed, n * c * h * w, -4, 4), rand(seed + 1, n * oh * ow, 0.1, 2),
                       labels(seed + 2, n * oh * ow, c));
    }

    /** {loss, correct, valid} and the gradient (scale 1/pixels, overwritten or added to prior). */
    private record SegOut(double loss, int correct, int valid, double[] grad) {}

    private static SegOut runSeg(Backend b, DType d, Seg s, float[] logits, float[] weight, boolean weighted, float[] prior) {
        try (Arena a = Arena.open()) {
            Tensor x = up(b, d, logits, s.n, s.c, s.h, s.w), lab = ints(b, s.labels, s.n, s.oh, s.ow);
            Tensor wt = weighted ? up(b, d, weight, s.n, s.oh, s.ow) : null;
            Tensor loss = nan(b, d == F64 ? F64 : F32, 1), counts = poisonedInts(b, 2);
            b.segCrossEntropy(x, lab, wt, 255, loss, counts, s.n, s.c, s.h, s.w, s.oh, s.ow);
            Tensor g = prior == null ? nan(b, d, s.n, s.c, s.h, s.w) : up(b, d, prior, s.n, s.c, s.h, s.w);
            b.segCrossEntropyBackward(x, lab, wt, 255, 1.0 / s.pixels(), g, s.n, s.c, s.h, s.w, s.oh, s.ow, prior != null);
            int[] cnt = counts.toIntArray();
            return new SegOut(loss.item(), cnt[0], cnt[1], doubles(g));
        }
    }

    /** The same loss and gradient from existing ops on b in dtype d (what the unfused path computes). */
    private static SegOut composeSeg(Backend b, DType d, Seg s, float[] logits, float[] weight, boolean weighted) {
        try (Arena a = Arena.open()) {
            long nc = (long) s.n * s.c, hw = (long) s.oh * s.ow;
            float sh = (float) s.h / s.oh, sw = (float) s.w / s.ow;
            Tensor x = up(b, d, logits, s.n, s.c, s.h, s.w), lab = ints(b, s.labels, s.n, s.oh, s.ow);
            Tensor wt = weighted ? up(b, d, weight, s.n, s.oh, s.ow) : null;
            Tensor upx = Tensor.empty(b, d, s.n, s.c, s.oh, s.ow);
            b.resizeBilinear(x, upx, nc, s.h, s.w, s.oh, s.ow, sh, sw);
            Tensor per = Tensor.empty(b, d, s.n, (int) hw), sum = Tensor.empty(b, d, 1);
            b.crossEntropy(upx, lab, wt, 255, per, s.n, s.c, hw);
            b.sum(per, sum);
            Tensor dup = Tensor.empty(b, d, s.n, s.c, s.oh, s.ow), g = Tensor.empty(b, d, s.n, s.c, s.h, s.w);
            b.crossEntropyBackward(upx, lab, wt, 255, 1.0 / s.pixels(), dup, s.n, s.c, hw, false);
            b.resizeBilinearBackward(dup, g, nc, s.h, s.w, s.oh, s.ow, sh, sw, false);
            return new SegOut(sum.item() / s.pixels(), 0, 0, doubles(g));
        }
    }

    @Test
    void segCrossEntropyF32MatchesCpuF64() {
        long seed = 100;
        for (int[] shape : SEG_SHAPES) {
            Seg s = seg(shape, seed += 10);
            float[] prior = rand(seed + 5, s.n * s.c * s.h * s.w);
            for (boolean weighted : new boolean[] {false, true}) {
                for (boolean acc : new boolean[] {false, true}) {
                    String tag = s.tag() + " weighted=" + weighted + " acc=" + acc;
                    SegOut ref = runSeg(cpu, F64, s, s.logits, s.weight, weighted, acc ? prior : null);
                    SegOut got = runSeg(gpu, F32, s, s.logits, s.weight, weighted, acc ? prior : null);
                    assertScalar(tag + ": loss", ref.loss, got.loss, 1e-5);
                    assertEquals(ref.valid, got.valid, tag + ": valid pixels");
                    // an arg-max whose top two logits lie within f32 rounding (~1e-6) may flip: expected < 0.1 per test run
                    assertTrue(Math.abs(ref.correct - got.correct) <= 1, tag + ": correct pixels " + got.correct + " vs " + ref.correct);
                    double scale = maxAbs(ref.grad);
                    assertElementwise(tag + ": dlogits", ref.grad, got.grad, 1e-5 * scale, 1e-4);
                }
            }
        }
    }

    @Test
    void segCrossEntropyLowPrecisionWithinTwiceTheComposition() {
        assumeRealGpu();
        long seed = 200;
        for (int[] shape : SEG_SHAPES) {
            Seg s = seg(shape, seed += 10);
            for (DType d : LOW) {
                float[] x = rounded(d, s.logits), wv = rounded(d, s.weight);
                for (boolean weighted : new boolean[] {false, true}) {
                    String tag = s.tag() + " " + d + " weighted=" + weighted;
                    SegOut ref = runSeg(cpu, F64, s, x, wv, weighted, null);
                    SegOut got = runSeg(gpu, d, s, x, wv, weighted, null);
                    SegOut comp = composeSeg(gpu, d, s, x, wv, weighted);
                    assertWithinComposition(tag + ": loss", new double[] {ref.loss}, new double[] {got.loss}, new double[] {comp.loss});
                    assertWithinComposition(tag + ": dlogits", ref.grad, got.grad, comp.grad);
                    assertEquals(ref.valid, got.valid, tag + ": valid pixels");
                    assertTrue(Math.abs(ref.correct - got.correct) <= 1 + ref.valid / 200, tag + ": correct pixels " + got.correct
                               + " vs " + ref.correct + " (arg-max near ties may flip in f32)");
                }
            }
        }
    }

    @Test
    void segCrossEntropyRefusesWhatTheCpuRefuses() {
        Seg s = seg(SEG_SHAPES[1], 300);
        int[] bad = s.labels.clone();
        bad[17] = s.c + 2;
        for (Backend b : new Backend[] {cpu, gpu}) {
            try (Arena a = Arena.open()) {
                Tensor x = up(b, F32, s.logits, s.n, s.c, s.h, s.w), lab = ints(b, bad, s.n, s.oh, s.ow);
                Tensor loss = nan(b, F32, 1), counts = poisonedInts(b, 2);
                assertThrows(dev.hrda.kernels.NativeException.class,
                             () -> b.segCrossEntropy(x, lab, null, 255, loss, counts, s.n, s.c, s.h, s.w, s.oh, s.ow),
                             b.getClass().getSimpleName() + ": an out-of-range label must throw");
                Tensor small = ints(b, new int[s.n * 3 * 3], s.n, 3, 3);
                dev.hrda.kernels.NativeException e = assertThrows(dev.hrda.kernels.NativeException.class,
                        () -> b.segCrossEntropy(x, small, null, 255, loss, counts, s.n, s.c, s.h, s.w, 3, 3));
                assertEquals(2, e.code, b.getClass().getSimpleName() + ": downsampling is unsupported");
            }
        }
    }

    // =====================================================================================
    // feature distance
    // =====================================================================================

    private record Fd(int n, int c, int hw, float[] fs, float[] fi, int[] labels) {}

    private static Fd fd(int n, int c, int hw, long seed) {
        Random r = new Random(seed);
        int[] lab = new int[n * hw];
        for (int i = 0; i < lab.length; i++) lab[i] = r.nextInt(7) == 0 ? 255 : r.nextInt(19);
        float[] fs = rand(seed + 1, n * c * hw, -2, 2), fi = rand(seed + 2, n * c * hw, -2, 2);
        if (hw > 3) for (int k = 0; k < c; k++) fi[k * hw + 3] = fs[k * hw + 3];  // a zero-distance pixel of sample 0
        return new Fd(n, c, hw, fs, fi, lab);
    }

    private static final int[][] FD_SHAPES = {{2, 512, 256}, {3, 37, 35}, {1, 3, 1}, {2, 19, 1037}};

    /** {out, count} then dfs. */
    private static double[][] runFd(Backend b, DType d, Fd f, float[] fs, float[] fi, float[] prior) {
        try (Arena a = Arena.open()) {
            int n = f.n, c = f.c, hw = f.hw;
            Tensor s = up(b, d, fs, n, c, hw), i = up(b, d, fi, n, c, hw), lab = ints(b, f.labels, n, hw);
            Tensor set = ints(b, dev.hrda.uda.ClassMix.bitsets(new int[][] {CLASSES}), 8);
            Tensor out = nan(b, d == F64 ? F64 : F32, 1), count = poisonedInts(b, 1);
            b.featureDistance(s, i, lab, set, out, count, n, c, hw);
            int cnt = count.toIntArray()[0];
            double scale = cnt == 0 ? 0 : 0.75 / cnt;
            Tensor g = prior == null ? nan(b, d, n, c, hw) : up(b, d, prior, n, c, hw);
            b.featureDistanceBackward(s, i, lab, set, scale, g, n, c, hw, prior != null);
            return new double[][] {{out.item(), cnt}, doubles(g)};
        }
    }

    @Test
    void featureDistanceMatchesCpuF64() {
        long seed = 400;
        for (int[] sh : FD_SHAPES) {
            Fd f = fd(sh[0], sh[1], sh[2], seed += 10);
            float[] prior = rand(seed + 7, f.n * f.c * f.hw);
            for (boolean acc : new boolean[] {false, true}) {
                String tag = Arrays.toString(sh) + " acc=" + acc;
                double[][] ref = runFd(cpu, F64, f, f.fs, f.fi, acc ? prior : null);
                double[][] got = runFd(gpu, F32, f, f.fs, f.fi, acc ? prior : null);
                assertEquals(ref[0][1], got[0][1], tag + ": count");
                assertScalar(tag + ": distance", ref[0][0], got[0][0], 1e-5);
                assertElementwise(tag + ": dfs", ref[1], got[1], 1e-5 * maxAbs(ref[1]), 1e-4);
            }
            if (SELF_TEST) continue;
            for (DType d : LOW) {
                float[] fs = rounded(d, f.fs), fi = rounded(d, f.fi);
                String tag = Arrays.toString(sh) + " " + d;
                double[][] ref = runFd(cpu, F64, f, fs, fi, null), got = runFd(gpu, d, f, fs, fi, null);
                assertEquals(ref[0][1], got[0][1], tag + ": count");
                assertScalar(tag + ": distance (f32 output)", ref[0][0], got[0][0], 1e-4);
                assertElementwise(tag + ": dfs", ref[1], got[1], 1e-5 * maxAbs(ref[1]), rounding(d));
            }
        }
    }

    @Test
    void featureDistanceOfAnEmptyMaskIsZero() {
        Fd f = fd(2, 9, 13, 450);
        int[] none = new int[f.labels.length];
        Arrays.fill(none, 4);
        Fd empty = new Fd(f.n, f.c, f.hw, f.fs, f.fi, none);
        double[][] got = runFd(gpu, F32, empty, f.fs, f.fi, null);
        assertEquals(0.0, got[0][1]);
        assertEquals(0.0, got[0][0], "documented choice: 0, not NaN");
        for (double v : got[1]) assertEquals(0.0, v, "zero gradient");
    }

    // =====================================================================================
    // batch norm with frozen statistics
    // =====================================================================================

    private static final int[][] BN_SHAPES = {{3, 5, 37}, {300, 37, 1}, {2, 3, 5000}, {2, 64, 4099}};

    /** dx, dgamma, dbeta (dgamma/dbeta added to prior values, dx overwritten or added to). */
    private static double[][] runBn(Backend b, DType d, int n, int c, int hw, float[][] in, boolean acc) {
        try (Arena a = Arena.open()) {
            DType stat = d == F64 ? F64 : F32;
            Tensor x = up(b, d, in[0], n, c, hw), dy = up(b, d, in[1], n, c, hw), g = up(b, d, in[2], c);
            Tensor rm = up(b, stat, in[3], c), rv = up(b, stat, in[4], c);
            Tensor dx = acc ? up(b, d, in[5], n, c, hw) : nan(b, d, n, c, hw), dg = up(b, d, in[6], c), db = up(b, d, in[7], c);
            b.batchNormEvalBackward(x, g, rm, rv, dy, dx, dg, db, n, c, hw, 1e-5f, acc);
            double[] rm1 = doubles(rm), rv1 = doubles(rv);
            for (int k = 0; k < c; k++) {
                assertEquals((double) in[3][k], rm1[k], "running mean unchanged");
                assertEquals((double) in[4][k], rv1[k], "running var unchanged");
            }
            return new double[][] {doubles(dx), doubles(dg), doubles(db)};
        }
    }

    private static float[][] bnInputs(int n, int c, int hw, long seed) {
        return new float[][] {rand(seed, n * c * hw, -2, 3), rand(seed + 1, n * c * hw), rand(seed + 2, c, 0.5, 1.5),
                              rand(seed + 3, c, -0.5, 0.5), rand(seed + 4, c, 0.5, 2), rand(seed + 5, n * c * hw),
                              rand(seed + 6, c), rand(seed + 7, c)};
    }

    /** Per channel, sum |dy (x - rm) rs| and sum |dy|: the magnitudes the parameter gradients sum over. */
    private static double[][] bnMass(int n, int c, int hw, float[][] in) {
        double[] mg = new double[c], mb = new double[c];
        for (int b = 0; b < n; b++)
            for (int k = 0; k < c; k++) {
                double rs = 1 / Math.sqrt(in[4][k] + 1e-5);
                for (int i = 0; i < hw; i++) {
                    int j = (b * c + k) * hw + i;
                    mg[k] += Math.abs(in[1][j] * (in[0][j] - in[3][k]) * rs);
                    mb[k] += Math.abs(in[1][j]);
                }
            }
        return new double[][] {mg, mb};
    }

    @Test
    void evalBatchNormBackwardMatchesCpuF64() {
        long seed = 500;
        for (int[] s : BN_SHAPES) {
            int n = s[0], c = s[1], hw = s[2];
            float[][] in = bnInputs(n, c, hw, seed += 10);
            double[][] mass = bnMass(n, c, hw, in);
            for (boolean acc : new boolean[] {false, true}) {
                String tag = Arrays.toString(s) + " acc=" + acc;
                double[][] ref = runBn(cpu, F64, n, c, hw, in, acc), got = runBn(gpu, F32, n, c, hw, in, acc);
                assertElementwise(tag + ": dx", ref[0], got[0], 1e-6 * maxAbs(ref[0]), 1e-5);
                for (int k = 0; k < 2; k++) {
                    for (int j = 0; j < c; j++) {
                        double lim = 1e-5 * (mass[k][j] + 1) + 1e-5 * Math.abs(ref[k + 1][j]);
                        if (!(Math.abs(got[k + 1][j] - ref[k + 1][j]) <= lim)) {
                            fail(tag + (k == 0 ? ": dgamma[" : ": dbeta[") + j + "] cpu " + ref[k + 1][j] + ", cuda " + got[k + 1][j]);
                        }
                    }
                }
            }
            if (SELF_TEST) continue;
            for (DType d : LOW) {
                float[][] r = in.clone();
                for (int i : new int[] {0, 1, 2, 6, 7}) r[i] = rounded(d, in[i]);  // data-typed inputs; running stats stay f32
                double[][] ref = runBn(cpu, F64, n, c, hw, r, false), got = runBn(gpu, d, n, c, hw, r, false);
                String tag = Arrays.toString(s) + " " + d;
                assertElementwise(tag + ": dx", ref[0], got[0], 1e-6 * maxAbs(ref[0]), rounding(d));
                double[][] m = bnMass(n, c, hw, r);
                for (int k = 0; k < 2; k++) {
                    for (int j = 0; j < c; j++) {
                        double lim = rounding(d) * Math.abs(ref[k + 1][j]) + 1e-5 * (m[k][j] + 1);
                        if (!(Math.abs(got[k + 1][j] - ref[k + 1][j]) <= lim)) {
                            fail(tag + (k == 0 ? ": dgamma[" : ": dbeta[") + j + "] cpu " + ref[k + 1][j] + ", cuda " + got[k + 1][j]);
                        }
                    }
                }
            }
        }
    }

    // =====================================================================================
    // determinism
    // =====================================================================================

    /** Three runs on the GPU backend with dtype d give identical bits (outputs are f32 values or less). */
    private void sameBits(String name, DType d, Function<DType, double[][]> op) {
        if (SELF_TEST && d != F32) return;
        assertSameBits(name + " " + d, 3, () -> {
            double[][] out = op.apply(d);
            float[][] f = new float[out.length][];
            for (int i = 0; i < out.length; i++) {
                f[i] = new float[out[i].length];
                for (int j = 0; j < f[i].length; j++) f[i][j] = (float) out[i][j];
            }
            return f;
        });
    }

    @Test
    void lossesAreDeterministic() {
        Seg s = seg(new int[] {2, 19, 32, 32, 128, 128}, 600);
        Fd f = fd(2, 512, 256, 610);
        int n = 2, c = 64, hw = 4099;
        float[][] bn = bnInputs(n, c, hw, 620);
        for (DType d : new DType[] {F32, DType.BF16}) {
            sameBits("segCrossEntropy", d, t -> {
                SegOut o = runSeg(gpu, t, s, s.logits, s.weight, true, null);
                return new double[][] {{o.loss, o.correct, o.valid}, o.grad};
            });
            sameBits("featureDistance", d, t -> runFd(gpu, t, f, f.fs, f.fi, null));
            sameBits("batchNormEvalBackward", d, t -> runBn(gpu, t, n, c, hw, bn, false));
        }
    }

    private static void assumeRealGpu() {
        org.junit.jupiter.api.Assumptions.assumeFalse(SELF_TEST, "bf16/f16 need the CUDA library (the CPU computes in f32/f64)");
    }
}
