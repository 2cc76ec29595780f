package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.nn.DepthwiseSeparableConvModule;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * F.recomputable drops an activation after the forward and recomputes it for the backward pass:
 * the same values and gradients bit for bit, less memory kept, and a loud failure where the
 * contract is broken.
 */
class RecomputableTest {
    private record Result(List<double[]> values, long keptBytes, long peakBytes) {}

    /**
     * An ASPP branch (mmcv's DepthwiseSeparableConvModule: depthwise dilated 3×3 + BN + ReLU,
     * pointwise 1×1 + BN + ReLU, both BN in training mode), then GELU and a 1×1 convolution, in f32
     * on the kernels training uses. {@code plain} composes the same ops without F.recomputable.
     */
    private static Result run(Backend be, DepthwiseSeparableConvModule m, Tensor head, Tensor x, boolean plain) {
        for (Tensor p : m.parameters()) dropGrad(p);
        dropGrad(head);
        x.grad = null;
        try (Arena step = Arena.open(); Tape tape = Tape.record()) {
            long before = MemoryStats.liveBytes(Device.CPU);
            Tensor out;
            try (Scope s = Scope.open()) {
                Tensor y;
                if (plain) {
                    Tensor d = F.relu(m.depthwise.bn.forward(m.depthwise.conv.forward(x)));
                    y = F.relu(m.pointwise.bn.forward(m.pointwise.conv.forward(d)));
                } else {
                    y = m.forward(x);
                }
                Tensor g = F.recomputable(F::gelu, y);
                if (plain) g = F.gelu(y);
                Scope.done(y);
                out = s.keep(F.conv2d(g, head, null, 1, 0, 1, 1));
            }
            long kept = MemoryStats.liveBytes(Device.CPU) - before;
            MemoryStats.resetPeak(Device.CPU);
            int[] shape = out.shape();
            Tensor w = Tensor.of(be, randomFloats(new Random(9), (int) out.numel()), shape);
            List<double[]> values = new ArrayList<>();
            values.add(out.toDoubleArray());
            Tensor loss = F.sum(F.mul(out, w));
            tape.backward(loss);
            long peak = MemoryStats.peakBytes(Device.CPU) - before;
            values.add(x.grad.toDoubleArray());
            values.add(head.grad.toDoubleArray());
            for (Tensor p : m.parameters()) values.add(p.grad.toDoubleArray());
            values.add(m.depthwise.bn.runningMean.toDoubleArray());
            values.add(m.pointwise.bn.runningVar.toDoubleArray());
            x.grad = null;
            return new Result(values, kept, peak);
        }
    }

    @Test void sameValuesAndGradientsBitForBitWithLessKept() {
        try (Backend be = new CpuBackend()) {
            Random r = new Random(3);
            int n = 2, c = 12, h = 17, wd = 19;
            Tensor x = Arena.persistent(() -> Tensor.of(be, randomFloats(r, n * c * h * wd), n, c, h, wd));
            x.requiresGrad = true;
            Tensor head = Arena.persistent(() -> Tensor.of(be, randomFloats(r, 5 * 8), 5, 8, 1, 1));
            head.isParam = true;
            head.requiresGrad = true;
            try (DepthwiseSeparableConvModule m = new DepthwiseSeparableConvModule(be, DType.F32, c, 8, 3, 2, r)) {
                m.train(true);
                for (Tensor p : List.of(m.depthwise.bn.weight, m.depthwise.bn.bias, m.pointwise.bn.weight, m.pointwise.bn.bias)) {
                    p.copyFrom(randomFloats(r, (int) p.numel()));  // BN's affine away from 1 / 0: ReLU masks depend on it
                }
                Tensor[] rm = {m.depthwise.bn.runningMean, m.pointwise.bn.runningVar};
                double[][] start = {rm[0].toDoubleArray(), rm[1].toDoubleArray()};
                Result plain = run(be, m, head, x, true);
                rm[0].copyFrom(toFloats(start[0]));
                rm[1].copyFrom(toFloats(start[1]));
                Result again = run(be, m, head, x, false);
                assertEquals(plain.values().size(), again.values().size());
                for (int i = 0; i < plain.values().size(); i++) {
                    double[] p = plain.values().get(i), q = again.values().get(i);
                    assertTrue(p.length > 0);
                    assertArrayEquals(p, q, 0, "value " + i + " (0 output, 1 dx, 2 head dW, then the module's gradients, the running stats)");
                }
                // dropped: the depthwise conv's output, its BN+ReLU output (12 channels each), the
                // pointwise BN+ReLU output and the GELU output (8 channels each)
                long map12 = 4L * n * c * h * wd, map8 = 4L * n * 8 * h * wd;
                assertEquals(plain.keptBytes() - 2 * map12 - 2 * map8, again.keptBytes(), "bytes kept for the backward pass");
                assertTrue(again.peakBytes() <= plain.peakBytes() - map8,
                           "backward peak " + again.peakBytes() + " vs " + plain.peakBytes() + " without recomputation");
            } finally {
                x.close();
                head.close();
            }
        }
    }

    private static void dropGrad(Tensor p) {
        if (p.grad != null) p.grad.close();
        p.grad = null;
    }

