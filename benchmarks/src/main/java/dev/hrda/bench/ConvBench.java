package dev.hrda.bench;

import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.ConvSpec;
import dev.hrda.backend.CpuBackend;
import dev.hrda.model.CropBox;
import dev.hrda.model.HrdaEncoderDecoder;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.lang.management.ManagementFactory;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Achieved GFLOP/s of every convolution geometry of a model's training step on the CPU, oneDNN
 * (the backend's f32 path) against im2col + OpenBLAS (the reference path), each direction
 * (forward, backward-data, backward-weights) with its reorders and temporaries counted.
 * The geometries are recorded from one real forward + backward of the model. Usage:
 * {@code java -cp ... dev.hrda.bench.ConvBench [model] [size] [batch] [minSeconds]}
 * (defaults daformer_mitb0 256 2 0.3). Prints wall time per call and the process CPU time per
 * call (user + system of all threads: on a loaded machine the wall time is an upper bound, the
 * CPU time / threads a lower one).
 */
public final class ConvBench {
    public static void main(String[] args) {
        String model = args.length > 0 ? args[0] : "daformer_mitb0";
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        double minSeconds = args.length > 3 ? Double.parseDouble(args[3]) : 0.3;
        Map<ConvSpec, Integer> specs = record(model, size, batch);
        try (CpuBackend dnnl = new CpuBackend(); CpuBackend im2col = new CpuBackend(false)) {
            System.out.println(dnnl.describe());
            System.out.printf(Locale.ROOT, "%-44s %5s %-4s %9s %7s %9s %7s %6s  %s%n", "geometry (kernel stride dil groups c->k HxW)",
                              "calls", "dir", "dnnl ms", "GFLOP/s", "im2col ms", "GFLOP/s", "ratio", "oneDNN implementation");
            double[] tot = new double[2];
            for (var e : specs.entrySet()) {
                ConvSpec s = e.getKey();
                for (String dir : new String[] {"fwd", "bwd", "bww"}) {
                    double[] a = time(dnnl, s, dir, minSeconds), b = time(im2col, s, dir, minSeconds);
                    double gflop = 2.0 * s.macs() / 1e9;
                    tot[0] += a[0] * e.getValue();
                    tot[1] += b[0] * e.getValue();
                    System.out.printf(Locale.ROOT, "%-44s %5d %-4s %9.2f %7.1f %9.2f %7.1f %6.2f  %s%n", OpProfile.shape(s) + " n" + s.n(),
                                      e.getValue(), dir, a[0] * 1e3, gflop / a[0], b[0] * 1e3, gflop / b[0], a[0] / b[0],
                                      dnnl.convImplementation(s, dir));
                }
            }
            System.out.printf(Locale.ROOT, "all convolutions of one step: oneDNN %.0f ms, im2col %.0f ms (%.2fx)%n",
                              tot[0] * 1e3, tot[1] * 1e3, tot[0] / tot[1]);
        }
    }

    /** The distinct convolution geometries of one training step, with their call counts (forward). */
    static Map<ConvSpec, Integer> record(String model, int size, int batch) {
        Map<ConvSpec, Integer> specs = new LinkedHashMap<>();
        try (Backend real = new CpuBackend()) {
            Backend be = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (p, m, a) -> {
                if (m.getName().equals("conv2d")) specs.merge((ConvSpec) a[0], 1, Integer::sum);
                try {
                    return m.invoke(real, a);
                } catch (InvocationTargetException ex) {
                    throw ex.getCause();
                }
            });
            ModelConfig c = ModelConfig.named(model);
            try (Segmentor net = Segmentor.create(be, DType.F32, c, 0); Arena a = Arena.open(); Tape tape = Tape.record()) {
                Random r = new Random(1);
                float[] x = new float[batch * 3 * size * size];
                int[] y = new int[batch * size * size];
                Tensor img = Tensor.of(be, x, batch, 3, size, size), label = Tensor.of(be, y, batch, size, size);
                Tensor loss = net instanceof HrdaEncoderDecoder h
                        ? h.losses(h.forwardTrainParts(img, new CropBox(0, 0, size / 2, size / 2)), label, null).total()
                        : net.forwardTrain(img, label, null, r).total();
                tape.backward(loss);
            }
        }
        return specs;
    }

    /** {wall seconds, process CPU seconds} per call, the fastest of the repetitions filling minSeconds (at least 3). */
    static double[] time(CpuBackend be, ConvSpec s, String dir, double minSeconds) {
        try (Arena a = Arena.open()) {
            Random r = new Random(2);
            Tensor x = rand(be, r, s.n(), s.c(), s.h(), s.w()), w = rand(be, r, s.weightShape()), b = rand(be, r, s.k());
            Tensor y = rand(be, r, s.outShape());
            Runnable op = switch (dir) {
                case "fwd" -> () -> be.conv2d(s, x, w, b, y);
                case "bwd" -> () -> be.conv2dBackwardData(s, y, w, x, false);
                default -> () -> be.conv2dBackwardWeight(s, x, y, w, b);
            };
            op.run();  // plan, JIT and first touch
            var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            int reps = 0;
            long t0 = System.nanoTime(), c0 = os.getProcessCpuTime();
            double[] best = {Double.MAX_VALUE, 0};
            while (reps < 3 || System.nanoTime() - t0 < minSeconds * 1e9) {
                long a0 = System.nanoTime(), b0 = os.getProcessCpuTime();
                op.run();
                double wall = (System.nanoTime() - a0) / 1e9;
                if (wall < best[0]) best = new double[] {wall, (os.getProcessCpuTime() - b0) / 1e9};
                reps++;
            }
            return best;
        }
    }

    static Tensor rand(Backend be, Random r, int... shape) {
        long n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextDouble() - 0.5);
        return Tensor.of(be, v, shape);
    }
}
