package dev.hrda.optim;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Json;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Sgd against torch.optim.SGD (tools/golden/ripu_losses.py: three steps on two parameter groups,
 * the head at lr x10, with RIPU's poly factor; momentum with and without dampening, Nesterov,
 * no momentum), in f64 and f32, and RIPU's poly schedule.
 */
class SgdTest {
    static Backend be;
    static TensorFile golden;
    static Map<?, ?> config;

    @BeforeAll static void setUp() {
        be = new CpuBackend();
        golden = TensorFile.read(Path.of("src/test/resources/golden/ripu_losses/ripu_losses.safetensors"));
        config = (Map<?, ?>) Json.parse(golden.metadata().get("config"));
    }

    @AfterAll static void tearDown() { be.close(); }

    static double num(Map<?, ?> m, String k) { return ((Number) m.get(k)).doubleValue(); }

    static double[] values(String name) {
        StoredTensor t = golden.tensors().get(name);
        if (t == null) fail("fixture tensor " + name);
        return t.toDoubleArray();
    }

    static void assertClose(String what, double[] ref, double[] got, double rtol) {
        assertEquals(ref.length, got.length, what);
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(got[i] - ref[i]) <= rtol * Math.max(1, Math.abs(ref[i])))) {
                fail(String.format(Locale.ROOT, "%s[%d]: torch %.15g, ours %.15g", what, i, ref[i], got[i]));
            }
        }
    }

    @Test
    void stepsMatchTorchSgd() {
        Map<?, ?> cases = (Map<?, ?>) config.get("sgd_cases");
        Map<?, ?> sgd = (Map<?, ?>) config.get("sgd");
        List<String> names = new ArrayList<>();
        for (Object o : (List<?>) sgd.get("params")) names.add((String) o);
        int steps = (int) num(sgd, "steps");
        PolySchedule sched = PolySchedule.poly((int) num(sgd, "max_iter"), num(sgd, "power"));
        assertEquals(4, cases.size());
        for (var e : cases.entrySet()) {
            String name = (String) e.getKey();
            Map<?, ?> c = (Map<?, ?>) e.getValue();
            for (DType d : new DType[] {DType.F64, DType.F32}) {
                String tag = name + " " + d;
                Map<String, Tensor> named = new LinkedHashMap<>();
                for (String p : names) {
                    StoredTensor init = golden.tensors().get("sgd." + name + ".init." + p);
                    Tensor t = Tensor.empty(be, d, init.shape());
                    t.copyFrom(init.toDoubleArray());
                    t.isParam = true;
                    named.put(p, t);
                }
                double momentum = num(c, "momentum");
                try (Sgd opt = new Sgd(be, named, num(c, "lr"), momentum, num(c, "dampening"), num(c, "weight_decay"),
                                       (Boolean) c.get("nesterov"), List.of(new AdamW.Rule("head", 10f, 1f)))) {
                    assertEquals(momentum == 0 ? 0 : names.size(), opt.momentumBuffers().size(), tag + ": buffers");
                    double tol = d == DType.F64 ? 1e-14 : 1e-6;
                    for (int s = 0; s < steps; s++) {
                        for (String p : names) named.get(p).grad.copyFrom(values("sgd." + name + ".grad" + s + "." + p));
                        opt.step(sched.factor((long) num(c, "iter0") + s));
                        for (int i = 0; i < names.size(); i++) {
                            String p = names.get(i);
                            assertClose(tag + " step " + s + " " + p, values("sgd." + name + ".after" + s + "." + p),
                                        named.get(p).toDoubleArray(), tol);
                            if (momentum != 0) {
                                assertClose(tag + " step " + s + " momentum_buffer " + p, values("sgd." + name + ".buf" + s + "." + p),
                                            opt.momentumBuffers().get(i).toDoubleArray(), tol);
                            }
                        }
                    }
                    assertEquals(steps, opt.stepCount());
                    assertEquals(num(c, "lr") * 10 * sched.factor(5), opt.lrOf(names.get(1), sched.factor(5)), 1e-15);
                } finally {
                    for (Tensor t : named.values()) {
                        t.grad.close();
                        t.close();
                    }
                }
            }
        }
    }

    @Test
    void ripuDefaultsAndSchedule() {
        PolySchedule s = Sgd.ripuSchedule();
        assertEquals(1.0, s.factor(0), 0);
        assertEquals(Math.pow(1 - 40000 / 62500.0, 0.9), s.factor(40000), 1e-15, "the factor at RIPU's STOP_ITER");
        assertEquals(Math.pow(0.5, 0.9), s.factor(31250), 1e-15);
        assertEquals(0.0, s.factor(62500), 0);
        try (Tensor w = Tensor.of(be, new double[] {1, 2}, 2); Tensor b = Tensor.of(be, new double[] {3}, 1)) {
            Map<String, Tensor> named = new LinkedHashMap<>();
            named.put("backbone.conv1.weight", w);
            named.put("decode_head.conv_seg.bias", b);
            try (Sgd opt = Sgd.ripu(be, named)) {
                assertEquals(0.9, opt.momentum, 0);
                assertEquals(5e-4, opt.weightDecay, 0);
                assertEquals(2.5e-4, opt.lrOf("backbone.conv1.weight", 1), 0);
                assertEquals(2.5e-3, opt.lrOf("decode_head.conv_seg.bias", 1), 1e-18);
                assertTrue(opt.stateTensors().containsKey("momentum_buffer.decode_head.conv_seg.bias"));
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.lrOf("nope", 1));
                assertTrue(e.getMessage().contains("'nope' is not a parameter"), e.getMessage());
            } finally {
                w.grad.close();
                b.grad.close();
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new Sgd(be, Map.of(), 0.1, 0.9, 0.1, 0, true, List.of()));
    }
}
