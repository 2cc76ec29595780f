package dev.hrda.bench;

import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.eval.PeakMemory;
import dev.hrda.eval.Predictor;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.MemoryPool;
import dev.hrda.tensor.MemoryStats;

import java.util.Locale;
import java.util.Random;

/**
 * Peak memory of {@code hrda test} per image: the test-time inference (slide test with HRDA's
 * detail windows inside, or DAFormer's whole image), the resize to the image size and the
 * arg-max, as {@link Predictor#classify} runs them for each image, on a random normalised image
 * with random weights (memory and time do not depend on the values). The peer is
 * {@code tools/torch_eval_mem.py} (the same inference in PyTorch eager mode, batched_slide).
 *
 * <pre>
 * java -cp "benchmarks/target/benchmarks.jar:benchmarks/target/lib/*" dev.hrda.bench.EvalMemoryBench \
 *      hrda_mitb0 2048x1024 [--window-batch N] [--images 3] [--device cpu|cuda]
 * </pre>
 *
 * Prints per image the seconds, the peak of live tensor bytes (above the weights) and the peak
 * resident set of the process (VmHWM, reset before each image), then one summary line.
 */
public final class EvalMemoryBench {
    public static void main(String[] args) {
        if (args.length < 2) {
            System.err.println("usage: EvalMemoryBench MODEL WxH [--window-batch N] [--images K] [--device cpu|cuda]");
            System.exit(2);
        }
        ModelConfig config = ModelConfig.named(args[0]);
        String[] wh = args[1].toLowerCase(Locale.ROOT).split("x");
        int w = Integer.parseInt(wh[0]), h = Integer.parseInt(wh[1]);
        int windowBatch = Integer.parseInt(option(args, "--window-batch", String.valueOf(Segmentor.DEFAULT_WINDOW_BATCH)));
        int images = Integer.parseInt(option(args, "--images", "3"));
        String device = option(args, "--device", "cpu");
        float[] chw = new float[3 * h * w];
        Random r = new Random(1);
        for (int i = 0; i < chw.length; i++) chw[i] = (float) r.nextGaussian();
        try (Backend be = Backends.create(device); Segmentor model = Segmentor.create(be, DType.F32, config, 0)) {
            model.windowBatch(windowBatch);
            Predictor predictor = new Predictor(model, w, h);
            long weights = MemoryStats.liveBytes(be.device());
            System.out.printf(Locale.ROOT, "ours %s %dx%d, window batch %s, %s: weights %s, process RSS %s before the first image%n",
                              config.name(), w, h, windowBatch == Segmentor.ALL_WINDOWS ? "all" : windowBatch, be.describe(),
                              PeakMemory.gb(weights), PeakMemory.gb(PeakMemory.rssBytes()));
            PeakMemory memory = new PeakMemory(be.device());
            long maxTensors = 0, maxRss = 0;
            double total = 0;
            for (int i = 0; i < images; i++) {
                memory.start();
                long t0 = System.nanoTime();
                predictor.classify(chw, h, w, h, w);
                be.synchronize();
                double s = (System.nanoTime() - t0) / 1e9;
                PeakMemory.Peak p = memory.stop();
                if (i > 0) total += s;
                maxTensors = Math.max(maxTensors, p.tensorBytes());
                maxRss = Math.max(maxRss, p.rssBytes());
                System.out.printf(Locale.ROOT, "image %d: %.2f s, peak %s (activations %s above the weights), pool cached %s%n", i + 1, s,
                                  p.describe(), PeakMemory.gb(p.tensorBytes() - weights), PeakMemory.gb(MemoryPool.cachedBytes()));
            }
            System.out.printf(Locale.ROOT, "ours %s %dx%d window batch %s: peak tensors %s, peak RSS %s, %s s/image after the first%n",
                              config.name(), w, h, windowBatch == Segmentor.ALL_WINDOWS ? "all" : windowBatch, PeakMemory.gb(maxTensors),
                              PeakMemory.gb(maxRss), images > 1 ? String.format(Locale.ROOT, "%.2f", total / (images - 1)) : "-");
        }
    }

    private static String option(String[] args, String key, String fallback) {
        for (int i = 2; i + 1 < args.length; i++) if (args[i].equals(key)) return args[i + 1];
        return fallback;
    }
}
