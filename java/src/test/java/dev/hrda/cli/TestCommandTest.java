package dev.hrda.cli;

import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.Images;
import dev.hrda.data.Json;
import dev.hrda.data.LabelMaps;
import dev.hrda.data.Png;
import dev.hrda.eval.ConfusionMatrix;
import dev.hrda.eval.Predictor;
import dev.hrda.eval.SegMetrics;
import dev.hrda.eval.ShowResult;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.model.MitConfig;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import dev.hrda.testing.Cli;
import dev.hrda.testing.Cli.Run;
import dev.hrda.testing.Fixtures;
import org.bytedeco.opencv.opencv_core.Mat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code hrda test} through the CLI entry point, on the real Cityscapes val fixture. */
class TestCommandTest {
    static final Path CITYSCAPES = Fixtures.root().resolve("cityscapes");
    static final String FRANKFURT = "val/frankfurt/frankfurt_000000_000294_";
    static final Path IMAGE = CITYSCAPES.resolve("leftImg8bit/" + FRANKFURT + "leftImg8bit.png");
    static final Path GT = CITYSCAPES.resolve("gtFine/" + FRANKFURT + "gtFine_labelTrainIds.png");

    /** A randomly initialised model saved as safetensors. */
    static Path save(ModelConfig config, long seed, Path file) {
        try (CpuBackend be = new CpuBackend(); Segmentor m = Segmentor.create(be, DType.F32, config, seed)) {
            Checkpoints.save(file, m, Map.of("iter", "0"));
        }
        return file;
    }

    static Run test(Path checkpoint, String model, String... more) {
        return test(checkpoint, model, CITYSCAPES, more);
    }

    static Run test(Path checkpoint, String model, Path root, String... more) {
        List<String> args = new ArrayList<>(List.of("test", "--checkpoint", checkpoint.toString(), "--model", model,
                                                    "--data", "cityscapes", "--root", root.toString(), "--device", "cpu"));
        args.addAll(List.of(more));
        return Cli.run(args.toArray(String[]::new));
    }

    static byte[] gt() {
        return bytes(Png.read(GT).samples());
    }

    static byte[] bytes(int[] samples) {
        byte[] b = new byte[samples.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) samples[i];
        return b;
    }

    /** The train ids written to --show-dir for the frankfurt image. */
    static byte[] writtenTrainIds(Path show) {
        Png.Image ids = Png.read(ShowResult.stem(show, CITYSCAPES, IMAGE).resolveSibling("frankfurt_000000_000294_leftImg8bit_trainIds.png"));
        assertEquals(256, ids.width());
        assertEquals(128, ids.height());
        return bytes(ids.samples());
    }

    @Test void evaluatesWritesPredictionsAndJson(@TempDir Path tmp) throws Exception {
        Path ckpt = save(ModelConfig.named("tiny_daformer"), 7, tmp.resolve("tiny.safetensors"));
        Path show = tmp.resolve("show"), json = tmp.resolve("out/metrics.json");
        Files.createDirectories(json.getParent());
        Run r = test(ckpt, "tiny_daformer", "--test-scale", "128x64", "--show-dir", show.toString(), "--out", json.toString(), "--classes16");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("per class results:") && r.out().contains("| traffic light |"), r.out());
        assertTrue(r.err().contains("test: 1/1 images"), r.err());

        // the JSON's metrics are those of the written prediction against the ground truth
        byte[] predicted = writtenTrainIds(show);
        for (byte c : predicted) assertTrue(c >= 0 && c < 5, "tiny_daformer predicts 5 classes");
        ConfusionMatrix m = new ConfusionMatrix(19);
        m.add(predicted, gt());
        SegMetrics expected = SegMetrics.of(m, LabelMaps.CLASSES);
        @SuppressWarnings("unchecked") Map<String, Object> result = (Map<String, Object>) Json.parse(Files.readString(json));
        assertEquals(1L, result.get("images"));
        assertEquals("tiny_daformer", result.get("model"));
        assertEquals(ckpt.toString(), result.get("checkpoint"));
        assertEquals(List.of(128L, 64L), result.get("test_scale"));
        assertEquals(expected.mIoU(), (Double) result.get("mIoU"), 1e-9);
        assertEquals(expected.mAcc(), (Double) result.get("mAcc"), 1e-9);
        assertEquals(expected.aAcc(), (Double) result.get("aAcc"), 1e-9);
        assertEquals(expected.meanIoU(LabelMaps.SYNTHIA_CLASSES), (Double) result.get("mIoU16"), 1e-9);
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> perClass = (Map<String, Map<String, Object>>) result.get("per_class");
        assertEquals(LabelMaps.CLASSES, List.copyOf(perClass.keySet()));
        for (int c = 0; c < 19; c++) {
            Object iou = perClass.get(LabelMaps.CLASSES.get(c)).get("IoU");
            if (Double.isNaN(expected.iou()[c])) assertNull(iou, "NaN is written as null");
            else assertEquals(expected.iou()[c], (Double) iou, 1e-9);
        }
        assertTrue(r.out().contains(String.format(Locale.ROOT, "mIoU %.2f", expected.mIoU())), r.out());

