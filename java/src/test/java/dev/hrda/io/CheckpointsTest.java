package dev.hrda.io;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.optim.AdamW;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading the .pth fixtures into a model by mmseg names, the load report, and our own checkpoints. */
class CheckpointsTest {
    static Backend be;

    @BeforeAll static void setUp() { be = new CpuBackend(); }

    @AfterAll static void tearDown() { be.close(); }

    /** The mmseg fixture's names (num_batches_tracked aside: our BatchNorm keeps no counter). */
    static Map<String, int[]> mmsegParams() {
        Map<String, int[]> p = new LinkedHashMap<>();
        p.put("backbone.patch_embed1.proj.weight", new int[] {4, 3, 2, 2});
        p.put("backbone.patch_embed1.proj.bias", new int[] {4});
        p.put("backbone.block1.0.attn.q.weight", new int[] {4, 4});
        p.put("backbone.block1.0.attn.q.bias", new int[] {4});
        p.put("backbone.norm1.weight", new int[] {4});
        p.put("backbone.norm1.bias", new int[] {4});
        p.put("decode_head.conv_seg.weight", new int[] {2, 4, 1, 1});
        p.put("decode_head.conv_seg.bias", new int[] {2});
        return p;
    }

    static final Map<String, int[]> BN = Map.of("decode_head.bn.running_mean", new int[] {4});

