package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;

/** Every differentiable op's backward against central finite differences, f64, odd sizes. */
class GradientTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    private final Random r = new Random(42);

    private Tensor rnd(int... shape) { return GradCheck.random(be, r, shape); }

    /** Random values kept at least `gap` away from 0 (for kinks such as ReLU's). */
    private Tensor rndAwayFromZero(double gap, int... shape) {
        try (Tensor t = rnd(shape)) {
            double[] a = t.toDoubleArray();
            for (int i = 0; i < a.length; i++) a[i] = Math.copySign(Math.abs(a[i]) + gap, a[i]);
            Tensor out = Tensor.of(be, a, shape);
            out.requiresGrad = true;
            return out;
        }
    }

    private void check(String what, Function<List<Tensor>, Tensor> f, Tensor... inputs) {
        check(what, 60, f, inputs);
    }

    private void check(String what, int probes, Function<List<Tensor>, Tensor> f, Tensor... inputs) {
        List<Tensor> in = new ArrayList<>(Arrays.asList(inputs));
        try {
            GradCheck.check(what, in, f, probes, 7);
        } finally {
            for (Tensor t : inputs) t.close();
        }
    }

    @Test void addScaleMul() {
        check("add", x -> F.add(x.get(0), x.get(1)), rnd(3, 5, 7), rnd(3, 5, 7));
        check("scale", x -> F.scale(x.get(0), -1.7), rnd(3, 5, 7));
        check("mul", x -> F.mul(x.get(0), x.get(1)), rnd(2, 3, 5), rnd(2, 3, 5));
        check("mul-same-input", x -> F.mul(x.get(0), x.get(0)), rnd(3, 7));
    }

    @Test void activations() {
        check("relu", x -> F.relu(x.get(0)), rndAwayFromZero(1e-3, 3, 5, 7));
        check("gelu", x -> F.gelu(x.get(0)), rnd(3, 5, 7));
        check("sigmoid", x -> F.sigmoid(x.get(0)), rnd(3, 5, 7));
    }

    @Test void dropoutFamily() {
        check("dropout", x -> F.dropout(x.get(0), 0.3f, true), rnd(3, 5, 7));
        check("dropout2d", x -> F.dropout2d(x.get(0), 0.4f, true), rnd(3, 5, 3, 7));
        check("dropPath", x -> F.dropPath(x.get(0), 0.5f, true), rnd(5, 3, 7));
    }

    /** RIPU's ResNet and DeepLab ops: max pooling (distinct values: no ties at a window's max), aligned resize, image pooling. */
    @Test void poolingAndAlignedResize() {
        check("maxPool2d 3x3/2 pad 1", x -> F.maxPool2d(x.get(0), 3, 2, 1), rnd(2, 3, 9, 11));
        check("maxPool2d 2x2/2", x -> F.maxPool2d(x.get(0), 2, 2, 0), rnd(1, 2, 7, 6));
        check("resizeAligned up", x -> F.resizeAligned(x.get(0), 11, 13), rnd(2, 3, 5, 7));
        check("resizeAligned down", x -> F.resizeAligned(x.get(0), 4, 3), rnd(1, 2, 9, 7));
        check("resizeAligned from 1x1", x -> F.resizeAligned(x.get(0), 5, 6), rnd(2, 3, 1, 1));
        check("globalAvgPool", x -> F.globalAvgPool(x.get(0)), rnd(2, 3, 5, 7));
    }

    @Test void shapes() {
        check("reshape", x -> F.mul(F.reshape(x.get(0), 5, 21), F.reshape(x.get(0), 5, 21)), rnd(3, 5, 7));
        check("toTokens", x -> F.toTokens(x.get(0)), rnd(2, 3, 5, 7));
        check("toMap", x -> F.toMap(x.get(0), 5, 3), rnd(2, 15, 7));
        check("concat", x -> F.concat(List.of(x.get(0), x.get(1), x.get(0))), rnd(2, 3, 5, 7), rnd(2, 4, 5, 7));
        check("crop", x -> F.crop(x.get(0), 1, 2, 3, 4), rnd(2, 3, 5, 7));
        check("insert", x -> F.insert(x.get(0), 9, 11, 3, 2), rnd(2, 3, 5, 7));
    }

    @Test void bilinearResize() {
        check("resize-up", x -> F.resize(x.get(0), 11, 13), rnd(2, 3, 5, 7));
        check("resize-down", x -> F.resize(x.get(0), 5, 4), rnd(2, 3, 13, 11));
        check("resize-x2", x -> F.resizeByFactor(x.get(0), 2.0), rnd(1, 3, 5, 7));
        check("resize-x0.5", x -> F.resizeByFactor(x.get(0), 0.5), rnd(1, 3, 10, 14));
        check("resize-odd-ratio", x -> F.resize(x.get(0), 7, 3), rnd(1, 2, 5, 9));
    }

    @Test void linearAndMatmul() {
        check("linear", x -> F.linear(x.get(0), x.get(1), x.get(2)), rnd(2, 5, 7), rnd(3, 7), rnd(3));
        check("linear-nobias", x -> F.linear(x.get(0), x.get(1), null), rnd(5, 7), rnd(3, 7));
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                int m = 3, k = 5, n = 7;
                Tensor a = ta ? rnd(2, k, m) : rnd(2, m, k);
                Tensor b = tb ? rnd(2, n, k) : rnd(2, k, n);
                check("matmul ta=" + ta + " tb=" + tb, x -> F.matmul(x.get(0), x.get(1), ta, tb), a, b);
            }
        }
    }

    @Test void conv2d() {
        check("conv dense s2 p1", x -> F.conv2d(x.get(0), x.get(1), x.get(2), 2, 1, 1, 1), rnd(2, 3, 7, 9), rnd(5, 3, 3, 3), rnd(5));
        check("conv 7x7 s4 p3", x -> F.conv2d(x.get(0), x.get(1), x.get(2), 4, 3, 1, 1), rnd(1, 3, 11, 13), rnd(4, 3, 7, 7), rnd(4));
        check("conv dilated", x -> F.conv2d(x.get(0), x.get(1), null, 1, 2, 2, 1), rnd(2, 3, 7, 5), rnd(4, 3, 3, 3));
        check("conv grouped", x -> F.conv2d(x.get(0), x.get(1), x.get(2), 1, 1, 1, 2), rnd(2, 4, 5, 7), rnd(6, 2, 3, 3), rnd(6));
        check("conv depthwise", x -> F.conv2d(x.get(0), x.get(1), x.get(2), 1, 1, 1, 3), rnd(2, 3, 5, 7), rnd(3, 1, 3, 3), rnd(3));
        check("conv depthwise dilated s2", x -> F.conv2d(x.get(0), x.get(1), null, 2, 3, 3, 3), rnd(2, 3, 9, 7), rnd(3, 1, 3, 3));
        check("conv 1x1", x -> F.conv2d(x.get(0), x.get(1), x.get(2), 1, 0, 1, 1), rnd(2, 5, 3, 7), rnd(4, 5, 1, 1), rnd(4));
        check("conv k=s=2 (spatial reduction)", x -> F.conv2d(x.get(0), x.get(1), x.get(2), 2, 0, 1, 1),
              rnd(1, 3, 6, 10), rnd(3, 3, 2, 2), rnd(3));
    }

    @Test void norms() {
        check("layernorm", x -> F.layerNorm(x.get(0), x.get(1), x.get(2), 1e-6f), rnd(3, 5, 7), rnd(7), rnd(7));
        try (Tensor rm = Tensor.zeros(be, dev.hrda.tensor.DType.F64, 3);
             Tensor rv = Tensor.full(be, dev.hrda.tensor.DType.F64, 1, 3)) {
            check("batchnorm", x -> F.batchNorm(x.get(0), x.get(1), x.get(2), rm, rv, true, 0.1f, 1e-5f),
                  rnd(2, 3, 5, 7), rnd(3), rnd(3));
        }
    }

    @Test void softmaxAndLosses() {
        check("softmax channels", x -> F.softmax(x.get(0), 1), rnd(2, 5, 3, 7));
        check("softmax last", x -> F.softmax(x.get(0), -1), rnd(3, 5, 7));
        check("sum", x -> F.sum(x.get(0)), rnd(3, 5, 7));
        check("mean", x -> F.mean(x.get(0)), rnd(3, 5, 7));
        int[] lab = new int[2 * 5 * 7];
        for (int i = 0; i < lab.length; i++) lab[i] = i % 9 == 0 ? 255 : (i * 7) % 5;
        double[] wts = new double[lab.length];
        for (int i = 0; i < wts.length; i++) wts[i] = 0.25 + (i % 4) * 0.5;
        try (Tensor labels = Tensor.of(be, lab, 2, 5, 7); Tensor weights = Tensor.of(be, wts, 2, 5, 7)) {
            check("cross-entropy", x -> F.crossEntropy(x.get(0), labels, null, 255), rnd(2, 5, 5, 7));
            check("cross-entropy weighted", x -> F.crossEntropy(x.get(0), labels, weights, 255), rnd(2, 5, 5, 7));
        }
    }

    @Test void moduleAppliedTwiceAccumulates() {
        // the HRDA pattern: one weight used by two branches before one backward
        check("shared weight", x -> F.add(F.linear(x.get(0), x.get(2), null), F.linear(x.get(1), x.get(2), null)),
              rnd(4, 5), rnd(4, 5), rnd(3, 5));
    }
}