        // the blend is the original image and the palette colour of the written classes, half each
        Path blend = ShowResult.stem(show, CITYSCAPES, IMAGE).resolveSibling("frankfurt_000000_000294_leftImg8bit.png");
        try (Mat image = Images.readColor(IMAGE); Mat shown = Images.readColor(blend)) {
            assertArrayEquals(ShowResult.blend(Images.toBytes(image), predicted, LabelMaps.PALETTE, 0.5), Images.toBytes(shown));
        }
    }

    /**
     * --hrda-out LR / HR fix the scale attention to the context or the detail: each equals the
     * prediction of the model built with that attention, and differs from the learned fusion.
     */
    @Test void hrdaOutSelectsContextOrDetail(@TempDir Path tmp) {
        ModelConfig hrda = ModelConfig.named("tiny_hrda");
        Path ckpt = save(hrda, 3, tmp.resolve("hrda.safetensors"));
        Dataset.Item item = Dataset.open(DatasetKind.CITYSCAPES, CITYSCAPES, "val", true).get(0);
        byte[] fused = null;
        for (String out : List.of("FUSED", "LR", "HR")) {
            Path show = tmp.resolve(out);
            Run r = test(ckpt, "tiny_hrda", "--test-scale", "256x128", "--hrda-out", out, "--show-dir", show.toString(), "-q");
            assertEquals(0, r.status(), r.out() + r.err());
            byte[] written = writtenTrainIds(show);
            ModelConfig config = out.equals("FUSED") ? hrda : hrda.withFixedAttention(out.equals("HR") ? 1 : 0);
            try (CpuBackend be = new CpuBackend(); Segmentor m = Segmentor.create(be, DType.F32, config, 99)) {
                Checkpoints.load(m, ckpt, LoadOptions.strict());
                assertArrayEquals(new Predictor(m, 256, 128).predict(item, false).classes(), written, out);
            }
            if (fused == null) fused = written;
            else assertFalse(Arrays.equals(fused, written), out + " differs from the fused prediction");
        }
        Run daformer = test(save(ModelConfig.named("tiny_daformer"), 1, tmp.resolve("d.safetensors")), "tiny_daformer", "--hrda-out", "LR");
        assertEquals(1, daformer.status());
        assertTrue(daformer.err().contains("--hrda-out LR needs an HRDA model"), daformer.err());
    }

    /**
     * --window-batch streams the slide and detail windows: every chunk size writes the same
     * prediction, the peak memory is printed and recorded in the JSON, and one window at a time
     * holds less than all at once.
     */
    @Test void windowBatchChangesNoPredictionAndReportsPeakMemory(@TempDir Path tmp) throws Exception {
        Path ckpt = save(ModelConfig.named("tiny_hrda"), 4, tmp.resolve("hrda.safetensors"));
        byte[] first = null;
        long[] peaks = new long[2];
        for (String n : List.of("0", "1", "2")) {
            Path show = tmp.resolve("show" + n), json = tmp.resolve("m" + n + ".json");
            Run r = test(ckpt, "tiny_hrda", "--test-scale", "256x128", "--window-batch", n, "--show-dir", show.toString(), "--out", json.toString());
            assertEquals(0, r.status(), r.out() + r.err());
            assertTrue(r.out().contains("window batch " + (n.equals("0") ? "all" : n)), r.out());
            assertTrue(r.out().contains("peak memory per image (largest): "), r.out());
            assertTrue(r.err().contains("test: 1/1 images") && r.err().contains(" tensors, "), r.err());
            byte[] written = writtenTrainIds(show);
            if (first == null) first = written;
            else assertArrayEquals(first, written, "window batch " + n);
            @SuppressWarnings("unchecked") Map<String, Object> result = (Map<String, Object>) Json.parse(Files.readString(json));
            @SuppressWarnings("unchecked") Map<String, Object> memory = (Map<String, Object>) result.get("memory");
            assertEquals(Long.parseLong(n), memory.get("window_batch"));
            assertEquals("cpu", memory.get("device"));
            long peak = ((Number) memory.get("peak_tensor_bytes")).longValue();
            assertTrue(peak > 0);
            assertEquals(List.of(peak), memory.get("per_image_peak_tensor_bytes"));
            assertEquals(1, ((List<?>) memory.get("per_image_peak_rss_bytes")).size());
            if (!n.equals("2")) peaks[Integer.parseInt(n)] = peak;
        }
        assertTrue(peaks[1] < peaks[0], "one window at a time " + peaks[1] + " vs all " + peaks[0]);
        Run bad = test(ckpt, "tiny_hrda", "--window-batch", "-1");
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("--window-batch must be a number of windows (0 = all at once), got '-1'"), bad.err());
    }

    /** --interpolation bicubic (RIPU's test resize) writes what a bicubic Predictor predicts; an unknown value is refused. */
    @Test void interpolationBicubicIsThePredictorsAndBadValuesAreRefused(@TempDir Path tmp) {
        Path ckpt = save(ModelConfig.named("tiny_daformer"), 5, tmp.resolve("tiny.safetensors"));
        Dataset.Item item = Dataset.open(DatasetKind.CITYSCAPES, CITYSCAPES, "val", true).get(0);
        Path show = tmp.resolve("bicubic");
        Run r = test(ckpt, "tiny_daformer", "--test-scale", "128x64", "--interpolation", "bicubic", "--show-dir", show.toString(), "-q");
        assertEquals(0, r.status(), r.out() + r.err());
        assertTrue(r.out().contains("bicubic, "), r.out());
        byte[] written = writtenTrainIds(show);
        try (CpuBackend be = new CpuBackend(); Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_daformer"), 99)) {
            Checkpoints.load(m, ckpt, LoadOptions.strict());
            assertArrayEquals(new Predictor(m, 128, 64, false, dev.hrda.data.PipelineConfig.Interpolation.BICUBIC).predict(item, false).classes(),
                              written);
        }
        Run bad = test(ckpt, "tiny_daformer", "--interpolation", "cubic");
        assertEquals(1, bad.status());
        assertTrue(bad.err().contains("--interpolation cubic: expected one of bilinear, bicubic"), bad.err());
    }

    /** Bad input stops before or during evaluation with a message naming the file or tensor at fault. */
    @Test void badInputNamesWhatIsWrong(@TempDir Path tmp) throws Exception {
        Path missing = tmp.resolve("none.safetensors");
        Run r = test(missing, "tiny_daformer");
        assertEquals(1, r.status());
        assertTrue(r.err().contains(missing + ": checkpoint does not exist"), r.err());

        // a 19-class classifier where tiny_daformer has 5: the strict load lists the mismatched tensors
        Path wide = save(ModelConfig.daformer("tiny19", MitConfig.named("mit_tiny"), 16, 19), 0, tmp.resolve("wide.safetensors"));
        r = test(wide, "tiny_daformer");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("mismatched") && r.err().contains("decode_head.conv_seg.weight: file shape [19, 16, 1, 1] vs model [5, 16, 1, 1]"),
                   r.err());
        // an encoder that is no MiT variant (one block per stage): without --model, nothing to build
        MitConfig shallow = new MitConfig("mit_shallow", new int[] {16, 32, 48, 64}, new int[] {1, 1, 1, 1}, new int[] {1, 2, 3, 4},
                                          new int[] {8, 4, 2, 1}, 4, 0.1, 3);
        Path unknown = save(ModelConfig.daformer("shallow", shallow, 16, 19), 0, tmp.resolve("shallow.safetensors"));
        r = Cli.run("test", "--checkpoint", unknown.toString(), "--data", "cityscapes", "--root", CITYSCAPES.toString());
        assertEquals(1, r.status());
        assertTrue(r.err().contains(unknown + ": model not recognised"), r.err());

        Path ckpt = save(ModelConfig.named("tiny_daformer"), 0, tmp.resolve("tiny.safetensors"));
        r = test(ckpt, "tiny_daformer", "--test-scale", "1024");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("--test-scale must be WxH with positive sizes, e.g. 2048x1024, got '1024'"), r.err());
        r = test(ckpt, "tiny_daformer", "--max-images", "0");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("--max-images must be a positive number, got '0'"), r.err());
        r = Cli.run("test", "--checkpoint", ckpt.toString());
        assertEquals(2, r.status(), "--data and --root are needed");
        assertTrue(r.err().contains("usage: hrda test") || r.out().contains("usage: hrda test"), r.out() + r.err());

        // an image without its label, then a truncated image
        Path root = tmp.resolve("cs"), image = root.resolve("leftImg8bit/" + FRANKFURT + "leftImg8bit.png");
        Files.createDirectories(image.getParent());
        Files.copy(IMAGE, image);
        r = test(ckpt, "tiny_daformer", root);
        assertEquals(1, r.status());
        assertTrue(r.err().contains(image + ": image without label"), r.err());
        Path label = root.resolve("gtFine/" + FRANKFURT + "gtFine_labelTrainIds.png");
        Files.createDirectories(label.getParent());
        Files.copy(GT, label);
        Files.write(image, Arrays.copyOf(Files.readAllBytes(IMAGE), 2000));
        r = test(ckpt, "tiny_daformer", root, "--test-scale", "128x64");
        assertEquals(1, r.status());
        assertTrue(r.err().contains(image + ": image is truncated"), r.err());
    }
}
