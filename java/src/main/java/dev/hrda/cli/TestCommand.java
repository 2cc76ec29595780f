package dev.hrda.cli;

import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.data.AtomicFiles;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.Json;
import dev.hrda.data.LabelMaps;
import dev.hrda.data.PipelineConfig;
import dev.hrda.eval.Evaluator;
import dev.hrda.eval.PeakMemory;
import dev.hrda.eval.Predictor;
import dev.hrda.eval.SegMetrics;
import dev.hrda.io.CheckpointException;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.LoadReport;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.DefaultParser;
import org.apache.commons.cli.HelpFormatter;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code hrda test}: the original {@code tools/test.py CONFIG CHECKPOINT --eval mIoU [--show-dir DIR]
 * [--hrda-out LR|HR]}: evaluates a checkpoint on a labelled split with mmseg's test pipeline and
 * metrics (package {@code dev.hrda.eval}, docs/eval.md).
 */
final class TestCommand implements Command {
    /** HRDA's --hrda-out: the learned fusion, or the scale attention fixed to context (0) or detail (1). */
    enum HrdaOut { FUSED, LR, HR }

    @Override public String name() { return "test"; }

    @Override public String summary() { return "evaluate a checkpoint (mIoU per class, as mmseg's tools/test.py --eval mIoU)"; }

