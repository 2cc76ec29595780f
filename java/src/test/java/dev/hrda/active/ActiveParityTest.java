package dev.hrda.active;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GpuParity;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;
import java.util.Random;

import static dev.hrda.active.ActiveOpsTest.nan;
import static dev.hrda.active.ActiveOpsTest.randomMask;
import static dev.hrda.active.ActiveOpsTest.softmax;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The RIPU kernels of the CUDA library (active.cu) against the CPU twin on fresh random softmax maps
 * of odd sizes spanning several 32x32 tiles, outputs poisoned (NaN / garbage) before each call.
 * Scores: f32, to 2e-5 relative (f32 entropies and sums vs f64 accumulation). Selection: both
 * libraries run on the same score map and random prior active mask; the picks, their scores, the
 * consumed map and both masks must be identical, including a round that runs out of candidates.
 * Skipped without a usable GPU; {@code -Dhrda.parity.selftest=true} checks the test itself on the CPU.
 */
@Tag("gpu")
class ActiveParityTest extends GpuParity {
    @ParameterizedTest(name = "B{0} K{1} {2}x{3} r{4} pixel={5} picks {6}")
    @CsvSource({"2, 19, 67, 131, 1, false, 150", "1, 5, 45, 77, 2, false, 60", "2, 19, 67, 131, 5, true, 40",
                "1, 16, 33, 65, 0, false, 30", "1, 19, 129, 97, 9, false, 30"})
    void scoresAndSelectionMatchTheCpuTwin(int b, int k, int h, int w, int r, boolean pixel, int count) {
        Random rnd = new Random(31L * h + w + r);
        float[] prob = softmax(rnd, b, k, h * w);
        double norm = pixel ? 1.0 : Acquisition.RA_NORM;
        float[][] ref = scores(cpu, prob, b, k, h, w, r, pixel, norm), got = scores(gpu, prob, b, k, h, w, r, pixel, norm);
        for (int i = 0; i < 3; i++) assertClose("output " + i, ref[i], got[i], 2e-5);

        RegionSelector sel = pixel ? RegionSelector.pixels(r) : RegionSelector.regions(r);
        byte[] active = randomMask(rnd, b * h * w, 0.1);
        byte[] selected = new byte[b * h * w];
        Sel a = select(cpu, ref[0], active, selected, b, h, w, count, sel);
        Sel g = select(gpu, ref[0], active, selected, b, h, w, count, sel);
        a.assertSame(g, "round 1");
        // a second round from the persisted masks that runs out of candidates
        int many = h * w;
        Sel a2 = select(cpu, ref[0], a.active, a.selected, b, h, w, many, sel);
        Sel g2 = select(gpu, ref[0], a.active, a.selected, b, h, w, many, sel);
        a2.assertSame(g2, "round 2");
        assertEquals(Float.NEGATIVE_INFINITY, a2.values[many - 1], "round 2 exhausts the map");
        Sel g3 = select(gpu, ref[0], a.active, a.selected, b, h, w, many, sel);
        g2.assertSame(g3, "repeat on the GPU (determinism)");

        try (Tensor s1 = Tensor.ofBytes(cpu, a.selected, b, h, w); Tensor s2 = Tensor.ofBytes(gpu, a.selected, b, h, w);
             Tensor gt1 = Tensor.of(cpu, labels(rnd, b * h * w, k), b, h, w); Tensor gt2 = Tensor.of(gpu, gt1.toIntArray(), b, h, w);
             Tensor m1 = RegionSelector.reveal(cpu, s1, gt1, 255); Tensor m2 = RegionSelector.reveal(gpu, s2, gt2, 255)) {
            assertArrayEquals(m1.toIntArray(), m2.toIntArray(), "revealed labels");
        }
    }

    private static float[][] scores(Backend be, float[] prob, int b, int k, int h, int w, int r, boolean pixel, double norm) {
        try (Tensor p = Tensor.of(be, prob, b, k, h, w);
             Tensor s = Tensor.of(be, nan(b * h * w), b, h, w);
             Tensor i = Tensor.of(be, nan(b * h * w), b, h, w);
             Tensor u = Tensor.of(be, nan(b * h * w), b, h, w)) {
            be.activeScore(p, s, i, u, b, k, h, w, r, pixel, norm);
            return new float[][] {s.toFloatArray(), i.toFloatArray(), u.toFloatArray()};
        }
    }

    private record Sel(int[] picks, float[] values, float[] score, byte[] active, byte[] selected) {
        void assertSame(Sel o, String what) {
            assertArrayEquals(picks, o.picks, what + ": picks");
            assertArrayEquals(values, o.values, what + ": pick scores");
            assertArrayEquals(score, o.score, what + ": consumed score map");
            assertArrayEquals(active, o.active, what + ": active mask");
            assertArrayEquals(selected, o.selected, what + ": selected mask");
        }
    }

    private static Sel select(Backend be, float[] score, byte[] active, byte[] selected, int b, int h, int w, int count,
                              RegionSelector sel) {
        int[] garbage = new int[b * count * 2];
        Arrays.fill(garbage, -7);
        try (Tensor s = Tensor.of(be, score, b, h, w); Tensor a = Tensor.ofBytes(be, active, b, h, w);
             Tensor d = Tensor.ofBytes(be, selected, b, h, w); Tensor p = Tensor.of(be, garbage, b, count, 2);
             Tensor v = Tensor.of(be, nan(b * count), b, count)) {
            be.activeSelect(s, a, d, p, v, b, h, w, count, sel.activeRadius(), sel.maskRadius());
            int[] picks = p.toIntArray();
            assertTrue(Arrays.stream(picks).allMatch(x -> x >= 0), "every pick written");
            return new Sel(picks, v.toFloatArray(), s.toFloatArray(), a.toByteArray(), d.toByteArray());
        }
    }

    private static int[] labels(Random rnd, int n, int k) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = rnd.nextDouble() < 0.2 ? 255 : rnd.nextInt(k);
        return v;
    }

    private static void assertClose(String what, float[] want, float[] got, double tol) {
        for (int i = 0; i < want.length; i++) {
            if (!(Math.abs(want[i] - got[i]) <= tol * Math.max(1, Math.abs(want[i])))) {
                fail(what + " at " + i + ": " + got[i] + " vs CPU " + want[i]);
            }
        }
    }
}
