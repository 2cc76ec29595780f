package dev.hrda.model;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The slide test streamed in chunks of windows ({@link Segmentor#windowBatch}) gives the same
 * bits as all windows in one batch, for HRDA (slide windows with the detail windows inside) and
 * for the teacher's encode_decode on a batch of two images, and holds less memory.
 */
class SlideInferenceTest {
    static Backend be;

    @BeforeAll static void open() { be = new CpuBackend(); }

    @AfterAll static void close() { be.close(); }

    private static Tensor image(int b, int h, int w, long seed) {
        Random r = new Random(seed);
        float[] px = new float[b * 3 * h * w];
        for (int i = 0; i < px.length; i++) px[i] = (float) r.nextGaussian();
        return Tensor.of(be, px, b, 3, h, w);
    }

    /** The bits of f(model) with the given window batch, and the peak tensor bytes above what was live before. */
    private record Run(int[] bits, long peak) {}

    private static Run run(Segmentor m, int windowBatch, Tensor img, boolean inference) {
        m.windowBatch(windowBatch);
        try (Arena a = Arena.open()) {
            long before = MemoryStats.liveBytes(Device.CPU);
            MemoryStats.resetPeak(Device.CPU);
            Tensor out = inference ? m.inference(img) : m.encodeDecode(img);
            long peak = MemoryStats.peakBytes(Device.CPU) - before;
            float[] v = out.toFloatArray();
            int[] bits = new int[v.length];
            for (int i = 0; i < v.length; i++) bits[i] = Float.floatToRawIntBits(v[i]);
            return new Run(bits, peak);
        }
    }

    /** 192x320 under tiny_hrda's 128/64 slide test: 2 x 4 windows, each with 3 x 3 detail windows of 64 (stride 32). */
    @Test void chunkedHrdaSlideTestEqualsTheBatchedOneBitForBit() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 3); Arena a = Arena.open()) {
            m.train(false);
            Tensor img = image(1, 192, 320, 1);
            Run all = run(m, Segmentor.ALL_WINDOWS, img, true);
            assertEquals(5 * 192 * 320, all.bits().length);
            for (int n : new int[] {1, 3, 8, 100}) {
                Run chunked = run(m, n, img, true);
                assertArrayEquals(all.bits(), chunked.bits(), "window batch " + n);
                if (n == 1) assertTrue(chunked.peak() < all.peak() / 2, "one window at a time: " + chunked.peak() + " vs " + all.peak());
            }
        }
    }

    /** DACS's teacher runs encode_decode on a batch of images (window-major detail windows): chunks change no bit there either. */
    @Test void chunkedDetailWindowsOfABatchEqualTheBatchedOnes() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 5); Arena a = Arena.open()) {
            m.train(false);
            Tensor img = image(2, 128, 128, 2);
            Run all = run(m, Segmentor.ALL_WINDOWS, img, false);
            for (int n : new int[] {1, 2, 4}) assertArrayEquals(all.bits(), run(m, n, img, false).bits(), "window batch " + n);
        }
    }

    /** In training mode (DACS's teacher: BatchNorm on batch statistics) every detail window is in one batch, whatever the setting. */
    @Test void trainingModeBatchesAllWindowsForItsBatchNormStatistics() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 6); Arena a = Arena.open()) {
            m.stochastic(false);
            Tensor img = image(2, 128, 128, 4);
            Run all = run(m, Segmentor.ALL_WINDOWS, img, false);
            Run one = run(m, 1, img, false);
            assertArrayEquals(all.bits(), one.bits());
            assertEquals(all.peak(), one.peak());
        }
    }

    /** DAFormer's slide test (a config with windows) streams too; its whole-image test is unaffected by the setting. */
    @Test void chunkedDaformerSlideTestEqualsTheBatchedOne() {
        ModelConfig c = ModelConfig.named("tiny_daformer");
        ModelConfig slide = new ModelConfig(c.name(), c.backbone(), c.head(), c.attentionHead(), c.hrda(), 64, 32);
        try (Segmentor m = Segmentor.create(be, DType.F32, slide, 7); Arena a = Arena.open()) {
            m.train(false);
            Tensor img = image(1, 96, 160, 3);
            Run all = run(m, Segmentor.ALL_WINDOWS, img, true);
            assertArrayEquals(all.bits(), run(m, 1, img, true).bits());
            assertArrayEquals(all.bits(), run(m, 4, img, true).bits());
        }
    }

    @Test void rejectsANegativeWindowBatch() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 3)) {
            assertThrows(IllegalArgumentException.class, () -> m.windowBatch(-1));
            assertEquals(Segmentor.DEFAULT_WINDOW_BATCH, m.windowBatch());
        }
    }
}
