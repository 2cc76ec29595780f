package dev.hrda.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClassBalancedSamplerTest {
    static final int FILES = 300;

    /**
     * A made-up presence table: road in every file, building in 2/3, car in 1/3, person in 1/10,
     * bicycle in files 7 and 8, train in file 5 only; file 299 has no class; the other classes
     * are in no file.
     */
    static int[][] table() {
        int[][] t = new int[FILES][];
        for (int f = 0; f < FILES; f++) {
            List<Integer> cs = new ArrayList<>();
            if (f == FILES - 1) {
                t[f] = new int[0];
                continue;
            }
            cs.add(LabelMaps.ROAD);
            if (f % 3 != 0) cs.add(LabelMaps.BUILDING);
            if (f % 3 == 0) cs.add(LabelMaps.CAR);
            if (f % 10 == 0) cs.add(LabelMaps.PERSON);
            if (f == 7 || f == 8) cs.add(LabelMaps.BICYCLE);
            if (f == 5) cs.add(LabelMaps.TRAIN);
            t[f] = cs.stream().mapToInt(Integer::intValue).toArray();
        }
        return t;
    }

    static int[] counts(ClassBalancedSampler s, long items) {
        int[] n = new int[FILES];
        for (long k = 0; k < items; k++) n[s.index(k)]++;
        return n;
    }

    @Test
    void rareClassesFilesAreReadFarMoreOftenThanUniformly() {
        long items = 20_000;
        ClassBalancedSampler s = new ClassBalancedSampler(table(), items, ClassBalancedSampler.SUB_EPOCH, 1);
        int[] n = counts(s, items);
        double uniform = (double) items / FILES;
        // the train file (single-file class) and the two bicycle files: each far above its uniform share
        assertTrue(n[5] > 20 * uniform, "train file read " + n[5] + " times, uniform " + uniform);
        assertTrue(n[7] > 10 * uniform && n[8] > 10 * uniform, "bicycle files " + n[7] + ", " + n[8]);
        // person's 30 files together get more than a fifth of the reads (uniform: a tenth)
        long person = 0;
        for (int f = 0; f < FILES; f += 10) person += n[f];
        assertTrue(person > 0.2 * items, "person files " + person);
        assertEquals(0, n[FILES - 1], "a file without a class is never read");
        for (long k = 0; k < 2 * s.order().length + 5; k++) {
            int i = s.index(k);
            assertTrue(i >= 0 && i < FILES - 1, "item " + k + " -> " + i);
        }
    }

    @Test
    void sameSeedSameOrderOtherSeedOtherOrder() {
        int[][] t = table();
        ClassBalancedSampler a = new ClassBalancedSampler(t, 7000, 3000, 42), b = new ClassBalancedSampler(t, 7000, 3000, 42);
        ClassBalancedSampler c = new ClassBalancedSampler(t, 7000, 3000, 43);
        assertArrayEquals(a.order(), b.order());
        assertFalse(Arrays.equals(a.order(), c.order()));
        // int(7000 / 3000) + 1 = 3 sub-epochs of 3000 picks; item k wraps past the end
        assertEquals(9000, a.order().length);
        assertEquals(a.index(17), a.index(9017));
    }

    @Test
    void absentClassesAreLeftOutAndNamed() {
        ClassBalancedSampler s = new ClassBalancedSampler(table(), 100, 3000, 3);
        assertArrayEquals(new int[] {LabelMaps.ROAD, LabelMaps.BUILDING, LabelMaps.PERSON, LabelMaps.CAR, LabelMaps.TRAIN, LabelMaps.BICYCLE},
                          s.classes());
        assertEquals(13, s.absent().size());
        assertTrue(s.absent().contains(LabelMaps.SKY) && !s.absent().contains(LabelMaps.TRAIN));
        String text = s.toString();
        assertTrue(text.contains("no file contains " + s.absent() + ": left out"), text);
        assertTrue(text.contains("1 files without a class never drawn"), text);
        assertThrows(IllegalArgumentException.class, () -> new ClassBalancedSampler(new int[][] {{}, {}}, 10, 3000, 0));
        assertThrows(IllegalArgumentException.class, () -> new ClassBalancedSampler(table(), 0, 3000, 0));
        assertThrows(IllegalArgumentException.class, () -> new ClassBalancedSampler(new int[][] {{19}}, 10, 3000, 0));
    }

    /**
     * One class per file: the picks show the classes. The weights balance the classes within a
     * sub-epoch whatever their file counts, and each class's files are visited in complete passes
     * (reads of two files of a class differ by at most one).
     */
    @Test
    void oneClassPerFileBalancesClassesAndVisitsEveryFileOfAPass() {
        int[] filesOf = {1, 2, 5, 40, 150}; // classes 0..4
        List<int[]> t = new ArrayList<>();
        List<Integer> classOf = new ArrayList<>();
        for (int c = 0; c < filesOf.length; c++) {
            for (int i = 0; i < filesOf[c]; i++) {
                t.add(new int[] {c});
                classOf.add(c);
            }
        }
        int[][] table = t.toArray(new int[0][]);
        ClassBalancedSampler s = new ClassBalancedSampler(table, 5999, 3000, 9);
        int[] order = s.order();
        assertEquals(6000, order.length);
        int[] perClass = new int[filesOf.length];
        int[] perFile = new int[table.length];
        for (int f : order) {
            perClass[classOf.get(f)]++;
            perFile[f]++;
        }
        for (int c = 0; c < filesOf.length; c++) {
            assertEquals(1200, perClass[c], 60, "class " + c + ": " + Arrays.toString(perClass)); // uniform over files: 39 for class 0
        }
        int first = 0;
        for (int c = 0; c < filesOf.length; c++) {
            int lo = Integer.MAX_VALUE, hi = 0;
            for (int f = first; f < first + filesOf[c]; f++) {
                lo = Math.min(lo, perFile[f]);
                hi = Math.max(hi, perFile[f]);
            }
            assertTrue(hi - lo <= 1, "class " + c + ": reads per file " + lo + ".." + hi);
            first += filesOf[c];
        }
    }

    /** A GTA data set of 16x16 frames: road and sky, a train in frame 2, a bicycle in frames 4 and 5; frame i is solid grey level 10 i. */
    static Dataset gta(Path root) throws Exception {
        for (int f = 0; f < 12; f++) {
            byte[] ids = new byte[16 * 16];
            for (int p = 0; p < ids.length; p++) ids[p] = (byte) (p < 64 ? 23 : 7); // sky, road (GTA ids)
            if (f == 2) ids[200] = 31;           // train
            if (f == 4 || f == 5) ids[100] = 33; // bicycle
            String n = String.format("%05d.png", f);
            TestFiles.writeColor(root.resolve("images/" + n), TestFiles.solidBgr(16, 16, 10 * f, 10 * f, 10 * f), 16, 16);
            TestFiles.writeGray(root.resolve("labels/" + n), ids, 16, 16);
        }
        Converter.ensureStats(DatasetKind.GTA, root, 1); // converts the labels to train ids
        return Dataset.open(DatasetKind.GTA, root, "all", true);
    }

    @Test
    void udaBatchesReadTheOrderAndRepeatForTheSeed(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("gta");
        Dataset ds = gta(root);
        RareClassStats stats = RareClassStats.read(root);
        int batch = 3, iters = 50;
        ClassBalancedSampler cbs = ClassBalancedSampler.of(stats, ds, (long) iters * batch, 100, 7);
        assertArrayEquals(new int[] {LabelMaps.ROAD, LabelMaps.SKY, LabelMaps.TRAIN, LabelMaps.BICYCLE}, cbs.classes());
        Pipeline src = new Pipeline(PipelineConfig.source(0, 0, 16)), tgt = new Pipeline(PipelineConfig.target(0, 0, 16));
        UdaData a = new UdaData(ds, src, ds, tgt, null).withClassBalanced(cbs);
        UdaData b = new UdaData(ds, src, ds, tgt, null, ClassBalancedSampler.of(stats, ds, (long) iters * batch, 100, 7));
        for (long i : new long[] {0, 1, 17, 49, 50}) { // 50: a prefetch past the run's end wraps
            try (UdaBatch x = a.batch(11, i, batch, heap());
                 UdaBatch y = b.batch(11, i, batch, heap())) {
                for (int j = 0; j < batch; j++) {
                    int idx = cbs.index(i * batch + j);
                    assertEquals(ds.get(idx).image().toString(), x.source().files().get(j), "batch " + i + " item " + j);
                }
                assertEquals(x.source().files(), y.source().files());
                assertArrayEquals(x.source().imageArray(), y.source().imageArray());
                assertEquals(x.target().files(), y.target().files());
            }
            try (Batch s = a.sourceBatch(11, i, batch, heap())) {
                for (int j = 0; j < batch; j++) assertEquals(ds.get(cbs.index(i * batch + j)).image().toString(), s.files().get(j));
            }
        }
        // the train frame is 1 of 12; class-balanced it is read about a quarter of the time
        int reads = 0;
        for (long k = 0; k < (long) iters * batch; k++) if (cbs.index(k) == 2) reads++;
        assertTrue(reads > 2.0 * iters * batch / 12, "train frame read " + reads + " times of " + iters * batch);
        assertThrows(IllegalStateException.class, () -> a.drawSource(new java.util.SplittableRandom(1)));
        assertThrows(IllegalArgumentException.class,
                     () -> new UdaData(ds, src, ds, tgt, new RareClassSampler(stats, 0.01, 1, 0), cbs));
    }

    static Batch.BufferSource heap() {
        return new Batch.BufferSource() {
            @Override public HostBuffer acquire(long bytes) { return HostBuffer.allocate(bytes, false); }
            @Override public void release(HostBuffer b) { b.close(); }
        };
    }
}
