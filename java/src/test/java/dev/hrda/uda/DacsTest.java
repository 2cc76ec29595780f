package dev.hrda.uda;

import dev.hrda.autograd.F;
import dev.hrda.autograd.NoGrad;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Batch;
import dev.hrda.data.Sample;
import dev.hrda.data.UdaBatch;
import dev.hrda.model.CropBox;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.optim.AdamW;
import dev.hrda.optim.PolySchedule;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.MemoryStats;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DACS iteration on the tiny models: what it updates, what it must not, memory, reproducibility. */
class DacsTest {
    private static final Backend BE = new CpuBackend();
    static final int SIZE = 128, CLASSES = 5;

    /** Blocky labels (16 x 16 cells) with some ignore, normalised noise images, a validity mask with margins. */
    static UdaBatch batch(long seed, boolean withValid) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Sample> src = new ArrayList<>(), tgt = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            src.add(sample(r, true, false));
            tgt.add(sample(r, false, withValid));
        }
        return new UdaBatch(Batch.of(src, false), Batch.of(tgt, false));
    }

    private static Sample sample(SplittableRandom r, boolean label, boolean valid) {
        int n = SIZE * SIZE;
        float[] img = new float[3 * n];
        byte[] lbl = label ? new byte[n] : null;
        int[] cells = new int[64];
        for (int c = 0; c < cells.length; c++) cells[c] = r.nextInt(10) == 0 ? 255 : r.nextInt(CLASSES);
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                int cls = cells[(y / 16) * 8 + x / 16];
                for (int ch = 0; ch < 3; ch++) img[ch * n + y * SIZE + x] = (float) (0.3 * (cls % 5) - 0.6 + 0.5 * r.nextGaussian());
                if (label) lbl[y * SIZE + x] = (byte) cls;
            }
        }
        byte[] v = null;
        if (valid) {
            v = new byte[n];
            for (int y = 4; y < SIZE - 16; y++) for (int x = 4; x < SIZE - 4; x++) v[y * SIZE + x] = 1;
        }
        return new Sample(img, SIZE, SIZE, lbl, label ? SIZE : 0, label ? SIZE : 0, v, "synthetic", false, 0, 0);
    }

    /** The models and the optimizer of a run on the tiny HRDA (or DAFormer) model. */
    static final class Run implements AutoCloseable {
        final Segmentor student, teacher;
        final AdamW opt;
        final Dacs dacs;

        Run(String model, DacsSettings s, long seed) {
            ModelConfig c = ModelConfig.named(model);
            student = Segmentor.create(BE, DType.F32, c, seed);
            teacher = s.sourceOnly() ? null : Segmentor.create(BE, DType.F32, c, seed + 1);
            opt = AdamW.hrda(BE, student.namedParameters());
            dacs = new Dacs(student, teacher, null, opt, new PolySchedule(10, 1.0, 0, 2, 0.1), s);
        }

        @Override
        public void close() {
            opt.close();
            if (teacher != null) teacher.close();
            student.close();
        }
    }

    static DacsSettings settings() {
        // a reachable threshold for random tiny weights; no feature distance (no ImageNet weights here)
        return DacsSettings.hrda().withFeatureDistance(0, null).withPseudoThreshold(0.21)
                           .withMic(new DacsSettings.Mic("separatetrgaug", 1, 0.7, 32));
    }

    @Test
    void iterationUpdatesStudentAndTeacherAndLogsEveryTerm() {
        try (Run run = new Run("tiny_hrda", settings(), 3); UdaBatch b0 = batch(1, true); UdaBatch b1 = batch(2, true)) {
            SeedPlan plan = new SeedPlan(7);
            float[] before = run.student.namedParameters().get("decode_head.head.conv_seg.weight").toFloatArray();
            dev.hrda.tensor.Device device = run.student.parameters().get(0).device();
            long liveBefore = dev.hrda.tensor.MemoryStats.liveBytes(device);
            dev.hrda.tensor.MemoryStats.resetPeak(device);
            Dacs.Result r0 = run.dacs.step(0, b0, plan.at(0));
            // the live-bytes peak per part of the step, in step order; the device's peak is the step's, as before the trace
            assertEquals(List.of("src.forward", "src.backward", "teacher", "mix.forward", "mix.backward", "masked.forward", "masked.backward", "optimizer"),
                         List.copyOf(r0.phasePeaks().keySet()));
            long top = 0;
            for (long v : r0.phasePeaks().values()) {
                assertTrue(v >= liveBefore, "a part's peak is at least what lived before the step: " + r0.phasePeaks());
                top = Math.max(top, v);
            }
            assertTrue(r0.phasePeaks().get("src.forward") > liveBefore, "the source forward allocates activations");
            assertEquals(top, dev.hrda.tensor.MemoryStats.peakBytes(device), "the device's peak after the step is the largest part's");
            for (String k : List.of("decode.loss_seg", "decode.hr.loss_seg", "decode.acc_seg", "mix.decode.loss_seg", "mix.decode.hr.loss_seg",
                                    "masked.decode.loss_seg", "masked.decode.hr.loss_seg", "pseudo_weight", "loss")) {
                assertTrue(r0.log().containsKey(k), "log has " + k + ": " + r0.log().keySet());
                assertTrue(Double.isFinite(r0.log().get(k)), k);
            }
            double pw = r0.log().get("pseudo_weight");
            assertTrue(pw > 0 && pw < 1, "pseudo weight strictly between 0 and 1 with threshold 0.21: " + pw);
            assertEquals(0.1 * 6e-5, r0.lr(), 1e-18, "warm-up factor at iteration 0");
            float[] after = run.student.namedParameters().get("decode_head.head.conv_seg.weight").toFloatArray();
            assertFalse(java.util.Arrays.equals(before, after), "the step changed the student");
            // iteration 0 copied the student (before its step) into the teacher
            float[] teacher0 = run.teacher.namedParameters().get("decode_head.head.conv_seg.weight").toFloatArray();
            assertArrayEquals(before, teacher0);
            for (Tensor p : run.teacher.parameters()) assertNull(p.grad, "teacher parameter " + p.name + " has no gradient");
            run.dacs.step(1, b1, plan.at(1));
            float[] teacher1 = run.teacher.namedParameters().get("decode_head.head.conv_seg.weight").toFloatArray();
            for (int i = 0; i < teacher1.length; i++) {
                assertEquals(0.5f * teacher0[i] + 0.5f * after[i], teacher1[i], 1e-6f, "EMA with alpha_1 = 0.5");
            }
        }
    }

    @Test
    void sameSeedSameRunAndMemoryIsFlat() {
        double[] first = null;
        for (int rep = 0; rep < 2; rep++) {
            try (Run run = new Run("tiny_hrda", settings(), 3)) {
                SeedPlan plan = new SeedPlan(11);
                List<Double> losses = new ArrayList<>();
                long live = -1;
                for (int it = 0; it < 3; it++) {
                    try (UdaBatch b = batch(100 + it, true)) {
                        Dacs.Result r = run.dacs.step(it, b, plan.at(it));
                        losses.addAll(r.log().values());
                    }
                    long now = MemoryStats.liveAllocations(Device.CPU);
                    if (it > 0) assertEquals(live, now, "live allocations after iteration " + it);
                    live = now;
                }
                double[] l = losses.stream().mapToDouble(Double::doubleValue).toArray();
                if (first == null) first = l;
                else assertArrayEquals(first, l, "same seed, same losses, bit for bit");
            }
        }
    }

    @Test
    void sourceOnlyTrainsWithoutTeacher() {
        try (Run run = new Run("tiny_daformer", DacsSettings.daformer().withFeatureDistance(0, null).asSourceOnly(), 5);
             UdaBatch b = batch(3, false)) {
            Dacs.Result r = run.dacs.step(0, new UdaBatch(b.source(), null), new SeedPlan(1).at(0));
            assertEquals(List.of("decode.loss_seg", "decode.acc_seg", "loss"), new ArrayList<>(r.log().keySet()));
        }
    }

    @Test
    void nonFiniteLossStopsBeforeTheUpdate() {
        try (Run run = new Run("tiny_daformer", DacsSettings.daformer().withFeatureDistance(0, null).asSourceOnly(), 5);
             UdaBatch b = batch(3, false)) {
            Tensor w = run.student.namedParameters().get("decode_head.conv_seg.weight");
            float[] poisoned = w.toFloatArray();
            poisoned[0] = Float.NaN;
            w.copyFrom(poisoned);
            float[] bias = run.student.namedParameters().get("decode_head.conv_seg.bias").toFloatArray();
            NonFiniteLossException e = assertThrows(NonFiniteLossException.class,
                                                    () -> run.dacs.step(4, new UdaBatch(b.source(), null), new SeedPlan(1).at(4)));
            assertEquals("decode.loss_seg", e.term);
            assertTrue(e.getMessage().contains("iteration 5"), e.getMessage());
            assertArrayEquals(bias, run.student.namedParameters().get("decode_head.conv_seg.bias").toFloatArray(), "not updated");
        }
    }

    @Test
    void frozenModelsHoldNoGradientAndRecordNothing() {
        ModelConfig c = ModelConfig.named("tiny_daformer");
        long before = MemoryStats.liveBytes(Device.CPU);
        try (Segmentor m = Segmentor.create(BE, DType.F32, c, 1)) {
            long params = 0;
            for (Tensor p : m.parameters()) params += p.bytes();
            for (Tensor b : m.namedBuffers().values()) params += b.bytes();
            assertEquals(params, MemoryStats.liveBytes(Device.CPU) - before, "a new model holds its parameters and buffers, no gradient");
            m.freeze();
            try (Arena a = Arena.open(); Tape t = Tape.record()) {
                Tensor x = Tensor.full(BE, DType.F32, 0.5, 1, 3, 64, 64);
                m.encodeDecode(x);
                assertEquals(0, t.size(), "a frozen model records nothing on a recording tape");
            }
            m.requiresGrad(true);
            try (Arena a = Arena.open(); Tape t = Tape.record(); NoGrad g = NoGrad.open()) {
                m.encodeDecode(Tensor.full(BE, DType.F32, 0.5, 1, 3, 64, 64));
                assertEquals(0, t.size(), "nothing is recorded inside NoGrad");
            }
        }
    }

    @Test
    void stochasticModeIsSeparateFromBatchNormMode() {
        try (Segmentor m = Segmentor.create(BE, DType.F32, ModelConfig.named("tiny_daformer"), 1); Arena a = Arena.open()) {
            m.freeze();
            m.train(true);
            m.stochastic(false);
            assertTrue(m.training());
            assertFalse(m.isStochastic());
            Tensor x = Tensor.full(BE, DType.F32, 0.3, 2, 3, 64, 64);
            F.seed(1);
            float[] y1 = m.encodeDecode(x).toFloatArray();
            F.seed(2);
            float[] y2 = m.encodeDecode(x).toFloatArray();
            assertArrayEquals(y1, y2, "no dropout: independent of the dropout seed");
            m.stochastic(true);
            F.seed(1);
            float[] y3 = m.encodeDecode(x).toFloatArray();
            assertNotEquals(java.util.Arrays.hashCode(y1), java.util.Arrays.hashCode(y3), "dropout on changes the output");
            // BatchNorm in training mode normalises with the batch: its running stats moved
            float[] rm = m.namedBuffers().get("decode_head.fuse_layer.bottleneck.bn.running_mean").toFloatArray();
            boolean moved = false;
            for (float v : rm) moved |= v != 0;
            assertTrue(moved, "BN running statistics updated in training mode");
        }
    }

    @Test
    void parameterGroupsAreTheOptimizersNotTheTensors() {
        try (Segmentor m = Segmentor.create(BE, DType.F32, ModelConfig.named("tiny_hrda"), 1); AdamW opt = AdamW.hrda(BE, m.namedParameters())) {
            assertEquals(10f, opt.groupOf("decode_head.head.conv_seg.weight").lrMult());
            assertEquals(10f, opt.groupOf("decode_head.scale_attention.fuse_layer.bn.weight").lrMult(), "head wins over norm? no: longest key");
            assertEquals(0f, opt.groupOf("backbone.block1.0.norm1.weight").decayMult());
            assertEquals(1f, opt.groupOf("backbone.block1.0.attn.q.weight").decayMult());
            assertEquals(6e-5, opt.lrOf("backbone.patch_embed1.proj.weight", 1), 1e-20);
            assertThrows(IllegalArgumentException.class, () -> opt.groupOf("backbone.nonexistent"));
            for (Tensor p : m.parameters()) assertTrue(p.grad != null, "the optimizer allocates every gradient up front: " + p.name);
        }
    }

    @Test
    void seedPlanStreamsAreIndependent() {
        SeedPlan p = new SeedPlan(5);
        try (Segmentor m = Segmentor.create(BE, DType.F32, ModelConfig.named("tiny_hrda"), 1)) {
            Draws d = p.at(3);
            CropBox a = d.detailBox(Draws.Pass.SOURCE, m, 128, 128), b = d.detailBox(Draws.Pass.SOURCE, m, 128, 128);
            assertEquals(a, b, "asking twice gives the same draw");
            assertEquals(d.dropoutSeed(), p.at(3).dropoutSeed());
            assertNotEquals(d.dropoutSeed(), p.at(4).dropoutSeed());
            assertArrayEquals(d.classMix(new int[] {0, 1, 2, 3}, 2)[1], p.at(3).classMix(new int[] {0, 1, 2, 3}, 2)[1]);
            assertEquals(0, a.top() % 8);
            assertEquals(64, a.height());
        }
    }

}
