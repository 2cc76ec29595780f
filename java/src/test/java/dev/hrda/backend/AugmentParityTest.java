package dev.hrda.backend;

import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static dev.hrda.backend.CudaParityTest.EXACT;
import static dev.hrda.backend.CudaParityTest.TIGHT;
import static dev.hrda.backend.CudaParityTest.Tol;
import static dev.hrda.backend.CudaParityTest.assertBf16;
import static dev.hrda.backend.CudaParityTest.assertClose;
import static dev.hrda.backend.CudaParityTest.bf16;
import static dev.hrda.backend.CudaParityTest.rand;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The DACS transform and pseudo-label kernels of {@link CudaBackend} (augment.h) against the CPU
 * twins on fresh random inputs of odd sizes, outputs poisoned before each call. f32: pointwise
 * tolerance (TIGHT) for colour jitter and blur, bit-exact for selections, labels and counts.
 * bf16: {@link CudaParityTest}'s rule, at most twice the error of the CPU run on bf16-rounded
 * inputs with bf16-rounded outputs (integer outputs then match exactly).
 *
 * <p>Skipped where CUDA is not usable; {@code -Dhrda.parity.selftest=true} runs the f32 checks
 * with a second CpuBackend standing in for CUDA.
 */
@Tag("gpu")
class AugmentParityTest extends GpuParity {
    private static final DType F32 = DType.F32, BF16 = DType.BF16;
    private static final float[] MEAN = {123.675f, 116.28f, 103.53f}, STD = {58.395f, 57.12f, 57.375f};

    /** Tensors of one run: data tensors in dtype d (bf16-rounded for the low-precision reference). */
    private record Io(Backend b, DType d, boolean lowRef) {
        Tensor data(float[] v, int... shape) {
            Tensor t = Tensor.empty(b, d, shape);
            t.copyFrom(lowRef ? bf16(v) : v);
            return t;
        }

        Tensor f32(float[] v, int... shape) { return Tensor.of(b, v, shape); }

        Tensor i32(int[] v, int... shape) { return Tensor.of(b, v, shape); }

        Tensor u8(byte[] v, int... shape) { return Tensor.ofBytes(b, v, shape); }

        /** NaN of dtype d, uploaded from the host (fill does not cover bf16 on the CPU). */
        Tensor out(int... shape) {
            Tensor t = Tensor.empty(b, d, shape);
            float[] nan = new float[Math.toIntExact(t.numel())];
            Arrays.fill(nan, Float.NaN);
            t.copyFrom(nan);
            return t;
        }

