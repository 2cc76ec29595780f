package dev.hrda.testing;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Finite-difference check of the tape's gradients in float64 on the CPU.
 * L = sum(f(inputs) * R) for a fixed random R; each input element (or a random subset of at most
 * {@code maxProbes}) is perturbed by +-h and the central difference compared with the analytic
 * gradient: |analytic - numeric| <= atol + rtol*|numeric|.
 */
public final class GradCheck {
    public static final double H = 1e-6, ATOL = 1e-7, RTOL = 1e-5;

    private GradCheck() {}

    public static Tensor random(Backend be, Random r, int... shape) {
        long n = 1;
        for (int s : shape) n *= s;
        double[] a = new double[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian();
        Tensor t = Tensor.of(be, a, shape);
        t.requiresGrad = true;
        return t;
    }

    /** Runs the check; {@code seed} resets the dropout stream before every evaluation. */
    public static void check(String what, List<Tensor> inputs, Function<List<Tensor>, Tensor> f, int maxProbes, long seed) {
        Backend be = inputs.get(0).backend();
        Random r = new Random(what.hashCode());
        try (Arena arena = Arena.open()) {
            Tensor weights;
            Tensor out0;
            F.seed(seed);
            try (Tape tape = Tape.record()) {
                out0 = f.apply(inputs);
                double[] w = new double[Math.toIntExact(out0.numel())];
                for (int i = 0; i < w.length; i++) w[i] = r.nextGaussian();
                weights = Tensor.of(be, w, out0.shape());
                Tensor loss = F.sum(F.mul(out0, weights));
                tape.backward(loss);
            }
            assertTrue(out0.dtype() == DType.F64, "gradient checks run in f64");
            for (int k = 0; k < inputs.size(); k++) {
                Tensor x = inputs.get(k);
                if (!x.requiresGrad) continue;
                if (x.grad == null) fail(what + ": input " + k + " received no gradient");
                double[] analytic = x.grad.toDoubleArray();
                double[] values = x.toDoubleArray();
                int n = values.length;
                int probes = Math.min(n, maxProbes);
                for (int p = 0; p < probes; p++) {
                    int i = probes == n ? p : r.nextInt(n);
                    double orig = values[i];
                    values[i] = orig + H;
                    x.copyFrom(values);
                    double lp = evaluate(f, inputs, weights, seed);
                    values[i] = orig - H;
                    x.copyFrom(values);
                    double lm = evaluate(f, inputs, weights, seed);
                    values[i] = orig;
                    x.copyFrom(values);
                    double numeric = (lp - lm) / (2 * H);
                    double err = Math.abs(analytic[i] - numeric);
                    // the last term bounds the round-off of the difference quotient itself (~1e-16 |L| / H)
                    if (err > ATOL + RTOL * Math.abs(numeric) + 1e-9 * Math.max(Math.abs(lp), 1)) {
                        fail(String.format("%s: d/d input%d[%d]: analytic %.10g vs numeric %.10g (err %.3g)",
                                           what, k, i, analytic[i], numeric, err));
                    }
                }
            }
            for (Tensor x : inputs) x.grad = null;  // arena-owned; freed with it
        }
    }

    private static double evaluate(Function<List<Tensor>, Tensor> f, List<Tensor> inputs, Tensor weights, long seed) {
        try (Arena a = Arena.open()) {
            F.seed(seed);
            Tensor out = f.apply(inputs);
            double[] o = out.toDoubleArray(), w = weights.toDoubleArray();
            double s = 0;
            for (int i = 0; i < o.length; i++) s += o[i] * w[i];
            return s;
        }
    }
}
