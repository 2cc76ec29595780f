package dev.hrda.backend;

import dev.hrda.autograd.RipuLossesTest;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import static dev.hrda.backend.CudaAttentionParityTest.maxAbs;
import static dev.hrda.backend.CudaParityTest.rand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * RIPU's fused losses (ripu_losses.h) and sgd_step of {@link CudaBackend} against the CPU library
 * in f64, on fresh random inputs of odd sizes (several 32x8 tiles, partial tiles, one row, one
 * column, more classes than a warp), outputs poisoned (NaN) before each call.
 * <ul>
 *   <li>f32: losses within 1e-5 relative, counts exact, gradients elementwise within
 *       1e-5 max|ref| + 1e-4 |ref| (overwrite and accumulate).</li>
 *   <li>bf16 and f16 on the same rounded inputs: f32 arithmetic, each gradient element rounded once
 *       on store, so within the dtype's rounding (2^-8, 2^-11 relative) plus 1e-5 max|ref|; the
 *       f32 loss within 1e-5.</li>
 *   <li>Determinism: three runs give identical bits; SGD (three steps, tensors over several
 *       chunks, momentum, Nesterov, none) within f32 rounding of the f64 update.</li>
 * </ul>
 * Skipped where CUDA is not usable; {@code -Dhrda.parity.selftest=true} runs the f32 checks with a
 * CpuBackend standing in for CUDA.
 */
@Tag("gpu")
class RipuParityTest extends GpuParity {
    private static final DType F32 = DType.F32, F64 = DType.F64;
    private static final DType[] LOW = {DType.BF16, DType.F16};
    /** (n, c, h, w) */
    private static final int[][] SHAPES = {{2, 19, 19, 70}, {1, 5, 8, 32}, {1, 7, 1, 5}, {2, 3, 9, 1}, {1, 40, 17, 33}};

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

    private float[] rounded(DType d, float[] v) {
        if (d == F32) return v;
        try (Tensor t = up(gpu, d, v, v.length)) {
            return t.toFloatArray();
        }
    }

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

    /** One case: logits (sd ~2.5, so p falls on both sides of tau) and blob labels with 255 regions. */
    private record Case(int n, int c, int h, int w, float[] logits, int[] labels, float[] prior) {
        String tag(String op) { return String.format(Locale.ROOT, "%s [%d, %d, %d, %d]", op, n, c, h, w); }
    }

    private static Case make(int[] s, long seed) {
        int n = s[0], c = s[1], h = s[2], w = s[3], size = n * c * h * w;
        return new Case(n, c, h, w, rand(seed, size, -4, 4), RipuLossesTest.blobs(new Random(seed + 1), n, h, w, c),
                        rand(seed + 2, size));
    }

    private record Out(double loss, int count, double[] grad) {}

    /** op "nl" or "lcr": the loss, its count, and the backward with grad scale 0.37 (over the prior when acc). */
    private static Out run(Backend b, DType d, String op, Case k, float[] logits, boolean acc) {
        try (Arena a = Arena.open()) {
            Tensor x = up(b, d, logits, k.n, k.c, k.h, k.w), lab = Tensor.of(b, k.labels, k.n, k.h, k.w);
            Tensor loss = nan(b, d == F64 ? F64 : F32, 1), cnt = Tensor.of(b, new int[] {-77777}, 1);
            Tensor g = acc ? up(b, d, k.prior, k.n, k.c, k.h, k.w) : nan(b, d, k.n, k.c, k.h, k.w);
            long hw = (long) k.h * k.w;
            if (op.equals("nl")) {
                b.negativeLearning(x, 0.05, loss, cnt, k.n, k.c, hw);
                b.negativeLearningBackward(x, 0.05, 0.37, g, k.n, k.c, hw, acc);
            } else {
                b.localConsistency(x, lab, 255, loss, cnt, k.n, k.c, k.h, k.w);
                b.localConsistencyBackward(x, lab, 255, 0.37, g, k.n, k.c, k.h, k.w, acc);
            }
            return new Out(loss.item(), cnt.toIntArray()[0], g.toDoubleArray());
        }
    }

