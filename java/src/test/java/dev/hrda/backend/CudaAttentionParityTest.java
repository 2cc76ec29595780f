package dev.hrda.backend;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.kernels.CpuKernels;
import dev.hrda.kernels.CudaKernels;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Locale;

import static dev.hrda.backend.CudaParityTest.TIGHT;
import static dev.hrda.backend.CudaParityTest.assertBf16;
import static dev.hrda.backend.CudaParityTest.assertClose;
import static dev.hrda.backend.CudaParityTest.bf16;
import static dev.hrda.backend.CudaParityTest.rand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The fused attention and HRDA fusion kernels of {@link CudaBackend} against {@link CpuBackend}
 * on fresh random inputs, outputs poisoned with NaN.
 *
 * <p>Attention, f32: against the CPU twin in f64 (long reductions: absolute tolerance scaled by
 * max|ref|). bf16: the fused kernel's max error against the f64 CPU result on the same
 * bf16-rounded inputs must be at most twice the max error of the unfused path (cuBLAS GEMMs +
 * softmax, what PyTorch runs) in bf16 on the GPU, plus a small floor. Head dims 32 and 64,
 * M = 1, 37, 256, 1024, N not a multiple of the query tile, query ranges split for dk/dv, N = 1,
 * and pointers that are not 16-byte aligned (the kernels' element-by-element load path).
 *
 * <p>Fusion: f32 elementwise against the CPU; bf16 by {@link CudaParityTest}'s rule (twice the
 * error of the CPU on bf16-rounded inputs with bf16-rounded outputs).
 *
 * <p>Skipped where CUDA is not usable; {@code -Dhrda.parity.selftest=true} runs the f32 checks
 * with a second CpuBackend standing in for CUDA.
 */
@Tag("gpu")
class CudaAttentionParityTest extends GpuParity {
    private static final DType F32 = DType.F32, F64 = DType.F64, BF16 = DType.BF16;

    // =====================================================================================
    // helpers
    // =====================================================================================

    private static Tensor upload(Backend be, DType d, float[] v, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        t.copyFrom(v);
        return t;
    }

    /** NaN-filled, uploaded from the host so that the poison does not depend on fill's dtypes. */
    private static Tensor poisoned(Backend be, DType d, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        float[] nan = new float[Math.toIntExact(t.numel())];
        Arrays.fill(nan, Float.NaN);
        t.copyFrom(nan);
        return t;
    }

    private static double[] read(Tensor t) {
        if (t.dtype() == F64) return t.toDoubleArray();
        float[] f = t.toFloatArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) d[i] = f[i];
        return d;
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    static double maxErr(double[] ref, double[] got) {
        assertEquals(ref.length, got.length, "length");
        double m = 0;
        for (int i = 0; i < ref.length; i++) {
            double e = Math.abs(got[i] - ref[i]);
            if (Double.isNaN(e)) return Double.POSITIVE_INFINITY;
            m = Math.max(m, e);
        }
        return m;
    }