    @Override
    public int run(String[] args) throws Exception {
        Options opts = new Options()
                .addOption(Option.builder().longOpt("checkpoint").hasArg().argName("FILE").desc("weights (.pth or .safetensors)").build())
                .addOption(Option.builder().longOpt("source").hasArg().argName("PREFIX")
                                   .desc("which model of a UDA checkpoint: model (default, the student), ema_model").build())
                .addOption(Option.builder().longOpt("model").hasArg().argName("NAME")
                                   .desc("hrda_mitb5, daformer_mitb5, … (default: recognised from the checkpoint)").build())
                .addOption(Option.builder().longOpt("data").hasArg().argName("KIND").desc("data set: " + DatasetKind.names()).build())
                .addOption(Option.builder().longOpt("root").hasArg().argName("DIR").desc("data set root (original layout)").build())
                .addOption(Option.builder().longOpt("split").hasArg().argName("S").desc("split (default val; Mapillary validation)").build())
                .addOption(Option.builder().longOpt("device").hasArg().argName("cpu|cuda|auto").desc("backend (default auto)").build())
                .addOption(Option.builder().longOpt("max-images").hasArg().argName("N").desc("only the first N images").build())
                .addOption(Option.builder().longOpt("test-scale").hasArg().argName("WxH")
                                   .desc("Resize (keep ratio) target (default 2048x1024 for HRDA, 1024x512 for DAFormer)").build())
                .addOption(Option.builder().longOpt("hrda-out").hasArg().argName("FUSED|LR|HR")
                                   .desc("HRDA output: fused (default), context only (LR) or detail only (HR)").build())
                .addOption(Option.builder().longOpt("window-batch").hasArg().argName("N")
                                   .desc("slide-test windows per network pass (HRDA's detail windows too; default "
                                         + Segmentor.DEFAULT_WINDOW_BATCH + "; 0 = all at once, the original's batched_slide)").build())
                .addOption(Option.builder().longOpt("show-dir").hasArg().argName("DIR")
                                   .desc("write each prediction: palette blend and train-id PNG").build())
                .addOption(Option.builder().longOpt("out").hasArg().argName("FILE.json").desc("write the metrics as JSON").build())
                .addOption(Option.builder().longOpt("flip").desc("test-time flip averaging (mirrored image too, softmax outputs averaged; RIPU's test)").build())
                .addOption(Option.builder().longOpt("interpolation").hasArg().argName("bilinear|bicubic")
                                   .desc("image resize to the test scale (default bilinear, mmseg's; bicubic: RIPU's test.py)").build())
                .addOption(Option.builder().longOpt("classes16").desc("also report mIoU16 (the 16 Synthia classes)").build())
                .addOption(Option.builder("q").longOpt("quiet").desc("no progress lines").build())
                .addOption(Option.builder("h").longOpt("help").desc("this help").build());
        CommandLine cl = new DefaultParser().parse(opts, args);
        if (cl.hasOption("help") || !cl.hasOption("checkpoint") || !cl.hasOption("data") || !cl.hasOption("root") || !cl.getArgList().isEmpty()) {
            new HelpFormatter().printHelp("hrda test --checkpoint FILE --data KIND --root DIR", "\n", opts,
                                          "\nPrints IoU and Acc per class, aAcc, mIoU, mAcc (percent, mmseg 0.16 eval_metrics).");
            return cl.hasOption("help") ? 0 : 2;
        }
        Path checkpoint = Path.of(cl.getOptionValue("checkpoint"));
        if (!Files.isRegularFile(checkpoint)) throw new CheckpointException(checkpoint, "checkpoint does not exist");
        HrdaOut out = parseHrdaOut(cl.getOptionValue("hrda-out", "FUSED"));
        ModelConfig config = ModelChoice.of(checkpoint, cl.getOptionValue("model"));
        if (out != HrdaOut.FUSED) {
            if (!config.isHrda()) throw new IllegalArgumentException("--hrda-out " + out + " needs an HRDA model, " + config.name() + " is not one");
            config = config.withFixedAttention(out == HrdaOut.HR ? 1 : 0);
        }
        if (config.numClasses() > LabelMaps.NUM_CLASSES) {
            throw new IllegalArgumentException(config.name() + " predicts " + config.numClasses() + " classes; the data sets have the "
                                               + LabelMaps.NUM_CLASSES + " Cityscapes classes");
        }
        DatasetKind kind = DatasetKind.parse(cl.getOptionValue("data"));
        Path root = Path.of(cl.getOptionValue("root"));
        String split = cl.getOptionValue("split", defaultSplit(kind));
        Dataset dataset = Dataset.open(kind, root, split, true);
        List<Dataset.Item> items = dataset.items();
        if (cl.hasOption("max-images")) items = items.subList(0, Math.min(items.size(), positive("--max-images", cl.getOptionValue("max-images"))));
        int[] scale = cl.hasOption("test-scale") ? parseScale(cl.getOptionValue("test-scale"))
                    : config.isHrda() ? new int[] {2048, 1024} : new int[] {1024, 512};
        String source = cl.getOptionValue("source");
        LoadOptions load = LoadOptions.strict().withSource(source);
        Path showDir = cl.hasOption("show-dir") ? Path.of(cl.getOptionValue("show-dir")) : null;
        int windowBatch = cl.hasOption("window-batch") ? nonNegative("--window-batch", cl.getOptionValue("window-batch"))
                        : Segmentor.DEFAULT_WINDOW_BATCH;
        PipelineConfig.Interpolation interpolation = interpolation(cl.getOptionValue("interpolation"));

        try (Backend backend = Backends.create(cl.getOptionValue("device", "auto"));
             Segmentor model = Segmentor.create(backend, DType.F32, config, 0)) {
            LoadReport report = Checkpoints.load(model, checkpoint, load);
            model.windowBatch(windowBatch);
            System.out.printf("model %s%s: %d tensors loaded from %s (%s)%n", config.name(), out == HrdaOut.FUSED ? "" : ", --hrda-out " + out,
                              report.loaded().size(), checkpoint, load);
            if (config.numClasses() < LabelMaps.NUM_CLASSES) {
                System.out.printf("note: the model predicts %d classes (train ids 0-%d); metrics are over the %d Cityscapes classes%n",
                                  config.numClasses(), config.numClasses() - 1, LabelMaps.NUM_CLASSES);
            }
            System.out.printf("data %s %s at %s: %d of %d images, test scale %dx%d, %s, %s%n", kind, split, root, items.size(), dataset.size(),
                              scale[0], scale[1], (cl.hasOption("flip") ? "flip averaged, " : "") + (interpolation == PipelineConfig.Interpolation.BICUBIC ? "bicubic, " : "") + (config.testCrop() == 0 ? "whole image" : "slide " + config.testCrop() + "/" + config.testStride()
                                      + ", window batch " + (windowBatch == Segmentor.ALL_WINDOWS ? "all" : windowBatch)),
                              backend.describe());
            Evaluator evaluator = new Evaluator(new Predictor(model, scale[0], scale[1], cl.hasOption("flip"), interpolation), LabelMaps.CLASSES);
            if (showDir != null) evaluator.showingIn(showDir, root);
            ProgressLines progress = new ProgressLines(items.size(), !cl.hasOption("quiet"));
            PeakMemory memory = new PeakMemory(backend.device());
            List<PeakMemory.Peak> peaks = new ArrayList<>(items.size());
            for (Dataset.Item item : items) {
                memory.start();
                evaluator.add(item);
                peaks.add(memory.stop());
                progress.imageDone(peaks.get(peaks.size() - 1));
            }
            SegMetrics metrics = evaluator.metrics();
            System.out.println(metrics.table());
            Double miou16 = cl.hasOption("classes16") ? metrics.meanIoU(LabelMaps.SYNTHIA_CLASSES) : null;
            PeakMemory.Peak most = largest(peaks);
            if (most != null) System.out.println("peak memory per image (largest): " + most.describe());
            System.out.printf(Locale.ROOT, "mIoU %.2f  mAcc %.2f  aAcc %.2f%s  (%d image%s, %s, %s)%n", metrics.mIoU(), metrics.mAcc(), metrics.aAcc(),
                              miou16 == null ? "" : String.format(Locale.ROOT, "  mIoU16 %.2f", miou16), evaluator.images(),
                              evaluator.images() == 1 ? "" : "s", config.name(),
                              checkpoint);
            if (cl.hasOption("out")) {
                Path json = Path.of(cl.getOptionValue("out"));
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("checkpoint", checkpoint.toString());
                result.put("source", source == null ? "model" : source);
                result.put("model", config.name());
                result.put("hrda_out", out.toString());
                result.put("data", kind.id);
                result.put("root", root.toString());
                result.put("split", split);
                result.put("images", (long) evaluator.images());
                result.put("test_scale", List.of((long) scale[0], (long) scale[1]));
                result.putAll(summary(metrics, miou16));
                result.put("memory", memoryJson(backend.device().toString().toLowerCase(Locale.ROOT), windowBatch, peaks));
                AtomicFiles.writeString(json, Json.write(result) + "\n");
                System.out.println("metrics written to " + json);
            }
        }
        return 0;
    }

