package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * RIPU's losses (RipuLosses, ripu_losses.h) on the CPU: against the float64 PyTorch fixtures of
 * tools/golden/ripu_losses.py (negative learning, LCR, torch's CE over labelled pixels, the loss
 * sum; values, counts and logit gradients) in f64 and in f32, finite differences in f64, empty
 * selections (0 with a zero gradient where the official code is NaN), the zero-padded boundary at
 * the image border, poisoned outputs and the accumulate flag, and argument errors.
 */
public class RipuLossesTest {
    static Backend be;
    static Map<String, StoredTensor> golden;
    static final double F32_RTOL = 1e-5;

    @BeforeAll static void setUp() {
        be = new CpuBackend();
        golden = TensorFile.read(Path.of("src/test/resources/golden/ripu_losses/ripu_losses.safetensors")).tensors();
    }

    @AfterAll static void tearDown() { be.close(); }

    static StoredTensor g(String name) {
        StoredTensor t = golden.get(name);
        assertNotNull(t, "fixture tensor " + name);
        return t;
    }

    /** A fixture tensor as dtype d on the CPU (the stored inputs are exact in f32). */
    static Tensor load(String name, DType d) {
        StoredTensor s = g(name);
        Tensor t = Tensor.empty(be, d, s.shape());
        if (d == DType.I32) t.copyFrom(Arrays.stream(s.toLongArray()).mapToDouble(v -> v).toArray());
        else t.copyFrom(s.toDoubleArray());
        return t;
    }

    static Tensor labels(String name) {
        StoredTensor s = g(name);
        return Tensor.of(be, Arrays.stream(s.toLongArray()).mapToInt(v -> (int) v).toArray(), s.shape());
    }

    static int count(String name) {
        return (int) g(name).toLongArray()[0];
    }

