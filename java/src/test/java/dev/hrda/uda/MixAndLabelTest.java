package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.TreeSet;

import static dev.hrda.uda.TestTensors.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ClassMix, pseudo-labels, the pseudo weight map, downscale_label_ratio and MIC's block mask on
 * the CPU, against brute-force references written here (outputs poisoned before each call).
 */
class MixAndLabelTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    static Tensor tensor(DType d, double[] v, int... shape) { return TestTensors.of(be, d, v, shape); }

    static Tensor poisoned(DType d, int... shape) { return TestTensors.poisoned(be, d, shape); }

    static Tensor poisonedInts(int... shape) { return TestTensors.poisonedInts(be, shape); }

    /** Train ids 0..18 with 255 sprinkled in. */
    static int[] labels(Random rnd, int n, int classes) {
        int[] l = new int[n];
        for (int i = 0; i < n; i++) l[i] = rnd.nextInt(10) == 0 ? 255 : rnd.nextInt(classes);
        return l;
    }

    // =====================================================================================
    // ClassMix
    // =====================================================================================

    @Test
    void presentClassesAreTheDistinctLabelsOfTheWholeBatch() {
        int[] l = labels(new Random(1), 2 * 9 * 11, 7);
        l[5] = 18;  // only in sample 0: still a class of the batch, as torch.unique(labels) over the batch
        TreeSet<Integer> distinct = new TreeSet<>();
        for (int v : l) distinct.add(v);
        try (Arena a = Arena.open()) {
            int[] got = ClassMix.presentClasses(be, Tensor.of(be, l, 2, 9, 11));
            assertArrayEquals(distinct.stream().mapToInt(Integer::intValue).toArray(), got);
            assertEquals(255, got[got.length - 1], "ignore (255) is one of the classes when present");
            l[7] = 256;
            Tensor bad = Tensor.of(be, l, 2, 9, 11);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClassMix.presentClasses(be, bad));
            assertTrue(e.getMessage().contains("outside 0..255"), e.getMessage());
        }
    }

    @Test
    void chooseClassesTakesHalfRoundedUpWithoutReplacement() {
        Random rnd = new Random(2);
        int[] classes = {0, 2, 3, 5, 8, 13, 255};
        int[][] chosen = ClassMix.chooseClasses(rnd, classes, 200);
        for (int[] set : chosen) {
            assertEquals(4, set.length, "ceil(7 / 2)");
            assertEquals(4, Arrays.stream(set).distinct().count(), "without replacement");
            for (int v : set) assertTrue(Arrays.binarySearch(classes, v) >= 0, v + " is a present class");
        }
        assertEquals(3, ClassMix.chooseClasses(rnd, new int[] {1, 2, 3, 4, 5, 6}, 1)[0].length, "6 classes -> 3");
        assertEquals(0, ClassMix.chooseClasses(rnd, new int[0], 1)[0].length);
    }

    @Test
    void classMixTakesSourceWhereTheLabelIsChosenElseTarget() {
        Random rnd = new Random(3);
        int b = 2, c = 3, h = 7, w = 13, hw = h * w;
        int[] src = labels(rnd, b * hw, 19), pseudo = labels(rnd, b * hw, 19);
        double[] srcImg = new double[b * c * hw], tgtImg = new double[b * c * hw], pw = new double[b * hw];
        for (int i = 0; i < srcImg.length; i++) {
            srcImg[i] = rnd.nextGaussian();
            tgtImg[i] = rnd.nextGaussian();
        }
        for (int i = 0; i < pw.length; i++) pw[i] = 0.25 + 0.5 * rnd.nextDouble();
        int[][] chosen;
        try (Tensor srcLabels = Tensor.of(be, src, b, h, w)) {
            chosen = ClassMix.chooseClasses(rnd, ClassMix.presentClasses(be, srcLabels), b);
        }
        for (DType d : new DType[] {DType.F32, DType.F64}) {
            try (Arena a = Arena.open()) {
                Tensor sets = Tensor.of(be, ClassMix.bitsets(chosen), b, 8);
                Tensor img = poisoned(d, b, c, h, w), weight = poisoned(d, b, h, w), label = poisonedInts(b, h, w);
                byte[] poison = new byte[b * hw];
                Arrays.fill(poison, (byte) 0x5a);
                Tensor mask = Tensor.ofBytes(be, poison, b, h, w);
                be.classMix(sets, tensor(d, srcImg, b, c, h, w), tensor(d, tgtImg, b, c, h, w), Tensor.of(be, src, b, h, w),
                            Tensor.of(be, pseudo, b, h, w), tensor(d, pw, b, h, w), img, label, weight, mask, b, c, h, w);
                double[] gi = img.toDoubleArray(), gw = weight.toDoubleArray();
                int[] gl = label.toIntArray();
                byte[] gm = mask.toByteArray();
                int fromSource = 0;
                for (int i = 0; i < b; i++) {
                    for (int p = 0; p < hw; p++) {
                        int e = i * hw + p;
                        boolean m = Arrays.binarySearch(chosen[i], src[e]) >= 0;
                        fromSource += m ? 1 : 0;
                        assertEquals(m ? 1 : 0, gm[e], "mask at " + e);
                        assertEquals(m ? src[e] : pseudo[e], gl[e], "label at " + e);
                        double pseudoWeight = d == DType.F32 ? (float) pw[e] : pw[e];
                        assertEquals(m ? 1.0 : pseudoWeight, gw[e], 0, "weight at " + e);
                        for (int ch = 0; ch < c; ch++) {
                            int k = (i * c + ch) * hw + p;
                            assertEquals(d == DType.F32 ? (float) (m ? srcImg[k] : tgtImg[k]) : (m ? srcImg[k] : tgtImg[k]), gi[k],
                                         "image at " + k);
                        }
                    }
                }
                assertTrue(fromSource > b * hw / 5 && fromSource < b * hw * 4 / 5, "both sources appear: " + fromSource);
            }
        }
        // the wrapper, with and without the mask
        try (Arena a = Arena.open()) {
            ClassMix.Mixed m = ClassMix.mix(be, tensor(DType.F32, srcImg, b, c, h, w), tensor(DType.F32, tgtImg, b, c, h, w),
                                            Tensor.of(be, src, b, h, w), Tensor.of(be, pseudo, b, h, w),
                                            tensor(DType.F32, pw, b, h, w), chosen, false);
            assertEquals(null, m.mask());
            int[] gl = m.label().toIntArray();
            for (int e = 0; e < b * hw; e++) {
                assertEquals(Arrays.binarySearch(chosen[e / hw], src[e]) >= 0 ? src[e] : pseudo[e], gl[e], "wrapper label at " + e);
            }
        }
    }

    // =====================================================================================
    // pseudo-labels
    // =====================================================================================

    @Test
    void pseudoLabelIsTheSoftmaxArgMaxAndCountsConfidentPixels() {
        Random rnd = new Random(4);
        int b = 2, k = 5, h = 9, w = 7, hw = h * w;
        double[] logits = new double[b * k * hw];
        for (int i = 0; i < logits.length; i++) logits[i] = 4 * rnd.nextGaussian();
        logits[2 * hw + 3] = logits[4 * hw + 3] = 50;  // a tie at pixel 3 of sample 0: the lower class wins
        double threshold = 0.968;
        int[] wantLabel = new int[b * hw];
        double[] wantProb = new double[b * hw];
        int wantConfident = 0;
        for (int i = 0; i < b; i++) {
            for (int p = 0; p < hw; p++) {
                double mx = Double.NEGATIVE_INFINITY, z = 0;
                int arg = 0;
                for (int j = 0; j < k; j++) {
                    double v = logits[(i * k + j) * hw + p];
                    if (v > mx) { mx = v; arg = j; }
                }
                for (int j = 0; j < k; j++) z += Math.exp(logits[(i * k + j) * hw + p] - mx);
                wantLabel[i * hw + p] = arg;
                wantProb[i * hw + p] = 1 / z;
                if (1 / z >= threshold) wantConfident++;
            }
        }
        assertEquals(2, wantLabel[3], "the tie resolves to the lower class");
        assertTrue(wantConfident > 5 && wantConfident < b * hw - 5, "some pixels on each side: " + wantConfident);
        try (Arena a = Arena.open()) {
            Tensor label = poisonedInts(b, h, w), prob = poisoned(DType.F64, b, h, w), count = poisonedInts(1);
            be.pseudoLabel(tensor(DType.F64, logits, b, k, h, w), label, prob, count, threshold, b, k, hw);
            assertArrayEquals(wantLabel, label.toIntArray());
            assertClose("max probability", wantProb, prob.toDoubleArray(), 1e-12);
            assertEquals(wantConfident, count.toIntArray()[0]);

            PseudoLabel.Result r = PseudoLabel.compute(be, tensor(DType.F32, logits, b, k, h, w), threshold, 0, 0, null);
            assertArrayEquals(wantLabel, r.label().toIntArray());
            assertEquals(wantConfident, r.confident());
            assertEquals((double) wantConfident / (b * hw), r.fraction(), 0, "the directly counted fraction");
            for (double v : r.weight().toDoubleArray()) assertEquals((float) r.fraction(), v, 0, "one weight for every pixel");
        }
    }

    @Test
    void weightMapZeroesIgnoredRowsAndMultipliesTheValidMask() {
        Random rnd = new Random(5);
        int b = 2, h = 11, w = 6, top = 2, bottom = 3;
        double weight = 0.640625;
        double[] valid = new double[b * h * w];
        for (int i = 0; i < valid.length; i++) valid[i] = rnd.nextInt(4) == 0 ? 0 : 1;
        try (Arena a = Arena.open()) {
            Tensor out = poisoned(DType.F32, b, h, w);
            be.pseudoWeightMap(tensor(DType.F32, valid, b, h, w), out, weight, top, bottom, b, h, w);
            double[] got = out.toDoubleArray();
            for (int i = 0; i < got.length; i++) {
                int row = (i / w) % h;
                double want = row < top || row >= h - bottom ? 0 : weight * valid[i];
                assertEquals(want, got[i], 0, "weight at " + i + " (row " + row + ")");
            }
            Tensor all = poisoned(DType.F32, b, h, w);
            be.pseudoWeightMap(null, all, weight, 0, h + 4, b, h, w);
            for (double v : all.toDoubleArray()) assertEquals(0, v, 0, "more ignored rows than the image has: all zero");
        }
    }

    // =====================================================================================
    // downscale_label_ratio
    // =====================================================================================

    /** Brute force: count every class in each block, majority with ties to the lowest class, ignore last. */
    static int[] bruteDownscale(int[] l, int b, int h, int w, int s, float minRatio, int classes) {
        int ho = h / s, wo = w / s;
        int[] out = new int[b * ho * wo];
        for (int i = 0; i < b; i++) {
            for (int oy = 0; oy < ho; oy++) {
                for (int ox = 0; ox < wo; ox++) {
                    int[] count = new int[classes + 1];
                    for (int y = oy * s; y < oy * s + s; y++) {
                        for (int x = ox * s; x < ox * s + s; x++) {
                            int v = l[(i * h + y) * w + x];
                            count[v == 255 ? classes : v]++;
                        }
                    }
                    int best = 0;
                    for (int cl = 1; cl <= classes; cl++) if (count[cl] > count[best]) best = cl;
                    boolean weak = (float) count[best] / (s * s) < minRatio;
                    out[(i * ho + oy) * wo + ox] = best == classes || weak ? 255 : best;
                }
            }
        }
        return out;
    }

    @Test
    void downscaleLabelRatioMatchesBruteForceIncludingTiesAndIgnore() {
        Random rnd = new Random(6);
        int b = 2, s = 4, classes = 5, ho = 3, wo = 4, h = ho * s + 2, w = wo * s + 3;  // trailing rows/cols dropped
        int[] l = new int[b * h * w];
        for (int i = 0; i < b; i++) {
            for (int oy = 0; oy < ho; oy++) {
                for (int ox = 0; ox < wo; ox++) {
                    int kind = (i * ho + oy) * wo + ox;
                    int major = kind % classes;
                    for (int y = 0; y < s; y++) {
                        for (int x = 0; x < s; x++) {
                            int j = y * s + x, v;
                            switch (kind % 6) {
                                case 0 -> v = major;                                      // pure block
                                case 1 -> v = j < 12 ? major : rnd.nextInt(classes);      // share >= 0.75
                                case 2 -> v = j < 8 ? 3 : 1;                              // tie 8/8: lowest class (1), share 0.5
                                case 3 -> v = j < 13 ? 255 : major;                       // ignore majority
                                case 4 -> v = j < 8 ? 255 : 2;                            // tie class vs ignore: class 2, share 0.5
                                default -> v = j < 11 ? major : 255;                      // share 11/16 < 0.75
                            }
                            l[(i * h + oy * s + y) * w + ox * s + x] = v;
                        }
                    }
                }
            }
        }
        for (int i = 0; i < l.length; i++) {  // trailing pixels outside every block: random, must not matter
            int y = (i / w) % h, x = i % w;
            if (y >= ho * s || x >= wo * s) l[i] = rnd.nextInt(classes);
        }
        for (float ratio : new float[] {0.75f, 0.5f, 0.0f}) {
            int[] want = bruteDownscale(l, b, h, w, s, ratio, classes);
            try (Arena a = Arena.open()) {
                Tensor out = poisonedInts(b, ho, wo);
                be.downscaleLabelRatio(Tensor.of(be, l, b, h, w), out, b, h, w, s, ratio, classes, 255);
                assertArrayEquals(want, out.toIntArray(), "min ratio " + ratio);
            }
        }
        int[] at075 = bruteDownscale(l, b, h, w, s, 0.75f, classes);
        assertEquals(255, at075[2], "a 50 % tie is below 0.75");
        assertEquals(1, bruteDownscale(l, b, h, w, s, 0.5f, classes)[2], "the tie goes to the lower class");
        assertEquals(2, bruteDownscale(l, b, h, w, s, 0.5f, classes)[4], "a class ties with ignore and wins");
        try (Arena a = Arena.open()) {
            Tensor out = LabelDownscale.majority(be, Tensor.of(be, l, b, h, w), s, LabelDownscale.DACS_MIN_RATIO, classes);
            assertArrayEquals(at075, out.toIntArray(), "the wrapper");
            int[] bad = l.clone();
            bad[0] = classes;
            NativeException e = assertThrows(NativeException.class,
                () -> LabelDownscale.majority(be, Tensor.of(be, bad, b, h, w), s, 0.75f, classes));
            assertTrue(e.getMessage().contains("outside [0, 5)"), e.getMessage());
        }
    }

    // =====================================================================================
    // MIC block mask
    // =====================================================================================

    @Test
    void blockMaskKeepsWholePatchesOfTheDrawnGrid() {
        Random rnd = new Random(7);
        int b = 2, c = 3, h = 24, w = 40, block = 8;  // grid 3 x 5
        BlockMask.Grid grid = BlockMask.draw(rnd, b, h, w, BlockMask.MIC_MASK_RATIO, block);
        assertEquals(3, grid.rows());
        assertEquals(5, grid.cols());
        double[] x = new double[b * c * h * w];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextGaussian();
        try (Arena a = Arena.open()) {
            Tensor out = poisoned(DType.F32, b, c, h, w);
            BlockMask.apply(be, tensor(DType.F32, x, b, c, h, w), out, grid);
            double[] got = out.toDoubleArray();
            for (int i = 0; i < x.length; i++) {
                int col = i % w, row = (i / w) % h, img = i / (w * h * c);
                int keep = grid.keep()[(img * 3 + row / block) * 5 + col / block];
                assertEquals(keep * (double) (float) x[i], got[i], 0, "pixel " + i);
            }
        }
    }

    @Test
    void blockMaskUpsamplesWithPyTorchsNearestRuleOnUnevenSizes() {
        // 100 / 64 rounds to a 2-cell side; PyTorch maps row y to floor(y * (2f / 100)) in f32
        assertEquals(2, BlockMask.gridSize(100, 64));
        assertEquals(2, BlockMask.gridSize(80, 32), "2.5 rounds to even, as Python's round");
        assertEquals(4, BlockMask.gridSize(112, 32), "3.5 rounds to even");
        int h = 100, w = 37, gh = 2, gw = 3;
        byte[] keep = {1, 0, 1, 0, 1, 1};
        double[] x = new double[h * w];
        Arrays.fill(x, 2.0);
        try (Arena a = Arena.open()) {
            Tensor out = poisoned(DType.F64, 1, 1, h, w);
            be.blockMask(Tensor.ofBytes(be, keep, 1, gh, gw), tensor(DType.F64, x, 1, 1, h, w), out, 1, 1, h, w, gh, gw);
            double[] got = out.toDoubleArray();
            for (int r = 0; r < h; r++) {
                for (int q = 0; q < w; q++) {
                    int gy = Math.min((int) Math.floor(r * ((float) gh / h)), gh - 1);
                    int gx = Math.min((int) Math.floor(q * ((float) gw / w)), gw - 1);
                    assertEquals(2.0 * keep[gy * gw + gx], got[r * w + q], 0, "pixel (" + r + ", " + q + ")");
                }
            }
        }
    }
}
