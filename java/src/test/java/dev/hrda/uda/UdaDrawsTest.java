package dev.hrda.uda;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The random parameters of the uda wrappers: the same seed gives the same draws (Random and
 * SplittableRandom), and over many draws with a fixed seed the frequencies and ranges are DACS's
 * (bounds generous enough for a fixed seed, tight enough to catch a wrong rule).
 */
class UdaDrawsTest {
    private static final int N = 4000;

    @Test
    void sameSeedSameDraws() {
        StrongAugment aug = StrongAugment.dacs();
        int[] classes = {0, 1, 4, 9, 13, 255};
        for (int seed = 0; seed < 20; seed++) {
            StrongAugment.Params a = aug.draw(new Random(seed), 3), b = aug.draw(new Random(seed), 3);
            assertEquals(a.jitter(), b.jitter());
            assertEquals(a.blur(), b.blur());
            assertArrayEquals(a.factors(), b.factors());
            assertArrayEquals(a.order(), b.order());
            assertArrayEquals(a.sigma(), b.sigma());
            assertArrayEquals(ClassMix.chooseClasses(new SplittableRandom(seed), classes, 2),
                              ClassMix.chooseClasses(new SplittableRandom(seed), classes, 2));
            assertArrayEquals(BlockMask.draw(new SplittableRandom(seed), 2, 64, 96, 0.7, 16).keep(),
                              BlockMask.draw(new SplittableRandom(seed), 2, 64, 96, 0.7, 16).keep());
        }
        assertNotEquals(Arrays.toString(aug.draw(new Random(1), 3).factors()), Arrays.toString(aug.draw(new Random(2), 3).factors()),
                        "different seeds, different draws");
    }

    @Test
    void jitterAndBlurFollowDacsProbabilitiesAndKorniaRanges() {
        StrongAugment aug = StrongAugment.dacs();
        Random rnd = new Random(99);
        int jitters = 0, blurs = 0, samples = 0;
        double[] sum = new double[4];
        double sigmaSum = 0;
        Map<String, Integer> orders = new HashMap<>();
        for (int it = 0; it < N; it++) {
            StrongAugment.Params p = aug.draw(rnd, 2);
            if (p.jitter()) {
                jitters++;
                for (int i = 0; i < 2; i++) {
                    samples++;
                    for (int j = 0; j < 4; j++) {
                        float f = p.factors()[4 * i + j];
                        boolean hue = j == StrongAugment.HUE;
                        double lo = hue ? -0.2 : 0.8, hi = hue ? 0.2 : 1.2;
                        assertTrue(f >= lo && f <= hi, "factor " + j + " = " + f + " within [" + lo + ", " + hi + "]");
                        sum[j] += f;
                    }
                    int[] order = Arrays.copyOfRange(p.order(), 4 * i, 4 * i + 4), sorted = order.clone();
                    Arrays.sort(sorted);
                    assertArrayEquals(new int[] {0, 1, 2, 3}, sorted, "an order is a permutation of 0..3");
                    orders.merge(Arrays.toString(order), 1, Integer::sum);
                }
            } else {
                for (float f : p.factors()) assertEquals(0f, f, "no factors drawn without jitter");
            }
            if (p.blur()) {
                blurs++;
                for (float s : p.sigma()) {
                    assertTrue(s >= 0.15f && s <= 1.15f, "sigma " + s);
                    sigmaSum += s;
                }
            }
        }
        assertEquals(0.8, jitters / (double) N, 0.03, "colour jitter when the draw exceeds 0.2");
        assertEquals(0.5, blurs / (double) N, 0.03, "blur when the draw exceeds 0.5");
        double[] centre = {1, 1, 1, 0};
        for (int j = 0; j < 4; j++) assertEquals(centre[j], sum[j] / samples, 0.01, "mean of factor " + j);
        assertEquals(0.65, sigmaSum / (2 * blurs), 0.01, "sigma ~ U(0.15, 1.15)");
        assertEquals(24, orders.size(), "every order of the four adjustments occurs");
        for (Map.Entry<String, Integer> e : orders.entrySet()) {
            assertEquals(samples / 24.0, e.getValue(), samples / 24.0 * 0.3, "order " + e.getKey() + " is uniform");
        }
    }

    @Test
    void classMixChoosesEachClassWithProbabilityHalfRoundedUp() {
        int[] classes = {0, 2, 5, 7, 11, 12, 255};
        int[] hits = new int[256];
        SplittableRandom rnd = new SplittableRandom(7);
        for (int[] set : ClassMix.chooseClasses(rnd, classes, N)) for (int v : set) hits[v]++;
        for (int v : classes) assertEquals(4.0 / 7, hits[v] / (double) N, 0.03, "class " + v + " chosen with p = 4/7");
    }

    @Test
    void blockMaskKeepsThirtyPercentOfPatches() {
        BlockMask.Grid g = BlockMask.draw(new Random(8), 4, 1024, 1024, BlockMask.MIC_MASK_RATIO, BlockMask.MIC_HRDA_BLOCK);
        assertEquals(16, g.rows());
        assertEquals(16, g.cols());
        int kept = 0;
        for (byte k : g.keep()) {
            assertTrue(k == 0 || k == 1);
            kept += k;
        }
        assertEquals(0.3, kept / (double) g.keep().length, 0.05, "patches kept when the draw exceeds 0.7");
    }
}
