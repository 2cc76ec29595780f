package dev.hrda.backend;

import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every {@link Backend} op on {@link CudaBackend} against {@link CpuBackend} (the reference), on
 * fresh random inputs of odd sizes. CUDA outputs are poisoned (NaN) before the op, so an output
 * the kernel forgets to write fails the comparison.
 *
 * <p>f32: |gpu - cpu| <= atol + rtol |cpu| elementwise. bf16: the max error of the CUDA bf16
 * result against the f32 CPU reference must be at most twice the max error of the CPU computed on
 * the same bf16-rounded inputs with its outputs rounded to bf16, plus a small floor.
 *
 * <p>Skipped where CUDA is not usable. {@code -Dhrda.parity.selftest=true} runs the harness with a
 * second CpuBackend standing in for CUDA (f32 only), which checks the tests themselves without a GPU.
 */
@Tag("gpu")
class CudaParityTest extends GpuParity {
    private static final DType F32 = DType.F32, BF16 = DType.BF16;

    /** Elementwise tolerance: |got - ref| <= atol * scale + rtol * |ref|, scale = max(1, max|ref|) when scaled. */
    record Tol(double atol, double rtol, boolean scaled) {}

    /** Pure data movement and integer ops must match bit for bit. */
    static final Tol EXACT = new Tol(0, 0, false);
    /** Pointwise and short-reduction f32 ops (different libm, FMA contraction, summation order). */
    static final Tol TIGHT = new Tol(1e-4, 1e-4, false);
    /**
     * Long reductions (GEMM, convolution, sums over thousands of elements, parameter gradients):
     * cuBLAS/cuDNN/tree reductions sum in another order than the CPU (which sums in f64), and the
     * rounding error grows with the reduction length relative to the magnitude of the summed
     * terms, not of the result; so the absolute part scales with max|ref| and rtol is 1e-3.
     */
    static final Tol LONG = new Tol(1e-4, 1e-3, true);

    // =====================================================================================
    // harness
    // =====================================================================================

    /** One run of an op: one backend, one dtype for the data tensors; owns what it allocates. */
    final class Run implements AutoCloseable {
        final Backend b;
        final DType d;
        final boolean lowRef;  // CPU reference of a bf16 run: round data inputs and outputs to bf16
        private final List<Tensor> owned = new ArrayList<>();
        private final Set<Tensor> dataTyped = Collections.newSetFromMap(new IdentityHashMap<>());

        Run(Backend b, DType d, boolean lowRef) {
            this.b = b;
            this.d = d;
            this.lowRef = lowRef;
        }

        private Tensor own(Tensor t) {
            owned.add(t);
            return t;
        }

        /** A data tensor (dtype d) holding `data` (rounded to bf16 for the low-precision reference). */
        Tensor x(float[] data, int... shape) {
            Tensor t = own(Tensor.empty(b, d, shape));
            t.copyFrom(lowRef ? bf16(data) : data);
            dataTyped.add(t);
            return t;
        }

        /** An f32 tensor in every run (statistics, running stats). */
        Tensor f32(float[] data, int... shape) {
            Tensor t = own(Tensor.empty(b, F32, shape));
            t.copyFrom(data);
            return t;
        }

        Tensor i32(int[] data, int... shape) {
            return own(Tensor.of(b, data, shape));
        }

        /** A poisoned (NaN) output of dtype d. */
        Tensor out(int... shape) {
            Tensor t = own(Tensor.empty(b, d, shape));
            b.fill(t, Double.NaN);
            dataTyped.add(t);
            return t;
        }

        /** A poisoned (NaN) f32 output in every run. */
        Tensor outF32(int... shape) {
            Tensor t = own(Tensor.empty(b, F32, shape));
            b.fill(t, Double.NaN);
            return t;
        }

        /**
         * A poisoned output of any dtype. f32 is filled with NaN on the device; the others are
         * uploaded from the host, so that the poison does not depend on fill supporting them.
         */
        Tensor outOf(DType type, int... shape) {
            int n = numel(shape);
            switch (type) {
                case I32: {
                    int[] v = new int[n];
                    Arrays.fill(v, -77777);
                    return own(Tensor.of(b, v, shape));
                }
                case U8: {
                    byte[] v = new byte[n];
                    Arrays.fill(v, (byte) 0x5a);
                    return own(Tensor.ofBytes(b, v, shape));
                }
                case F64: {
                    double[] v = new double[n];
                    Arrays.fill(v, Double.NaN);
                    Tensor t = own(Tensor.empty(b, type, shape));
                    t.copyFrom(v);
                    return t;
                }
                case F32: {
                    Tensor t = own(Tensor.empty(b, type, shape));
                    b.fill(t, Double.NaN);
                    return t;
                }
                default: {  // bf16, f16: converted from f32 NaN (the CPU library fills only f32/f64)
                    float[] v = new float[n];
                    Arrays.fill(v, Float.NaN);
                    Tensor t = own(Tensor.empty(b, type, shape));
                    t.copyFrom(v);
                    return t;
                }
            }
        }

        /** Host copy as floats; outputs of dtype d are rounded to bf16 for the low-precision reference. */
        float[] host(Tensor t) {
            float[] v = t.dtype() == DType.I32 ? toFloats(t.toIntArray()) : t.toFloatArray();
            return lowRef && dataTyped.contains(t) ? bf16(v) : v;
        }

        float[][] read(Tensor... ts) {
            float[][] r = new float[ts.length][];
            for (int i = 0; i < ts.length; i++) r[i] = host(ts[i]);
            return r;
        }

        @Override
        public void close() {
            for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
            owned.clear();
        }
    }

    @FunctionalInterface
    interface Op {
        /** Runs the op with tensors made by r and returns its outputs, read back. */
        float[][] apply(Run r);
    }

    /** Runs op on CPU f32 and CUDA f32 (and, when bf16, CUDA bf16) and compares. */
    private void parity(String name, Tol tol, boolean bf16, Op op) {
        float[][] ref = runOn(cpu, F32, false, op);
        float[][] got = runOn(gpu, F32, false, op);
        assertEquals(ref.length, got.length, name);
        for (int i = 0; i < ref.length; i++) assertClose(name + " [f32, output " + i + "]", ref[i], got[i], tol);
        if (bf16 && !SELF_TEST) {
            float[][] low = runOn(cpu, F32, true, op);
            float[][] gb = runOn(gpu, BF16, false, op);
            for (int i = 0; i < ref.length; i++) assertBf16(name + " [bf16, output " + i + "]", ref[i], low[i], gb[i]);
        }
    }