    /** aAcc, mIoU, mAcc, [mIoU16], and IoU/Acc per class, in percent; null where NaN (JSON has no NaN). */
    static Map<String, Object> summary(SegMetrics m, Double miou16) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("aAcc", orNull(m.aAcc()));
        out.put("mIoU", orNull(m.mIoU()));
        out.put("mAcc", orNull(m.mAcc()));
        if (miou16 != null) out.put("mIoU16", orNull(miou16));
        Map<String, Object> perClass = new LinkedHashMap<>();
        for (int c = 0; c < m.classNames().size(); c++) {
            Map<String, Object> one = new LinkedHashMap<>();
            one.put("IoU", orNull(m.iou()[c]));
            one.put("Acc", orNull(m.acc()[c]));
            perClass.put(m.classNames().get(c), one);
        }
        out.put("per_class", perClass);
        return out;
    }

    /** The largest tensor peak and the largest RSS peak over the images (null without images). */
    static PeakMemory.Peak largest(List<PeakMemory.Peak> peaks) {
        if (peaks.isEmpty()) return null;
        long tensors = 0, rss = -1;
        boolean reset = true;
        for (PeakMemory.Peak p : peaks) {
            tensors = Math.max(tensors, p.tensorBytes());
            rss = Math.max(rss, p.rssBytes());
            reset &= p.rssReset();
        }
        return new PeakMemory.Peak(tensors, rss, reset);
    }

    /**
     * The "memory" object of --out: the device, the window batch, the largest per-image peaks
     * and each image's (bytes; the RSS -1 where unknown).
     */
    static Map<String, Object> memoryJson(String device, int windowBatch, List<PeakMemory.Peak> peaks) {
        Map<String, Object> m = new LinkedHashMap<>();
        PeakMemory.Peak most = largest(peaks);
        m.put("device", device);
        m.put("window_batch", (long) windowBatch);
        m.put("peak_tensor_bytes", most == null ? null : most.tensorBytes());
        m.put("peak_rss_bytes", most == null ? null : most.rssBytes());
        m.put("rss_peak_per_image", most == null || most.rssReset());
        m.put("per_image_peak_tensor_bytes", peaks.stream().map(p -> (Object) p.tensorBytes()).toList());
        m.put("per_image_peak_rss_bytes", peaks.stream().map(p -> (Object) p.rssBytes()).toList());
        return m;
    }

    private static Double orNull(double v) {
        return Double.isNaN(v) ? null : v;
    }

    static String defaultSplit(DatasetKind kind) {
        return switch (kind) {
            case MAPILLARY -> "validation";
            case GTA, SYNTHIA -> "all";
            default -> "val";
        };
    }

    static HrdaOut parseHrdaOut(String s) {
        try {
            return HrdaOut.valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--hrda-out must be FUSED, LR or HR, got '" + s + "'");
        }
    }

    /** "2048x1024" -> {2048, 1024}. */
    static int[] parseScale(String s) {
        String[] wh = s.toLowerCase(Locale.ROOT).split("x");
        if (wh.length == 2) {
            try {
                int w = Integer.parseInt(wh[0].trim()), h = Integer.parseInt(wh[1].trim());
                if (w > 0 && h > 0) return new int[] {w, h};
            } catch (NumberFormatException ignored) {
                // reported below
            }
        }
        throw new IllegalArgumentException("--test-scale must be WxH with positive sizes, e.g. 2048x1024, got '" + s + "'");
    }

    private static int nonNegative(String option, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n >= 0) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a number of windows (0 = all at once), got '" + value + "'");
    }

    /** --interpolation: bilinear (null: the default) or bicubic; anything else is refused, naming the accepted values. */
    static PipelineConfig.Interpolation interpolation(String value) {
        if (value == null) return PipelineConfig.Interpolation.BILINEAR;
        PipelineConfig.Interpolation i = PipelineConfig.Interpolation.of(value.toLowerCase(java.util.Locale.ROOT));
        if (i == null) throw new IllegalArgumentException("--interpolation " + value + ": expected one of " + String.join(", ", PipelineConfig.Interpolation.keys()));
        return i;
    }

    static int positive(String option, String value) {
        try {
            int n = Integer.parseInt(value);
            if (n > 0) return n;
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new IllegalArgumentException(option + " must be a positive number, got '" + value + "'");
    }

    /** One line per few seconds on stderr: images done / total, images per second, time left, the last image's peak memory. */
    static final class ProgressLines {
        private static final long EVERY_NANOS = 5_000_000_000L;
        private final int total;
        private final boolean on;
        private final long start = System.nanoTime();
        private long lastLine;
        private int done;

        ProgressLines(int total, boolean on) {
            this.total = total;
            this.on = on;
        }

        void imageDone(PeakMemory.Peak peak) {
            done++;
            long now = System.nanoTime();
            if (!on || (done > 1 && done < total && now - lastLine < EVERY_NANOS)) return;
            lastLine = now;
            double seconds = (now - start) / 1e9, rate = done / Math.max(seconds, 1e-9);
            long left = Math.round((total - done) / rate);
            System.err.printf(Locale.ROOT, "test: %d/%d images, %.2f img/s, %s, peak %s%n", done, total, rate,
                              done < total ? String.format(Locale.ROOT, "%d:%02d left", left / 60, left % 60)
                                           : String.format(Locale.ROOT, "%.1f s", seconds),
                              peak.describe());
        }
    }
}