    private static float[] randomFloats(Random r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) r.nextGaussian();
        return f;
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    @Test void gradientsMatchFiniteDifferences() {
        try (Backend be = new CpuBackend(); Arena a = Arena.open()) {
            Random r = new Random(2);
            Tensor x = GradCheck.random(be, r, 2, 5, 4);
            Tensor w = GradCheck.random(be, r, 4, 4);
            GradCheck.check("linear(recomputable(gelu)(recomputable(gelu)(x)), W)", List.of(x, w), in -> {
                try (Scope s = Scope.open()) {
                    Tensor g1 = F.recomputable(F::gelu, in.get(0));
                    Tensor g2 = F.recomputable(F::gelu, g1);
                    Scope.done(g1);
                    Tensor y = s.keep(F.linear(g2, in.get(1), null));
                    Scope.done(g2);
                    return y;
                }
            }, 40, 3);
        }
    }

    @Test void aDroppedActivationReadByTheForwardFailsAndRandomnessIsRefused() {
        try (Backend be = new CpuBackend(); Arena a = Arena.open(); Tape tape = Tape.record()) {
            Random r = new Random(5);
            Tensor x = GradCheck.random(be, r, 3, 4), w = GradCheck.random(be, r, 4, 4);
            Tensor g;
            try (Scope s = Scope.open()) {
                g = F.recomputable(F::gelu, x);
                s.keep(F.linear(g, w, null));
            }
            assertTrue(g.isFreed(), "dropped when its scope ended (the linear's backward reads it)");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> F.gelu(g));
            assertTrue(e.getMessage().contains("freed"), e.getMessage());
            IllegalStateException random = assertThrows(IllegalStateException.class,
                                                        () -> F.recomputable(v -> F.dropout(v, 0.5f, true), x));
            assertTrue(random.getMessage().contains("random"), random.getMessage());
        }
    }

    /** What the backward pass recomputes lands in new memory: views of the dropped tensor follow it. */
    @Test void viewsFollowTheirBaseWhenItsStorageIsReplaced() {
        try (Backend be = new CpuBackend(); Arena a = Arena.open()) {
            Tensor t = Tensor.of(be, new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
            Tensor v = t.view(3, 2);
            t.dropStorage();
            assertTrue(t.isFreed());
            assertFalse(v.isFreed(), "a view is freed only by its own close");
            assertThrows(IllegalStateException.class, v::toFloatArray);
            Tensor fresh = Tensor.of(be, new float[] {6, 5, 4, 3, 2, 1}, 2, 3);
            t.takeStorage(fresh);
            assertTrue(fresh.isFreed(), "the giver is left empty");
            assertArrayEquals(new float[] {6, 5, 4, 3, 2, 1}, v.toFloatArray());
            assertThrows(IllegalArgumentException.class, () -> {
                Tensor other = Tensor.of(be, new float[] {1}, 1);
                Tensor empty = Tensor.of(be, new float[] {1, 2}, 2);
                empty.dropStorage();
                empty.takeStorage(other);
            });
        }
    }

    /** Inference's BN (+ ReLU) over the convolution output's own memory: the same bits as the out-of-place ops; recorded ops where a tape would record. */
    @Test void batchNormInPlaceEqualsTheOutOfPlaceOps() {
        try (Backend be = new CpuBackend(); Arena a = Arena.open()) {
            Random r = new Random(8);
            int c = 5;
            float[] data = randomFloats(r, 2 * c * 7 * 9);
            Tensor gamma = Tensor.of(be, randomFloats(r, c), c), beta = Tensor.of(be, randomFloats(r, c), c);
            for (boolean training : new boolean[] {true, false}) {
                for (boolean relu : new boolean[] {true, false}) {
                    Tensor rm1 = Tensor.of(be, new float[] {0.1f, -0.2f, 0.3f, 0f, 0.5f}, c), rv1 = Tensor.of(be, new float[] {1, 2, 0.5f, 1.5f, 1}, c);
                    Tensor rm2 = Tensor.of(be, rm1.toFloatArray(), c), rv2 = Tensor.of(be, rv1.toFloatArray(), c);
                    Tensor x = Tensor.of(be, data, 2, c, 7, 9);
                    Tensor y = F.batchNorm(x, gamma, beta, rm1, rv1, training, 0.1f, 1e-5f);
                    if (relu) y = F.relu(y);
                    Tensor x2 = Tensor.of(be, data, 2, c, 7, 9);
                    Tensor z = F.batchNormInPlace(x2, gamma, beta, rm2, rv2, training, 0.1f, 1e-5f, relu);
                    String what = "training " + training + ", relu " + relu;
                    assertTrue(z == x2, what + ": in x's memory");
                    assertArrayEquals(y.toFloatArray(), z.toFloatArray(), 0f, what);
                    assertArrayEquals(rm1.toFloatArray(), rm2.toFloatArray(), 0f, what + ": running mean");
                    assertArrayEquals(rv1.toFloatArray(), rv2.toFloatArray(), 0f, what + ": running var");
                }
            }
            gamma.requiresGrad = true;
            try (Tape tape = Tape.record()) {
                Tensor x = Tensor.of(be, data, 2, c, 7, 9);
                Tensor z = F.batchNormInPlace(x, gamma, beta, Tensor.zeros(be, DType.F32, c), Tensor.full(be, DType.F32, 1, c), true, 0.1f, 1e-5f, true);
                assertFalse(z == x, "recorded: out of place");
                assertTrue(z.requiresGrad);
                assertArrayEquals(data, x.toFloatArray(), 0f, "x untouched");
            }
        }
    }
}
