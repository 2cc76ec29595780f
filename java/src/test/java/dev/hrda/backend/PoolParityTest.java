package dev.hrda.backend;

import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.hrda.backend.CudaParityTest.EXACT;
import static dev.hrda.backend.CudaParityTest.TIGHT;
import static dev.hrda.backend.CudaParityTest.assertClose;
import static dev.hrda.backend.CudaParityTest.bf16;
import static dev.hrda.backend.CudaParityTest.rand;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Max pooling (pool.h) on CUDA against the CPU twin, odd sizes, outputs poisoned: the maximum and
 * its recorded arg-max are exact in f32 and in bf16 (a max rounds nothing), ties included (inputs
 * quantised to a few levels: both take the window's first maximum); the backward within TIGHT (the
 * CPU scatters into dx, the GPU gathers then adds: the same terms, another order when accumulating).
 */
@Tag("gpu")
class PoolParityTest extends GpuParity {
    private record Shape(int nc, int h, int w, int k, int s, int p) {
        int ho() { return (h + 2 * p - k) / s + 1; }
        int wo() { return (w + 2 * p - k) / s + 1; }
    }

    private static final Shape[] SHAPES = {new Shape(6, 37, 45, 3, 2, 1), new Shape(3, 16, 16, 3, 2, 1), new Shape(5, 9, 7, 2, 2, 0),
                                           new Shape(2, 13, 11, 3, 1, 1)};

    /** Values on 5 levels (ties in most windows) or continuous. */
    private static float[] input(long seed, int n, boolean ties) {
        float[] v = rand(seed, n, -2, 2);
        if (ties) for (int i = 0; i < v.length; i++) v[i] = Math.round(v[i]);
        return v;
    }

    private static float[] nan(long n) {
        float[] v = new float[Math.toIntExact(n)];
        Arrays.fill(v, Float.NaN);
        return v;
    }

    /** y, argmax, dx (accumulated into a random dx when acc). */
    private static float[][] run(Backend b, DType d, Shape s, float[] x, float[] dy, float[] dx0, boolean acc) {
        try (Arena a = Arena.open()) {
            Tensor tx = Tensor.empty(b, d, s.nc, s.h, s.w), ty = Tensor.empty(b, d, s.nc, s.ho(), s.wo());
            tx.copyFrom(x);
            ty.copyFrom(nan(ty.numel()));
            int[] poison = new int[Math.toIntExact(ty.numel())];
            Arrays.fill(poison, -77);
            Tensor idx = Tensor.of(b, poison, s.nc, s.ho(), s.wo());
            b.maxPool2d(tx, ty, idx, s.nc, s.h, s.w, s.ho(), s.wo(), s.k, s.s, s.p);
            Tensor tdy = Tensor.empty(b, d, s.nc, s.ho(), s.wo()), tdx = Tensor.empty(b, d, s.nc, s.h, s.w);
            tdy.copyFrom(dy);
            tdx.copyFrom(acc ? dx0 : nan(tdx.numel()));
            b.maxPool2dBackward(tdy, idx, tdx, s.nc, s.h, s.w, s.ho(), s.wo(), s.k, s.s, s.p, acc);
            int[] ii = idx.toIntArray();
            float[] fi = new float[ii.length];
            for (int i = 0; i < ii.length; i++) fi[i] = ii[i];
            return new float[][] {ty.toFloatArray(), fi, tdx.toFloatArray()};
        }
    }

    @Test void maxPoolMatchesTheCpuTwin() {
        long seed = 1;
        for (Shape s : SHAPES) {
            for (boolean ties : new boolean[] {false, true}) {
                for (boolean acc : new boolean[] {false, true}) {
                    String tag = s + (ties ? " ties" : "") + (acc ? " acc" : "");
                    float[] x = input(seed++, s.nc * s.h * s.w, ties), dy = rand(seed++, s.nc * s.ho() * s.wo()),
                            dx0 = rand(seed++, s.nc * s.h * s.w);
                    float[][] ref = run(cpu, DType.F32, s, x, dy, dx0, acc), got = run(gpu, DType.F32, s, x, dy, dx0, acc);
                    assertClose("maxPool2d y " + tag, ref[0], got[0], EXACT);
                    assertArrayEquals(ref[1], got[1], 0f, "maxPool2d argmax " + tag);
                    assertClose("maxPool2d dx " + tag, ref[2], got[2], TIGHT);
                    if (!SELF_TEST) {
                        // bf16: the maximum of bf16 values is one of them, and so is its index
                        float[] xb = bf16(x);
                        float[][] low = run(cpu, DType.F32, s, xb, bf16(dy), bf16(dx0), false), gb = run(gpu, DType.BF16, s, xb, bf16(dy), bf16(dx0), false);
                        assertClose("maxPool2d y bf16 " + tag, low[0], gb[0], EXACT);
                        assertArrayEquals(low[1], gb[1], 0f, "maxPool2d argmax bf16 " + tag);
                    }
                }
            }
        }
    }
}
