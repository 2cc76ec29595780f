package dev.hrda.backend;

import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The vectorised f32 paths of the CPU library (activations with their own exp/erfc, tiled
 * transposes, batch norm with lane sums) against the f64 paths, which keep std::exp/std::erf and
 * f64 sums (the finite-difference tests' reference): fresh random inputs, odd sizes, outputs
 * poisoned with NaN where they are overwritten, random where they accumulate, and the same bits
 * from a second run.
 */
class CpuF32KernelsTest {
    static CpuBackend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    static float[] rand(Random r, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return a;
    }

    static Tensor t(DType d, float[] data, int... shape) {
        try (Tensor f = Tensor.of(be, data, shape)) {
            Tensor out = Tensor.empty(be, d, shape);
            be.convert(f, out);
            return out;
        }
    }

    /** op(dtype) in f32 and f64; the f32 result must be near the f64 one and repeat bit for bit. */
    static void check(String what, double rtol, double atol, BiFunction<DType, Tensor[], Tensor> op) {
        float[] want = run(DType.F64, op), got = run(DType.F32, op), again = run(DType.F32, op);
        assertArrayEquals(got, again, what + ": same bits on a second run");
        for (int i = 0; i < want.length; i++) {
            assertFalse(Float.isNaN(got[i]), what + ": NaN left at " + i);
            assertTrue(Math.abs(got[i] - want[i]) <= rtol * Math.abs(want[i]) + atol, what + " at " + i + ": " + got[i] + " vs " + want[i]);
        }
    }

    static float[] run(DType d, BiFunction<DType, Tensor[], Tensor> op) {
        Tensor[] owned = new Tensor[8];
        try {
            return op.apply(d, owned).toFloatArray();
        } finally {
            for (Tensor x : owned) if (x != null) x.close();
        }
    }

    @Test
    void activations() {
        Random r = new Random(21);
        int n = 3 * 16384 + 37;  // several threads' chunks and a ragged tail
        float[] x = rand(r, n, -12, 12), dy = rand(r, n, -1, 1), d0 = rand(r, n, -1, 1);
        for (Activation a : Activation.values()) {
            check(a + " forward", 2e-6, 1e-7, (d, o) -> {
                o[0] = t(d, x, n);
                o[1] = Tensor.full(be, d, Double.NaN, n);
                be.activation(a, o[0], o[1]);
                return o[1];
            });
            for (boolean acc : new boolean[] {false, true}) {
                check(a + " backward acc=" + acc, 2e-6, 1e-7, (d, o) -> {
                    o[0] = t(d, x, n);
                    o[1] = Tensor.empty(be, d, n);
                    be.activation(a, o[0], o[1]);
                    o[2] = t(d, dy, n);
                    o[3] = acc ? t(d, d0, n) : Tensor.full(be, d, Double.NaN, n);
                    be.activationBackward(a, o[0], o[1], o[2], o[3], acc);
                    return o[3];
                });
            }
        }
    }

    /**
     * GELU keeps its relative accuracy in the negative tail (erfc, not 1 + erf, which in f32 loses
     * every digit below -5.5): within 1e-5 down to -6. Further down the f64 reference itself,
     * 0.5 x (1 + erf(x / sqrt 2)) in double, loses digits to the same cancellation (7e-5 at -7).
     */
    @Test
    void geluTail() {
        float[] x = new float[1000];
        for (int i = 0; i < x.length; i++) x[i] = -3f - 3f * i / x.length;
        check("gelu tail", 1e-5, 0, (d, o) -> {
            o[0] = t(d, x, x.length);
            o[1] = Tensor.empty(be, d, x.length);
            be.activation(Activation.GELU, o[0], o[1]);
            return o[1];
        });
    }

    /** Dropout by runs of one draw per group (same mask as the f64 path), axpby, bias broadcast and channel sums. */
    @Test
    void elementwise() {
        Random r = new Random(24);
        int outer = 3, c = 37, inner = 1001, n = outer * c * inner;
        float[] x = rand(r, n, -1, 1), y = rand(r, n, -1, 1), b = rand(r, c, -1, 1), s0 = rand(r, c, -1, 1);
        for (long group : new long[] {1, 7, inner, (long) c * inner}) {
            for (boolean acc : new boolean[] {false, true}) {
                check("dropout group " + group + " acc=" + acc, 1e-6, 1e-7, (d, o) -> {
                    o[0] = t(d, x, n);
                    o[1] = acc ? t(d, y, n) : Tensor.full(be, d, Double.NaN, n);
                    be.dropout(o[0], o[1], group, 0.3f, 1234, acc);
                    return o[1];
                });
            }
        }
        for (boolean withY : new boolean[] {false, true}) {
            check("axpby y=" + withY, 1e-6, 1e-7, (d, o) -> {
                o[0] = t(d, x, n);
                o[1] = withY ? t(d, y, n) : null;
                o[2] = Tensor.full(be, d, Double.NaN, n);
                be.axpby(0.7, o[0], -1.3, o[1], o[2]);
                return o[2];
            });
        }
        for (int[] geom : new int[][] {{outer, c, inner}, {outer * inner, c, 1}}) {
            int gn = geom[0] * geom[1] * geom[2];
            check("add bias " + java.util.Arrays.toString(geom), 1e-6, 1e-7, (d, o) -> {
                o[0] = t(d, x, gn);
                o[1] = t(d, b, c);
                be.addBias(o[0], o[1], geom[0], geom[1], geom[2]);
                return o[0];
            });
            for (boolean acc : new boolean[] {false, true}) {
                check("channel sum " + java.util.Arrays.toString(geom) + " acc=" + acc, 1e-5, 1e-5, (d, o) -> {
                    o[0] = t(d, x, gn);
                    o[1] = acc ? t(d, s0, c) : Tensor.full(be, d, Double.NaN, c);
                    be.channelSum(o[0], o[1], geom[0], geom[1], geom[2], acc);
                    return o[1];
                });
            }
        }
    }

    @Test
    void transposes() {
        Random r = new Random(22);
        int[][] shapes = {{2, 4096, 32}, {3, 37, 65}, {1, 1, 100}, {2, 33, 31}, {5, 64, 160}};
        for (int[] s : shapes) {
            int n = s[0] * s[1] * s[2];
            float[] x = rand(r, n, -1, 1), y0 = rand(r, n, -1, 1);
            for (boolean acc : new boolean[] {false, true}) {
                check("transpose " + java.util.Arrays.toString(s) + " acc=" + acc, 0, 0, (d, o) -> {
                    o[0] = t(d, x, n);
                    o[1] = acc ? t(d, y0, n) : Tensor.full(be, d, Double.NaN, n);
                    be.transpose(o[0], o[1], s[0], s[1], s[2], acc);
                    return o[1];
                });
            }
        }
    }

    @Test
    void batchNorm() {
        Random r = new Random(23);
        int[][] shapes = {{2, 19, 33, 31}, {2, 256, 8, 8}, {1, 5, 3, 7}};
        for (int[] s : shapes) {
            int n = s[0] * s[1] * s[2] * s[3], c = s[1], hw = s[2] * s[3];
            float[] x = rand(r, n, -2, 3), g = rand(r, c, 0.5, 1.5), b = rand(r, c, -1, 1), dy = rand(r, n, -1, 1);
            float[] rm = rand(r, c, -0.1, 0.1), rv = rand(r, c, 0.5, 1.5), dx0 = rand(r, n, -1, 1);
            for (boolean training : new boolean[] {true, false}) {
                for (int out = 0; out < 3; out++) {  // y, running mean, running var
                    int which = out;
                    check("batch norm forward " + java.util.Arrays.toString(s) + " training=" + training + " output " + out, 1e-5, 1e-6,
                          (d, o) -> {
                              o[0] = t(d, x, s);
                              o[1] = Tensor.full(be, d, Double.NaN, s);
                              o[2] = t(d, rm, c);
                              o[3] = t(d, rv, c);
                              o[4] = Tensor.empty(be, d, c);
                              o[5] = Tensor.empty(be, d, c);
                              o[6] = t(d, g, c);
                              o[7] = t(d, b, c);
                              be.batchNorm(o[0], o[6], o[7], o[1], o[2], o[3], o[4], o[5], s[0], c, hw, 1e-5f, 0.1f, training);
                              return o[which == 0 ? 1 : which + 1];
                          });
                }
            }
            for (boolean acc : new boolean[] {false, true}) {
                for (int out = 0; out < 3; out++) {  // dx, dgamma, dbeta
                    int which = out;
                    check("batch norm backward " + java.util.Arrays.toString(s) + " acc=" + acc + " output " + out, 1e-4, 1e-5,
                          (d, o) -> {
                              o[0] = t(d, x, s);
                              o[6] = t(d, g, c);
                              o[7] = t(d, b, c);
                              o[2] = t(d, rm, c);
                              o[3] = t(d, rv, c);
                              o[4] = Tensor.empty(be, d, c);
                              o[5] = Tensor.empty(be, d, c);
                              try (Tensor y = Tensor.empty(be, d, s)) {
                                  be.batchNorm(o[0], o[6], o[7], y, o[2], o[3], o[4], o[5], s[0], c, hw, 1e-5f, 0.1f, true);
                              }
                              o[1] = acc ? t(d, dx0, s) : Tensor.full(be, d, Double.NaN, s);
                              o[2].close();
                              o[3].close();
                              o[2] = t(d, g, c);  // dgamma, accumulated into
                              o[3] = t(d, b, c);  // dbeta
                              try (Tensor dyt = t(d, dy, s)) {
                                  be.batchNormBackward(o[0], o[6], o[4], o[5], dyt, o[1], o[2], o[3], s[0], c, hw, acc);
                              }
                              return o[which == 0 ? 1 : which + 1];
                          });
                }
            }
        }
    }
}
