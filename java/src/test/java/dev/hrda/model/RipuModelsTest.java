package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Tape;
import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.LoadReport;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.Cli;
import dev.hrda.testing.LeakCheck;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * RIPU's models (ResNet OS8 with FrozenBN, DeepLab-v2 and v3+ heads) against tools/golden/ripu_models.py,
 * our float64 PyTorch port of BIT-DA/RIPU's core/models: forward logits, the align_corners=True
 * output at the input size, and every gradient of sum(out · R), in f64 and f32; the original
 * checkpoint layouts (RIPU's train.py, torchvision's ImageNet file) load strictly; the counts
 * of the full-size models match torchvision's.
 */
@ExtendWith(LeakCheck.class)
class RipuModelsTest {
    static final Path DIR = Path.of("src/test/resources/golden/ripu_models");
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    /** max |a − b| / max |b| */
    static double relErr(double[] a, double[] b) {
        assertEquals(b.length, a.length, "element count");
        double d = 0, s = 1e-300;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
            s = Math.max(s, Math.abs(b[i]));
        }
        return d / s;
    }

    static double[] values(Map<String, StoredTensor> t, String key) {
        StoredTensor s = t.get(key);
        if (s == null) fail("fixture has no " + key);
        try (Tensor x = Tensor.empty(be, DType.F64, s.shape())) {
            s.copyInto(x);
            return x.toDoubleArray();
        }
    }

    /**
     * f64: PyTorch's arithmetic to round-off (measured: logits 6e-16 and 3e-15 of their scale);
     * f32: float32 accumulation on these sizes (measured: logits 6e-7 and 9e-7), bounded at 1e-4.
     */
    @ParameterizedTest
    @CsvSource({"tiny_deeplabv2, F64, 1e-12", "tiny_deeplabv3plus, F64, 1e-12", "tiny_deeplabv2, F32, 1e-4", "tiny_deeplabv3plus, F32, 1e-4"})
    void forwardAndGradientsMatchTheOriginal(String name, DType dtype, double tol) {
        Map<String, StoredTensor> g = TensorFile.read(DIR.resolve(name + ".safetensors")).tensors();
        try (Segmentor m = Segmentor.create(be, dtype, ModelConfig.named(name), 1); Arena a = Arena.open()) {
            m.train(false);
            Map<String, Tensor> state = Checkpoints.stateOf(m);
            TreeSet<String> fixtureNames = new TreeSet<>();
            for (String k : g.keySet()) if (k.startsWith("state.")) fixtureNames.add(k.substring(6));
            assertEquals(fixtureNames, new TreeSet<>(state.keySet()), "the model's state names are RIPU's");
            state.forEach((k, v) -> g.get("state." + k).copyInto(v));
            Tensor img = Tensor.empty(be, dtype, g.get("input").shape());
            g.get("input").copyInto(img);
            img.requiresGrad = true;
            Tensor r = Tensor.empty(be, dtype, g.get("R").shape());
            g.get("R").copyInto(r);

            double[] logits = ((EncoderDecoder) m).logits(img).toDoubleArray();
            assertTrue(relErr(logits, values(g, "logits")) <= tol, name + " " + dtype + " logits: " + relErr(logits, values(g, "logits")));
            try (Tape tape = Tape.record()) {
                Tensor out = m.encodeDecode(img);
                assertArrayEquals(new int[] {img.dim(2), img.dim(3)}, new int[] {out.dim(2), out.dim(3)});
                double e = relErr(out.toDoubleArray(), values(g, "out"));
                assertTrue(e <= tol, name + " " + dtype + " output (align_corners=True resize): " + e);
                tape.backward(F.sum(F.mul(out, r)));
            }
            double ei = relErr(img.grad.toDoubleArray(), values(g, "grad.input"));
            assertTrue(ei <= tol, name + " " + dtype + " image gradient: " + ei);
            int checked = 0;
            for (var e : m.namedParameters().entrySet()) {
                double err = relErr(e.getValue().grad.toDoubleArray(), values(g, "grad." + e.getKey()));
                assertTrue(err <= tol, name + " " + dtype + " gradient of " + e.getKey() + ": " + err);
                checked++;
            }
            assertEquals(g.keySet().stream().filter(k -> k.startsWith("grad.") && !k.equals("grad.input")).count(), checked,
                         "every trainable tensor of the original has a gradient here, and no other");
            for (var e : m.namedBuffers().entrySet()) assertNull(e.getValue().grad, "FrozenBN buffer " + e.getKey() + " got a gradient");
        }
    }

    /** RIPU's train.py checkpoint ({feature_extractor, classifier, iteration}) loads strictly, and exports and reloads with our names. */
    @Test void ripuCheckpointLoadsStrictlyAndRoundTrips(@TempDir Path tmp) {
        Map<String, StoredTensor> g = TensorFile.read(DIR.resolve("tiny_deeplabv2.safetensors")).tensors();
        Path pth = DIR.resolve("tiny_deeplabv2_ripu.pth");
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_deeplabv2"), 9);
             Segmentor back = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_deeplabv2"), 10)) {
            LoadReport rep = Checkpoints.load(m, pth, LoadOptions.strict());
            assertTrue(rep.ok(), rep.toString());
            assertTrue(rep.toString().contains("RIPU checkpoint"), rep.toString());
            for (var e : Checkpoints.stateOf(m).entrySet()) {
                assertArrayEquals(values(g, "state." + e.getKey()), e.getValue().toDoubleArray(), 0, e.getKey());
            }
            Path out = tmp.resolve("exported.pth");
            Checkpoints.savePth(out, m, Map.of());
            assertTrue(Checkpoints.load(back, out, LoadOptions.strict()).ok());
            for (var e : Checkpoints.stateOf(m).entrySet()) {
                assertArrayEquals(e.getValue().toDoubleArray(), Checkpoints.stateOf(back).get(e.getKey()).toDoubleArray(), 0, e.getKey());
            }
        }
    }

    /** A torchvision ImageNet ResNet file (bare names, fc, num_batches_tracked) loads strictly into the encoder. */
    @Test void torchvisionEncoderFileLoadsIntoTheBackbone() {
        Map<String, StoredTensor> g = TensorFile.read(DIR.resolve("tiny_deeplabv2.safetensors")).tensors();
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_deeplabv2"), 11)) {
            LoadReport rep = Checkpoints.load(m.backbone, DIR.resolve("tiny_resnet_torchvision.pth"), LoadOptions.strict());
            assertTrue(rep.ok(), rep.toString());
            assertTrue(rep.skipped().stream().anyMatch(s -> s.source().equals("fc.weight")), rep.toString());
            assertTrue(rep.skipped().stream().anyMatch(s -> s.source().endsWith("bn1.num_batches_tracked")), rep.toString());
            for (var e : Checkpoints.stateOf(m.backbone).entrySet()) {
                assertArrayEquals(values(g, "state.backbone." + e.getKey()), e.getValue().toDoubleArray(), 0, e.getKey());
            }
        }
    }

    /** `hrda info --checkpoint` recognises RIPU's files: the ResNet from its blocks and stem, the head from its names. */
    @Test void modelIsRecognisedFromACheckpoint() {
        Map<String, int[]> shapes = new java.util.LinkedHashMap<>();
        TensorFile.read(DIR.resolve("tiny_deeplabv2_ripu.pth")).tensors().forEach((k, v) -> shapes.put(k, v.shape()));
        ModelConfig c = ModelConfig.guess(shapes);
        ResNetConfig rc = (ResNetConfig) c.backbone();
        assertArrayEquals(new int[] {1, 1, 2, 2}, rc.blocks());
        assertEquals(4, rc.width());
        DeepLabConfig h = (DeepLabConfig) c.head();
        assertEquals(DeepLabConfig.Kind.V2, h.kind());
        assertEquals(5, h.numClasses());
        Map<String, int[]> v3 = new java.util.LinkedHashMap<>();
        TensorFile.read(DIR.resolve("tiny_deeplabv3plus.safetensors")).tensors().forEach((k, v) -> { if (k.startsWith("state.")) v3.put(k, v.shape()); });
        DeepLabConfig h3 = (DeepLabConfig) ModelConfig.guess(v3).head();
        assertEquals(DeepLabConfig.Kind.V3PLUS, h3.kind());
        assertEquals(16, h3.channels());
        assertEquals(8, h3.lowChannels());
        assertEquals(5, h3.numClasses());
    }

    /**
     * Full-size counts: torchvision's resnet101 has 44,549,160 parameters, 2,049,000 of them in fc;
     * with FrozenBN its BatchNorm affine weights (105,344) are buffers, so our encoder has
     * 42,394,816 trainable (conv) parameters. DeepLab-v2's classifier: 4 · (2048 · 9 · 19 + 19).
     * DeepLab-v3+'s head as RIPU's (FrozenBN): 17,675,203 (tools/golden/ripu_models.py's layout).
     */
    @Test void fullSizeParameterCountsMatchTorchvision() {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("deeplabv2_r101"), 0)) {
            Map<String, Long> counts = m.parameterCounts();
            assertEquals(42_394_816L, counts.get("backbone"));
            assertEquals(4L * (2048 * 9 * 19 + 19), counts.get("decode_head"));
            long affine = 0, stats = 0;
            for (var e : m.backbone.namedBuffers().entrySet()) {
                if (e.getKey().endsWith("running_mean") || e.getKey().endsWith("running_var")) stats += e.getValue().numel();
                else affine += e.getValue().numel();
            }
            assertEquals(44_549_160L - 2_049_000L, counts.get("backbone") + affine, "torchvision's count without fc");
            assertEquals(affine, stats);
        }
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("deeplabv3plus_r101"), 0)) {
            assertEquals(17_675_203L, m.parameterCounts().get("decode_head"));
        }
    }

    /** `hrda info`: a RIPU model's components and counts, and a RIPU checkpoint recognised and checked strictly. */
    @Test void infoCommandDescribesRipuModelsAndCheckpoints() {
        Cli.Run m = Cli.run("info", "--model", "tiny_deeplabv3plus");
        assertEquals(0, m.status(), m.out() + m.err());
        assertTrue(m.out().contains("resnet_tiny (Bottleneck blocks [1, 1, 2, 2], width 4, output stride 8, FrozenBN)"), m.out());
        assertTrue(m.out().contains("DeepLab-v3+ head (sep-ASPP 16 ch, rates [1, 6, 12, 18] + image pooling, 8-ch shortcut)"), m.out());
        assertTrue(m.out().contains("decode_head"), m.out());
        Cli.Run c = Cli.run("info", "--checkpoint", DIR.resolve("tiny_deeplabv2_ripu.pth").toString());
        assertEquals(0, c.status(), c.out() + c.err());
        assertTrue(c.out().contains("RIPU checkpoint"), c.out());
        assertTrue(c.out().contains("(strict)"), c.out());
    }
}
