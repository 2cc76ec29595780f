package dev.hrda.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RareClassSamplerTest {
    static final int[] CLS = {LabelMaps.ROAD, LabelMaps.BUILDING, LabelMaps.CAR, LabelMaps.POLE, LabelMaps.PERSON, LabelMaps.BICYCLE};
    static final long[] N = {1_000_000, 500_000, 100_000, 20_000, 10_000, 5_000};

    /** Two files per class; the second has too few pixels to be a candidate. */
    static RareClassStats stats() {
        List<RareClassStats.FileStats> files = new ArrayList<>();
        for (int k = 0; k < CLS.length; k++) {
            long[] a = new long[19], b = new long[19];
            a[CLS[k]] = N[k] - 1000;
            b[CLS[k]] = 1000;
            files.add(new RareClassStats.FileStats("data/gta/labels/a" + k + "_labelTrainIds.png", a));
            files.add(new RareClassStats.FileStats("data/gta/labels/b" + k + "_labelTrainIds.png", b));
        }
        return new RareClassStats(files);
    }

    /** P(c) = softmax((1 - f_c) / T), computed independently. */
    static double[] expected(double t) {
        double sum = 0;
        for (long n : N) sum += n;
        double[] e = new double[N.length];
        double z = 0;
        for (int k = 0; k < N.length; k++) {
            e[k] = Math.exp((1 - N[k] / sum) / t);
            z += e[k];
        }
        for (int k = 0; k < N.length; k++) e[k] /= z;
        return e;
    }

    @Test
    void probabilitiesFollowTheTemperatureSoftmaxRarestFirst() {
        RareClassSampler r = RareClassSampler.hrda(stats(), 2.0);
        assertArrayEquals(new int[] {LabelMaps.BICYCLE, LabelMaps.PERSON, LabelMaps.POLE, LabelMaps.CAR, LabelMaps.BUILDING, LabelMaps.ROAD},
                          r.classes());
        double[] e = expected(0.01);
        for (int k = 0; k < CLS.length; k++) assertEquals(e[k], r.probability(CLS[k]), 1e-12, "class " + CLS[k]);
        assertEquals(6000.0, r.minCropPixels());
        // road is almost never drawn at T = 0.01
        assertTrue(r.probability(LabelMaps.ROAD) < 1e-10);
        // only files with more than min_pixels (3000) are candidates
        assertEquals(List.of("a3_labelTrainIds.png"), r.filesWith(LabelMaps.POLE));
    }

    @Test
    void drawsClassesWithTheSpecifiedProbabilities() {
        // a higher temperature so that every class has a testable share
        RareClassSampler r = new RareClassSampler(stats(), 0.1, 3000, 0.5);
        double[] e = expected(0.1);
        int n = 60_000;
        Map<Integer, Integer> hits = new HashMap<>();
        SplittableRandom rng = new SplittableRandom(42);
        for (int i = 0; i < n; i++) hits.merge(r.sampleClass(rng), 1, Integer::sum);
        double chi2 = 0;
        for (int k = 0; k < CLS.length; k++) {
            double exp = e[k] * n;
            double obs = hits.getOrDefault(CLS[k], 0);
            chi2 += (obs - exp) * (obs - exp) / exp;
            assertTrue(Math.abs(obs - exp) < 5 * Math.sqrt(exp) + 1, "class " + CLS[k] + ": " + obs + " vs " + exp);
        }
        // 5 degrees of freedom: P(chi2 > 20.5) = 0.001
        assertTrue(chi2 < 20.5, "chi2 " + chi2);
        // and at the HRDA temperature the rarest class dominates as specified
        RareClassSampler hrda = RareClassSampler.hrda(stats(), 2.0);
        int rare = 0;
        SplittableRandom rng2 = new SplittableRandom(7);
        for (int i = 0; i < 10_000; i++) if (hrda.sampleClass(rng2) == LabelMaps.BICYCLE) rare++;
        assertEquals(expected(0.01)[5], rare / 10_000.0, 0.015);
    }

    @Test
    void filesAreDrawnUniformlyAmongCandidates() {
        List<RareClassStats.FileStats> files = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            long[] c = new long[19];
            c[LabelMaps.TRAIN] = 5000 + i;
            files.add(new RareClassStats.FileStats("x/f" + i + "_labelTrainIds.png", c));
        }
        RareClassSampler r = RareClassSampler.hrda(new RareClassStats(files), 2.0);
        int[] hits = new int[4];
        SplittableRandom rng = new SplittableRandom(1);
        for (int i = 0; i < 8000; i++) hits[r.sampleFile(LabelMaps.TRAIN, rng).charAt(1) - '0']++;
        for (int h : hits) assertEquals(2000, h, 200);
    }

    @Test
    void reCropsUntilTheRareClassIsInTheCrop(@TempDir Path tmp) throws Exception {
        // 96x64 frames of road and sky with a 16x16 train at x 40..56, y 24..40; 48x48 crops:
        // a random crop holds > 200 train pixels with p ~ 0.65
        Path root = tmp.resolve("gta");
        for (int f = 1; f <= 3; f++) {
            byte[] ids = new byte[96 * 64];
            for (int y = 0; y < 64; y++) {
                for (int x = 0; x < 96; x++) {
                    ids[y * 96 + x] = (byte) (y < 12 ? 23 : (x >= 40 && x < 56 && y >= 24 && y < 40) ? 31 : 7);
                }
            }
            String n = String.format("%05d.png", f);
            TestFiles.writeColor(root.resolve("images/" + n), TestFiles.solidBgr(96, 64, f, 2, 3), 96, 64);
            TestFiles.writeGray(root.resolve("labels/" + n), ids, 96, 64);
        }
        RareClassStats stats = Converter.ensureStats(DatasetKind.GTA, root, 1);
        Dataset ds = Dataset.open(DatasetKind.GTA, root, "all", true);
        Pipeline pipe = new Pipeline(PipelineConfig.source(0, 0, 48).withCatMaxRatio(1.0));
        UdaData a = UdaData.sourceOnly(ds, pipe, new RareClassSampler(stats, 0.01, 100, 2.0));
        UdaData b = UdaData.sourceOnly(ds, pipe, new RareClassSampler(stats, 0.01, 100, 0.0));
        int trains = 0, okWith = 0, okWithout = 0, n = 80;
        for (int i = 0; i < n; i++) {
            UdaData.SourceDraw da = a.drawSource(new SplittableRandom(i));
            UdaData.SourceDraw db = b.drawSource(new SplittableRandom(i));
            assertEquals(da.rareClass(), db.rareClass());
            assertEquals(da.index(), db.index());
            if (da.rareClass() != LabelMaps.TRAIN) continue;
            trains++;
            if (da.sample().count(LabelMaps.TRAIN) > 200) okWith++;
            if (db.sample().count(LabelMaps.TRAIN) > 200) okWithout++;
        }
        assertTrue(trains > 0.9 * n, "the rarest class dominates at T = 0.01: " + trains);
        assertEquals(trains, okWith, "with min_crop_ratio 2: every crop has > 200 px of the class");
        assertTrue(okWithout < 0.85 * trains, "without re-cropping: " + okWithout + "/" + trains);
    }
}
