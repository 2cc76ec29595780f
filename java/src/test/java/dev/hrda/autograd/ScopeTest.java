package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A Scope frees what no backward step reads when it closes, the rest right after its last reader ran. */
class ScopeTest {
    private record Run(Tensor a, Tensor b, Tensor c, Tensor out) {}

    /** a = 2x (read by no step), b = a + a (read by gelu's step), c = gelu(b) (read by gelu's and linear's), out = c W. */
    private static Run forward(Tensor x, Tensor w, boolean scoped) {
        if (!scoped) {
            Tensor a = F.scale(x, 2), b = F.add(a, a), c = F.gelu(b);
            return new Run(a, b, c, F.linear(c, w, null));
        }
        try (Scope s = Scope.open()) {
            Tensor a = F.scale(x, 2), b = F.add(a, a), c = F.gelu(b);
            return new Run(a, b, c, s.keep(F.linear(c, w, null)));
        }
    }

    @Test void freesUnreadIntermediatesAtOnceAndReadOnesAfterTheirLastBackwardStep() {
        try (Backend be = new CpuBackend(); Arena arena = Arena.open()) {
            Random r = new Random(1);
            Tensor x = GradCheck.random(be, r, 3, 4), w = GradCheck.random(be, r, 4, 4);
            double[][] expected = new double[2][];
            try (Tape tape = Tape.record()) {
                Run plain = forward(x, w, false);
                tape.backward(F.sum(plain.out()));
                expected[0] = x.grad.toDoubleArray();
                expected[1] = w.grad.toDoubleArray();
                x.grad = null;
                w.grad = null;
            }
            try (Tape tape = Tape.record()) {
                Run run = forward(x, w, true);
                assertTrue(run.a().isFreed(), "a is read by no backward step: freed when the scope closes");
                assertFalse(run.b().isFreed() || run.c().isFreed(), "b and c are read by pending steps");
                assertFalse(run.out().isFreed(), "kept");
                tape.backward(F.sum(run.out()));
                assertTrue(run.b().isFreed() && run.c().isFreed(), "freed once their last reader ran");
                assertFalse(run.out().isFreed(), "kept results live until their arena closes");
                assertArrayEquals(expected[0], x.grad.toDoubleArray(), 0, "dx");
                assertArrayEquals(expected[1], w.grad.toDoubleArray(), 0, "dw");
            }
            Run inference = forward(x, w, true);  // no tape: only the kept result survives
            assertTrue(inference.b().isFreed() && inference.c().isFreed());
            assertFalse(inference.out().isFreed());
        }
    }

    /** Scope.done frees at once without a tape, only what the innermost arena made, never views; with a tape it leaves the tape's tensors. */
    @Test void doneFreesAnIntermediateAtOnceOrAfterItsLastBackwardReader() {
        try (Backend be = new CpuBackend(); Arena outer = Arena.open()) {
            Random r = new Random(2);
            Tensor x = GradCheck.random(be, r, 3, 4);
            try (Scope s = Scope.open()) {
                Tensor a = F.scale(x, 2);
                Tensor v = a.view(12);
                Scope.done(v);
                assertFalse(a.isFreed(), "a view never frees its base");
                Scope.done(x);
                assertFalse(x.isFreed(), "made outside the innermost arena: the caller's");
                Tensor b = F.add(a, a);
                Scope.done(a);
                assertTrue(a.isFreed(), "no tape: freed after its last reader");
                s.keep(b);
            }
            x.requiresGrad = true;
            try (Tape tape = Tape.record(); Scope s = Scope.open()) {
                Tensor a = F.scale(x, 2), b = F.gelu(a);
                Scope.done(a);
                assertFalse(a.isFreed(), "with a tape: gelu's backward reads a");
                Tensor c = F.scale(b, 3), d = F.relu(c);
                Scope.done(c);
                assertTrue(c.isFreed(), "with a tape: nothing reads c (relu's backward reads its output), freed at once");
                Scope.done(b);
                assertTrue(b.isFreed(), "nothing reads b (scale's backward needs no input)");
                tape.backward(F.sum(d));
                assertTrue(a.isFreed(), "a freed right after gelu's backward, its last reader");
                assertTrue(x.grad != null);
                double[] xs = x.toDoubleArray(), g = x.grad.toDoubleArray();
                for (int i = 0; i < xs.length; i++) {
                    double u = 2 * xs[i], gelu = 0.5 * u * (1 + erf(u / Math.sqrt(2)));
                    double dgelu = 0.5 * (1 + erf(u / Math.sqrt(2))) + u * Math.exp(-u * u / 2) / Math.sqrt(2 * Math.PI);
                    double want = gelu > 0 ? 3 * dgelu * 2 : 0;
                    assertEquals(want, g[i], 1e-5 * Math.max(1, Math.abs(want)), "d/dx sum relu(3 gelu(2x)) at " + i);
                }
            }
            x.grad = null;
        }
    }

    /** erf by Numerical Recipes' erfc approximation (fractional error below 1.2e-7): enough for the 1e-5 check. */
    private static double erf(double z) {
        double t = 1.0 / (1.0 + 0.5 * Math.abs(z));
        double y = 1 - t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
                   + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return z >= 0 ? y : -y;
    }
}
