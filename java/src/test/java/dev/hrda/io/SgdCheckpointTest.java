package dev.hrda.io;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Json;
import dev.hrda.optim.Sgd;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RIPU's SGD in the training checkpoint: torch.optim.SGD's state_dict layout (state i ->
 * momentum_buffer, one param group per lr/decay group), and a resumed run continues bit for bit.
 */
class SgdCheckpointTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    static TinyModel model(long seed) {
        Map<String, int[]> params = new LinkedHashMap<>();
        params.put("backbone.conv.weight", new int[] {3, 2});
        params.put("decode_head.conv_seg.bias", new int[] {4});
        TinyModel m = TinyModel.of(be, DType.F64, params, Map.of());
        Random r = new Random(seed);
        for (Tensor p : m.parameters()) {
            double[] v = new double[(int) p.numel()];
            for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian();
            p.copyFrom(v);
        }
        return m;
    }

    static void grads(TinyModel m, int step) {
        Random r = new Random(100 + step);
        for (Tensor p : m.parameters()) {
            double[] v = new double[(int) p.numel()];
            for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian();
            p.grad.copyFrom(v);
        }
    }

    @Test
    void momentumBuffersRoundTripAndResumeContinues(@TempDir Path dir) {
        Path file = dir.resolve("iter_2.pth");
        try (TinyModel a = model(1); TinyModel b = model(2)) {
            try (Sgd oa = Sgd.ripu(be, a.namedParameters()); Sgd ob = Sgd.ripu(be, b.namedParameters())) {
                for (int s = 0; s < 2; s++) {
                    grads(a, s);
                    oa.step(Sgd.ripuSchedule().factor(s));
                }
                TrainingCheckpoint.save(file, a, null, null, oa, Sgd.ripuSchedule().factor(2),
                                        new TrainingCheckpoint.Meta(2, 7, "", "ripu", "tiny"));
                TensorFile f = TensorFile.read(file);
                Map<String, String> meta = f.metadata();
                assertEquals("2", meta.get("meta.iter"));
                assertTrue(f.otherTensors().containsKey("optimizer.state.0.momentum_buffer"), f.otherTensors().keySet().toString());
                assertTrue(f.otherTensors().containsKey("optimizer.state.1.momentum_buffer"));
                List<?> groups = (List<?>) Json.parse(meta.get("optimizer.param_groups"));
                assertEquals(2, groups.size(), "two groups: backbone and head");
                Map<?, ?> g0 = (Map<?, ?>) groups.get(0), g1 = (Map<?, ?>) groups.get(1);
                assertEquals(0.9, ((Number) g0.get("momentum")).doubleValue(), 0);
                assertEquals(false, g0.get("nesterov"));
                assertEquals(2.5e-4 * Sgd.ripuSchedule().factor(2), ((Number) g0.get("lr")).doubleValue(), 1e-18);
                assertEquals(2.5e-3 * Sgd.ripuSchedule().factor(2), ((Number) g1.get("lr")).doubleValue(), 1e-17);
                assertEquals(5e-4, ((Number) g1.get("weight_decay")).doubleValue(), 0);
                assertEquals(List.of(1L), ((List<?>) g1.get("params")).stream().map(v -> ((Number) v).longValue()).toList());

                TrainingCheckpoint.Loaded l = TrainingCheckpoint.load(file, b, null, null, ob);
                assertEquals(2, l.iteration());
                assertEquals(2, ob.stepCount());
                for (int i = 0; i < 2; i++) {
                    assertArrayEquals(oa.momentumBuffers().get(i).toDoubleArray(), ob.momentumBuffers().get(i).toDoubleArray());
                    assertArrayEquals(a.parameters().get(i).toDoubleArray(), b.parameters().get(i).toDoubleArray());
                }
                grads(a, 2);
                grads(b, 2);
                oa.step(Sgd.ripuSchedule().factor(2));
                ob.step(Sgd.ripuSchedule().factor(2));
                for (int i = 0; i < 2; i++) {
                    assertArrayEquals(a.parameters().get(i).toDoubleArray(), b.parameters().get(i).toDoubleArray(), "resumed step");
                }
            } finally {
                for (TinyModel m : new TinyModel[] {a, b}) for (Tensor p : m.parameters()) p.grad.close();
            }
        }
    }
}