    private float[][] runOn(Backend b, DType d, boolean lowRef, Op op) {
        try (Run r = new Run(b, d, lowRef)) {
            return op.apply(r);
        }
    }

    static void assertClose(String what, float[] ref, float[] got, Tol tol) {
        assertEquals(ref.length, got.length, what + ": length");
        double scale = tol.scaled() ? Math.max(1.0, maxAbs(ref)) : 1.0;
        int bad = 0, first = -1;
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.compare(ref[i], got[i]) == 0) continue;  // identical (also NaN outside a written box)
            double err = Math.abs((double) got[i] - ref[i]);
            double lim = tol.atol() * scale + tol.rtol() * Math.abs(ref[i]);
            if (!(err <= lim)) {  // NaN fails
                if (first < 0) first = i;
                bad++;
                worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : Math.max(worst, err);
            }
        }
        if (bad > 0) {
            fail(String.format(Locale.ROOT, "%s: %d of %d elements differ; first at %d: cpu %s, cuda %s (limit %.3g); worst |err| %.3g",
                               what, bad, ref.length, first, ref[first], got[first],
                               tol.atol() * scale + tol.rtol() * Math.abs(ref[first]), worst));
        }
    }

    /**
     * Flash-attention's rule: max err(cuda bf16) <= 2 max err(cpu on bf16-rounded inputs, outputs
     * rounded to bf16) + floor, errors against the f32 CPU reference. Second chance, for outputs
     * of very few elements (a sum, a few channel sums) whose exact value sits next to a bf16
     * rounding boundary, where the summation order decides the rounding: every element within one
     * bf16 ulp of the CPU result on the same bf16 data (plus an f32 summation-order allowance).
     */
    static void assertBf16(String what, float[] ref, float[] low, float[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        double errLow = maxErr(ref, low), errGot = maxErr(ref, got);
        double floor = 1e-5 + 1e-4 * maxAbs(ref);
        if (!(errGot <= 2 * errLow + floor) && !withinOneBf16Ulp(low, got, LONG.atol() * Math.max(1, maxAbs(ref)))) {
            int at = worstIndex(ref, got);
            fail(String.format(Locale.ROOT, "%s: max |err| %.4g vs f32 cpu exceeds 2 x %.4g (cpu on bf16 inputs) + %.2g; worst at %d: cpu %s, bf16-cpu %s, cuda %s",
                               what, errGot, errLow, floor, at, ref[at], low[at], got[at]));
        }
    }

    private static boolean withinOneBf16Ulp(float[] low, float[] got, double abs) {
        for (int i = 0; i < low.length; i++) {
            if (Float.compare(low[i], got[i]) == 0) continue;
            double d = Math.abs((double) got[i] - low[i]);
            double ulp = Math.ulp(Math.max(Math.abs(low[i]), Math.abs(got[i]))) * 65536.0;  // f32 ulp -> bf16 ulp
            if (!(d <= ulp + abs)) return false;
        }
        return true;
    }

    private static double maxErr(float[] ref, float[] x) {
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            if (Float.compare(ref[i], x[i]) == 0) continue;
            double e = Math.abs((double) x[i] - ref[i]);
            if (Double.isNaN(e)) return Double.POSITIVE_INFINITY;
            m = Math.max(m, e);
        }
        return m;
    }

    private static int worstIndex(float[] ref, float[] x) {
        int at = 0;
        double m = -1;
        for (int i = 0; i < ref.length; i++) {
            if (Float.compare(ref[i], x[i]) == 0) continue;
            double e = Math.abs((double) x[i] - ref[i]);
            if (Double.isNaN(e)) return i;
            if (e > m) { m = e; at = i; }
        }
        return at;
    }

    private static double maxAbs(float[] v) {
        double m = 0;
        for (float f : v) if (!Float.isNaN(f)) m = Math.max(m, Math.abs(f));
        return m;
    }

    /** Round to nearest even bf16, as the native convert does. */
    static float bf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) return f;  // NaN
        u += 0x7fff + ((u >>> 16) & 1);
        return Float.intBitsToFloat(u & 0xffff0000);
    }

    static float[] bf16(float[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = bf16(v[i]);
        return r;
    }

    static float[] toFloats(int[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) r[i] = v[i];
        return r;
    }

    static float[] rand(long seed, int n, double lo, double hi) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return v;
    }

    static float[] rand(long seed, int n) {
        return rand(seed, n, -1, 1);
    }

    static int numel(int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    // =====================================================================================
    // elementwise
    // =====================================================================================

    @Test
    void fillAxpbyMul() {
        int[] sh = {3, 7, 37};
        int n = numel(sh);
        float[] a = rand(1, n), b = rand(2, n), c = rand(3, n);
        parity("fill", EXACT, true, r -> {
            Tensor y = r.out(sh);
            r.b.fill(y, -0.3125);
            return r.read(y);
        });
        parity("axpby", TIGHT, true, r -> {
            Tensor out = r.out(sh);
            r.b.axpby(0.7, r.x(a, sh), -1.3, r.x(b, sh), out);
            return r.read(out);
        });
        parity("axpby y=null", TIGHT, true, r -> {
            Tensor out = r.out(sh);
            r.b.axpby(2.5, r.x(a, sh), 0.0, null, out);
            return r.read(out);
        });
        parity("axpby in place (out aliases x)", TIGHT, true, r -> {
            Tensor x = r.x(a, sh);
            r.b.axpby(0.5, x, 2.0, r.x(b, sh), x);
            return r.read(x);
        });
        for (boolean acc : new boolean[] {false, true}) {
            parity("mul acc=" + acc, TIGHT, true, r -> {
                Tensor out = acc ? r.x(c, sh) : r.out(sh);
                r.b.mul(r.x(a, sh), r.x(b, sh), out, acc);
                return r.read(out);
            });
        }
    }

    @Test
    void biasAndReductions() {
        int outer = 3, ch = 11, inner = 37;
        int[] sh = {outer, ch, inner};
        float[] y0 = rand(4, numel(sh)), bias = rand(5, ch), acc0 = rand(6, ch);
        parity("addBias", TIGHT, true, r -> {
            Tensor y = r.x(y0, sh);
            r.b.addBias(y, r.x(bias, ch), outer, ch, inner);
            return r.read(y);
        });
        parity("addBias inner=1 (tokens)", TIGHT, true, r -> {
            Tensor y = r.x(y0, outer * inner, ch);
            r.b.addBias(y, r.x(bias, ch), (long) outer * inner, ch, 1);
            return r.read(y);
        });
        channelSums(y0, acc0, outer, ch, inner);
        sumOf(rand(7, 10007));
    }

    /**
     * The reductions' other code paths: inner == 1 (token rows: the column kernel of reduce.cuh,
     * as for a Linear bias gradient) with C not a multiple of 32, and domains long enough to be
     * split over several blocks per channel (two-stage sums); a sum over many blocks with a tail.
     */
    @Test
    void reductionsSplitAndTokenLayouts() {
        int[][] shapes = {{3001, 37, 1}, {2, 3, 9001}, {1, 1, 5000}};  // tokens; split maps; one channel
        for (int[] s : shapes) channelSums(rand(70 + s[1], s[0] * s[1] * s[2]), rand(71, s[1]), s[0], s[1], s[2]);
        sumOf(rand(72, 1_000_003));
    }

    /** channelSum of x [outer, ch, inner], overwriting and accumulating into acc0. */
    private void channelSums(float[] x, float[] acc0, int outer, int ch, int inner) {
        for (boolean acc : new boolean[] {false, true}) {
            parity("channelSum " + outer + "x" + ch + "x" + inner + " acc=" + acc, LONG, true, r -> {
                Tensor out = acc ? r.x(acc0, ch) : r.out(ch);
                r.b.channelSum(r.x(x, outer, ch, inner), out, outer, ch, inner, acc);
                return r.read(out);
            });
        }
    }

    private void sumOf(float[] x) {
        parity("sum of " + x.length, LONG, true, r -> {
            Tensor out = r.out(1);
            r.b.sum(r.x(x, x.length), out);
            return r.read(out);
        });
    }

    @Test
    void activations() {
        int[] sh = {5, 201};
        int n = numel(sh);
        float[] x = rand(8, n, -4, 4), dy = rand(9, n), dx0 = rand(10, n);
        for (Activation kind : Activation.values()) {
            parity("activation " + kind, TIGHT, true, r -> {
                Tensor y = r.out(sh);
                r.b.activation(kind, r.x(x, sh), y);
                return r.read(y);
            });
            for (boolean acc : new boolean[] {false, true}) {
                parity("activationBackward " + kind + " acc=" + acc, TIGHT, true, r -> {
                    Tensor xt = r.x(x, sh), y = r.out(sh);
                    r.b.activation(kind, xt, y);
                    Tensor dx = acc ? r.x(dx0, sh) : r.out(sh);
                    r.b.activationBackward(kind, xt, y, r.x(dy, sh), dx, acc);
                    return r.read(dx);
                });
            }
        }
    }

    @Test
    void dropoutSameMaskForSameSeed() {
        int[] sh = {3, 5, 7, 9};
        int n = numel(sh);
        float[] x = rand(11, n), y0 = rand(12, n);
        long[] groups = {1, 7 * 9, 5 * 7 * 9};  // dropout, dropout2d, drop-path
        for (long group : groups) {
            for (boolean acc : new boolean[] {false, true}) {
                parity("dropout group=" + group + " acc=" + acc, TIGHT, true, r -> {
                    Tensor y = acc ? r.x(y0, sh) : r.out(sh);
                    r.b.dropout(r.x(x, sh), y, group, 0.3f, 0x5eed1234L + group, acc);
                    return r.read(y);
                });
            }
        }
        // the mask really drops something and keeps the rest scaled
        try (Run r = new Run(gpu, F32, false)) {
            Tensor y = r.out(sh);
            gpu.dropout(r.x(x, sh), y, 1, 0.3f, 99, false);
            float[] v = r.host(y);
            int zeros = 0;
            for (int i = 0; i < n; i++) {
                if (v[i] == 0f) zeros++;
                else assertEquals(x[i] / 0.7f, v[i], 1e-5f, "kept element scaled by 1/(1-p)");
            }
            assertTrue(zeros > n / 5 && zeros < n * 2 / 5, "dropout p=0.3 dropped " + zeros + " of " + n);
        }
    }

    @Test
    void convert() {
        int n = 1031;
        float[] x = rand(13, n, -300, 300);
        float[] halves = new float[n];  // ties for the integer conversions
        for (int i = 0; i < n; i++) halves[i] = (i % 41 - 20) + 0.5f;
        float[] bytes = rand(14, n, 0, 255);
        DType[] floats = {DType.BF16, DType.F16, DType.F64};
        for (DType to : floats) {
            parity("convert f32 -> " + to + " -> f32", EXACT, false, r -> {
                Tensor src = r.f32(x, n);
                Tensor mid = r.outOf(to, n), back = r.outF32(n);
                r.b.convert(src, mid);
                r.b.convert(mid, back);
                return r.read(back);
            });
        }
        for (float[] data : new float[][] {x, halves}) {
            parity("convert f32 -> i32", EXACT, false, r -> {
                Tensor out = r.outOf(DType.I32, n);
                r.b.convert(r.f32(data, n), out);
                return r.read(out);
            });
        }
        parity("convert f32 -> u8 -> f32", EXACT, false, r -> {
            Tensor u8 = r.outOf(DType.U8, n), back = r.outF32(n);
            r.b.convert(r.f32(bytes, n), u8);
            r.b.convert(u8, back);
            return r.read(back);
        });
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 300 - 20;
        parity("convert i32 -> f32 and -> bf16", EXACT, false, r -> {
            Tensor l = r.i32(labels, n), f = r.outF32(n), h = r.outOf(DType.BF16, n), back = r.outF32(n);
            r.b.convert(l, f);
            r.b.convert(l, h);
            r.b.convert(h, back);
            return r.read(f, back);
        });
    }

    // =====================================================================================
    // data movement
    // =====================================================================================

    @Test
    void copyBoxAndTranspose() {
        int n = 2, cs = 5, hs = 11, ws = 13, cd = 7, hd = 9, wd = 17;
        float[] src = rand(15, n * cs * hs * ws), dst0 = rand(16, n * cd * hd * wd);
        // crop of src (c 1..4, h 2..8, w 3..12) inserted at (c 2, h 1, w 4) of dst
        Box box = new Box(n, cs, hs, ws, 1, 2, 3, cd, hd, wd, 2, 1, 4, 3, 7, 10);
        for (boolean acc : new boolean[] {false, true}) {
            parity("copyBox acc=" + acc, acc ? TIGHT : EXACT, true, r -> {
                Tensor d = acc ? r.x(dst0, n, cd, hd, wd) : r.out(n, cd, hd, wd);
                r.b.copyBox(r.x(src, n, cs, hs, ws), d, box, acc);
                return r.read(d);
            });
        }
        // channel concat: the whole of src into channels 2..6 of dst
        Box concat = new Box(n, cs, hs, ws, 0, 0, 0, cd, hs, ws, 2, 0, 0, cs, hs, ws);
        parity("copyBox concat", EXACT, true, r -> {
            Tensor d = r.out(n, cd, hs, ws);
            r.b.copyBox(r.x(src, n, cs, hs, ws), d, concat, false);
            return r.read(d);
        });
        int batch = 3, rows = 7, cols = 37;
        float[] x = rand(17, batch * rows * cols), y0 = rand(18, batch * rows * cols);
        for (boolean acc : new boolean[] {false, true}) {
            parity("transpose acc=" + acc, acc ? TIGHT : EXACT, true, r -> {
                Tensor y = acc ? r.x(y0, batch, cols, rows) : r.out(batch, cols, rows);
                r.b.transpose(r.x(x, batch, rows, cols), y, batch, rows, cols, acc);
                return r.read(y);
            });
        }
        int bigR = 67, bigC = 129;  // more than one tile in each direction
        float[] xb = rand(19, bigR * bigC);
        parity("transpose 67x129", EXACT, true, r -> {
            Tensor y = r.out(1, bigC, bigR);
            r.b.transpose(r.x(xb, 1, bigR, bigC), y, 1, bigR, bigC, false);
            return r.read(y);
        });
    }

    // =====================================================================================
    // resize
    // =====================================================================================

    /** in -> out sizes: non-integer up and down, exact 2x up, 4x down (HRDA's scale), with scale = in/out. */
    private static final int[][] RESIZES = {
        {5, 7, 13, 17}, {13, 17, 5, 7}, {8, 8, 16, 16}, {32, 24, 8, 6}, {9, 10, 9, 10}, {6, 11, 10, 4}};

    @Test
    void resizeBilinear() {
        int nc = 6;
        for (int[] s : RESIZES) {
            int hi = s[0], wi = s[1], ho = s[2], wo = s[3];
            float sh = (float) hi / ho, sw = (float) wi / wo;
            float[] x = rand(20 + hi, nc * hi * wi), dy = rand(21 + wo, nc * ho * wo), dx0 = rand(22, nc * hi * wi);
            String tag = hi + "x" + wi + "->" + ho + "x" + wo;
            parity("resizeBilinear " + tag, TIGHT, true, r -> {
                Tensor y = r.out(nc, ho, wo);
                r.b.resizeBilinear(r.x(x, nc, hi, wi), y, nc, hi, wi, ho, wo, sh, sw);
                return r.read(y);
            });
            for (boolean acc : new boolean[] {false, true}) {
                parity("resizeBilinearBackward " + tag + " acc=" + acc, TIGHT, true, r -> {
                    Tensor dx = acc ? r.x(dx0, nc, hi, wi) : r.out(nc, hi, wi);
                    r.b.resizeBilinearBackward(r.x(dy, nc, ho, wo), dx, nc, hi, wi, ho, wo, sh, sw, acc);
                    return r.read(dx);
                });
            }
        }
        // scale passed as 1/scale_factor (PyTorch with scale_factor=0.5 on an odd size: out = floor(in * 0.5))
        float[] x = rand(23, nc * 11 * 13);
        parity("resizeBilinear scale_factor 0.5 on 11x13", TIGHT, true, r -> {
            Tensor y = r.out(nc, 5, 6);
            r.b.resizeBilinear(r.x(x, nc, 11, 13), y, nc, 11, 13, 5, 6, 2f, 2f);
            return r.read(y);
        });
    }

    @Test
    void resizeNearest() {
        int nc = 4;
        // both libraries compute floorf(dst * scale) in float as PyTorch does, so products that round
        // onto an integer (2 -> 100: 50 * 0.02f = 1.0f) must agree too
        int[][] sizes = {{7, 10, 10, 7}, {10, 7, 7, 10}, {16, 12, 4, 3}, {5, 5, 20, 20}, {9, 13, 9, 13}, {2, 3, 100, 75}};
        for (int[] s : sizes) {
            int hi = s[0], wi = s[1], ho = s[2], wo = s[3];
            float sh = (float) hi / ho, sw = (float) wi / wo;
            int[] labels = new int[nc * hi * wi];
            Random rnd = new Random(24 + hi);
            for (int i = 0; i < labels.length; i++) labels[i] = rnd.nextInt(20) == 0 ? 255 : rnd.nextInt(19);
            float[] x = rand(25 + wi, nc * hi * wi);
            String tag = hi + "x" + wi + "->" + ho + "x" + wo;
            parity("resizeNearest i32 " + tag, EXACT, false, r -> {
                Tensor y = r.outOf(DType.I32, nc, ho, wo);
                r.b.resizeNearest(r.i32(labels, nc, hi, wi), y, nc, hi, wi, ho, wo, sh, sw);
                return r.read(y);
            });
            parity("resizeNearest float " + tag, EXACT, true, r -> {
                Tensor y = r.out(nc, ho, wo);
                r.b.resizeNearest(r.x(x, nc, hi, wi), y, nc, hi, wi, ho, wo, sh, sw);
                return r.read(y);
            });
        }
    }

    // =====================================================================================
    // normalisation
    // =====================================================================================

    @Test
    void layerNorm() {
        // {3000, 64}: more rows than CTAs (the block-partial dgamma/dbeta path loops); {9, 768}: the
        // per-warp dgamma/dbeta slices fill exactly 48 KiB of shared memory; {7, 800}, {7, 6200}:
        // over 48 KiB (the column-reduction fallback)
        for (int[] rc : new int[][] {{37, 67}, {5, 512}, {129, 3}, {3000, 64}, {9, 768}, {7, 800}, {7, 6200}}) {
            int rows = rc[0], cols = rc[1];
            float[] x = rand(30 + cols, rows * cols, -2, 3), g = rand(31, cols, 0.5, 1.5), b = rand(32, cols);
            float[] dy = rand(33, rows * cols), dx0 = rand(34, rows * cols), dg0 = rand(35, cols), db0 = rand(36, cols);
            String tag = rows + "x" + cols;
            parity("layerNorm " + tag, TIGHT, true, r -> {
                Tensor y = r.out(rows, cols), mean = r.outF32(rows), rstd = r.outF32(rows);
                r.b.layerNorm(r.x(x, rows, cols), r.x(g, cols), r.x(b, cols), y, mean, rstd, rows, cols, 1e-6f);
                return r.read(y, mean, rstd);
            });
            for (boolean acc : new boolean[] {false, true}) {
                parity("layerNormBackward " + tag + " acc=" + acc, LONG, true, r -> {
                    Tensor xt = r.x(x, rows, cols), gt = r.x(g, cols);
                    Tensor y = r.out(rows, cols), mean = r.outF32(rows), rstd = r.outF32(rows);
                    r.b.layerNorm(xt, gt, r.x(b, cols), y, mean, rstd, rows, cols, 1e-6f);
                    Tensor dx = acc ? r.x(dx0, rows, cols) : r.out(rows, cols);
                    Tensor dg = r.x(dg0, cols), db = r.x(db0, cols);  // parameter gradients accumulate
                    r.b.layerNormBackward(xt, gt, mean, rstd, r.x(dy, rows, cols), dx, dg, db, rows, cols, acc);
                    return r.read(dx, dg, db);
                });
            }
        }
    }

    /**
     * Backward passes that reduce over many elements (parameter gradients, gathers from
     * overlapping windows) give bit-identical results when run again on the same inputs: our
     * kernels use no float atomics and cuDNN is restricted to deterministic algorithms.
     */
    @Test
    void backwardIsDeterministic() {
        for (DType d : new DType[] {F32, BF16}) {
            for (int[] rc : new int[][] {{20000, 512}, {3001, 64}, {50, 2000}}) {
                int rows = rc[0], cols = rc[1];
                float[] x = rand(90, rows * cols, -2, 3), g = rand(91, cols, 0.5, 1.5), b = rand(92, cols), dy = rand(93, rows * cols);
                sameBits("layerNormBackward " + rows + "x" + cols, d, r -> {
                    Tensor xt = r.x(x, rows, cols), gt = r.x(g, cols);
                    Tensor y = r.out(rows, cols), mean = r.outF32(rows), rstd = r.outF32(rows);
                    r.b.layerNorm(xt, gt, r.x(b, cols), y, mean, rstd, rows, cols, 1e-6f);
                    Tensor dx = r.out(rows, cols), dg = r.x(new float[cols], cols), db = r.x(new float[cols], cols);
                    r.b.layerNormBackward(xt, gt, mean, rstd, r.x(dy, rows, cols), dx, dg, db, rows, cols, false);
                    return r.read(dx, dg, db);
                });
            }
            int n = 2, c = 64, hw = 4099;
            float[] x = rand(94, n * c * hw), g = rand(95, c, 0.5, 1.5), b = rand(96, c), dy = rand(97, n * c * hw);
            sameBits("batchNormBackward", d, r -> {
                Tensor xt = r.x(x, n, c, hw), gt = r.x(g, c);
                Tensor y = r.out(n, c, hw), rm = r.f32(new float[c], c), rv = r.f32(new float[c], c), sm = r.outF32(c), sr = r.outF32(c);
                r.b.batchNorm(xt, gt, r.x(b, c), y, rm, rv, sm, sr, n, c, hw, 1e-5f, 0.1f, true);
                Tensor dx = r.out(n, c, hw), dg = r.x(new float[c], c), db = r.x(new float[c], c);
                r.b.batchNormBackward(xt, gt, sm, sr, r.x(dy, n, c, hw), dx, dg, db, n, c, hw, false);
                return r.read(dx, dg, db);
            });
            for (ConvSpec s : new ConvSpec[] {ConvSpec.of(2, 64, 33, 35, 48, 3, 1, 1, 1, 1), ConvSpec.of(2, 96, 64, 64, 96, 3, 1, 1, 1, 96),
                                              ConvSpec.of(2, 64, 40, 40, 32, 3, 1, 6, 6, 1)}) {
                int[] xs = {s.n(), s.c(), s.h(), s.w()}, ws = s.weightShape(), ys = s.outShape();
                float[] cx = rand(98, numel(xs)), cw = rand(99, numel(ws), -0.5, 0.5), cdy = rand(100, numel(ys));
                sameBits("conv backward " + tag(s), d, r -> {
                    Tensor dx = r.out(xs), dw = r.x(new float[numel(ws)], ws), db = r.x(new float[s.k()], s.k());
                    r.b.conv2dBackwardData(s, r.x(cdy, ys), r.x(cw, ws), dx, false);
                    r.b.conv2dBackwardWeight(s, r.x(cx, xs), r.x(cdy, ys), dw, db);
                    return r.read(dx, dw, db);
                });
            }
            int nc = 38, hi = 17, wi = 19, ho = 64, wo = 72;
            float[] rdy = rand(101, nc * ho * wo);
            sameBits("resizeBilinearBackward", d, r -> {
                Tensor dx = r.out(nc, hi, wi);
                r.b.resizeBilinearBackward(r.x(rdy, nc, ho, wo), dx, nc, hi, wi, ho, wo, (float) hi / ho, (float) wi / wo, false);
                return r.read(dx);
            });
        }
    }

    /** Runs op three times on the GPU backend with dtype d and requires bit-identical outputs. */
    private void sameBits(String name, DType d, Op op) {
        if (SELF_TEST && d != F32) return;
        assertSameBits(name + " " + d, 3, () -> runOn(gpu, d, false, op));
    }

    @Test
    void batchNorm() {
        // maps; HW = 1 (the column reduction, C not a multiple of 32); long per-channel domains (split)
        for (int[] s : new int[][] {{3, 5, 37}, {300, 37, 1}, {2, 3, 5000}}) batchNorm(s[0], s[1], s[2]);
    }

    private void batchNorm(int n, int c, int hw) {
        int[] sh = {n, c, hw};
        String tag = " " + n + "x" + c + "x" + hw;
        float[] x = rand(40, n * c * hw, -1, 2), g = rand(41, c, 0.5, 1.5), b = rand(42, c);
        float[] rm0 = rand(43, c, -0.2, 0.2), rv0 = rand(44, c, 0.5, 1.5);
        float[] dy = rand(45, n * c * hw), dx0 = rand(46, n * c * hw), dg0 = rand(47, c), db0 = rand(48, c);
        parity("batchNorm train" + tag, TIGHT, true, r -> {
            Tensor y = r.out(sh), rm = r.f32(rm0, c), rv = r.f32(rv0, c), sm = r.outF32(c), sr = r.outF32(c);
            r.b.batchNorm(r.x(x, sh), r.x(g, c), r.x(b, c), y, rm, rv, sm, sr, n, c, hw, 1e-5f, 0.1f, true);
            return r.read(y, rm, rv, sm, sr);
        });
        parity("batchNorm eval" + tag, TIGHT, true, r -> {
            Tensor y = r.out(sh), rm = r.f32(rm0, c), rv = r.f32(rv0, c), sm = r.outF32(c), sr = r.outF32(c);
            r.b.batchNorm(r.x(x, sh), r.x(g, c), r.x(b, c), y, rm, rv, sm, sr, n, c, hw, 1e-5f, 0.1f, false);
            return r.read(y, rm, rv, sm, sr);
        });
        parity("batchNorm eval without save buffers" + tag, TIGHT, true, r -> {
            Tensor y = r.out(sh), rm = r.f32(rm0, c), rv = r.f32(rv0, c);
            r.b.batchNorm(r.x(x, sh), r.x(g, c), r.x(b, c), y, rm, rv, null, null, n, c, hw, 1e-5f, 0.1f, false);
            return r.read(y, rm, rv);
        });
        for (boolean acc : new boolean[] {false, true}) {
            parity("batchNormBackward" + tag + " acc=" + acc, LONG, true, r -> {
                Tensor xt = r.x(x, sh), gt = r.x(g, c);
                Tensor y = r.out(sh), rm = r.f32(rm0, c), rv = r.f32(rv0, c), sm = r.outF32(c), sr = r.outF32(c);
                r.b.batchNorm(xt, gt, r.x(b, c), y, rm, rv, sm, sr, n, c, hw, 1e-5f, 0.1f, true);
                Tensor dx = acc ? r.x(dx0, sh) : r.out(sh);
                Tensor dg = r.x(dg0, c), db = r.x(db0, c);
                r.b.batchNormBackward(xt, gt, sm, sr, r.x(dy, sh), dx, dg, db, n, c, hw, acc);
                return r.read(dx, dg, db);
            });
        }
    }

    // =====================================================================================
    // softmax and loss
    // =====================================================================================

    @Test
    void softmax() {
        // maps, tokens, wide channel axis, tokens in 16-byte packs (264 % 8 == 0, more than 32 packs)
        int[][] shapes = {{3, 19, 37}, {37, 67, 1}, {2, 1000, 3}, {9, 264, 1}};
        for (int[] s : shapes) {
            int outer = s[0], c = s[1], inner = s[2];
            int n = outer * c * inner;
            float[] x = rand(50 + c, n, -6, 6), dy = rand(51, n), dx0 = rand(52, n);
            String tag = outer + "x" + c + "x" + inner;
            parity("softmax " + tag, TIGHT, true, r -> {
                Tensor y = r.out(outer, c, inner);
                r.b.softmax(r.x(x, outer, c, inner), y, outer, c, inner);
                return r.read(y);
            });
            for (boolean acc : new boolean[] {false, true}) {
                parity("softmaxBackward " + tag + " acc=" + acc, TIGHT, true, r -> {
                    Tensor y = r.out(outer, c, inner);
                    r.b.softmax(r.x(x, outer, c, inner), y, outer, c, inner);
                    Tensor dx = acc ? r.x(dx0, outer, c, inner) : r.out(outer, c, inner);
                    r.b.softmaxBackward(y, r.x(dy, outer, c, inner), dx, outer, c, inner, acc);
                    return r.read(dx);
                });
            }
        }
    }

    @Test
    void crossEntropy() {
        int n = 2, c = 19, hw = 7 * 11;
        float[] logits = rand(60, n * c * hw, -5, 5), w = rand(61, n * hw, 0, 2), d0 = rand(62, n * c * hw);
        int[] labels = new int[n * hw];
        Random rnd = new Random(63);
        for (int i = 0; i < labels.length; i++) labels[i] = rnd.nextInt(6) == 0 ? 255 : rnd.nextInt(c);
        double scale = 1.0 / (n * hw);
        for (boolean weighted : new boolean[] {false, true}) {
            parity("crossEntropy weighted=" + weighted, TIGHT, true, r -> {
                Tensor loss = r.out(n, hw);
                r.b.crossEntropy(r.x(logits, n, c, hw), r.i32(labels, n, hw), weighted ? r.x(w, n, hw) : null, 255, loss, n, c, hw);
                return r.read(loss);
            });
            for (boolean acc : new boolean[] {false, true}) {
                parity("crossEntropyBackward weighted=" + weighted + " acc=" + acc, TIGHT, true, r -> {
                    Tensor d = acc ? r.x(d0, n, c, hw) : r.out(n, c, hw);
                    r.b.crossEntropyBackward(r.x(logits, n, c, hw), r.i32(labels, n, hw), weighted ? r.x(w, n, hw) : null,
                                             255, scale, d, n, c, hw, acc);
                    return r.read(d);
                });
            }
        }
        // a label outside [0, c) that is not the ignore index is an error on both backends
        int[] bad = labels.clone();
        bad[5] = c + 3;
        for (Backend b : new Backend[] {cpu, gpu}) {
            try (Run r = new Run(b, F32, false)) {
                Tensor lg = r.x(logits, n, c, hw), lb = r.i32(bad, n, hw), loss = r.out(n, hw);
                assertThrows(NativeException.class, () -> b.crossEntropy(lg, lb, null, 255, loss, n, c, hw),
                             b.getClass().getSimpleName() + ": an out-of-range label must throw");
            }
        }
    }

    // =====================================================================================
    // GEMM
    // =====================================================================================

    @Test
    void gemm() {
        int m = 37, n = 29, k = 53, batch = 3;
        long offA = 5, offB = 3, offC = 7;
        long strideA = (long) m * k + 11, strideB = (long) k * n + 2, strideC = (long) m * n + 9;
        int lenA = (int) (offA + batch * strideA), lenB = (int) (offB + batch * strideB), lenC = (int) (offC + batch * strideC);
        float[] a = rand(70, lenA), b = rand(71, lenB), c0 = rand(72, lenC);
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                String tag = (ta ? "T" : "N") + (tb ? "T" : "N");
                // batched, with offsets and gaps between matrices, alpha and beta
                parity("gemm " + tag + " batch=3 beta=0.3", LONG, true, r -> {
                    Tensor ct = r.x(c0, lenC);
                    r.b.gemm(ta, tb, batch, m, n, k, 0.7, r.x(a, lenA), offA, strideA, r.x(b, lenB), offB, strideB,
                             0.3, ct, offC, strideC);
                    return r.read(ct);
                });
                // single, beta = 0 into a poisoned C: every element must be written (NaN * 0 must not leak)
                parity("gemm " + tag + " beta=0", LONG, true, r -> {
                    Tensor ct = r.out(m * n);
                    r.b.gemm(ta, tb, 1, m, n, k, 1.0, r.x(a, lenA), 0, 0, r.x(b, lenB), 0, 0, 0.0, ct, 0, 0);
                    return r.read(ct);
                });
            }
        }
        // a longer reduction (k = 1031)
        int kk = 1031;
        float[] a2 = rand(73, 13 * kk), b2 = rand(74, kk * 17);
        parity("gemm NN k=1031", LONG, true, r -> {
            Tensor ct = r.out(13 * 17);
            r.b.gemm(false, false, 1, 13, 17, kk, 1.0, r.x(a2, 13 * kk), 0, 0, r.x(b2, kk * 17), 0, 0, 0.0, ct, 0, 0);
            return r.read(ct);
        });
        if (!SELF_TEST) {
            try (Tensor d = Tensor.zeros(gpu, DType.F64, 4)) {
                assertThrows(UnsupportedOperationException.class,
                             () -> gpu.gemm(false, false, 1, 2, 2, 1, 1, d, 0, 0, d, 0, 0, 0, d, 0, 0));
            }
        }
    }

    // =====================================================================================
    // convolution
    // =====================================================================================

    private static final ConvSpec[] CONVS = {
        ConvSpec.of(2, 5, 11, 13, 7, 3, 1, 1, 1, 1),   // dense 3x3
        ConvSpec.of(2, 5, 11, 13, 7, 3, 2, 1, 1, 1),   // strided
        ConvSpec.of(2, 5, 11, 13, 7, 3, 1, 2, 2, 1),   // dilated
        ConvSpec.of(2, 6, 9, 10, 9, 3, 1, 1, 1, 3),    // grouped (3 groups of 2 -> 3)
        ConvSpec.of(2, 6, 9, 10, 6, 3, 1, 1, 1, 6),    // depthwise 3x3
        ConvSpec.of(2, 6, 15, 14, 6, 7, 2, 3, 1, 6),   // depthwise 7x7 strided
        ConvSpec.of(2, 8, 64, 64, 8, 3, 1, 1, 1, 8),   // depthwise 3x3 (Mix-FFN), weight gradient split over blocks
        ConvSpec.of(2, 8, 9, 11, 5, 1, 1, 0, 1, 1),    // 1x1 (pointwise)
        ConvSpec.of(2, 8, 9, 11, 5, 1, 2, 0, 1, 1),    // 1x1 strided
        ConvSpec.of(1, 3, 31, 29, 4, 7, 4, 3, 1, 1),   // patch-embed-like 7x7 stride 4
        new ConvSpec(2, 4, 10, 12, 6, 1, 3, 1, 1, 0, 1, 1, 1, 1),  // 1x3, asymmetric padding
    };

    private static String tag(ConvSpec s) {
        return String.format(Locale.ROOT, "n%d c%d %dx%d k%d kernel %dx%d stride %d pad %d dil %d groups %d",
                             s.n(), s.c(), s.h(), s.w(), s.k(), s.kh(), s.kw(), s.strideH(), s.padH(), s.dilH(), s.groups());
    }

    @Test
    void conv2d() {
        checkConvs("conv");
    }

    /** The im2col + cuBLAS path (used without cuDNN, and where cuDNN has no algorithm) gives the same results. */
    @Test
    void conv2dWithoutCudnn() {
        assumeTrue(!SELF_TEST, "the im2col path is CUDA-specific");
        gpu.close();
        gpu = new CudaBackend(0, false);
        checkConvs("conv (im2col + cuBLAS)");
    }

    private void checkConvs(String what) {
        long seed = 80;
        for (ConvSpec s : CONVS) {
            int[] xs = {s.n(), s.c(), s.h(), s.w()}, ws = s.weightShape(), ys = s.outShape();
            float[] x = rand(seed++, numel(xs)), w = rand(seed++, numel(ws), -0.5, 0.5), bias = rand(seed++, s.k());
            float[] dy = rand(seed++, numel(ys)), dx0 = rand(seed++, numel(xs)), dw0 = rand(seed++, numel(ws)), db0 = rand(seed++, s.k());
            String t = what + " " + tag(s);
            for (boolean withBias : new boolean[] {false, true}) {
                parity(t + " forward bias=" + withBias, LONG, true, r -> {
                    Tensor y = r.out(ys);
                    r.b.conv2d(s, r.x(x, xs), r.x(w, ws), withBias ? r.x(bias, s.k()) : null, y);
                    return r.read(y);
                });
            }
            for (boolean acc : new boolean[] {false, true}) {
                parity(t + " backward data acc=" + acc, LONG, true, r -> {
                    Tensor dx = acc ? r.x(dx0, xs) : r.out(xs);
                    r.b.conv2dBackwardData(s, r.x(dy, ys), r.x(w, ws), dx, acc);
                    return r.read(dx);
                });
            }
            for (boolean withBias : new boolean[] {false, true}) {
                parity(t + " backward weight bias=" + withBias, LONG, true, r -> {
                    Tensor dw = r.x(dw0, ws);  // weight gradients always accumulate
                    Tensor db = withBias ? r.x(db0, s.k()) : null;
                    r.b.conv2dBackwardWeight(s, r.x(x, xs), r.x(dy, ys), dw, db);
                    return withBias ? r.read(dw, db) : r.read(dw);
                });
            }
            // the same shape again: served from the cached plan
            parity(t + " forward (cached plan)", LONG, false, r -> {
                Tensor y = r.out(ys);
                r.b.conv2d(s, r.x(x, xs), r.x(w, ws), null, y);
                return r.read(y);
            });
        }
    }

    // =====================================================================================
    // optimizer
    // =====================================================================================

    @Test
    void adamwThreeTensorsThreeSteps() {
        int[] sizes = {1, 37, 1013};
        float[] lr = {1e-3f, 2e-3f, 5e-4f}, wd = {0.01f, 0f, 0.05f};
        parity("adamw", TIGHT, false, r -> {
            List<Tensor> p = new ArrayList<>(), g = new ArrayList<>(), m = new ArrayList<>(), v = new ArrayList<>();
            for (int t = 0; t < sizes.length; t++) {
                p.add(r.x(rand(90 + t, sizes[t]), sizes[t]));
                g.add(r.x(rand(95 + t, sizes[t]), sizes[t]));
                m.add(r.x(new float[sizes[t]], sizes[t]));
                v.add(r.x(new float[sizes[t]], sizes[t]));
            }
            for (int step = 1; step <= 3; step++) {
                for (int t = 0; t < sizes.length; t++) g.get(t).copyFrom(rand(100 + 10 * step + t, sizes[t], -2, 2));
                r.b.adamw(p, g, m, v, lr, wd, 0.9f, 0.999f, 1e-8f, step);
            }
            List<float[]> out = new ArrayList<>();
            for (List<Tensor> l : List.of(p, m, v)) for (Tensor t : l) out.add(r.host(t));
            return out.toArray(new float[0][]);
        });
    }

    /**
     * More tensors than one launch's table holds (96), one of them several 32768-element chunks
     * long with a tail, one empty: the host-side packing of multi_tensor_apply.
     */
    @Test
    void adamwManyTensors() {
        int count = 101;
        int[] sizes = new int[count];
        for (int t = 0; t < count; t++) sizes[t] = 1 + (t * 37) % 300;
        sizes[50] = 3 * 32768 + 5;
        sizes[97] = 0;
        float[] lr = new float[count], wd = new float[count];
        for (int t = 0; t < count; t++) {
            lr[t] = 1e-3f * (1 + t % 3);
            wd[t] = t % 2 == 0 ? 0.01f : 0f;
        }
        parity("adamw 101 tensors", TIGHT, false, r -> {
            List<Tensor> p = new ArrayList<>(), g = new ArrayList<>(), m = new ArrayList<>(), v = new ArrayList<>();
            for (int t = 0; t < count; t++) {
                p.add(r.x(rand(200 + t, sizes[t]), sizes[t]));
                g.add(r.x(rand(400 + t, sizes[t], -2, 2), sizes[t]));
                m.add(r.x(new float[sizes[t]], sizes[t]));
                v.add(r.x(new float[sizes[t]], sizes[t]));
            }
            for (int step = 1; step <= 2; step++) r.b.adamw(p, g, m, v, lr, wd, 0.9f, 0.999f, 1e-8f, step);
            List<float[]> out = new ArrayList<>();
            for (List<Tensor> l : List.of(p, m, v)) for (Tensor t : l) out.add(r.host(t));
            return out.toArray(new float[0][]);
        });
        parity("ema 101 tensors", TIGHT, false, r -> {
            List<Tensor> e = new ArrayList<>(), p = new ArrayList<>();
            for (int t = 0; t < count; t++) {
                e.add(r.x(rand(600 + t, sizes[t]), sizes[t]));
                p.add(r.x(rand(800 + t, sizes[t]), sizes[t]));
            }
            r.b.ema(e, p, 0.99f);
            float[][] out = new float[count][];
            for (int t = 0; t < count; t++) out[t] = r.host(e.get(t));
            return out;
        });
    }

    @Test
    void ema() {
        int[] sizes = {3, 101, 777};
        for (float alpha : new float[] {0.999f, 0.5f}) {
            parity("ema alpha=" + alpha, TIGHT, false, r -> {
                List<Tensor> e = new ArrayList<>(), p = new ArrayList<>();
                for (int t = 0; t < sizes.length; t++) {
                    e.add(r.x(rand(110 + t, sizes[t]), sizes[t]));
                    p.add(r.x(rand(120 + t, sizes[t]), sizes[t]));
                }
                r.b.ema(e, p, alpha);
                r.b.ema(e, p, alpha);
                float[][] out = new float[sizes.length][];
                for (int t = 0; t < sizes.length; t++) out[t] = r.host(e.get(t));
                return out;
            });
        }
    }

    // =====================================================================================
    // memory, copies, lifetime
    // =====================================================================================

    @Test
    void copiesAndDescribe() {
        float[] x = rand(130, 1000);
        parity("copyFromHost / copy / copyToHost", EXACT, false, r -> {
            Tensor a = r.f32(x, 1000), b = r.outF32(1000);
            r.b.copy(a, b);
            return r.read(b);
        });
        String d = gpu.describe();
        if (!SELF_TEST) {
            assertTrue(d.startsWith("cuda: ") && d.contains("sm_"), d);
            try (Backend auto = Backends.create("auto")) {
                assertTrue(auto instanceof CudaBackend, "auto must pick CUDA where it is usable");
            }
        }
    }
}
