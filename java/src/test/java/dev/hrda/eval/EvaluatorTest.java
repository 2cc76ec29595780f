package dev.hrda.eval;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.LabelMaps;
import dev.hrda.data.Png;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test-time prediction and evaluation on the real Cityscapes val fixture (frankfurt, 256x128). */
class EvaluatorTest {
    static final Path CITYSCAPES = Fixtures.root().resolve("cityscapes");
    static final Path GT = CITYSCAPES.resolve("gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelTrainIds.png");
    static Backend be;

    @BeforeAll static void open() { be = new CpuBackend(); }

    @AfterAll static void close() { be.close(); }

    static Dataset.Item frankfurt() {
        Dataset val = Dataset.open(DatasetKind.CITYSCAPES, CITYSCAPES, "val", true);
        assertEquals(1, val.size());
        return val.get(0);
    }

    /** A tiny model whose classifier ignores its features: conv_seg weight 0, bias 10 for one class. */
    static Segmentor constantModel(String name, int cls) {
        Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named(name), 0);
        String convSeg = m.config.isHrda() ? "decode_head.head.conv_seg." : "decode_head.conv_seg.";
        be.fill(m.namedParameters().get(convSeg + "weight"), 0);
        double[] bias = new double[m.config.numClasses()];
        bias[cls] = 10;
        m.namedParameters().get(convSeg + "bias").copyFrom(bias);
        return m;
    }

    /**
     * A model that predicts one class everywhere: its IoU is the class's share of the labelled
     * GT pixels (counted here from the PNG), every other class in the GT scores 0, absent
     * classes NaN. The test scale is half the image, so logits are resized back to 256x128.
     */
    @ParameterizedTest
    @CsvSource({"tiny_daformer, 2", "tiny_hrda, 0"})
    void constantPredictionScoresTheClassShare(String model, int cls) {
        int[] gt = Png.read(GT).samples();
        long[] pixels = new long[256];
        for (int v : gt) pixels[v]++;
        long labelled = gt.length - pixels[255];
        Set<Integer> present = new TreeSet<>();
        for (int c = 0; c < 19; c++) if (pixels[c] > 0) present.add(c);
        assertEquals(Set.of(0, 1, 2, 4, 5, 7, 8, 10, 11, 13), present, "the fixture's classes (PROVENANCE.md)");

        try (Segmentor m = constantModel(model, cls)) {
            Evaluator eval = new Evaluator(new Predictor(m, 128, 64), LabelMaps.CLASSES);
            Predictor.Prediction p = eval.add(frankfurt());
            assertEquals(256, p.width());
            assertEquals(128, p.height());
            for (byte c : p.classes()) assertEquals(cls, c);
            SegMetrics s = eval.metrics();
            double share = 100.0 * pixels[cls] / labelled;
            for (int c = 0; c < 19; c++) {
                String what = LabelMaps.CLASSES.get(c);
                if (c == cls) {
                    assertEquals(share, s.iou()[c], 1e-12, what);
                    assertEquals(100.0, s.acc()[c], 1e-12, what);
                } else if (present.contains(c)) {
                    assertEquals(0.0, s.iou()[c], what);
                    assertEquals(0.0, s.acc()[c], what);
                } else {
                    assertTrue(Double.isNaN(s.iou()[c]) && Double.isNaN(s.acc()[c]), what + " is absent: NaN");
                }
            }
            assertEquals(share / present.size(), s.mIoU(), 1e-12);
            assertEquals(100.0 / present.size(), s.mAcc(), 1e-12);
            assertEquals(share, s.aAcc(), 1e-12);
        }
    }

    /**
     * HRDA's slide test (3 windows at 256x128) on the same image three times: identical
     * predictions, and the native memory after each image (and its peak during one) does not
     * grow: every tensor of an image is freed before the next.
     */
    @Test void memoryDoesNotGrowFromImageToImage() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 4)) {
            Evaluator eval = new Evaluator(new Predictor(m, 256, 128), LabelMaps.CLASSES);
            Dataset.Item item = frankfurt();
            long modelBytes = MemoryStats.liveBytes(Device.CPU), modelAllocations = MemoryStats.liveAllocations(Device.CPU);
            byte[] first = null;
            long firstPeak = 0;
            for (int i = 0; i < 3; i++) {
                MemoryStats.resetPeak(Device.CPU);
                byte[] classes = eval.add(item).classes();
                assertEquals(modelBytes, MemoryStats.liveBytes(Device.CPU), "bytes held after image " + i);
                assertEquals(modelAllocations, MemoryStats.liveAllocations(Device.CPU), "allocations held after image " + i);
                long peak = MemoryStats.peakBytes(Device.CPU) - modelBytes;
                if (i == 0) {
                    first = classes;
                    firstPeak = peak;
                    assertTrue(peak > 0);
                } else {
                    assertArrayEquals(first, classes, "image " + i);
                    assertEquals(firstPeak, peak, "peak of image " + i);
                }
            }
            int[] gt = Png.read(GT).samples();
            long labelled = java.util.Arrays.stream(gt).filter(v -> v != 255).count();
            assertEquals(3 * labelled, eval.matrix().pixels());
            assertEquals(3, eval.images());
        }
    }

    /** argmax over classes per pixel, the first of equal logits winning (torch.argmax), for f32 and f64 logits. */
    @Test void argmaxTakesTheFirstLargestLogit() {
        Random r = new Random(5);
        int k = 7, h = 9, w = 11, plane = h * w;
        float[] logits = new float[k * plane];
        double[] logits64 = new double[logits.length];
        for (int i = 0; i < logits.length; i++) logits64[i] = logits[i] = r.nextInt(4);  // many ties
        byte[] expected = new byte[plane];
        for (int i = 0; i < plane; i++) {
            int best = 0;
            for (int c = 1; c < k; c++) if (logits[c * plane + i] > logits[best * plane + i]) best = c;
            expected[i] = (byte) best;
        }
        try (Arena a = Arena.open()) {
            assertArrayEquals(expected, Predictor.argmax(Tensor.of(be, logits, 1, k, h, w)));
            assertArrayEquals(expected, Predictor.argmax(Tensor.of(be, logits64, 1, k, h, w)));
        }
    }

    /** mmseg show_result with opacity 0.5: (image + palette colour) / 2 per BGR channel, truncated; no colour = black. */
    @Test void blendFollowsShowResult() {
        byte[] bgr = {10, 20, 30, (byte) 255, (byte) 255, (byte) 255, 1, 2, 3};
        byte[] classes = {LabelMaps.ROAD, LabelMaps.SKY, (byte) 200};
        // road RGB (128, 64, 128); sky RGB (70, 130, 180) is BGR (180, 130, 70)
        byte[] expected = {69, 42, 79, (byte) 217, (byte) 192, (byte) 162, 0, 1, 1};
        assertArrayEquals(expected, ShowResult.blend(bgr, classes, LabelMaps.PALETTE, 0.5));
        Path root = Path.of("/data/cs"), out = Path.of("/tmp/show");
        assertEquals(out.resolve("leftImg8bit/val/frankfurt/f_leftImg8bit"),
                     ShowResult.stem(out, root, root.resolve("leftImg8bit/val/frankfurt/f_leftImg8bit.png")));
    }
}