        Tensor outInts(int... shape) {
            int[] v = new int[Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
            Arrays.fill(v, -77777);
            return Tensor.of(b, v, shape);
        }

        Tensor outBytes(int... shape) {
            byte[] v = new byte[Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
            Arrays.fill(v, (byte) 0x5a);
            return Tensor.ofBytes(b, v, shape);
        }

        /** Floats of any output; data-typed outputs of the low-precision reference rounded to bf16. */
        float[] values(Tensor t) {
            if (t.dtype() == DType.I32) {
                int[] v = t.toIntArray();
                float[] f = new float[v.length];
                for (int i = 0; i < v.length; i++) f[i] = v[i];
                return f;
            }
            float[] f = t.toFloatArray();
            return lowRef && t.dtype() == F32 && d == F32 ? bf16(f) : f;
        }

        float[][] read(Tensor... ts) {
            float[][] r = new float[ts.length][];
            for (int i = 0; i < ts.length; i++) r[i] = values(ts[i]);
            return r;
        }
    }

    @FunctionalInterface
    private interface Op {
        float[][] apply(Io io);
    }

    private static float[][] runOn(Backend b, DType d, boolean lowRef, Op op) {
        try (Arena a = Arena.open()) {
            return op.apply(new Io(b, d, lowRef));
        }
    }

    /** CPU f32 vs GPU f32 with tol (and bf16 by the twice-the-error rule when bf16 is set). */
    private void parity(String name, Tol tol, boolean bf16, Op op) {
        float[][] ref = runOn(cpu, F32, false, op), got = runOn(gpu, F32, false, op);
        assertEquals(ref.length, got.length, name);
        for (int i = 0; i < ref.length; i++) assertClose(name + " [f32, output " + i + "]", ref[i], got[i], tol);
        if (bf16 && !SELF_TEST) {
            float[][] low = runOn(cpu, F32, true, op), gb = runOn(gpu, BF16, false, op);
            for (int i = 0; i < ref.length; i++) assertBf16(name + " [bf16, output " + i + "]", ref[i], low[i], gb[i]);
        }
    }

    /** Normalised RGB images from pixel values in [0, 255]. */
    private static float[] images(long seed, int b, int hw) {
        Random rnd = new Random(seed);
        float[] x = new float[b * 3 * hw];
        for (int i = 0; i < x.length; i++) {
            int k = (i / hw) % 3;
            x[i] = (rnd.nextInt(256) - MEAN[k]) / STD[k];
        }
        return x;
    }

    private static int[] labels(long seed, int n, int classes) {
        Random rnd = new Random(seed);
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = rnd.nextInt(9) == 0 ? 255 : rnd.nextInt(classes);
        return l;
    }

    @Test
    void colorJitter() {
        int b = 3, h = 5, w = 7;
        float[] x = images(1, b, h * w);
        Random rnd = new Random(2);
        float[] factors = new float[4 * b];
        for (int i = 0; i < b; i++) {
            for (int j = 0; j < 3; j++) factors[4 * i + j] = (float) (0.8 + 0.4 * rnd.nextDouble());
            factors[4 * i + 3] = (float) (0.4 * rnd.nextDouble() - 0.2);
        }
        int[] order = {3, 1, 0, 2, 0, 2, 3, 1, 2, 3, 1, 0};
        parity("colorJitter", TIGHT, true, io -> {
            Tensor y = io.out(b, 3, h, w);
            io.b().colorJitter(io.data(x, b, 3, h, w), y, io.f32(factors, b, 4), io.i32(order, b, 4), MEAN, STD, b, h, w);
            return io.read(y);
        });
        parity("colorJitter in place", TIGHT, true, io -> {
            Tensor xt = io.data(x, b, 3, h, w);
            io.b().colorJitter(xt, xt, io.f32(factors, b, 4), io.i32(order, b, 4), MEAN, STD, b, h, w);
            return io.read(xt);
        });
    }

    @Test
    void gaussianBlur() {
        // {b, c, h, w, kh, kw}: odd sizes; rows of several 256-column tiles; radius = size - 1
        int[][] cases = {{2, 3, 13, 29, 5, 9}, {1, 3, 6, 600, 3, 61}, {2, 1, 4, 5, 7, 9}};
        for (int[] s : cases) {
            int b = s[0], c = s[1], h = s[2], w = s[3], kh = s[4], kw = s[5];
            float[] x = rand(10 + w, b * c * h * w, -2, 2), sigma = rand(11, b, 0.15, 1.15);
            String tag = Arrays.toString(s);
            parity("gaussianBlur " + tag, TIGHT, true, io -> {
                Tensor y = io.out(b, c, h, w);
                io.b().gaussianBlur(io.data(x, b, c, h, w), y, io.f32(sigma, b), b, c, h, w, kh, kw);
                return io.read(y);
            });
        }
        float[] x = rand(12, 2 * 3 * 9 * 11, -2, 2), sigma = {0.4f, 1.1f};
        parity("gaussianBlur in place", TIGHT, true, io -> {
            Tensor xt = io.data(x, 2, 3, 9, 11);
            io.b().gaussianBlur(xt, xt, io.f32(sigma, 2), 2, 3, 9, 11, 3, 5);
            return io.read(xt);
        });
    }

    @Test
    void labelPresenceAndClassMix() {
        int b = 2, c = 3, h = 9, w = 13, hw = h * w;
        int[] src = labels(20, b * hw, 19), pseudo = labels(21, b * hw, 19);
        src[17] = 300;  // outside 0..255: counted in word 8, never chosen
        src[18] = -1;
        parity("labelPresence", EXACT, false, io -> {
            Tensor present = io.outInts(9);
            io.b().labelPresence(io.i32(src, b, h, w), present);
            return io.read(present);
        });
        int[] sets = new int[b * 8];
        for (int v : new int[] {0, 3, 4, 9, 17, 255}) sets[v >>> 5] |= 1 << (v & 31);
        for (int v : new int[] {1, 2, 9, 11, 18}) sets[8 + (v >>> 5)] |= 1 << (v & 31);
        float[] si = rand(22, b * c * hw), ti = rand(23, b * c * hw), pw = rand(24, b * hw, 0, 1);
        parity("classMix", EXACT, true, io -> {
            Tensor img = io.out(b, c, h, w), weight = io.out(b, h, w), label = io.outInts(b, h, w), mask = io.outBytes(b, h, w);
            io.b().classMix(io.i32(sets, b, 8), io.data(si, b, c, h, w), io.data(ti, b, c, h, w), io.i32(src, b, h, w),
                            io.i32(pseudo, b, h, w), io.data(pw, b, h, w), img, label, weight, mask, b, c, h, w);
            return io.read(img, label, weight, mask);
        });
    }

    /** Logits whose max probabilities keep away from the threshold, so that f32 rounding cannot flip a count. */
    private static float[] logitsAwayFrom(double threshold, long seed, int b, int k, int hw) {
        Random rnd = new Random(seed);
        float[] x = new float[b * k * hw];
        for (int i = 0; i < x.length; i++) x[i] = (float) (3 * rnd.nextGaussian());
        for (int i = 0; i < b; i++) {
            for (int p = 0; p < hw; p++) {
                if (rnd.nextInt(3) == 0) x[(i * k + rnd.nextInt(k)) * hw + p] += 9;  // confident pixels
                while (true) {
                    double mx = Double.NEGATIVE_INFINITY, z = 0;
                    int arg = 0;
                    for (int j = 0; j < k; j++) if (x[(i * k + j) * hw + p] > mx) { mx = x[(i * k + j) * hw + p]; arg = j; }
                    for (int j = 0; j < k; j++) z += Math.exp(x[(i * k + j) * hw + p] - mx);
                    if (Math.abs(1 / z - threshold) > 1e-3) break;
                    x[(i * k + arg) * hw + p] += 1;
                }
            }
        }
        return x;
    }

    @Test
    void pseudoLabelAndWeightMap() {
        int b = 2, k = 19, h = 11, w = 13, hw = h * w;
        double threshold = 0.968;
        float[] logits = logitsAwayFrom(threshold, 30, b, k, hw);
        parity("pseudoLabel", TIGHT, true, io -> {
            Tensor label = io.outInts(b, h, w), prob = io.out(b, h, w), count = io.outInts(1);
            io.b().pseudoLabel(io.data(logits, b, k, h, w), label, prob, count, threshold, b, k, hw);
            return io.read(label, prob, count);
        });
        float[][] labelsAndCount = runOn(gpu, F32, false, io -> {
            Tensor label = io.outInts(b, h, w), count = io.outInts(1);
            io.b().pseudoLabel(io.data(logits, b, k, h, w), label, null, count, threshold, b, k, hw);
            return io.read(label, count);
        });
        float confident = labelsAndCount[1][0];
        assertTrue(confident > hw / 4 && confident < 2 * hw - hw / 4, "both confident and unsure pixels: " + confident);
        float[] valid = new float[b * hw];
        for (int i = 0; i < valid.length; i++) valid[i] = i % 5 == 0 ? 0 : 1;
        parity("pseudoWeightMap", EXACT, true, io -> {
            Tensor out = io.out(b, h, w), plain = io.out(b, h, w);
            io.b().pseudoWeightMap(io.data(valid, b, h, w), out, 0.640625, 2, 3, b, h, w);
            io.b().pseudoWeightMap(null, plain, 0.3, 1, 0, b, h, w);
            return io.read(out, plain);
        });
    }

    @Test
    void downscaleLabelRatio() {
        int b = 2, s = 8, classes = 19, h = 5 * s + 3, w = 7 * s + 5;
        int[] l = labels(40, b * h * w, 4);  // few classes: majorities above and below 0.75 both occur
        Random rnd = new Random(41);
        for (int blk = 0; blk < 10; blk++) {  // some pure blocks
            int i = rnd.nextInt(b), oy = rnd.nextInt(5), ox = rnd.nextInt(7), v = rnd.nextInt(classes);
            for (int y = 0; y < s; y++) for (int x = 0; x < s; x++) l[(i * h + oy * s + y) * w + ox * s + x] = v;
        }
        for (float ratio : new float[] {0.75f, 0.3f}) {
            parity("downscaleLabelRatio min ratio " + ratio, EXACT, false, io -> {
                Tensor out = io.outInts(b, h / s, w / s);
                io.b().downscaleLabelRatio(io.i32(l, b, h, w), out, b, h, w, s, ratio, classes, 255);
                return io.read(out);
            });
        }
    }

    @Test
    void blockMask() {
        int b = 2, c = 3, h = 100, w = 37, gh = 2, gw = 3;  // sizes that are not multiples of the grid
        byte[] keep = {1, 0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0};
        float[] x = rand(50, b * c * h * w);
        parity("blockMask", EXACT, true, io -> {
            Tensor y = io.out(b, c, h, w), inPlace = io.data(x, b, c, h, w);
            io.b().blockMask(io.u8(keep, b, gh, gw), io.data(x, b, c, h, w), y, b, c, h, w, gh, gw);
            io.b().blockMask(io.u8(keep, b, gh, gw), inPlace, inPlace, b, c, h, w, gh, gw);
            return io.read(y, inPlace);
        });
    }

    /** The blur and the pseudo-label count give identical bits when run again (no float atomics). */
    @Test
    void reductionsAreDeterministic() {
        float[] x = rand(60, 2 * 3 * 64 * 300, -2, 2), sigma = {0.3f, 1.1f};
        float[] logits = logitsAwayFrom(0.968, 61, 2, 19, 64 * 80);
        Op op = io -> {
            Tensor y = io.out(2, 3, 64, 300), label = io.outInts(2, 64, 80), count = io.outInts(1);
            io.b().gaussianBlur(io.data(x, 2, 3, 64, 300), y, io.f32(sigma, 2), 2, 3, 64, 300, 7, 31);
            io.b().pseudoLabel(io.data(logits, 2, 19, 64, 80), label, null, count, 0.968, 2, 19, 64 * 80);
            return io.read(y, label, count);
        };
        for (DType d : SELF_TEST ? new DType[] {F32} : new DType[] {F32, BF16}) {
            float[][] first = runOn(gpu, d, false, op);
            for (int run = 1; run < 3; run++) {
                float[][] again = runOn(gpu, d, false, op);
                for (int i = 0; i < first.length; i++) {
                    if (!Arrays.equals(first[i], again[i])) fail(d + " output " + i + " differs in run " + run + " at "
                                                                 + Arrays.mismatch(first[i], again[i]));
                }
            }
        }
    }
}
