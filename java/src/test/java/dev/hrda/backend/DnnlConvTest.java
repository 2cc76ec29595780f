package dev.hrda.backend;

import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Locale;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The oneDNN convolutions ({@link DnnlConv}, the CPU backend's f32 path) against the im2col +
 * OpenBLAS path (and the direct depthwise kernels) they replace: fresh random inputs, odd sizes,
 * every variant the models use (stride, padding, dilation, groups, depthwise, 1x1, kernel =
 * stride), outputs poisoned with NaN where they are overwritten and random where they accumulate,
 * and the same bits from a second run.
 */
class DnnlConvTest {
    static CpuBackend dnnl, ref;

    @BeforeAll
    static void setUp() {
        assertNull(DnnlConv.unavailableReason(), "oneDNN must load wherever the tests run (the dnnl preset is a dependency)");
        dnnl = new CpuBackend();
        ref = new CpuBackend(false);
    }

    @AfterAll
    static void tearDown() {
        dnnl.close();
        ref.close();
    }

    static final ConvSpec[] CONVS = {
        ConvSpec.of(2, 5, 11, 13, 7, 3, 1, 1, 1, 1),      // dense 3x3, few channels
        ConvSpec.of(2, 5, 11, 13, 7, 3, 2, 1, 1, 1),      // strided
        ConvSpec.of(2, 5, 11, 13, 7, 3, 1, 2, 2, 1),      // dilated
        ConvSpec.of(2, 6, 9, 10, 9, 3, 1, 1, 1, 3),       // grouped (3 groups of 2 -> 3)
        ConvSpec.of(2, 32, 9, 11, 64, 3, 1, 1, 1, 4),     // grouped, blocked channels
        ConvSpec.of(2, 6, 9, 10, 6, 3, 1, 1, 1, 6),       // depthwise 3x3
        ConvSpec.of(2, 6, 15, 14, 6, 7, 2, 3, 1, 6),      // depthwise 7x7 strided
        ConvSpec.of(2, 48, 17, 19, 48, 3, 1, 1, 1, 48),   // depthwise 3x3 (Mix-FFN)
        ConvSpec.of(2, 32, 17, 19, 32, 3, 1, 6, 6, 32),   // depthwise dilated (ASPP)
        ConvSpec.of(2, 8, 9, 11, 5, 1, 1, 0, 1, 1),       // 1x1 (pointwise)
        ConvSpec.of(3, 64, 9, 7, 40, 1, 1, 0, 1, 1),      // 1x1, blocked input channels
        ConvSpec.of(2, 8, 9, 11, 5, 1, 2, 0, 1, 1),       // 1x1 strided
        ConvSpec.of(1, 3, 31, 29, 4, 7, 4, 3, 1, 1),      // patch embedding 7x7 stride 4
        ConvSpec.of(2, 3, 37, 35, 32, 7, 4, 3, 1, 1),     // patch embedding, 32 channels out
        ConvSpec.of(2, 32, 15, 17, 64, 3, 2, 1, 1, 1),    // patch embedding 3x3 stride 2
        ConvSpec.of(2, 48, 17, 19, 32, 3, 1, 1, 1, 1),    // dense 3x3 (DAFormer bottleneck)
        ConvSpec.of(2, 32, 16, 20, 32, 4, 4, 0, 1, 1),    // spatial reduction: kernel = stride
        ConvSpec.of(2, 16, 9, 9, 16, 2, 2, 0, 1, 1),      // kernel 2 stride 2 on an odd size: negative right padding
        new ConvSpec(2, 4, 10, 12, 6, 1, 3, 1, 1, 0, 1, 1, 1, 1),  // 1x3, asymmetric padding
    };

    static String tag(ConvSpec s) {
        return String.format(Locale.ROOT, "n%d c%d %dx%d k%d kernel %dx%d stride %d pad %d dil %d groups %d",
                             s.n(), s.c(), s.h(), s.w(), s.k(), s.kh(), s.kw(), s.strideH(), s.padH(), s.dilH(), s.groups());
    }

    static float[] rand(Random r, long n) {
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (2 * r.nextDouble() - 1);
        return a;
    }

    static long numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Runs op on a backend and returns the result (inputs and outputs freed). */
    static float[] on(CpuBackend be, Function<CpuBackend, Tensor[]> op) {
        Tensor[] ts = op.apply(be);
        try {
            Tensor out = ts[0];
            return out.toFloatArray();
        } finally {
            for (Tensor t : ts) if (t != null) t.close();
        }
    }

    static void near(float[] want, float[] got, String what) {
        assertEquals(want.length, got.length, what);
        double scale = 1;
        for (float v : want) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < want.length; i++) {
            assertFalse(Float.isNaN(got[i]), what + ": NaN left at " + i);
            assertTrue(Math.abs(want[i] - got[i]) <= 2e-5 * scale, what + " at " + i + ": " + got[i] + " vs " + want[i]);
        }
    }

    static Tensor t(CpuBackend be, float[] data, int... shape) {
        return Tensor.of(be, data, shape);
    }

    static Tensor poisoned(CpuBackend be, int... shape) {
        return Tensor.full(be, DType.F32, Float.NaN, shape);
    }

    @Test
    void matchesIm2colPath() {
        Random r = new Random(11);
        for (ConvSpec s : CONVS) {
            int[] xs = {s.n(), s.c(), s.h(), s.w()}, ws = s.weightShape(), ys = s.outShape();
            float[] x = rand(r, numel(xs)), w = rand(r, numel(ws)), b = rand(r, s.k()), dy = rand(r, numel(ys));
            float[] dx0 = rand(r, numel(xs)), dw0 = rand(r, numel(ws)), db0 = rand(r, s.k());
            String tag = tag(s);
            for (boolean bias : new boolean[] {false, true}) {
                Function<CpuBackend, Tensor[]> fwd = be -> {
                    Tensor y = poisoned(be, ys), xt = t(be, x, xs), wt = t(be, w, ws), bt = bias ? t(be, b, s.k()) : null;
                    be.conv2d(s, xt, wt, bt, y);
                    return new Tensor[] {y, xt, wt, bt};
                };
                float[] got = on(dnnl, fwd);
                near(on(ref, fwd), got, tag + " forward bias=" + bias);
                assertArrayEquals(got, on(dnnl, fwd), tag + " forward: same bits on a second run");
            }
            for (boolean acc : new boolean[] {false, true}) {
                Function<CpuBackend, Tensor[]> bwd = be -> {
                    Tensor dx = acc ? t(be, dx0, xs) : poisoned(be, xs), dyt = t(be, dy, ys), wt = t(be, w, ws);
                    be.conv2dBackwardData(s, dyt, wt, dx, acc);
                    return new Tensor[] {dx, dyt, wt};
                };
                float[] got = on(dnnl, bwd);
                near(on(ref, bwd), got, tag + " backward data acc=" + acc);
                assertArrayEquals(got, on(dnnl, bwd), tag + " backward data: same bits on a second run");
            }
            for (boolean bias : new boolean[] {false, true}) {
                for (int part = 0; part < (bias ? 2 : 1); part++) {
                    int which = part;
                    Function<CpuBackend, Tensor[]> bww = be -> {
                        Tensor dw = t(be, dw0, ws), db = bias ? t(be, db0, s.k()) : null;
                        Tensor xt = t(be, x, xs), dyt = t(be, dy, ys);
                        be.conv2dBackwardWeight(s, xt, dyt, dw, db);
                        return which == 0 ? new Tensor[] {dw, db, xt, dyt} : new Tensor[] {db, dw, xt, dyt};
                    };
                    float[] got = on(dnnl, bww);
                    String what = tag + " backward " + (which == 0 ? "weight" : "bias") + " bias=" + bias;
                    near(on(ref, bww), got, what);
                    assertArrayEquals(got, on(dnnl, bww), what + ": same bits on a second run");
                }
            }
        }
    }

    /**
     * Every dense geometry but the negative right padding runs on oneDNN, and so do the Mix-FFN's
     * depthwise ones; depthwise ones that oneDNN runs as grouped GEMMs (dilated, some strided)
     * run on the direct kernels.
     */
    @Test
    void runsOnDnnl() {
        for (ConvSpec s : CONVS) {
            boolean negativePad = (s.outW() - 1) * s.strideW() + (s.kw() - 1) * s.dilW() + 1 - s.w() - s.padW() < 0;
            for (DnnlConv.Dir d : DnnlConv.Dir.values()) {
                String impl = dnnl.dnnlImplementation(s, d);
                if (negativePad) assertNull(impl, tag(s));
                else if (!s.depthwise() || s.dilH() == 1 && s.strideH() == 1 && s.c() % 16 == 0) assertNotNull(impl, tag(s) + " " + d);
                if (impl != null && s.depthwise()) assertFalse(impl.contains("gemm"), tag(s) + " " + d + ": " + impl);
            }
        }
    }

    /** f32 data as a tensor of dtype d (f64: the exact reference). */
    static Tensor t(CpuBackend be, DType d, float[] data, int... shape) {
        try (Tensor f = Tensor.of(be, data, shape)) {
            Tensor out = Tensor.empty(be, d, shape);
            be.convert(f, out);
            return out;
        }
    }

    /**
     * The direct f32 depthwise kernels (stride 1: vectorised rows, f32 sums; the dilated ASPP
     * convolutions run on them) against the same kernels in f64.
     */
    @Test
    void depthwiseF32MatchesF64() {
        Random r = new Random(12);
        ConvSpec[] dws = {ConvSpec.of(2, 48, 17, 19, 48, 3, 1, 1, 1, 48), ConvSpec.of(2, 32, 17, 19, 32, 3, 1, 6, 6, 32),
                          ConvSpec.of(1, 16, 21, 23, 16, 3, 1, 12, 12, 16), ConvSpec.of(2, 6, 9, 10, 6, 5, 1, 1, 1, 6),
                          new ConvSpec(2, 5, 7, 40, 5, 1, 3, 1, 1, 0, 2, 1, 3, 5), ConvSpec.of(2, 6, 15, 14, 6, 7, 2, 3, 1, 6)};
        for (ConvSpec s : dws) {
            int[] xs = {s.n(), s.c(), s.h(), s.w()}, ws = s.weightShape(), ys = s.outShape();
            float[] x = rand(r, numel(xs)), w = rand(r, numel(ws)), b = rand(r, s.k()), dy = rand(r, numel(ys));
            float[] dx0 = rand(r, numel(xs)), dw0 = rand(r, numel(ws)), db0 = rand(r, s.k());
            for (int op = 0; op < 5; op++) {
                float[][] res = new float[2][];
                for (int v = 0; v < 2; v++) {
                    DType d = v == 0 ? DType.F64 : DType.F32;
                    try (Tensor xt = t(ref, d, x, xs); Tensor wt = t(ref, d, w, ws); Tensor bt = t(ref, d, b, s.k());
                         Tensor dyt = t(ref, d, dy, ys); Tensor out = switch (op) {
                             case 0 -> Tensor.full(ref, d, Double.NaN, ys);
                             case 1 -> Tensor.full(ref, d, Double.NaN, xs);
                             case 2 -> t(ref, d, dx0, xs);
                             default -> t(ref, d, dw0, ws);
                         }; Tensor db = t(ref, d, db0, s.k())) {
                        switch (op) {
                            case 0 -> ref.conv2d(s, xt, wt, bt, out);
                            case 1, 2 -> ref.conv2dBackwardData(s, dyt, wt, out, op == 2);
                            default -> ref.conv2dBackwardWeight(s, xt, dyt, out, op == 4 ? db : null);
                        }
                        res[v] = (op == 4 ? db : out).toFloatArray();
                    }
                }
                near(res[0], res[1], tag(s) + " depthwise f32 vs f64, op " + op);
            }
        }
    }

    @Test
    void f64StaysOnIm2col() {
        ConvSpec s = ConvSpec.of(1, 3, 5, 6, 2, 3, 1, 1, 1, 1);
        double[] x = new double[90], w = new double[54];
        for (int i = 0; i < x.length; i++) x[i] = Math.sin(i);
        for (int i = 0; i < w.length; i++) w[i] = Math.cos(i);
        try (Tensor xt = Tensor.of(dnnl, x, 1, 3, 5, 6); Tensor wt = Tensor.of(dnnl, w, 2, 3, 3, 3);
             Tensor y = Tensor.empty(dnnl, DType.F64, 1, 2, 5, 6); Tensor xr = Tensor.of(ref, x, 1, 3, 5, 6);
             Tensor wr = Tensor.of(ref, w, 2, 3, 3, 3); Tensor yr = Tensor.empty(ref, DType.F64, 1, 2, 5, 6)) {
            dnnl.conv2d(s, xt, wt, null, y);
            ref.conv2d(s, xr, wr, null, yr);
            assertArrayEquals(yr.toDoubleArray(), y.toDoubleArray(), "f64: the same routine, the same bits");
        }
    }
}
