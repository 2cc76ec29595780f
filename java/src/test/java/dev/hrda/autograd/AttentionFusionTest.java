package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.kernels.NativeException;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.GradCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fused attention and HRDA fusion ops on the CPU: the backend kernels against naive f64
 * references written here (outputs poisoned with NaN, accumulate both ways), the F ops against
 * finite differences, F.attention against F.attentionUnfused, and F.hrdaFuse against its
 * composition from existing F ops.
 */
class AttentionFusionTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    private final Random r = new Random(1234);

    // =====================================================================================
    // naive references (f64, straight from the definitions)
    // =====================================================================================

    /** {out [B,N,C], lse [B,H,N]}. */
    static double[][] naiveAttention(double[] q, double[] kv, int b, int n, int m, int heads, int d, double scale) {
        int c = heads * d;
        double[] out = new double[b * n * c], lse = new double[b * heads * n];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < n; i++) {
                    double[] s = new double[m];
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < m; j++) {
                        for (int e = 0; e < d; e++) s[j] += q[(bi * n + i) * c + h * d + e] * kv[(bi * m + j) * 2 * c + h * d + e];
                        s[j] *= scale;
                        mx = Math.max(mx, s[j]);
                    }
                    double l = 0;
                    for (int j = 0; j < m; j++) l += Math.exp(s[j] - mx);
                    lse[(bi * heads + h) * n + i] = mx + Math.log(l);
                    for (int e = 0; e < d; e++) {
                        double o = 0;
                        for (int j = 0; j < m; j++) o += Math.exp(s[j] - mx) / l * kv[(bi * m + j) * 2 * c + c + h * d + e];
                        out[(bi * n + i) * c + h * d + e] = o;
                    }
                }
            }
        }
        return new double[][] {out, lse};
    }

    /** {dq [B,N,C], dkv [B,M,2C]} by the textbook chain rule through the full P matrix. */
    static double[][] naiveAttentionBackward(double[] q, double[] kv, double[] dout, int b, int n, int m, int heads, int d,
                                             double scale) {
        int c = heads * d;
        double[] dq = new double[b * n * c], dkv = new double[b * m * 2 * c];
        for (int bi = 0; bi < b; bi++) {
            for (int h = 0; h < heads; h++) {
                double[][] p = new double[n][m], dp = new double[n][m];
                for (int i = 0; i < n; i++) {
                    double mx = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < m; j++) {
                        double s = 0;
                        for (int e = 0; e < d; e++) s += q[(bi * n + i) * c + h * d + e] * kv[(bi * m + j) * 2 * c + h * d + e];
                        p[i][j] = s * scale;
                        mx = Math.max(mx, p[i][j]);
                    }
                    double l = 0;
                    for (int j = 0; j < m; j++) l += (p[i][j] = Math.exp(p[i][j] - mx));
                    for (int j = 0; j < m; j++) p[i][j] /= l;
                    for (int j = 0; j < m; j++) {
                        for (int e = 0; e < d; e++) dp[i][j] += dout[(bi * n + i) * c + h * d + e] * kv[(bi * m + j) * 2 * c + c + h * d + e];
                    }
                }
                for (int i = 0; i < n; i++) {
                    double rowDot = 0;  // softmax backward: dS = P (dP - sum_j P dP)
                    for (int j = 0; j < m; j++) rowDot += p[i][j] * dp[i][j];
                    for (int j = 0; j < m; j++) {
                        double ds = p[i][j] * (dp[i][j] - rowDot) * scale;
                        for (int e = 0; e < d; e++) {
                            dq[(bi * n + i) * c + h * d + e] += ds * kv[(bi * m + j) * 2 * c + h * d + e];
                            dkv[(bi * m + j) * 2 * c + h * d + e] += ds * q[(bi * n + i) * c + h * d + e];
                            dkv[(bi * m + j) * 2 * c + c + h * d + e] += p[i][j] * dout[(bi * n + i) * c + h * d + e];
                        }
                    }
                }
            }
        }
        return new double[][] {dq, dkv};
    }

    /** Bilinear x2 source taps (align_corners=False): {i0, i1} and weights {l0, l1}. */
    private static double up2Tap(int dst, int in, int[] idx) {
        double src = Math.max(0, (dst + 0.5) / 2 - 0.5);
        int i0 = Math.min((int) src, in - 1);
        idx[0] = i0;
        idx[1] = i0 < in - 1 ? i0 + 1 : i0;
        return src - i0;  // l1
    }

    static double[] naiveFuse(double[] lr, double[] att, double[] hr, int b, int k, int h, int w, int hh, int ww, int top, int left) {
        int h2 = 2 * h, w2 = 2 * w;
        double[] fused = new double[b * k * h2 * w2];
        int[] ry = new int[2], rx = new int[2];
        for (int p = 0; p < b * k; p++) {
            for (int y = 0; y < h2; y++) {
                double ly = up2Tap(y, h, ry);
                for (int x = 0; x < w2; x++) {
                    double lx = up2Tap(x, w, rx);
                    double ua = 0, ul = 0;
                    for (int a = 0; a < 2; a++) {
                        for (int c = 0; c < 2; c++) {
                            int rr = ry[a], cc = rx[c];
                            boolean inMask = rr >= top / 2 && rr < (top + hh) / 2 && cc >= left / 2 && cc < (left + ww) / 2;
                            double am = inMask ? att[(p * h + rr) * w + cc] : 0;
                            double wt = (a == 0 ? 1 - ly : ly) * (c == 0 ? 1 - lx : lx);
                            ua += wt * am;
                            ul += wt * (1 - am) * lr[(p * h + rr) * w + cc];
                        }
                    }
                    boolean inBox = y >= top && y < top + hh && x >= left && x < left + ww;
                    double hv = inBox ? hr[(p * hh + y - top) * ww + x - left] : 0;
                    fused[(p * h2 + y) * w2 + x] = ua * hv + ul;
                }
            }
        }
        return fused;
    }

    // =====================================================================================
    // helpers
    // =====================================================================================

    private double[] gauss(int n) {
        double[] a = new double[n];
        for (int i = 0; i < a.length; i++) a[i] = r.nextGaussian();
        return a;
    }

    private static Tensor of(DType d, double[] v, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        t.copyFrom(v);
        return t;
    }

    private static Tensor poisoned(DType d, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        be.fill(t, Double.NaN);
        return t;
    }

    private static double[] plus(double[] a, double[] b) {
        double[] s = new double[a.length];
        for (int i = 0; i < a.length; i++) s[i] = a[i] + b[i];
        return s;
    }

    static void assertClose(String what, double[] ref, double[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs(got[i] - ref[i]);
            if (!(err <= atol + rtol * Math.abs(ref[i]))) {  // NaN fails
                fail(String.format(Locale.ROOT, "%s: element %d of %d: expected %.10g, got %.10g", what, i, ref.length, ref[i], got[i]));
            }
        }
    }

    private void gradCheck(String what, int probes, Function<List<Tensor>, Tensor> f, Tensor... inputs) {
        try {
            GradCheck.check(what, new ArrayList<>(Arrays.asList(inputs)), f, probes, 7);
        } finally {
            for (Tensor t : inputs) t.close();
        }
    }

    // =====================================================================================
    // attention
    // =====================================================================================

    /** {b, n, m, heads, d}: M not a multiple of any tile, one key, several heads, MiT head dims. */
    static final int[][] ATTENTION_SHAPES = {
        {2, 7, 37, 3, 5}, {1, 5, 1, 2, 4}, {2, 33, 65, 1, 32}, {1, 19, 70, 2, 64}, {3, 1, 9, 4, 3},
    };

    @Test
    void attentionKernelsMatchNaiveReference() {
        for (DType dt : new DType[] {DType.F64, DType.F32}) {
            double tol = dt == DType.F64 ? 1e-12 : 2e-5;
            for (int[] s : ATTENTION_SHAPES) {
                int b = s[0], n = s[1], m = s[2], heads = s[3], d = s[4], c = heads * d;
                String at = String.format(Locale.ROOT, "%s b=%d n=%d m=%d heads=%d d=%d", dt, b, n, m, heads, d);
                double scale = (float) (1 / Math.sqrt(d));  // the kernels take a float scale
                double[] q = gauss(b * n * c), kv = gauss(b * m * 2 * c), dout = gauss(b * n * c);
                double[] dq0 = gauss(b * n * c), dkv0 = gauss(b * m * 2 * c);
                if (dt == DType.F32) {  // the reference sees the inputs the kernel sees
                    for (double[] a : new double[][] {q, kv, dout, dq0, dkv0}) for (int i = 0; i < a.length; i++) a[i] = (float) a[i];
                }
                double[][] ref = naiveAttention(q, kv, b, n, m, heads, d, scale);
                double[][] grad = naiveAttentionBackward(q, kv, dout, b, n, m, heads, d, scale);
                try (Arena arena = Arena.open()) {
                    Tensor tq = of(dt, q, b, n, c), tkv = of(dt, kv, b, m, 2 * c), tdout = of(dt, dout, b, n, c);
                    Tensor out = poisoned(dt, b, n, c), lse = poisoned(dt, b, heads, n);
                    be.attention(tq, tkv, out, lse, b, n, m, heads, d, (float) scale);
                    assertClose("out " + at, ref[0], out.toDoubleArray(), tol, tol);
                    assertClose("lse " + at, ref[1], lse.toDoubleArray(), tol, tol);
                    // overwrite into poisoned gradients
                    Tensor dq = poisoned(dt, b, n, c), dkv = poisoned(dt, b, m, 2 * c);
                    be.attentionBackward(tq, tkv, out, lse, tdout, dq, dkv, b, n, m, heads, d, (float) scale, false, false);
                    assertClose("dq " + at, grad[0], dq.toDoubleArray(), tol, tol);
                    assertClose("dkv " + at, grad[1], dkv.toDoubleArray(), tol, tol);
                    // accumulate into random gradients
                    Tensor dqAcc = of(dt, dq0, b, n, c), dkvAcc = of(dt, dkv0, b, m, 2 * c);
                    be.attentionBackward(tq, tkv, out, lse, tdout, dqAcc, dkvAcc, b, n, m, heads, d, (float) scale, true, true);
                    assertClose("dq acc " + at, plus(dq0, grad[0]), dqAcc.toDoubleArray(), tol, tol);
                    assertClose("dkv acc " + at, plus(dkv0, grad[1]), dkvAcc.toDoubleArray(), tol, tol);
                    // one gradient only (the other null)
                    Tensor dkvOnly = poisoned(dt, b, m, 2 * c);
                    be.attentionBackward(tq, tkv, out, lse, tdout, null, dkvOnly, b, n, m, heads, d, (float) scale, false, false);
                    assertClose("dkv only " + at, grad[1], dkvOnly.toDoubleArray(), tol, tol);
                }
            }
        }
    }

    @Test
    void attentionStableForLargeScores() {
        // scores of +-1e3: a softmax without max subtraction overflows
        int b = 1, n = 4, m = 9, heads = 2, d = 3, c = heads * d;
        double[] q = gauss(b * n * c), kv = gauss(b * m * 2 * c);
        for (int i = 0; i < q.length; i++) q[i] *= 30;
        for (int i = 0; i < c * 2 * m; i++) kv[i] *= 30;
        double[][] ref = naiveAttention(q, kv, b, n, m, heads, d, 1.0);
        try (Arena arena = Arena.open()) {
            Tensor out = poisoned(DType.F64, b, n, c), lse = poisoned(DType.F64, b, heads, n);
            be.attention(of(DType.F64, q, b, n, c), of(DType.F64, kv, b, m, 2 * c), out, lse, b, n, m, heads, d, 1f);
            assertClose("out", ref[0], out.toDoubleArray(), 1e-9, 1e-9);
            assertClose("lse", ref[1], lse.toDoubleArray(), 1e-9, 1e-9);
        }
    }

    @Test
    void attentionGradients() {
        gradCheck("attention 3 heads, m=7", 80, x -> F.attention(x.get(0), x.get(1), 3, 0.5f),
                  GradCheck.random(be, r, 2, 5, 6), GradCheck.random(be, r, 2, 7, 12));
        gradCheck("attention m=1", 40, x -> F.attention(x.get(0), x.get(1), 1, 0.7f),
                  GradCheck.random(be, r, 1, 3, 4), GradCheck.random(be, r, 1, 1, 8));
        gradCheck("attention unfused", 80, x -> F.attentionUnfused(x.get(0), x.get(1), 3, 0.5f),
                  GradCheck.random(be, r, 2, 5, 6), GradCheck.random(be, r, 2, 7, 12));
        // kv requires no gradient: only q's is computed
        try (Tensor kv = GradCheck.random(be, r, 1, 6, 8)) {
            kv.requiresGrad = false;
            gradCheck("attention q only", 40, x -> F.attention(x.get(0), kv, 2, 0.5f), GradCheck.random(be, r, 1, 5, 4));
        }
    }

    @Test
    void fusedAttentionEqualsUnfused() {
        int b = 2, n = 11, m = 13, heads = 3, d = 4, c = heads * d;
        float scale = (float) (1 / Math.sqrt(d));
        double[] q = gauss(b * n * c), kv = gauss(b * m * 2 * c), w = gauss(b * n * c);
        double[][] got = new double[3][], ref = new double[3][];
        for (int pass = 0; pass < 2; pass++) {
            try (Arena arena = Arena.open(); Tape tape = Tape.record()) {
                Tensor tq = of(DType.F64, q, b, n, c), tkv = of(DType.F64, kv, b, m, 2 * c);
                tq.requiresGrad = true;
                tkv.requiresGrad = true;
                Tensor out = pass == 0 ? F.attention(tq, tkv, heads, scale) : F.attentionUnfused(tq, tkv, heads, scale);
                tape.backward(F.sum(F.mul(out, of(DType.F64, w, b, n, c))));
                double[][] res = pass == 0 ? got : ref;
                res[0] = out.toDoubleArray();
                res[1] = tq.grad.toDoubleArray();
                res[2] = tkv.grad.toDoubleArray();
            }
        }
        assertClose("out", ref[0], got[0], 1e-12, 1e-12);
        assertClose("dq", ref[1], got[1], 1e-12, 1e-12);
        assertClose("dkv", ref[2], got[2], 1e-12, 1e-12);
    }

    @Test
    void attentionArgumentErrors() {
        try (Arena arena = Arena.open()) {
            Tensor q = Tensor.zeros(be, DType.F32, 1, 4, 6), kv = Tensor.zeros(be, DType.F32, 1, 3, 10);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> F.attention(q, kv, 2, 1f));
            assertTrue(e.getMessage().contains("[B, M >= 1, 2C]"), e.getMessage());
            Tensor kv2 = Tensor.zeros(be, DType.F32, 1, 3, 12);
            e = assertThrows(IllegalArgumentException.class, () -> F.attention(q, kv2, 4, 1f));
            assertTrue(e.getMessage().contains("do not split into 4 heads"), e.getMessage());
            Tensor out = Tensor.empty(be, DType.F32, 1, 4, 6), lse = Tensor.empty(be, DType.F32, 1, 2, 4);
            NativeException ne = assertThrows(NativeException.class, () -> be.attention(q, kv2, out, lse, 1, 4, 0, 2, 3, 1f));
            assertTrue(ne.getMessage().contains("M (keys) = 0"), ne.getMessage());
        }
    }

    // =====================================================================================
    // HRDA fusion
    // =====================================================================================

    /** {b, k, h, w, hh, ww, top, left}: training boxes (inside, at the corners), inference (whole grid). */
    static final int[][] FUSE_SHAPES = {
        {2, 3, 5, 6, 4, 6, 2, 4}, {1, 2, 4, 5, 4, 4, 0, 0}, {1, 2, 4, 5, 2, 4, 6, 6}, {2, 2, 3, 4, 6, 8, 0, 0},
        {1, 1, 7, 5, 8, 6, 4, 2},
    };

    /** fused by composing existing F ops: mul by the mask, resizeByFactor x2, insert, add. */
    static Tensor composedFuse(Tensor lr, Tensor att, Tensor hr, int top, int left) {
        int b = lr.dim(0), k = lr.dim(1), h = lr.dim(2), w = lr.dim(3), hh = hr.dim(2), ww = hr.dim(3);
        double[] mask = new double[b * k * h * w];
        for (int p = 0; p < b * k; p++) {
            for (int y = top / 2; y < (top + hh) / 2; y++) {
                for (int x = left / 2; x < (left + ww) / 2; x++) mask[(p * h + y) * w + x] = 1;
            }
        }
        Tensor attm = F.mul(att, Tensor.of(lr.backend(), mask, b, k, h, w));
        Tensor ones = Tensor.full(lr.backend(), lr.dtype(), 1, b, k, h, w);
        Tensor upLr = F.resizeByFactor(F.mul(F.add(ones, F.scale(attm, -1)), lr), 2);
        Tensor hrIns = F.insert(hr, 2 * h, 2 * w, top, left);
        return F.add(F.mul(F.resizeByFactor(attm, 2), hrIns), upLr);
    }

    @Test
    void fuseKernelsMatchReferences() {
        for (DType dt : new DType[] {DType.F64, DType.F32}) {
            double tol = dt == DType.F64 ? 1e-13 : 1e-5;
            for (int[] s : FUSE_SHAPES) {
                int b = s[0], k = s[1], h = s[2], w = s[3], hh = s[4], ww = s[5], top = s[6], left = s[7];
                String at = String.format(Locale.ROOT, "%s %s", dt, Arrays.toString(s));
                int nl = b * k * h * w, nh = b * k * hh * ww, nf = b * k * 4 * h * w;
                double[] lr = gauss(nl), att = new double[nl], hr = gauss(nh), g = gauss(nf);
                for (int i = 0; i < nl; i++) att[i] = r.nextDouble();
                double[] l0 = gauss(nl), a0 = gauss(nl), h0 = gauss(nh);
                if (dt == DType.F32) {
                    for (double[] a : new double[][] {lr, att, hr, g, l0, a0, h0}) for (int i = 0; i < a.length; i++) a[i] = (float) a[i];
                }
                double[] ref = naiveFuse(lr, att, hr, b, k, h, w, hh, ww, top, left);
                try (Arena arena = Arena.open()) {
                    Tensor tl = of(dt, lr, b, k, h, w), ta = of(dt, att, b, k, h, w), th = of(dt, hr, b, k, hh, ww);
                    Tensor tg = of(dt, g, b, k, 2 * h, 2 * w);
                    Tensor fused = poisoned(dt, b, k, 2 * h, 2 * w);
                    be.hrdaFuse(tl, ta, th, fused, b, k, h, w, hh, ww, top, left);
                    assertClose("fused " + at, ref, fused.toDoubleArray(), tol, tol);
                    // gradient reference: the composition's backward in f64
                    double[][] grads = new double[3][];
                    try (Tape tape = Tape.record()) {
                        Tensor[] in = {of(DType.F64, lr, b, k, h, w), of(DType.F64, att, b, k, h, w), of(DType.F64, hr, b, k, hh, ww)};
                        for (Tensor t : in) t.requiresGrad = true;
                        Tensor f = composedFuse(in[0], in[1], in[2], top, left);
                        tape.backward(F.sum(F.mul(f, of(DType.F64, g, b, k, 2 * h, 2 * w))));
                        for (int i = 0; i < 3; i++) grads[i] = in[i].grad.toDoubleArray();
                    }
                    Tensor dl = poisoned(dt, b, k, h, w), da = poisoned(dt, b, k, h, w), dh = poisoned(dt, b, k, hh, ww);
                    be.hrdaFuseBackward(tl, ta, th, tg, dl, da, dh, b, k, h, w, hh, ww, top, left, false, false, false);
                    assertClose("dlr " + at, grads[0], dl.toDoubleArray(), tol, tol);
                    assertClose("datt " + at, grads[1], da.toDoubleArray(), tol, tol);
                    assertClose("dhr " + at, grads[2], dh.toDoubleArray(), tol, tol);
                    Tensor dlAcc = of(dt, l0, b, k, h, w), daAcc = of(dt, a0, b, k, h, w), dhAcc = of(dt, h0, b, k, hh, ww);
                    be.hrdaFuseBackward(tl, ta, th, tg, dlAcc, daAcc, dhAcc, b, k, h, w, hh, ww, top, left, true, true, true);
                    assertClose("dlr acc " + at, plus(l0, grads[0]), dlAcc.toDoubleArray(), tol, tol);
                    assertClose("datt acc " + at, plus(a0, grads[1]), daAcc.toDoubleArray(), tol, tol);
                    assertClose("dhr acc " + at, plus(h0, grads[2]), dhAcc.toDoubleArray(), tol, tol);
                    Tensor dhOnly = poisoned(dt, b, k, hh, ww);
                    be.hrdaFuseBackward(tl, ta, th, tg, null, null, dhOnly, b, k, h, w, hh, ww, top, left, false, false, false);
                    assertClose("dhr only " + at, grads[2], dhOnly.toDoubleArray(), tol, tol);
                }
            }
        }
    }

    @Test
    void fuseEqualsComposition() {
        for (int[] s : FUSE_SHAPES) {
            int b = s[0], k = s[1], h = s[2], w = s[3], hh = s[4], ww = s[5], top = s[6], left = s[7];
            double[] lr = gauss(b * k * h * w), att = gauss(b * k * h * w), hr = gauss(b * k * hh * ww);
            try (Arena arena = Arena.open()) {
                Tensor tl = of(DType.F64, lr, b, k, h, w), ta = of(DType.F64, att, b, k, h, w), th = of(DType.F64, hr, b, k, hh, ww);
                assertClose("fuse vs composition " + Arrays.toString(s), composedFuse(tl, ta, th, top, left).toDoubleArray(),
                            F.hrdaFuse(tl, ta, th, top, left).toDoubleArray(), 1e-13, 1e-13);
            }
        }
    }

    @Test
    void fuseGradients() {
        gradCheck("hrdaFuse box inside", 80, x -> F.hrdaFuse(x.get(0), x.get(1), x.get(2), 2, 4),
                  GradCheck.random(be, r, 2, 3, 5, 6), GradCheck.random(be, r, 2, 3, 5, 6), GradCheck.random(be, r, 2, 3, 4, 6));
        gradCheck("hrdaFuse inference (whole grid)", 80, x -> F.hrdaFuse(x.get(0), x.get(1), x.get(2), 0, 0),
                  GradCheck.random(be, r, 1, 2, 3, 4), GradCheck.random(be, r, 1, 2, 3, 4), GradCheck.random(be, r, 1, 2, 6, 8));
        gradCheck("hrdaFuse box at the far corner", 80, x -> F.hrdaFuse(x.get(0), x.get(1), x.get(2), 6, 4),
                  GradCheck.random(be, r, 1, 2, 4, 5), GradCheck.random(be, r, 1, 2, 4, 5), GradCheck.random(be, r, 1, 2, 2, 6));
        gradCheck("hrdaFuse one tensor as lr and att", 60, x -> F.hrdaFuse(x.get(0), x.get(0), x.get(1), 2, 2),
                  GradCheck.random(be, r, 1, 2, 4, 4), GradCheck.random(be, r, 1, 2, 4, 4));
        gradCheck("composition (the test's reference)", 60, x -> composedFuse(x.get(0), x.get(1), x.get(2), 2, 4),
                  GradCheck.random(be, r, 1, 2, 5, 6), GradCheck.random(be, r, 1, 2, 5, 6), GradCheck.random(be, r, 1, 2, 4, 6));
    }

    @Test
    void fuseArgumentErrors() {
        try (Arena arena = Arena.open()) {
            Tensor lr = Tensor.zeros(be, DType.F32, 1, 2, 4, 4), hr = Tensor.zeros(be, DType.F32, 1, 2, 4, 4);
            NativeException e = assertThrows(NativeException.class, () -> F.hrdaFuse(lr, lr, hr, 1, 0));
            assertTrue(e.getMessage().contains("must be even"), e.getMessage());
            e = assertThrows(NativeException.class, () -> F.hrdaFuse(lr, lr, hr, 6, 0));
            assertTrue(e.getMessage().contains("does not fit"), e.getMessage());
            Tensor odd = Tensor.zeros(be, DType.F32, 1, 2, 3, 4);
            e = assertThrows(NativeException.class, () -> F.hrdaFuse(lr, lr, odd, 0, 0));
            assertTrue(e.getMessage().contains("hh x ww = 3 x 4"), e.getMessage());
        }
    }
}