    /** |got - ref| <= atol * max(1, max|ref|) + rtol |ref| elementwise (NaN fails). */
    private static void assertNear(String what, double[] ref, double[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        double scale = Math.max(1, maxAbs(ref));
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= atol * scale + rtol * Math.abs(ref[i]))) {
                fail(String.format(Locale.ROOT, "%s: element %d of %d: reference %.7g, got %.7g", what, i, ref.length, ref[i], got[i]));
            }
        }
    }

    private static float[] rounded(float[] v) {
        return bf16(v);
    }

    // =====================================================================================
    // attention
    // =====================================================================================

    /** One attention problem: sizes and host data. */
    record Attn(int b, int n, int m, int heads, int d, float[] q, float[] kv, float[] dout, float[] dq0, float[] dkv0) {
        int c() { return heads * d; }

        float scale() { return (float) (1 / Math.sqrt(d)); }

        static Attn random(long seed, int b, int n, int m, int heads, int d) {
            int c = heads * d;
            return new Attn(b, n, m, heads, d, rand(seed, b * n * c, -2, 2), rand(seed + 1, b * m * 2 * c, -2, 2),
                            rand(seed + 2, b * n * c), rand(seed + 3, b * n * c), rand(seed + 4, b * m * 2 * c));
        }

        Attn bf16Inputs() {
            return new Attn(b, n, m, heads, d, rounded(q), rounded(kv), rounded(dout), rounded(dq0), rounded(dkv0));
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "b=%d n=%d m=%d heads=%d d=%d", b, n, m, heads, d);
        }
    }

    /** {out, lse, dq, dkv} of the fused kernels; accumulating into dq0/dkv0 when acc. */
    private static double[][] fused(Backend be, DType dt, Attn a, boolean acc) {
        int b = a.b(), n = a.n(), m = a.m(), c = a.c();
        try (Arena arena = Arena.open()) {
            Tensor q = upload(be, dt, a.q(), b, n, c), kv = upload(be, dt, a.kv(), b, m, 2 * c), dout = upload(be, dt, a.dout(), b, n, c);
            Tensor out = poisoned(be, dt, b, n, c), lse = poisoned(be, dt == F64 ? F64 : F32, b, a.heads(), n);
            be.attention(q, kv, out, lse, b, n, m, a.heads(), a.d(), a.scale());
            Tensor dq = acc ? upload(be, dt, a.dq0(), b, n, c) : poisoned(be, dt, b, n, c);
            Tensor dkv = acc ? upload(be, dt, a.dkv0(), b, m, 2 * c) : poisoned(be, dt, b, m, 2 * c);
            be.attentionBackward(q, kv, out, lse, dout, dq, dkv, b, n, m, a.heads(), a.d(), a.scale(), acc, acc);
            return new double[][] {read(out), read(lse), read(dq), read(dkv)};
        }
    }

    /** {out, null, dq, dkv} of F.attentionUnfused (GEMM + softmax + GEMM) through the tape. */
    private static double[][] unfused(Backend be, DType dt, Attn a) {
        int b = a.b(), n = a.n(), m = a.m(), c = a.c();
        try (Arena arena = Arena.open(); Tape tape = Tape.record()) {
            Tensor q = upload(be, dt, a.q(), b, n, c), kv = upload(be, dt, a.kv(), b, m, 2 * c);
            q.requiresGrad = true;
            kv.requiresGrad = true;
            Tensor out = F.attentionUnfused(q, kv, a.heads(), a.scale());
            tape.backward(F.sum(F.mul(out, upload(be, dt, a.dout(), b, n, c))));
            return new double[][] {read(out), null, read(q.grad), read(kv.grad)};
        }
    }

    private static final String[] OUTPUTS = {"out", "lse", "dq", "dkv"};

    private void attentionParity(Attn a) {
        // f32: fused CUDA vs the f64 CPU twin, overwrite and accumulate
        for (boolean acc : new boolean[] {false, true}) {
            double[][] ref = fused(cpu, F64, a, acc);
            double[][] got = fused(gpu, F32, a, acc);
            for (int k = 0; k < 4; k++) {
                boolean longSum = k >= 2;  // gradients sum over M or N terms
                assertNear(a + " f32 acc=" + acc + " " + OUTPUTS[k], ref[k], got[k], longSum ? 1e-4 : 2e-5, longSum ? 1e-3 : 1e-4);
            }
        }
        if (SELF_TEST) return;
        // bf16: fused vs unfused, both against f64 on the same bf16 inputs
        Attn ab = a.bf16Inputs();
        double[][] ref = fused(cpu, F64, ab, false);
        double[][] got = fused(gpu, BF16, ab, false);
        double[][] base = unfused(gpu, BF16, ab);
        for (int k = 0; k < 4; k++) {
            double errGot = maxErr(ref[k], got[k]);
            if (k == 1) {  // lse is f32 in a bf16 run
                assertTrue(errGot <= 1e-3 * Math.max(1, maxAbs(ref[k])), a + " bf16 lse: max err " + errGot);
                continue;
            }
            double errBase = maxErr(ref[k], base[k]);
            double floor = 1e-3 * Math.max(1e-2, maxAbs(ref[k]));
            assertTrue(errGot <= 2 * errBase + floor,
                       String.format(Locale.ROOT, "%s bf16 %s: fused max err %.4g > 2 x %.4g (unfused bf16) + %.2g",
                                     a, OUTPUTS[k], errGot, errBase, floor));
        }
    }

    @Test
    void attentionHeadDim32() {
        attentionParity(Attn.random(11, 2, 131, 37, 2, 32));
        attentionParity(Attn.random(12, 1, 200, 1, 3, 32));
        attentionParity(Attn.random(13, 2, 1000, 256, 1, 32));
        attentionParity(Attn.random(14, 1, 77, 1024, 2, 32));
    }

    @Test
    void attentionHeadDim64() {
        attentionParity(Attn.random(21, 2, 100, 37, 2, 64));
        attentionParity(Attn.random(22, 1, 65, 1, 1, 64));
        attentionParity(Attn.random(23, 2, 1000, 256, 1, 64));
        attentionParity(Attn.random(24, 1, 70, 1024, 3, 64));
    }

    /** Sizes at the edges of the tiling: one query, one key, many (batch, head) pairs, N = M = 1. */
    @Test
    void attentionEdgeSizes() {
        attentionParity(Attn.random(15, 2, 1, 300, 2, 64));   // one query row: 1 of 64 rows of the CTA valid
        attentionParity(Attn.random(16, 3, 33, 65, 5, 32));   // B*H = 15, M one past a key tile
        attentionParity(Attn.random(17, 1, 1, 1, 1, 32));     // N = M = 1
        attentionParity(Attn.random(18, 1, 129, 129, 1, 64)); // N, M one past the tile/row counts, dk/dv split
    }

    /** fused(), with every tensor starting one element into its buffer: not 16-byte aligned. */
    private static double[][] fusedShifted(Backend be, DType dt, Attn a, boolean acc) {
        int b = a.b(), n = a.n(), m = a.m(), c = a.c(), heads = a.heads(), d = a.d();
        int nq = b * n * c, nkv = b * m * 2 * c, nl = b * heads * n;
        try (Arena arena = Arena.open()) {
            Tensor q = upload(be, dt, shift(a.q()), nq + 1), kv = upload(be, dt, shift(a.kv()), nkv + 1);
            Tensor dout = upload(be, dt, shift(a.dout()), nq + 1);
            Tensor out = poisoned(be, dt, nq + 1), lse = poisoned(be, F32, nl + 1);
            Tensor dq = acc ? upload(be, dt, shift(a.dq0()), nq + 1) : poisoned(be, dt, nq + 1);
            Tensor dkv = acc ? upload(be, dt, shift(a.dkv0()), nkv + 1) : poisoned(be, dt, nkv + 1);
            long e = dt.bytes, f = F32.bytes;
            long pq = q.address() + e, pkv = kv.address() + e, pdout = dout.address() + e, pout = out.address() + e;
            long plse = lse.address() + f, pdq = dq.address() + e, pdkv = dkv.address() + e;
            int ia = acc ? 1 : 0;
            if (be instanceof CudaBackend cuda) {
                long st = cuda.stream();
                rc(CudaKernels.hrda_cuda_attention_forward(dt.code, b, n, m, heads, d, a.scale(), pq, pkv, pout, plse, st), true);
                rc(CudaKernels.hrda_cuda_attention_backward(dt.code, b, n, m, heads, d, a.scale(), pq, pkv, pout, plse, pdout,
                                                            pdq, pdkv, ia, ia, st), true);
            } else {
                rc(CpuKernels.hrda_cpu_attention_forward(dt.code, b, n, m, heads, d, a.scale(), pq, pkv, pout, plse), false);
                rc(CpuKernels.hrda_cpu_attention_backward(dt.code, b, n, m, heads, d, a.scale(), pq, pkv, pout, plse, pdout,
                                                          pdq, pdkv, ia, ia), false);
            }
            return new double[][] {unshift(read(out)), unshift(read(lse)), unshift(read(dq)), unshift(read(dkv))};
        }
    }

    private static void rc(int rc, boolean cuda) {
        if (rc != 0) {
            fail("native call failed (" + rc + "): "
                 + (cuda ? CudaKernels.hrda_cuda_last_error().getString() : CpuKernels.hrda_cpu_last_error().getString()));
        }
    }

    private static float[] shift(float[] v) {
        float[] r = new float[v.length + 1];
        System.arraycopy(v, 0, r, 1, v.length);
        return r;
    }

    private static double[] unshift(double[] v) {
        return Arrays.copyOfRange(v, 1, v.length);
    }

    /**
     * The element-by-element load/store path of the kernels (base pointers not 16-byte aligned),
     * which aligned tensors never take: f32 against the f64 CPU twin like attentionParity, bf16
     * within about one bf16 rounding of the aligned (16-byte pack) path. Both head dims, M and N
     * not multiples of the tiles, dk/dv split over query ranges, overwrite and accumulate.
     */
    @Test
    void attentionUnalignedPointers() {
        for (Attn a : new Attn[] {Attn.random(51, 2, 131, 70, 2, 32), Attn.random(52, 1, 700, 37, 3, 64)}) {
            for (boolean acc : new boolean[] {false, true}) {
                double[][] ref = fused(cpu, F64, a, acc);
                double[][] got = fusedShifted(gpu, F32, a, acc);
                for (int k = 0; k < 4; k++) {
                    boolean longSum = k >= 2;
                    assertNear(a + " unaligned f32 acc=" + acc + " " + OUTPUTS[k], ref[k], got[k],
                               longSum ? 1e-4 : 2e-5, longSum ? 1e-3 : 1e-4);
                }
                if (SELF_TEST) continue;
                Attn ab = a.bf16Inputs();
                double[][] aligned = fused(gpu, BF16, ab, acc);
                double[][] shifted = fusedShifted(gpu, BF16, ab, acc);
                for (int k = 0; k < 4; k++) {
                    assertNear(a + " unaligned bf16 vs aligned bf16 acc=" + acc + " " + OUTPUTS[k], aligned[k], shifted[k],
                               1e-3, 1.6e-2);
                }
            }
        }
    }

    @Test
    void attentionOneGradientOnly() {
        Attn a = Attn.random(31, 2, 90, 40, 2, 64);
        int b = a.b(), n = a.n(), m = a.m(), c = a.c();
        double[][] all = fused(cpu, F64, a, false);
        for (int which = 0; which < 2; which++) {
            try (Arena arena = Arena.open()) {
                Tensor q = upload(gpu, F32, a.q(), b, n, c), kv = upload(gpu, F32, a.kv(), b, m, 2 * c);
                Tensor dout = upload(gpu, F32, a.dout(), b, n, c);
                Tensor out = poisoned(gpu, F32, b, n, c), lse = poisoned(gpu, F32, b, a.heads(), n);
                gpu.attention(q, kv, out, lse, b, n, m, a.heads(), a.d(), a.scale());
                Tensor g = which == 0 ? poisoned(gpu, F32, b, n, c) : poisoned(gpu, F32, b, m, 2 * c);
                gpu.attentionBackward(q, kv, out, lse, dout, which == 0 ? g : null, which == 0 ? null : g,
                                      b, n, m, a.heads(), a.d(), a.scale(), false, false);
                assertNear("only " + OUTPUTS[2 + which], all[2 + which], read(g), 1e-4, 1e-3);
            }
        }
    }

    @Test
    void attentionUnsupportedHeadDim() {
        assumeTrue(!SELF_TEST, "the CPU twin takes any head dim");
        try (Arena arena = Arena.open()) {
            Tensor q = Tensor.zeros(gpu, F32, 1, 4, 48), kv = Tensor.zeros(gpu, F32, 1, 3, 96);
            NativeException e = assertThrows(NativeException.class, () -> F.attention(q, kv, 1, 1f));
            assertTrue(e.getMessage().contains("head dim D = 48"), e.getMessage());
        }
    }

    // =====================================================================================
    // HRDA fusion
    // =====================================================================================

    /** {fused, dlr, datt, dhr} on be in dtype dt (inputs as given); accumulating when acc. */
    private static float[][] fuse(Backend be, DType dt, int[] s, float[][] in, boolean acc, boolean onlyHr) {
        int b = s[0], k = s[1], h = s[2], w = s[3], hh = s[4], ww = s[5], top = s[6], left = s[7];
        try (Arena arena = Arena.open()) {
            Tensor lr = upload(be, dt, in[0], b, k, h, w), att = upload(be, dt, in[1], b, k, h, w);
            Tensor hr = upload(be, dt, in[2], b, k, hh, ww), g = upload(be, dt, in[3], b, k, 2 * h, 2 * w);
            Tensor fused = poisoned(be, dt, b, k, 2 * h, 2 * w);
            be.hrdaFuse(lr, att, hr, fused, b, k, h, w, hh, ww, top, left);
            Tensor dl = onlyHr ? null : acc ? upload(be, dt, in[4], b, k, h, w) : poisoned(be, dt, b, k, h, w);
            Tensor da = onlyHr ? null : acc ? upload(be, dt, in[5], b, k, h, w) : poisoned(be, dt, b, k, h, w);
            Tensor dh = acc ? upload(be, dt, in[6], b, k, hh, ww) : poisoned(be, dt, b, k, hh, ww);
            be.hrdaFuseBackward(lr, att, hr, g, dl, da, dh, b, k, h, w, hh, ww, top, left, acc, acc, acc);
            return new float[][] {fused.toFloatArray(), dl == null ? null : dl.toFloatArray(),
                                  da == null ? null : da.toFloatArray(), dh.toFloatArray()};
        }
    }

    private void fuseParity(int[] s, long seed) {
        int b = s[0], k = s[1], h = s[2], w = s[3], hh = s[4], ww = s[5];
        int nl = b * k * h * w, nh = b * k * hh * ww;
        float[][] in = {rand(seed, nl, -3, 3), rand(seed + 1, nl, 0, 1), rand(seed + 2, nh, -3, 3), rand(seed + 3, 4 * nl),
                        rand(seed + 4, nl), rand(seed + 5, nl), rand(seed + 6, nh)};
        String[] names = {"fused", "dlr", "datt", "dhr"};
        for (boolean acc : new boolean[] {false, true}) {
            for (boolean onlyHr : new boolean[] {false, true}) {
                float[][] ref = fuse(cpu, F32, s, in, acc, onlyHr);
                float[][] got = fuse(gpu, F32, s, in, acc, onlyHr);
                for (int i = 0; i < 4; i++) {
                    if (ref[i] != null) assertClose(Arrays.toString(s) + " f32 acc=" + acc + " " + names[i], ref[i], got[i], TIGHT);
                }
            }
        }
        if (SELF_TEST) return;
        float[][] low = new float[in.length][];
        for (int i = 0; i < in.length; i++) low[i] = rounded(in[i]);
        for (boolean acc : new boolean[] {false, true}) {
            float[][] ref = fuse(cpu, F32, s, in, acc, false);
            float[][] refLow = fuse(cpu, F32, s, low, acc, false);
            float[][] got = fuse(gpu, BF16, s, in, acc, false);
            for (int i = 0; i < 4; i++) {
                assertBf16(Arrays.toString(s) + " bf16 acc=" + acc + " " + names[i], ref[i], rounded(refLow[i]), got[i]);
            }
        }
    }

    @Test
    void fusionTrainingAndInference() {
        fuseParity(new int[] {2, 19, 32, 32, 32, 32, 8, 24}, 41);   // training: detail box inside (HRDA's 19 classes)
        fuseParity(new int[] {1, 19, 32, 32, 32, 32, 32, 32}, 42);  // box at the far corner
        fuseParity(new int[] {1, 3, 17, 23, 34, 46, 0, 0}, 43);     // inference: hr covers the whole grid
        fuseParity(new int[] {2, 2, 9, 13, 6, 10, 4, 2}, 44);       // odd LR sizes
    }

    @Test
    void fusionArgumentErrors() {
        try (Arena arena = Arena.open()) {
            Tensor lr = Tensor.zeros(gpu, F32, 1, 2, 4, 4), hr = Tensor.zeros(gpu, F32, 1, 2, 4, 4);
            Tensor out = Tensor.empty(gpu, F32, 1, 2, 8, 8);
            NativeException e = assertThrows(NativeException.class, () -> gpu.hrdaFuse(lr, lr, hr, out, 1, 2, 4, 4, 4, 4, 6, 0));
            assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
        }
    }
}
