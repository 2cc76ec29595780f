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
                        tape.backward(loss);
                        be.synchronize();
                    }
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

    /** The process's peak resident set (Linux), e.g. "2345 MiB". */
    static String vmHwm() {
        long b = PeakMemory.rssPeakBytes();
        return b < 0 ? "?" : (b >> 20) + " MiB";
    }
}
