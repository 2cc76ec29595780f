package dev.hrda.bench;

import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Backends;
import dev.hrda.backend.ConvSpec;
import dev.hrda.model.CropBox;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * Where a training step's time goes, op by op: the backend is wrapped in a proxy that
 * synchronises and times every call. Usage:
 * {@code java -cp ... dev.hrda.bench.OpProfile [model] [device] [size] [iterations]}
 * (defaults: daformer_mitb0 cpu 512 2; the first iteration is a warm-up).
 */
public final class OpProfile {
    /** -Dprofile.convShapes=true: one row per convolution geometry instead of one per op. */
    private static final boolean BY_SHAPE = Boolean.getBoolean("profile.convShapes");

    static String shape(ConvSpec s) {
        return String.format("%dx%d s%d d%d g%d %d->%d %dx%d", s.kh(), s.kw(), s.strideH(), s.dilH(), s.groups(), s.c(), s.k(),
                             s.h(), s.w());
    }

    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "daformer_mitb0";
        String device = args.length > 1 ? args[1] : "cpu";
        int size = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int iters = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        Map<String, long[]> stats = new TreeMap<>();  // op -> {calls, nanos}
        boolean[] on = {false};
        try (Backend real = Backends.create(device)) {
            Backend be = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (p, m, a) -> {
                long t0 = System.nanoTime();
                try {
                    Object r = m.invoke(real, a);
                    if (on[0] && !m.getName().equals("synchronize")) {
                        real.synchronize();
                        String key = m.getName();
                        if (BY_SHAPE && key.startsWith("conv2d") && a[0] instanceof ConvSpec cs) key += " " + shape(cs);
                        long[] s = stats.computeIfAbsent(key, k -> new long[2]);
                        s[0]++;
                        s[1] += System.nanoTime() - t0;
                    }
                    return r;
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
            });
            ModelConfig c = ModelConfig.named(model);
            try (Segmentor net = Segmentor.create(be, DType.F32, c, 0)) {
                Random r = new Random(1);
                float[] x = new float[2 * 3 * size * size];
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                int[] y = new int[2 * size * size];
                for (int i = 0; i < y.length; i++) y[i] = r.nextInt(c.numClasses());
                long total = 0;
                for (int it = 0; it < iters; it++) {
                    on[0] = it > 0;
                    long t0 = System.nanoTime();
                    try (Arena a = Arena.open(); Tape tape = Tape.record()) {
                        Tensor img = Tensor.of(be, x, 2, 3, size, size), label = Tensor.of(be, y, 2, size, size);
                        Tensor loss = net instanceof HrdaEncoderDecoder h
                                ? h.losses(h.forwardTrainParts(img, new CropBox(0, 0, size / 2, size / 2)), label, null).total()
                                : net.forwardTrain(img, label, null, r).total();
                        tape.backward(loss);
                        be.synchronize();
                    }
                    if (it > 0) total += System.nanoTime() - t0;
                    System.out.printf("iteration %d: %.1f s%n", it, (System.nanoTime() - t0) / 1e9);
                }
                double all = stats.values().stream().mapToLong(s -> s[1]).sum();
                System.out.printf("%-52s %8s %10s %6s%n", "op", "calls", "ms/iter", "share");
                stats.entrySet().stream().sorted((p, q) -> Long.compare(q.getValue()[1], p.getValue()[1])).forEach(e ->
                        System.out.printf("%-52s %8d %10.1f %5.1f%%%n", e.getKey(), e.getValue()[0] / (iters - 1),
                                          e.getValue()[1] / 1e6 / (iters - 1), 100 * e.getValue()[1] / all));
                System.out.printf("timed ops %.1f ms of %.1f ms per iteration%n", all / 1e6 / (iters - 1), total / 1e6 / (iters - 1));
            }
        }
    }
}