    private static float[] expectedFloats(String file, String name) throws IOException {
        List<?> v = (List<?>) TinyModel.expected(file).get(name).get("values");
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) out[i] = ((Number) v.get(i)).floatValue();
        return out;
    }

    @Test
    void mmsegCheckpointLoadsStrictlyWithExactValues() throws IOException {
        try (TinyModel m = TinyModel.of(be, DType.F32, mmsegParams(), BN)) {
            LoadReport r = Checkpoints.load(m, TinyModel.resource("mmseg_state.pth"), LoadOptions.strict());
            assertTrue(r.ok(), r.toString());
            assertEquals(9, r.loaded().size());
            assertEquals(List.of("decode_head.bn.num_batches_tracked"), r.skipped().stream().map(LoadReport.Skipped::source).toList());
            assertEquals(Map.of("BF16 -> F32", 1, "F16 -> F32", 1, "F64 -> F32", 1), r.conversions());
            Map<String, Tensor> state = Checkpoints.stateOf(m);
            for (String name : state.keySet()) {
                assertArrayEquals(expectedFloats("mmseg_state.pth", name), state.get(name).toFloatArray(), name);
            }
        }
    }

    @Test
    void convertsIntoF64ModelsAndBf16Tensors() throws IOException {
        float[] want = expectedFloats("mmseg_state.pth", "backbone.patch_embed1.proj.weight");
        try (TinyModel m = TinyModel.of(be, DType.F64, mmsegParams(), BN)) {
            LoadReport r = Checkpoints.load(m, TinyModel.resource("mmseg_state.pth"), LoadOptions.strict());
            assertEquals(Map.of("BF16 -> F64", 1, "F16 -> F64", 1, "F32 -> F64", 6), r.conversions());
            assertArrayEquals(want, Checkpoints.stateOf(m).get("backbone.patch_embed1.proj.weight").toFloatArray());
            double[] conv = Checkpoints.stateOf(m).get("decode_head.conv_seg.weight").toDoubleArray();
            for (int i = 0; i < conv.length; i++) assertEquals(i / 3.0, conv[i], 0.0, "f64 loads without rounding");
        }
        // the CPU backend keeps no bf16 modules, but bf16 tensors (as on CUDA) load the same way
        Map<String, Tensor> targets = new LinkedHashMap<>();
        targets.put("backbone.patch_embed1.proj.weight", Tensor.empty(be, DType.BF16, 4, 3, 2, 2));
        targets.put("backbone.norm1.weight", Tensor.empty(be, DType.BF16, 4));
        try {
            LoadReport r = Checkpoints.load(targets, TensorFile.read(TinyModel.resource("mmseg_state.pth")), LoadOptions.nonStrict());
            assertEquals(Map.of("F32 -> BF16", 1), r.conversions());
            float[] got = targets.get("backbone.patch_embed1.proj.weight").toFloatArray();
            for (int i = 0; i < want.length; i++) assertEquals(want[i], got[i], 4e-3, "bf16[" + i + "]");
            assertArrayEquals(new float[] {1f, 0.5f, -2f, 3.25f}, targets.get("backbone.norm1.weight").toFloatArray());
        } finally {
            for (Tensor t : targets.values()) t.close();
        }
    }

    @Test
    void strictFailureNamesMissingUnexpectedAndMismatchedAndLoadsNothing() {
        Map<String, int[]> p = mmsegParams();
        p.remove("backbone.norm1.bias");                                  // -> unexpected
        p.put("decode_head.conv_seg.weight", new int[] {19, 4, 1, 1});    // -> mismatched
        p.put("decode_head.scale_attention.conv_seg.bias", new int[] {2}); // -> missing
        try (TinyModel m = TinyModel.of(be, DType.F32, p, BN)) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoints.load(m, TinyModel.resource("mmseg_state.pth"), LoadOptions.strict()));
            String msg = e.getMessage();
            assertTrue(msg.contains("mmseg_state.pth") && msg.contains("strict"), msg);
            assertTrue(msg.contains("missing in the file (1):\n    decode_head.scale_attention.conv_seg.bias"), msg);
            assertTrue(msg.contains("unexpected (no such model tensor) (1):\n    backbone.norm1.bias"), msg);
            assertTrue(msg.contains("decode_head.conv_seg.weight: file shape [2, 4, 1, 1] vs model [19, 4, 1, 1]"), msg);
            assertArrayEquals(new float[4], Checkpoints.stateOf(m).get("backbone.norm1.weight").toFloatArray(), "strict failure loads nothing");

            LoadReport r = Checkpoints.load(m, TinyModel.resource("mmseg_state.pth"), LoadOptions.nonStrict());
            assertEquals(7, r.loaded().size());
            assertEquals(List.of("backbone.norm1.bias"), r.unexpected());
            assertEquals(List.of("decode_head.scale_attention.conv_seg.bias"), r.missing());
            assertEquals("decode_head.conv_seg.weight", r.mismatched().get(0).target());
            assertArrayEquals(new int[] {2, 4, 1, 1}, r.mismatched().get(0).fileShape());
            assertArrayEquals(new float[] {1f, 0.5f, -2f, 3.25f}, Checkpoints.stateOf(m).get("backbone.norm1.weight").toFloatArray());
        }
    }

    private static Map<String, int[]> dacsModel() {
        Map<String, int[]> p = new LinkedHashMap<>();
        p.put("backbone.patch_embed1.proj.weight", new int[] {4, 3, 2, 2});
        p.put("backbone.norm1.weight", new int[] {4});
        p.put("decode_head.conv_seg.bias", new int[] {2});
        return p;
    }

    @Test
    void dacsSubModelSelection() {
        Path file = TinyModel.resource("dacs_state.pth");
        String[] parts = {null, "model", "ema_model", "imnet_model"};
        float[] offsets = {0, 0, 100, 200};
        for (int i = 0; i < parts.length; i++) {
            try (TinyModel m = TinyModel.of(be, DType.F32, dacsModel(), Map.of())) {
                LoadOptions o = parts[i] == null ? LoadOptions.strict() : LoadOptions.strict().withSource(parts[i]);
                LoadReport r = Checkpoints.load(m, file, o);
                assertEquals(3, r.loaded().size());
                assertEquals(6, r.skipped().size(), "the two other sub-models are skipped");
                assertTrue(r.toString().contains("sub-model '" + (parts[i] == null ? "model" : parts[i]) + ".' selected"), r.toString());
                assertArrayEquals(new float[] {offsets[i], offsets[i] + 0.25f}, Checkpoints.stateOf(m).get("decode_head.conv_seg.bias").toFloatArray());
            }
        }
        try (TinyModel m = TinyModel.of(be, DType.F32, dacsModel(), Map.of())) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoints.load(m, file, LoadOptions.strict().withSource("teacher")));
            assertTrue(e.getMessage().contains("'teacher.'") && e.getMessage().contains("ema_model"), e.getMessage());
            e = assertThrows(CheckpointException.class,
                    () -> Checkpoints.load(m, TinyModel.resource("mmseg_state.pth"), LoadOptions.nonStrict().withSource("ema_model")));
            assertTrue(e.getMessage().contains("no UDA sub-models"), e.getMessage());
        }
    }

    @Test
    void segformerImagenetLayoutMapsToBackbone() throws IOException {
        Map<String, int[]> p = new LinkedHashMap<>();
        p.put("backbone.patch_embed1.proj.weight", new int[] {4, 3, 2, 2});
        p.put("backbone.patch_embed1.proj.bias", new int[] {4});
        p.put("backbone.block1.0.attn.q.weight", new int[] {4, 4});
        p.put("backbone.norm1.weight", new int[] {4});
        p.put("decode_head.conv_seg.weight", new int[] {2, 4, 1, 1});
        Path file = TinyModel.resource("mit_tiny.pth");
        try (TinyModel m = TinyModel.of(be, DType.F32, p, Map.of())) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoints.load(m, file, LoadOptions.strict()));
            assertTrue(e.getMessage().contains("head.weight") && e.getMessage().contains("decode_head.conv_seg.weight"), e.getMessage());

            LoadReport r = Checkpoints.load(m, file, LoadOptions.nonStrict());
            assertEquals(4, r.loaded().size());
            assertEquals(List.of("head.weight", "head.bias"), r.unexpected());
            assertEquals(List.of("decode_head.conv_seg.weight"), r.missing());
            assertTrue(r.mapping().get(0).contains("prefixed 'backbone.'"), r.mapping().toString());
            assertArrayEquals(new float[] {1, 2, 3, 4}, Checkpoints.stateOf(m).get("backbone.patch_embed1.proj.bias").toFloatArray());
            assertArrayEquals(expectedFloats("mit_tiny.pth", "block1.0.attn.q.weight"),
                              Checkpoints.stateOf(m).get("backbone.block1.0.attn.q.weight").toFloatArray());
        }
        // an encoder alone (bare names) takes the backbone part of a full segmentor checkpoint
        Map<String, int[]> enc = Map.of("norm1.weight", new int[] {4});
        try (TinyModel m = TinyModel.of(be, DType.F32, enc, Map.of())) {
            LoadReport r = Checkpoints.load(m, TinyModel.resource("mmseg_state.pth"), LoadOptions.nonStrict());
            assertEquals(1, r.loaded().size());
            assertArrayEquals(new float[] {1f, 0.5f, -2f, 3.25f}, Checkpoints.stateOf(m).get("norm1.weight").toFloatArray());
        }
    }

    @Test
    void nothingMatchingFailsEvenWhenNotStrict() {
        try (TinyModel m = TinyModel.of(be, DType.F32, Map.of("other.weight", new int[] {3}), Map.of())) {
            CheckpointException e = assertThrows(CheckpointException.class,
                    () -> Checkpoints.load(m, TinyModel.resource("mit_tiny.pth"), LoadOptions.nonStrict()));
            assertTrue(e.getMessage().contains("no tensor matches") && e.getMessage().contains("other.weight"), e.getMessage());
        }
    }

    private static void randomize(TinyModel m, long seed) {
        Random r = new Random(seed);
        for (Tensor t : Checkpoints.stateOf(m).values()) {
            double[] v = new double[(int) t.numel()];
            for (int i = 0; i < v.length; i++) v[i] = r.nextGaussian();
            t.copyFrom(v);
        }
    }

    @Test
    void ourCheckpointsRoundTripWithOptimizerState(@TempDir Path dir) {
        Path file = dir.resolve("iter_4000.safetensors");
        try (TinyModel a = TinyModel.of(be, DType.F32, mmsegParams(), BN);
             TinyModel b = TinyModel.of(be, DType.F32, mmsegParams(), BN);
             AdamW oa = AdamW.hrda(be, a.namedParameters());
             AdamW ob = AdamW.hrda(be, b.namedParameters())) {
            randomize(a, 1);
            for (int s = 0; s < 2; s++) {
                for (Tensor p : a.parameters()) {
                    double[] g = new double[(int) p.numel()];
                    java.util.Arrays.fill(g, 0.1 * (s + 1));
                    p.grad.copyFrom(g);
                }
                oa.step(1.0);
            }
            Checkpoints.save(file, a, oa, Map.of("iter", "4000", "config", "model = dict(type='HRDAEncoderDecoder')"));
            assertTrue(Files.exists(dir.resolve("iter_4000.optim.safetensors")));

            TensorFile f = TensorFile.read(file);
            assertEquals("4000", f.metadata().get("iter"));
            assertEquals("pt", f.metadata().get("format"));
            assertEquals(Checkpoints.stateOf(a).keySet(), f.tensors().keySet());

            LoadReport r = Checkpoints.load(b, file, LoadOptions.strict());
            assertTrue(r.ok() && r.mapping().isEmpty(), r.toString());
            for (var e : Checkpoints.stateOf(a).entrySet()) {
                assertArrayEquals(e.getValue().toFloatArray(), Checkpoints.stateOf(b).get(e.getKey()).toFloatArray(), e.getKey());
            }
            Checkpoints.loadOptimizer(Checkpoints.optimizerPath(file), ob);
            assertEquals(2, ob.stepCount());
            Map<String, Tensor> sa = oa.stateTensors(), sb = ob.stateTensors();
            assertEquals(2 * mmsegParams().size(), sa.size());
            for (String k : sa.keySet()) assertArrayEquals(sa.get(k).toFloatArray(), sb.get(k).toFloatArray(), k);
            assertTrue(sa.containsKey("exp_avg_sq.backbone.norm1.weight"));
        }
    }

    @Test
    void checkpointInfoListsAndMaps() {
        Path file = TinyModel.resource("mmseg_state.pth");
        CheckpointInfo plain = CheckpointInfo.of(file);
        assertEquals(10, plain.entries().size());
        CheckpointInfo.Entry nb = plain.entries().get(9);
        assertEquals("decode_head.bn.num_batches_tracked", nb.name());
        assertEquals(StoredDType.I64, nb.dtype());
        assertEquals(8, nb.bytes());
        assertTrue(plain.toString().contains("meta.iter = 4000"), plain.toString());

        Map<String, int[]> shapes = new LinkedHashMap<>(mmsegParams());
        shapes.remove("backbone.norm1.bias");
        shapes.put("decode_head.conv_seg.weight", new int[] {19, 4, 1, 1});
        shapes.put("decode_head.extra.weight", new int[] {3});
        CheckpointInfo info = CheckpointInfo.of(file, shapes, LoadOptions.strict());
        Map<String, CheckpointInfo.Status> st = new LinkedHashMap<>();
        for (CheckpointInfo.Entry e : info.entries()) st.put(e.name(), e.status());
        assertEquals(CheckpointInfo.Status.LOADED, st.get("backbone.norm1.weight"));
        assertEquals(CheckpointInfo.Status.UNEXPECTED, st.get("backbone.norm1.bias"));
        assertEquals(CheckpointInfo.Status.MISMATCH, st.get("decode_head.conv_seg.weight"));
        assertEquals(CheckpointInfo.Status.SKIPPED, st.get("decode_head.bn.num_batches_tracked"));
        assertEquals(CheckpointInfo.Status.UNEXPECTED, st.get("decode_head.bn.running_mean"));
        assertEquals(List.of("decode_head.extra.weight"), info.missing());
        String text = info.toString();
        assertTrue(text.contains("MISMATCH (file shape [2, 4, 1, 1] vs model [19, 4, 1, 1])") && text.contains("decode_head.extra.weight"), text);
    }
}
