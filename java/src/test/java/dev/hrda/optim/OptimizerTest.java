package dev.hrda.optim;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** AdamW + poly/warm-up schedule + EMA against values computed by hand here. */
class OptimizerTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    @Test void polyScheduleWithWarmupMatchesMmcv() {
        PolySchedule s = PolySchedule.hrdaDefault(40000);
        assertEquals(1e-6, s.factor(0), 1e-15);
        // i=750: poly = 1 - 750/40000 = 0.98125; warm-up = 1 - 0.5*(1-1e-6) = 0.5000005
        assertEquals(0.98125 * 0.5000005, s.factor(750), 1e-12);
        assertEquals(1 - 1500 / 40000.0, s.factor(1500), 1e-12);
        assertEquals(0.5, s.factor(20000), 1e-12);
        assertEquals(0.0, s.factor(40000), 1e-12);
    }

    @Test void emaAlphaRamp() {
        assertEquals(0.0, Ema.alphaAt(0, 0.999), 0);
        assertEquals(0.5, Ema.alphaAt(1, 0.999), 1e-12);
        assertEquals(0.999, Ema.alphaAt(5000, 0.999), 1e-12);
    }

    @Test void adamwTrajectoryMatchesHandComputedReference() {
        // two groups: "decode_head.w" (lr x10) and "backbone.norm.w" (decay x0), three steps with the schedule
        double[] p0 = {0.5, -1.25, 2.0}, q0 = {0.3, -0.7};
        double[][] gp = {{0.1, -0.2, 0.3}, {-0.05, 0.4, 0.1}, {0.2, 0.2, -0.3}};
        double[][] gq = {{1.0, -2.0}, {0.5, 0.25}, {-1.5, 0.75}};
        PolySchedule sched = new PolySchedule(10, 1.0, 0.0, 2, 1e-6);
        double lr = 1e-2, wd = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        Map<String, Tensor> named = new LinkedHashMap<>();
        Tensor p = Tensor.of(be, p0, 3), q = Tensor.of(be, q0, 2);
        try (p; q) {
            p.isParam = q.isParam = true;
            p.grad = Tensor.zeros(be, DType.F64, 3);
            q.grad = Tensor.zeros(be, DType.F64, 2);
            named.put("decode_head.w", p);
            named.put("backbone.norm.w", q);
            try (AdamW opt = new AdamW(be, named, lr, wd, (float) b1, (float) b2, (float) eps,
                                       List.of(new AdamW.Rule("head", 10f, 1f), new AdamW.Rule("norm", 1f, 0f)))) {
                double[] rp = p0.clone(), rq = q0.clone(), mp = new double[3], vp = new double[3], mq = new double[2], vq = new double[2];
                for (int it = 0; it < 3; it++) {
                    p.grad.copyFrom(gp[it]);
                    q.grad.copyFrom(gq[it]);
                    double f = sched.factor(it);
                    opt.step(f);
                    reference(rp, gp[it], mp, vp, (float) (lr * f * 10), (float) wd, b1, b2, eps, it + 1);
                    reference(rq, gq[it], mq, vq, (float) (lr * f), 0, b1, b2, eps, it + 1);
                    double[] gotP = p.toDoubleArray(), gotQ = q.toDoubleArray();
                    for (int i = 0; i < 3; i++) assertEquals(rp[i], gotP[i], 1e-9, "step " + it + " p[" + i + "]");
                    for (int i = 0; i < 2; i++) assertEquals(rq[i], gotQ[i], 1e-9, "step " + it + " q[" + i + "]");
                }
            } finally {
                p.grad.close();
                q.grad.close();
                p.grad = q.grad = null;
            }
        }
    }

    /** torch.optim.AdamW, one step, written out. */
    private static void reference(double[] p, double[] g, double[] m, double[] v, double lr, double wd,
                                  double b1, double b2, double eps, int t) {
        float b1f = (float) b1, b2f = (float) b2, epsf = (float) eps;  // the ABI passes betas/eps as float
        for (int i = 0; i < p.length; i++) {
            p[i] *= 1 - lr * wd;
            m[i] = b1f * m[i] + (1 - b1f) * g[i];
            v[i] = b2f * v[i] + (1 - b2f) * g[i] * g[i];
            double mh = m[i] / (1 - Math.pow(b1f, t)), vh = v[i] / (1 - Math.pow(b2f, t));
            p[i] -= lr * mh / (Math.sqrt(vh) + epsf);
        }
    }

    @Test void emaUpdateAndFirstCopy() {
        try (Tensor t = Tensor.of(be, new double[] {1, 2}, 2); Tensor s = Tensor.of(be, new double[] {3, 6}, 2)) {
            Ema ema = new Ema(be, List.of(t), List.of(s), 0.999f);
            ema.update(0);  // copy
            assertEquals(3, t.toDoubleArray()[0], 0);
            s.copyFrom(new double[] {5, 10});
            ema.update(1);  // alpha 0.5
            assertEquals(4, t.toDoubleArray()[0], 1e-12);
            assertEquals(8, t.toDoubleArray()[1], 1e-12);
        }
    }
}
