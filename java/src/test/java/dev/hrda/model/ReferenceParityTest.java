package dev.hrda.model;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.io.Checkpoints;
import dev.hrda.io.LoadOptions;
import dev.hrda.io.LoadReport;
import dev.hrda.io.StoredDType;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Forward parity with the independent float64 numpy reference (tools/reference): the fixtures
 * hold random weights under the original mmseg names, an input and the reference's outputs.
 * Our f32 outputs must agree to 1e-4 relative (to the output's largest magnitude).
 */
class ReferenceParityTest {
    static Backend be;

    @BeforeAll static void open() { be = new CpuBackend(); }

    @AfterAll static void close() { be.close(); }

    private static Path fixture(String name) throws Exception {
        return Path.of(ReferenceParityTest.class.getResource("/model/" + name).toURI());
    }

    /** Loads the fixture's weights into the model: every model tensor must be found, only test.* left over. */
    private static TensorFile load(Segmentor m, Path file) {
        TensorFile f = TensorFile.read(file);
        LoadReport r = Checkpoints.load(m, file, LoadOptions.nonStrict());
        assertTrue(r.missing().isEmpty() && r.mismatched().isEmpty(), () -> "fixture does not fit the model:\n" + r);
        for (String u : r.unexpected()) assertTrue(u.startsWith("test."), () -> "unexpected weight " + u + "\n" + r);
        m.train(false);
        return f;
    }

    private static Tensor input(TensorFile f, String name) {
        StoredTensor s = f.tensors().get(name);
        return Tensor.of(be, s.toFloatArray(), s.shape());
    }

    static void assertClose(String what, StoredTensor expected, Tensor actual, double rel) {
        assertArrayEquals(expected.shape(), actual.shape(), what + " shape");
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        double scale = 0;
        for (float v : e) scale = Math.max(scale, Math.abs(v));
        assertTrue(scale > 0, what + ": the reference output is all zeros");
        int worst = 0;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs(e[i] - a[i]);
            if (Double.isNaN(d) || d > Math.abs(e[worst] - a[worst])) worst = i;
            if (Double.isNaN(d)) break;
        }
        double err = Math.abs(e[worst] - a[worst]), bound = rel * scale;
        int w = worst;
        assertTrue(err <= bound, () -> String.format("%s: max error %.3g at %d (ours %.7g, reference %.7g) exceeds %.3g",
                                                     what, err, w, a[w], e[w], bound));
    }

    @Test void tinyMitAndDaformerHeadMatchTheReference() throws Exception {
        try (Segmentor s = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_daformer"), 0); Arena a = Arena.open()) {
            EncoderDecoder m = (EncoderDecoder) s;
            TensorFile f = load(m, fixture("tiny_daformer.safetensors"));
            Tensor x = input(f, "test.input");
            List<Tensor> feats = m.backbone.forward(x);
            for (int i = 0; i < 4; i++) assertClose("feat" + i, f.tensors().get("test.feat" + i), feats.get(i), 1e-4);
            assertClose("logits", f.tensors().get("test.logits"), m.decodeHead.forward(feats), 1e-4);
            // both attention paths give the same network
            for (boolean fused : new boolean[] {true, false}) {
                m.mit().useFusedAttention(fused);
                assertClose("logits (fused attention " + fused + ")", f.tensors().get("test.logits"), m.logits(x), 1e-4);
            }
        }
    }

    @Test void tinyHrdaFusionAndSlideInferenceMatchTheReference() throws Exception {
        try (Segmentor s = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 0); Arena a = Arena.open()) {
            HrdaEncoderDecoder m = (HrdaEncoderDecoder) s;
            TensorFile f = load(m, fixture("tiny_hrda.safetensors"));
            Tensor x = input(f, "test.input");
            long[] box = f.tensors().get("test.box").toLongArray();
            int crop = m.config.hrda().hrCropSize();
            var o = m.forwardTrainParts(x, new CropBox((int) box[0], (int) box[1], crop, crop));
            assertClose("lr_seg", f.tensors().get("test.lr_seg"), o.lr(), 1e-4);
            assertClose("hr_seg", f.tensors().get("test.hr_seg"), o.hr(), 1e-4);
            assertClose("att", f.tensors().get("test.att"), o.att(), 1e-4);
            assertClose("fused", f.tensors().get("test.fused"), o.fused(), 1e-4);
            assertClose("slide_fused", f.tensors().get("test.slide_fused"), m.fusedInference(x), 1e-4);
        }
    }

    /** What we write is PyTorch's state dict: the same names, shapes and key set as the reference's. */
    @Test void exportedCheckpointHasTheOriginalStateDictKeys(@TempDir Path dir) throws Exception {
        try (Segmentor m = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 0)) {
            TensorFile ref = load(m, fixture("tiny_hrda.safetensors"));
            Path out = dir.resolve("tiny.safetensors");
            Checkpoints.save(out, m, Map.of("iter", "0"));
            TensorFile ours = TensorFile.read(out);
            Set<String> expected = new TreeSet<>(ref.tensors().keySet());
            expected.removeIf(k -> k.startsWith("test."));
            assertEquals(expected, new TreeSet<>(ours.tensors().keySet()));
            for (String k : expected) {
                assertArrayEquals(ref.tensors().get(k).shape(), ours.tensors().get(k).shape(), k);
                if (ref.tensors().get(k).dtype() == StoredDType.F32) {
                    assertArrayEquals(ref.tensors().get(k).toFloatArray(), ours.tensors().get(k).toFloatArray(), k);
                }
            }
        }
    }
}
