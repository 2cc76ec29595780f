package dev.hrda.data;

import dev.hrda.backend.CpuBackend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoaderTest {
    @TempDir
    static Path tmp;
    static UdaData data;

    @BeforeAll
    static void setUp() {
        SyntheticData.write(tmp, 3, 160, 80, 8, 2, true, false);
        Dataset src = Dataset.open(DatasetKind.GTA, tmp.resolve("gta"), "all", true);
        Dataset tgt = Dataset.open(DatasetKind.CITYSCAPES, tmp.resolve("cityscapes"), "train", false);
        RareClassSampler rcs = new RareClassSampler(RareClassStats.read(tmp.resolve("gta")), 0.01, 30, 0.5);
        data = new UdaData(src, new Pipeline(PipelineConfig.source(320, 160, 64)), tgt,
                           new Pipeline(PipelineConfig.target(320, 160, 64)), rcs);
    }

    record Snap(float[] si, int[] sl, float[] ti, float[] tv, List<String> files) {}

    static List<Snap> take(Loader<UdaBatch> l, int n) {
        List<Snap> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            try (UdaBatch b = l.next()) {
                out.add(new Snap(b.source().imageArray(), b.source().labelArray(), b.target().imageArray(), b.target().validArray(),
                                 b.source().files()));
            }
        }
        return out;
    }

    @Test
    void sameSeedGivesSameBatchesWhateverTheNumberOfWorkers() {
        List<Snap> a, b, c;
        try (Loader<UdaBatch> l = data.loader(new UdaData.LoaderOptions(2, 123, 1, 2, false))) {
            a = take(l, 5);
        }
        try (Loader<UdaBatch> l = data.loader(new UdaData.LoaderOptions(2, 123, 3, 4, false))) {
            b = take(l, 5);
        }
        try (Loader<UdaBatch> l = data.loader(new UdaData.LoaderOptions(2, 124, 2, 2, false))) {
            c = take(l, 5);
        }
        for (int i = 0; i < 5; i++) {
            assertArrayEquals(a.get(i).si(), b.get(i).si(), "batch " + i);
            assertArrayEquals(a.get(i).sl(), b.get(i).sl());
            assertArrayEquals(a.get(i).ti(), b.get(i).ti());
            assertArrayEquals(a.get(i).tv(), b.get(i).tv());
            assertEquals(a.get(i).files(), b.get(i).files());
        }
        boolean differs = false;
        for (int i = 0; i < 5; i++) differs |= !Arrays.equals(a.get(i).si(), c.get(i).si());
        assertTrue(differs, "another seed gives other batches");
    }

    @Test
    void batchesHaveTheExpectedShapesAndBecomeTensors() {
        try (Loader<UdaBatch> l = data.loader(new UdaData.LoaderOptions(2, 1, 2, 2, false));
             UdaBatch b = l.next(); CpuBackend cpu = new CpuBackend()) {
            assertEquals(2, b.source().size());
            assertEquals(64, b.source().height());
            assertTrue(b.source().hasLabels());
            assertFalse(b.source().hasValid());
            assertFalse(b.target().hasLabels());
            assertTrue(b.target().hasValid());
            try (Tensor img = b.source().images(cpu); Tensor lbl = b.source().labels(cpu); Tensor val = b.target().valid(cpu)) {
                assertArrayEquals(new int[] {2, 3, 64, 64}, img.shape());
                assertEquals(DType.F32, img.dtype());
                assertArrayEquals(new int[] {2, 64, 64}, lbl.shape());
                assertEquals(DType.I32, lbl.dtype());
                assertArrayEquals(new int[] {2, 64, 64}, val.shape());
                assertArrayEquals(b.source().imageArray(), img.toFloatArray());
                int[] labels = lbl.toIntArray();
                assertArrayEquals(b.source().labelArray(), labels);
                for (int v : labels) assertTrue(v < 19 || v == 255);
                for (float v : val.toFloatArray()) assertTrue(v == 0f || v == 1f);
            }
        }
    }

    @Test
    void prefetchIsBoundedAndErrorsArriveInOrder() throws Exception {
        AtomicInteger made = new AtomicInteger();
        try (Loader<Loaders.Item> l = new Loader<>(i -> {
            made.incrementAndGet();
            if (i == 4) throw new DataException(Path.of("bad.png"), "cannot decode image");
            return new Loaders.Item((int) i, null);
        }, 10, 3, 3, "t")) {
            Thread.sleep(300);
            assertEquals(3, made.get(), "no more than prefetch items ahead");
            for (int i = 0; i < 4; i++) assertEquals(i, l.next().index());
            DataException e = assertThrows(DataException.class, l::next);
            assertEquals(Path.of("bad.png"), e.path());
            assertEquals(5, l.next().index());
        }
    }

    @Test
    void closingABatchRecyclesItsHostMemory() {
        try (BufferPool pool = new BufferPool(false)) {
            List<Sample> samples = new ArrayList<>();
            java.util.SplittableRandom r = new java.util.SplittableRandom(0);
            for (int i = 0; i < 2; i++) samples.add(data.sampleSource(r));
            for (int k = 0; k < 5; k++) {
                try (Batch b = Batch.of(samples, pool)) {
                    assertEquals(2, b.size());
                }
            }
            assertEquals(2, pool.allocated(), "images + labels buffers, reused");
            Batch b = Batch.of(samples, pool);
            b.close();
            assertThrows(IllegalStateException.class, b::imageArray);
        }
    }

    @Test
    void evaluationLoaderVisitsEveryImageInOrder() throws Exception {
        Dataset val = Dataset.open(DatasetKind.CITYSCAPES, tmp.resolve("cityscapes"), "val", true);
        try (Loader<Loaders.Item> l = Loaders.sequentialSamples(val, new Pipeline(PipelineConfig.test(320, 160)), 2, 2)) {
            int n = 0;
            while (l.hasNext()) {
                Loaders.Item it = l.next();
                assertEquals(n, it.index());
                assertEquals(val.get(n).image().toString(), it.sample().file());
                assertEquals(160, it.sample().height());
                assertEquals(80, it.sample().labelHeight(), "labels stay at their original size");
                n++;
            }
            assertEquals(val.size(), n);
        }
        assertTrue(Files.isDirectory(tmp));
    }
}