    /** Elementwise |got - ref| <= rtol (|ref| + 1e-3 max|ref|) (NaN fails). */
    static void assertClose(String what, double[] ref, double[] got, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        double scale = 0;
        for (double v : ref) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(got[i] - ref[i]) <= rtol * (Math.abs(ref[i]) + 1e-3 * scale))) {
                fail(String.format(Locale.ROOT, "%s: element %d of %d: expected %.15g, got %.15g", what, i, ref.length, ref[i], got[i]));
            }
        }
    }

    static double rtol(DType d, double f64) {
        return d == DType.F64 ? f64 : F32_RTOL;
    }

    static double[] gaussian(Random r, int n, double sd) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = sd * r.nextGaussian();
        return v;
    }

    static Tensor tensor(DType d, double[] v, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        t.copyFrom(v);
        return t;
    }

    // ---- golden values ----

    @Test
    void negativeLearningMatchesTorch() {
        for (String c : List.of("k19", "k5", "k5b")) {
            for (DType d : new DType[] {DType.F64, DType.F32}) {
                String tag = "nl." + c + " " + d;
                try (Arena a = Arena.open(); Tape t = Tape.record()) {
                    Tensor x = load("nl." + c + ".logits", d);
                    x.requiresGrad = true;
                    RipuLosses.Masked nl = RipuLosses.negativeLearning(x, RipuLosses.TAU);
                    t.backward(nl.loss());
                    assertEquals(d, nl.loss().dtype(), tag);
                    assertEquals(count("nl." + c + ".count"), nl.count(), tag + ": (pixel, class) pairs below tau");
                    assertClose(tag + ": loss", g("nl." + c + ".loss").toDoubleArray(), nl.loss().toDoubleArray(), rtol(d, 1e-12));
                    assertClose(tag + ": dlogits", g("nl." + c + ".grad").toDoubleArray(), x.grad.toDoubleArray(), rtol(d, 1e-11) * 10);
                }
            }
        }
    }

    @Test
    void localConsistencyMatchesTorch() {
        for (String c : List.of("k19", "k5", "row", "col")) {
            for (DType d : new DType[] {DType.F64, DType.F32}) {
                String tag = "lcr." + c + " " + d;
                try (Arena a = Arena.open(); Tape t = Tape.record()) {
                    Tensor x = load("lcr." + c + ".logits", d);
                    x.requiresGrad = true;
                    RipuLosses.Masked lcr = RipuLosses.localConsistency(x, labels("lcr." + c + ".labels"), 255);
                    t.backward(lcr.loss());
                    assertEquals(count("lcr." + c + ".count"), lcr.count(), tag + ": boundary pixels");
                    assertClose(tag + ": loss", g("lcr." + c + ".loss").toDoubleArray(), lcr.loss().toDoubleArray(), rtol(d, 1e-12));
                    assertClose(tag + ": dlogits", g("lcr." + c + ".grad").toDoubleArray(), x.grad.toDoubleArray(), rtol(d, 1e-11) * 10);
                }
            }
        }
    }

    @Test
    void boundaryIsTheZeroPaddedLaplacianWithoutIgnoredPixels() {
        // the fixture's pre-mask boundary (Laplacian != 0) minus label 255 must be the counted set
        for (String c : List.of("k19", "k5", "row", "col")) {
            long[] b = g("lcr." + c + ".boundary").toLongArray(), l = g("lcr." + c + ".labels").toLongArray();
            int n = 0;
            for (int i = 0; i < b.length; i++) n += b[i] != 0 && l[i] != 255 ? 1 : 0;
            assertEquals(count("lcr." + c + ".count"), n, c);
        }
        // a constant map: class 0 has no boundary; any other class is a boundary along the image
        // border (the zero padding), and ignored pixels never count
        int h = 5, w = 7;
        try (Arena a = Arena.open()) {
            Tensor x = tensor(DType.F64, gaussian(new Random(3), 2 * 4 * h * w, 1), 2, 4, h, w);
            int[] zeros = new int[2 * h * w], threes = new int[2 * h * w];
            Arrays.fill(threes, 3);
            assertEquals(0, RipuLosses.localConsistency(x, Tensor.of(be, zeros, 2, h, w), 255).count());
            assertEquals(2 * (2 * h + 2 * w - 4), RipuLosses.localConsistency(x, Tensor.of(be, threes, 2, h, w), 255).count());
            threes[0] = 255;  // the corner is ignored; its neighbours now see 255 and become boundaries
            int k = RipuLosses.localConsistency(x, Tensor.of(be, threes, 2, h, w), 255).count();
            assertEquals(2 * (2 * h + 2 * w - 4) - 1 + 1, k, "corner dropped, (1, 1) added");
        }
    }

    @Test
    void crossEntropyIsTheMeanOverLabelledPixels() {
        for (String side : List.of("src", "tgt")) {
            String lab = side.equals("src") ? "ripu.src_labels" : "ripu.tgt_mask";
            int term = side.equals("src") ? 0 : 1;
            for (DType d : new DType[] {DType.F64, DType.F32}) {
                String tag = "ce." + side + " " + d;
                try (Arena a = Arena.open(); Tape t = Tape.record()) {
                    Tensor x = load("ripu." + side + "_logits", d);
                    x.requiresGrad = true;
                    SegLosses.Result ce = RipuLosses.crossEntropy(x, labels(lab), 255);
                    t.backward(ce.loss());
                    assertEquals((int) g("ripu.counts").toLongArray()[term], ce.valid(), tag + ": labelled pixels");
                    assertClose(tag + ": loss", new double[] {g("ripu.terms").toDoubleArray()[term]}, ce.loss().toDoubleArray(),
                                rtol(d, 1e-12));
                    assertClose(tag + ": dlogits", g("ce." + side + ".grad").toDoubleArray(), x.grad.toDoubleArray(), rtol(d, 1e-11) * 10);
                }
            }
        }
    }

    @Test
    void ripuLossSumMatchesTorch() {
        double[] terms = g("ripu.terms").toDoubleArray();
        long[] counts = g("ripu.counts").toLongArray();
        for (DType d : new DType[] {DType.F64, DType.F32}) {
            try (Arena a = Arena.open(); Tape t = Tape.record()) {
                Tensor xs = load("ripu.src_logits", d), xt = load("ripu.tgt_logits", d);
                xs.requiresGrad = xt.requiresGrad = true;
                RipuLosses.Terms r = RipuLosses.ripu(xs, labels("ripu.src_labels"), xt, labels("ripu.tgt_mask"), RipuLosses.Weights.DEFAULT);
                t.backward(r.total());
                double tol = rtol(d, 1e-12);
                assertClose(d + " source CE", new double[] {terms[0]}, r.sourceCe().loss().toDoubleArray(), tol);
                assertClose(d + " target CE", new double[] {terms[1]}, r.targetCe().loss().toDoubleArray(), tol);
                assertClose(d + " 0.1 LCR", new double[] {0.1 * terms[2]}, r.lcr().loss().toDoubleArray(), tol);
                assertClose(d + " NL", new double[] {terms[3]}, r.nl().loss().toDoubleArray(), tol);
                assertClose(d + " total", new double[] {terms[4]}, r.total().toDoubleArray(), tol);
                assertEquals(counts[2], r.lcr().count(), "LCR boundary pixels");
                assertEquals(counts[3], r.nl().count(), "NL pairs");
                assertClose(d + " dsource", g("ripu.grad_src").toDoubleArray(), xs.grad.toDoubleArray(), rtol(d, 1e-11) * 10);
                assertClose(d + " dtarget", g("ripu.grad_tgt").toDoubleArray(), xt.grad.toDoubleArray(), rtol(d, 1e-11) * 10);
            }
        }
    }

    // ---- finite differences ----

    /** Labels with blobs, 255 pixels and boundaries. */
    public static int[] blobs(Random r, int n, int h, int w, int c) {
        int[] l = new int[n * h * w];
        for (int b = 0; b < n; b++) {
            int bg = r.nextInt(c);
            for (int i = 0; i < h * w; i++) l[b * h * w + i] = bg;
            for (int k = 0; k < 3; k++) {
                int y0 = r.nextInt(h), x0 = r.nextInt(w), y1 = y0 + 1 + r.nextInt(h), x1 = x0 + 1 + r.nextInt(w);
                int v = k == 2 ? 255 : r.nextInt(c);
                for (int y = y0; y < Math.min(h, y1); y++) for (int x = x0; x < Math.min(w, x1); x++) l[(b * h + y) * w + x] = v;
            }
        }
        return l;
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        Random r = new Random(7);
        int[][] shapes = {{2, 5, 6, 7}, {1, 19, 4, 5}, {2, 3, 1, 5}};
        for (int[] s : shapes) {
            int n = s[0], c = s[1], h = s[2], w = s[3];
            try (Tensor lab = Tensor.of(be, blobs(r, n, h, w, c), n, h, w); Tensor x = GradCheck.random(be, r, n, c, h, w)) {
                be.axpby(2.5, x, 0, null, x);  // probabilities on both sides of tau
                GradCheck.check("negative learning " + Arrays.toString(s), List.of(x),
                                in -> RipuLosses.negativeLearning(in.get(0), RipuLosses.TAU).loss(), 80, 1);
                GradCheck.check("local consistency " + Arrays.toString(s), List.of(x),
                                in -> RipuLosses.localConsistency(in.get(0), lab, 255).loss(), 80, 1);
                GradCheck.check("cross-entropy over labelled pixels " + Arrays.toString(s), List.of(x),
                                in -> RipuLosses.crossEntropy(in.get(0), lab, 255).loss(), 40, 1);
            }
        }
    }

    // ---- empty selections, poisoned outputs, accumulate ----

    @Test
    void emptySelectionsGiveZeroWithZeroGradient() {
        int n = 2, c = 5, h = 4, w = 6;
        try (Arena a = Arena.open()) {
            double[] flat = new double[n * c * h * w];  // equal logits: p = 1/5 > tau everywhere
            Arrays.fill(flat, 0.75);
            int[] zeros = new int[n * h * w], ignored = new int[n * h * w];
            Arrays.fill(ignored, 255);
            for (DType d : new DType[] {DType.F64, DType.F32}) {
                Tensor x = tensor(d, flat, n, c, h, w);
                x.requiresGrad = true;
                try (Tape t = Tape.record()) {
                    RipuLosses.Masked nl = RipuLosses.negativeLearning(x, RipuLosses.TAU);
                    RipuLosses.Masked lcr = RipuLosses.localConsistency(x, Tensor.of(be, zeros, n, h, w), 255);
                    SegLosses.Result ce = RipuLosses.crossEntropy(x, Tensor.of(be, ignored, n, h, w), 255);
                    assertEquals(0, nl.count());
                    assertEquals(0, lcr.count());
                    assertEquals(0, ce.valid());
                    assertEquals(0.0, nl.loss().item(), 0.0, "NL with no pair below tau (official: NaN)");
                    assertEquals(0.0, lcr.loss().item(), 0.0, "LCR with no boundary (official: NaN)");
                    assertEquals(0.0, ce.loss().item(), 0.0, "CE with no labelled pixel");
                    assertTrue(!ce.loss().requiresGrad, "the skipped CE is not on the tape");
                    t.backward(F.add(nl.loss(), lcr.loss()));
                }
                for (double v : x.grad.toDoubleArray()) assertEquals(0.0, v, 0.0, d + ": zero gradient");
                x.grad = null;
                Tensor poisoned = Tensor.empty(be, d, n, c, h, w);  // the backend writes zeros over NaN
                be.fill(poisoned, Double.NaN);
                be.negativeLearningBackward(x, RipuLosses.TAU, 0.0, poisoned, n, c, (long) h * w, false);
                for (double v : poisoned.toDoubleArray()) assertEquals(0.0, v, 0.0, d + ": NL zero gradient over the poison");
                be.fill(poisoned, Double.NaN);
                be.localConsistencyBackward(x, Tensor.of(be, zeros, n, h, w), 255, 0.0, poisoned, n, c, h, w, false);
                for (double v : poisoned.toDoubleArray()) assertEquals(0.0, v, 0.0, d + ": LCR zero gradient over the poison");
            }
        }
    }

    @Test
    void backwardOverwritesOrAccumulatesAndForwardOverwritesPoison() {
        Random r = new Random(9);
        int n = 2, c = 7, h = 9, w = 5;
        int[] lab = blobs(r, n, h, w, c);
        double[] x = gaussian(r, n * c * h * w, 2.5), prior = gaussian(r, n * c * h * w, 1);
        try (Arena a = Arena.open()) {
            Tensor logits = tensor(DType.F64, x, n, c, h, w), labels = Tensor.of(be, lab, n, h, w);
            for (String op : List.of("nl", "lcr")) {
                Tensor loss = Tensor.empty(be, DType.F64, 1);
                Tensor cnt = Tensor.of(be, new int[] {-77777}, 1);
                be.fill(loss, Double.NaN);
                if (op.equals("nl")) be.negativeLearning(logits, 0.05, loss, cnt, n, c, (long) h * w);
                else be.localConsistency(logits, labels, 255, loss, cnt, n, c, h, w);
                assertTrue(Double.isFinite(loss.item()) && cnt.toIntArray()[0] > 0, op + ": forward writes loss and count");
                Tensor fresh = Tensor.empty(be, DType.F64, n, c, h, w), added = tensor(DType.F64, prior, n, c, h, w);
                be.fill(fresh, Double.NaN);
                if (op.equals("nl")) {
                    be.negativeLearningBackward(logits, 0.05, 0.37, fresh, n, c, (long) h * w, false);
                    be.negativeLearningBackward(logits, 0.05, 0.37, added, n, c, (long) h * w, true);
                } else {
                    be.localConsistencyBackward(logits, labels, 255, 0.37, fresh, n, c, h, w, false);
                    be.localConsistencyBackward(logits, labels, 255, 0.37, added, n, c, h, w, true);
                }
                double[] f = fresh.toDoubleArray(), s = added.toDoubleArray(), want = new double[f.length];
                for (int i = 0; i < f.length; i++) want[i] = prior[i] + f[i];
                for (double v : f) assertTrue(Double.isFinite(v), op + ": accumulate=0 writes every element");
                assertClose(op + ": accumulate=1 adds", want, s, 1e-14);
            }
        }
    }

    @Test
    void argumentsAreCheckedWithNames() {
        try (Arena a = Arena.open()) {
            Tensor x = tensor(DType.F32, gaussian(new Random(4), 2 * 3 * 4 * 5, 1), 2, 3, 4, 5);
            Tensor lab = Tensor.of(be, new int[2 * 4 * 5], 2, 4, 5);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RipuLosses.localConsistency(x, Tensor.of(be, new int[2 * 8 * 10], 2, 8, 10), 255));
            assertTrue(e.getMessage().contains("are not at the logits' resolution"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> RipuLosses.negativeLearning(x.view(2, 3, 20), 0.05));
            assertTrue(e.getMessage().contains("logits must be [N, C, H, W]"), e.getMessage());
            Tensor d64 = Tensor.empty(be, DType.F64, 2, 3, 4, 5);
            e = assertThrows(IllegalArgumentException.class, () -> be.negativeLearningBackward(x, 0.05, 1, d64, 2, 3, 20, false));
            assertTrue(e.getMessage().contains("negativeLearningBackward: dlogits must be F32 of 2x3x20 elements, got F64"), e.getMessage());
            Tensor loss = Tensor.empty(be, DType.F32, 1);
            e = assertThrows(IllegalArgumentException.class, () -> be.localConsistency(x, lab, 255, loss, null, 2, 3, 4, 6));
            assertTrue(e.getMessage().contains("localConsistency: logits must be a float tensor of 2x3x4x6 elements"), e.getMessage());
            NativeException ne = assertThrows(NativeException.class, () -> be.negativeLearning(x, 1.5, loss, null, 2, 3, 20));
            assertTrue(ne.getMessage().contains("threshold tau 1.5 must be in (0, 1]"), ne.getMessage());
        }
    }

    @Test
    void noGradientNoTapeStep() {
        try (Arena a = Arena.open(); Tape t = Tape.record()) {
            Tensor x = tensor(DType.F32, gaussian(new Random(5), 2 * 3 * 4 * 4, 2), 2, 3, 4, 4);
            Tensor lab = Tensor.of(be, blobs(new Random(6), 2, 4, 4, 3), 2, 4, 4);
            RipuLosses.Masked nl = RipuLosses.negativeLearning(x, 0.05);
            RipuLosses.Masked lcr = RipuLosses.localConsistency(x, lab, 255);
            assertEquals(0, t.size(), "logits without requiresGrad record nothing");
            assertTrue(!nl.loss().requiresGrad && !lcr.loss().requiresGrad);
            RipuLosses.Terms r = RipuLosses.ripu(x, lab, x, Tensor.of(be, new int[32], 2, 4, 4), new RipuLosses.Weights(0, 1, 0.05));
            assertNull(r.lcr(), "LCR weight 0 skips the term");
            assertNotNull(r.targetCe());
        }
    }
}
