package dev.hrda.active;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Determinism, the budget on a larger map, argument errors of the active ops (CPU library). */
class ActiveOpsTest {
    private Backend be;

    @BeforeEach
    void open() { be = new CpuBackend(); }

    @AfterEach
    void close() { be.close(); }

    static float[] softmax(Random rnd, int b, int k, int hw) {
        float[] p = new float[b * k * hw];
        for (int i = 0; i < b; i++)
            for (int q = 0; q < hw; q++) {
                double[] e = new double[k];
                double s = 0;
                for (int c = 0; c < k; c++) s += e[c] = Math.exp(3 * rnd.nextGaussian());
                for (int c = 0; c < k; c++) p[(i * k + c) * hw + q] = (float) (e[c] / s);
            }
        return p;
    }

    private record Round(float[] score, int[] h, int[] w, byte[] active, byte[] selected) {}

    private Round round(float[] prob, int b, int k, int h, int w, int r, boolean pixel, int count) {
        RegionSelector sel = pixel ? RegionSelector.pixels(r) : RegionSelector.regions(r);
        try (Tensor p = Tensor.of(be, prob, b, k, h, w);
             Acquisition.Scores s = Acquisition.scores(be, p, pixel ? Acquisition.Mode.PIXEL : Acquisition.Mode.REGION, r, true);
             Tensor active = Tensor.ofBytes(be, new byte[b * h * w], b, h, w);
             Tensor selected = Tensor.ofBytes(be, new byte[b * h * w], b, h, w)) {
            float[] score = s.score().toFloatArray();
            RegionSelector.Picks picks = sel.select(be, s.score(), active, selected, count);
            return new Round(score, picks.h()[b - 1], picks.w()[b - 1], active.toByteArray(), selected.toByteArray());
        }
    }

    @Test
    void deterministicAndExactBudgetOnALargerMap() {
        int b = 2, k = 19, h = 129, w = 257;
        float[] prob = softmax(new Random(5), b, k, h * w);
        int count = Budget.parse("22%").picksPerRound(h, w, 5, 1);  // a dense round: 163 regions
        Round a = round(prob, b, k, h, w, 1, false, count), again = round(prob, b, k, h, w, 1, false, count);
        assertArrayEquals(a.score, again.score);
        assertArrayEquals(a.h, again.h);
        assertArrayEquals(a.w, again.w);
        assertArrayEquals(a.selected, again.selected);
        long sel = 0, paid = 0;
        for (int i = h * w; i < 2 * h * w; i++) sel += a.selected[i];  // image 1
        for (int j = 0; j < count; j++) paid += (Math.min(a.h[j] + 1, h - 1) - Math.max(a.h[j] - 1, 0) + 1)
                                              * (long) (Math.min(a.w[j] + 1, w - 1) - Math.max(a.w[j] - 1, 0) + 1);
        assertEquals(paid, sel, "selected pixels = the picks' clipped 3x3 squares");
        assertTrue(paid > 9L * count - 3L * count, "most regions are whole");
        Round pa = round(prob, b, k, h, w, 4, true, 30), pa2 = round(prob, b, k, h, w, 4, true, 30);
        assertArrayEquals(pa.score, pa2.score);
        assertArrayEquals(pa.h, pa2.h);
        long px = 0;
        for (int i = h * w; i < 2 * h * w; i++) px += pa.selected[i];
        assertEquals(30, px, "PA labels one pixel per pick");
    }

    @Test
    void nativeArgumentChecksNameTheArgument() {
        try (Tensor p = Tensor.of(be, softmax(new Random(1), 1, 3, 35), 1, 3, 5, 7);
             Tensor s = Tensor.empty(be, DType.F32, 1, 5, 7);
             Tensor a = Tensor.ofBytes(be, new byte[35], 1, 5, 7);
             Tensor sel = Tensor.ofBytes(be, new byte[35], 1, 5, 7);
             Tensor picks = Tensor.empty(be, DType.I32, 1, 2, 2)) {
            assertMessage("radius", () -> be.activeScore(p, s, null, null, 1, 3, 5, 7, -1, false, 1.0));
            assertMessage("norm", () -> be.activeScore(p, s, null, null, 1, 3, 5, 7, 1, false, 0.0));
            assertMessage("K (classes)", () -> be.activeScore(p, s, null, null, 1, 0, 5, 7, 1, false, 1.0));
            assertMessage("'score'", () -> be.activeScore(p, null, null, null, 1, 3, 5, 7, 1, false, 1.0));
            assertMessage("count", () -> be.activeSelect(s, a, sel, picks, null, 1, 5, 7, -2, 1, 2));
            assertMessage("mask_radius", () -> be.activeSelect(s, a, sel, picks, null, 1, 5, 7, 2, 1, -2));
            assertMessage("'picks'", () -> be.activeSelect(s, a, sel, null, null, 1, 5, 7, 2, 1, 2));
            assertMessage("H x W", () -> be.activeSelect(s, a, sel, picks, null, 1, 0, 7, 2, 1, 2));
            try (Tensor i32 = Tensor.empty(be, DType.I32, 1, 5, 7)) {
                assertMessage("dtype", () -> be.activeScore(i32, s, null, null, 1, 1, 5, 7, 1, false, 1.0));
            }
        }
    }

    @Test
    void javaArgumentChecks() {
        try (Tensor p3 = Tensor.zeros(be, DType.F32, 3, 5, 7);
             Tensor s = Tensor.zeros(be, DType.F32, 5, 7);
             Tensor a = Tensor.ofBytes(be, new byte[35], 5, 7);
             Tensor wrong = Tensor.ofBytes(be, new byte[36], 6, 6);
             Tensor gt = Tensor.zeros(be, DType.F32, 5, 7)) {
            assertThrows(IllegalArgumentException.class, () -> Acquisition.region(be, p3, 1, false));
            assertThrows(IllegalArgumentException.class, () -> RegionSelector.regions(-1));
            assertThrows(IllegalArgumentException.class, () -> RegionSelector.regions(1).select(be, s, wrong, a, 3));
            assertThrows(IllegalArgumentException.class, () -> RegionSelector.regions(1).select(be, s, a, a, -1));
            assertThrows(IllegalArgumentException.class, () -> RegionSelector.reveal(be, a, gt, 255));
        }
    }

    @Test
    void revealKeepsIgnoredGroundTruthAndMarksTheRestIgnored() {
        byte[] sel = {1, 0, 1, 1, 0, 0};
        int[] gt = {3, 4, 255, 0, 7, 255};
        try (Tensor s = Tensor.ofBytes(be, sel, 2, 3); Tensor g = Tensor.of(be, gt, 2, 3);
             Tensor m = RegionSelector.reveal(be, s, g, 255)) {
            assertArrayEquals(new int[] {3, 255, 255, 0, 255, 255}, m.toIntArray());
        }
    }

    private static void assertMessage(String part, Runnable r) {
        NativeException e = assertThrows(NativeException.class, r::run);
        assertTrue(e.getMessage().contains(part), () -> "message should name " + part + ": " + e.getMessage());
    }

    static byte[] randomMask(Random rnd, int n, double p) {
        byte[] m = new byte[n];
        for (int i = 0; i < n; i++) m[i] = (byte) (rnd.nextDouble() < p ? 1 : 0);
        return m;
    }

    static float[] nan(int n) {
        float[] v = new float[n];
        Arrays.fill(v, Float.NaN);
        return v;
    }
}
