package dev.hrda.bench;

import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.data.Batch;
import dev.hrda.data.Sample;
import dev.hrda.data.UdaBatch;
import dev.hrda.eval.PeakMemory;
import dev.hrda.model.Backbone;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.MemoryPool;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.uda.Dacs;
import dev.hrda.uda.DacsSettings;
import dev.hrda.uda.SeedPlan;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * One whole DACS iteration with every component on, as tools/golden/dacs_iteration.py --bench
 * times it in PyTorch: real-size MiT-B0 models (student, EMA teacher, ImageNet model for the
 * feature distance), batch 2 source + 2 target, f32, random weights and blocky random labels;
 * DAFormer at a 512² crop (FD on things, ignored rows 15/120, MIC block 32), HRDA at a 1024² crop
 * (context ×0.5, 512² detail crops, crop_pseudo_margins 30/240/30/30, MIC block 64). The data
 * are made before the clock starts (no loader). Prints each iteration, the mean after the
 * warm-up (the peer's statistic), the time split and the peaks (tensors, pool, process).
 * {@code java -cp ... dev.hrda.bench.IterationBench daformer_mitb0|hrda_mitb0 [iters 3] [device cpu] [cp]}; {@code cp}
 * turns on activation checkpointing of the student (mmseg's with_cp, {@code runtime.with_cp} of a
 * config): the encoder blocks and the ASPP recompute their activations in the backward pass.
 */
public final class IterationBench {
    public static void main(String[] args) {
        String model = args[0];
        int iters = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        String device = args.length > 2 ? args[2] : "cpu";
        boolean withCp = args.length > 3 && args[3].equals("cp");
        ModelConfig c = ModelConfig.named(model);
        boolean hrda = c.hrda() != null;
        int size = hrda ? 1024 : 512;
        DacsSettings s = (hrda ? DacsSettings.hrda() : DacsSettings.daformer())
                .withMic(new DacsSettings.Mic("separatetrgaug", 1, 0.7, hrda ? 64 : 32));
        Random rng = new Random(0);
        try (Backend be = Backends.create(device);
             Segmentor student = Segmentor.create(be, DType.F32, c, 0);
             Segmentor teacher = Segmentor.create(be, DType.F32, c, 1);
             Backbone imnet = Backbone.create(be, DType.F32, c.backbone(), new Random(2));
             AdamW opt = AdamW.hrda(be, student.namedParameters())) {
            student.useCheckpoint(withCp);
            Dacs dacs = new Dacs(student, teacher, imnet, opt, new PolySchedule(40000, 1.0, 0, 1500, 1e-6), s);
            SeedPlan plan = new SeedPlan(0);
            List<Double> times = new ArrayList<>();
            double[] split = new double[4];
            for (int it = 0; it <= iters; it++) {
                try (UdaBatch b = batch(rng, size, c.numClasses(), hrda)) {
                    long t0 = System.nanoTime();
                    Dacs.Result r = dacs.step(it, b, plan.at(it));
                    be.synchronize();
                    double dt = (System.nanoTime() - t0) / 1e9;
                    StringBuilder phases = new StringBuilder();  // where the live tensor peak lies
                    r.phasePeaks().forEach((k, v) -> phases.append(' ').append(k).append('=').append(v >> 20));
                    System.out.printf(Locale.ROOT, "hrda-java bench=%s %s iteration_s=%.3f peak_rss_mib=%d loss=%.4f tensors_peak_mib_by_phase:%s%n", model,
                                      it == 0 ? "warmup" : "iter=" + it, dt, PeakMemory.rssPeakBytes() >> 20, r.log().get("loss"), phases);
                    if (it > 0) {
                        times.add(dt);
                        split[0] += r.timing().teacher() / iters;
                        split[1] += r.timing().forward() / iters;
                        split[2] += r.timing().backward() / iters;
                        split[3] += r.timing().optimizer() / iters;
                    }
                }
            }
            double mean = times.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
            List<Double> sorted = new ArrayList<>(times);
            Collections.sort(sorted);
            if (sorted.isEmpty()) sorted.add(Double.NaN);
            System.out.printf(Locale.ROOT, "hrda-java bench=%s iters=%d crop=%d batch=2 dtype=f32 with_cp=%s iteration_s=%.3f (median %.3f; teacher %.2f, "
                              + "forward %.2f, backward %.2f, optimizer %.2f) peak_rss_mib=%d tensors_peak_mib=%.0f %s; %s%n", model, iters, size, withCp,
                              mean, sorted.get(sorted.size() / 2), split[0], split[1], split[2], split[3], PeakMemory.rssPeakBytes() >> 20,
                              MemoryStats.peakBytes(be.device()) / 1048576.0, MemoryPool.describe(), be.describe());
        }
    }

    /** As the peer's make_labels: a class per 64² block, 15 % of 16² cells another, one thing-class block, 3 % 8² ignore squares. */
    static UdaBatch batch(Random r, int size, int classes, boolean valid) {
        List<Sample> src = new ArrayList<>(), tgt = new ArrayList<>();
        int n = size * size, block = 64, cell = 16;
        for (int i = 0; i < 2; i++) {
            byte[] lab = new byte[n];
            for (int y = 0; y < size; y += block) for (int x = 0; x < size; x += block) fill(lab, size, y, x, block, r.nextInt(classes));
            fill(lab, size, block * r.nextInt(size / block), block * r.nextInt(size / block), block, DacsSettings.THING_CLASSES[i]);
            for (int y = 0; y < size; y += cell) for (int x = 0; x < size; x += cell) if (r.nextDouble() < 0.15) fill(lab, size, y, x, cell, r.nextInt(classes));
            for (int y = 0; y < size; y += 8) for (int x = 0; x < size; x += 8) if (r.nextDouble() < 0.03) fill(lab, size, y, x, 8, 255);
            src.add(new Sample(image(r, n), size, size, lab, size, size, null, "bench", false, 0, 0));
            byte[] v = null;
            if (valid) {
                // crop_pseudo_margins [30, 240, 30, 30] (top, bottom, left, right)
                v = new byte[n];
                for (int y = 30; y < size - 240; y++) for (int x = 30; x < size - 30; x++) v[y * size + x] = 1;
            }
            tgt.add(new Sample(image(r, n), size, size, null, 0, 0, v, "bench", false, 0, 0));
        }
        return new UdaBatch(Batch.of(src, false), Batch.of(tgt, false));
    }

    private static float[] image(Random r, int n) {
        float[] img = new float[3 * n];
        for (int i = 0; i < img.length; i++) img[i] = (float) r.nextGaussian();
        return img;
    }

    private static void fill(byte[] lab, int size, int y0, int x0, int k, int v) {
        for (int y = y0; y < Math.min(size, y0 + k); y++) for (int x = x0; x < Math.min(size, x0 + k); x++) lab[y * size + x] = (byte) v;
    }
}
