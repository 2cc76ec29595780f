package dev.hrda.bench;

import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.eval.PeakMemory;
import dev.hrda.model.CropBox;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.MemoryPool;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Training steps (forward + backward, f32) of a whole network, as tools/torch_peer.py runs them
 * in PyTorch: one warm-up step, then the median of the measured ones, and the peaks of the tensor
 * memory (MemoryStats), of the CPU pool and of the process (VmHWM). HRDA: the detail crop is the
 * top-left half of the input, the context the input at 0.5. Usage:
 * {@code java -cp ... dev.hrda.bench.StepBench daformer_mitb0 256 [batch 2] [steps 3] [device cpu]}
 */
public final class StepBench {
    public static void main(String[] args) {
        String model = args[0];
        int size = Integer.parseInt(args[1]);
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        String device = args.length > 4 ? args[4] : "cpu";
        try (Backend be = Backends.create(device)) {
            ModelConfig c = ModelConfig.named(model);
            try (Segmentor net = Segmentor.create(be, DType.F32, c, 0)) {
                Random r = new Random(1);
                float[] x = new float[batch * 3 * size * size];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                int[] y = new int[batch * size * size];
                for (int i = 0; i < y.length; i++) y[i] = r.nextInt(c.numClasses());
                List<Double> times = new ArrayList<>();
                long params = MemoryStats.liveBytes(be.device());
                MemoryStats.resetPeak(be.device());
                for (int it = 0; it <= steps; it++) {
                    long t0 = System.nanoTime();
                    try (Arena a = Arena.open(); Tape tape = Tape.record()) {
                        Tensor img = Tensor.of(be, x, batch, 3, size, size), label = Tensor.of(be, y, batch, size, size);
                        Tensor loss = net instanceof HrdaEncoderDecoder h
                                ? h.losses(h.forwardTrainParts(img, new CropBox(0, 0, size / 2, size / 2)), label, null).total()
                                : net.forwardTrain(img, label, null, r).total();
                        if (it == 0 && Boolean.getBoolean("hrda.tape.sites")) printSaved(tape);
                        tape.backward(loss);
                        be.synchronize();
                    }
                    if (it == 0 && MemoryStats.peakSite(be.device()) != null) System.out.println("tensors peak at " + MemoryStats.peakSite(be.device()));
                    if (it > 0) times.add((System.nanoTime() - t0) / 1e9);
                }
                List<Double> sorted = new ArrayList<>(times);
                Collections.sort(sorted);
                StringBuilder each = new StringBuilder();
                for (double t : times) each.append(String.format(Locale.ROOT, " %.3f", t));
                System.out.printf(Locale.ROOT, "hrda-java %s %d batch %d: %.3f s/step (steps%s), tensors peak %.0f MiB (parameters and "
                                  + "gradients %.0f MiB), %s, peak RSS %s, %s%n", model, size, batch, sorted.get(sorted.size() / 2),
                                  each, MemoryStats.peakBytes(be.device()) / 1048576.0, params / 1048576.0, MemoryPool.describe(),
                                  vmHwm(), be.describe());
            }
        }
    }

    /** What the forward keeps for the backward pass, by recording site (-Dhrda.tape.sites=true): the 40 largest. */
    static void printSaved(Tape tape) {
        Map<String, Long> by = tape.savedBytesBySite();
        long total = 0;
        for (long v : by.values()) total += v;
        System.out.printf(Locale.ROOT, "saved for backward: %.1f MiB in %d sites%n", total / 1048576.0, by.size());
        int n = 0;
        for (var e : by.entrySet()) {
            if (n++ == 40) break;
            System.out.printf(Locale.ROOT, "  %8.1f MiB  %s%n", e.getValue() / 1048576.0, e.getKey());
        }
    }

    /** The process's peak resident set (Linux), e.g. "2345 MiB". */
    static String vmHwm() {
        long b = PeakMemory.rssPeakBytes();
        return b < 0 ? "?" : (b >> 20) + " MiB";
    }
}