    @Test
    void f32MatchesCpuF64() {
        long seed = 500;
        for (int[] s : SHAPES) {
            Case k = make(s, seed += 10);
            for (String op : List.of("nl", "lcr")) {
                for (boolean acc : new boolean[] {false, true}) {
                    String tag = k.tag(op) + " acc=" + acc;
                    Out ref = run(cpu, F64, op, k, k.logits, acc), got = run(gpu, F32, op, k, k.logits, acc);
                    assertScalar(tag + ": loss", ref.loss, got.loss, 1e-5);
                    assertEquals(ref.count, got.count, tag + ": count");
                    assertElementwise(tag + ": dlogits", ref.grad, got.grad, 1e-5 * maxAbs(ref.grad), 1e-4);
                }
            }
        }
    }

    @Test
    void lowPrecisionWithinOneRounding() {
        assumeFalse(SELF_TEST, "bf16/f16 need the CUDA library (the CPU computes in f32/f64)");
        long seed = 600;
        for (int[] s : SHAPES) {
            Case k = make(s, seed += 10);
            for (DType d : LOW) {
                float[] x = rounded(d, k.logits);
                double r = d == DType.BF16 ? 0x1p-8 : 0x1p-11;
                for (String op : List.of("nl", "lcr")) {
                    String tag = k.tag(op) + " " + d;
                    Out ref = run(cpu, F64, op, k, x, false), got = run(gpu, d, op, k, x, false);
                    assertScalar(tag + ": loss (f32)", ref.loss, got.loss, 1e-5);
                    assertEquals(ref.count, got.count, tag + ": count");
                    assertElementwise(tag + ": dlogits", ref.grad, got.grad, 1e-5 * maxAbs(ref.grad), r);
                }
            }
        }
    }

    @Test
    void deterministic() {
        Case k = make(SHAPES[0], 700);
        for (String op : List.of("nl", "lcr")) {
            assertSameBits(op, 3, () -> {
                Out o = run(gpu, F32, op, k, k.logits, false);
                float[] g = new float[o.grad.length];
                for (int i = 0; i < g.length; i++) g[i] = (float) o.grad[i];
                return new float[][] {{(float) o.loss}, g};
            });
        }
    }

    @Test
    void sgdMatchesCpuF64() {
        int[] sizes = {70000, 13, 1024};
        double[][] configs = {{0.9, 0, 0}, {0.9, 0, 1}, {0.8, 0.3, 0}, {0, 0, 0}};  // momentum, dampening, nesterov
        for (double[] cfg : configs) {
            double momentum = cfg[0], dampening = cfg[1];
            boolean nesterov = cfg[2] != 0;
            List<double[]> ref = null;
            for (Backend b : new Backend[] {cpu, gpu}) {
                DType d = b == cpu ? F64 : F32;
                try (Arena a = Arena.open()) {
                    List<Tensor> p = new ArrayList<>(), g = new ArrayList<>(), buf = new ArrayList<>();
                    for (int i = 0; i < sizes.length; i++) {
                        p.add(up(b, d, rand(800 + i, sizes[i]), sizes[i]));
                        g.add(Tensor.empty(b, d, sizes[i]));
                        buf.add(nan(b, d, sizes[i]));  // the first step must overwrite the buffers
                    }
                    double[] lr = {0.05, 0.5, 0.01}, wd = {5e-4, 0, 1e-2};
                    for (int step = 0; step < 3; step++) {
                        for (int i = 0; i < sizes.length; i++) g.get(i).copyFrom(rand(900 + 10 * step + i, sizes[i]));
                        b.sgd(p, g, momentum == 0 ? null : buf, lr, wd, momentum, dampening, nesterov, step == 0);
                    }
                    List<double[]> out = new ArrayList<>();
                    for (int i = 0; i < sizes.length; i++) {
                        out.add(p.get(i).toDoubleArray());
                        if (momentum != 0) out.add(buf.get(i).toDoubleArray());
                    }
                    if (ref == null) ref = out;
                    else {
                        for (int i = 0; i < out.size(); i++) {
                            assertElementwise("sgd " + Arrays.toString(cfg) + " tensor " + i, ref.get(i), out.get(i),
                                              1e-6 * maxAbs(ref.get(i)), 1e-6);
                        }
                    }
                }
            }
        }
    }
}
