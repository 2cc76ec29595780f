package dev.hrda.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * .pth files in torch.save's real formats (tools/make_pth_fixture.py): names, dtypes, shapes and
 * values against numpy's reading of the same storages (expected.json), and the unpickler's refusals.
 */
class TorchFilesTest {
    /** Every tensor of {@code file} equals the fixture's numpy values exactly. */
    private static void assertMatchesNumpy(TensorFile f, String file, Map<String, StoredTensor> tensors) throws IOException {
        Map<String, Map<String, Object>> expected = TinyModel.expected(file);
        for (var e : expected.entrySet()) {
            String name = e.getKey();
            StoredTensor t = tensors.get(name);
            assertTrue(t != null, file + ": tensor " + name + " missing; have " + tensors.keySet());
            Map<String, Object> want = e.getValue();
            assertEquals(want.get("dtype"), t.dtype().name(), name);
            List<?> shape = (List<?>) want.get("shape");
            assertArrayEquals(shape.stream().mapToInt(o -> ((Long) o).intValue()).toArray(), t.shape(), name);
            List<?> values = (List<?>) want.get("values");
            double[] got = t.toDoubleArray();
            assertEquals(values.size(), got.length, name);
            for (int i = 0; i < got.length; i++) {
                assertEquals(((Number) values.get(i)).doubleValue(), got[i], 0.0, name + "[" + i + "]");
            }
        }
    }

    @Test
    void zipCheckpointAsMmcvSavesIt() throws IOException {
        TensorFile f = TensorFile.read(TinyModel.resource("mmseg_state.pth"));
        assertEquals(TensorFile.Format.TORCH_ZIP, f.format());
        assertEquals("state_dict", f.stateDictKey());
        assertEquals(List.of("backbone.patch_embed1.proj.weight", "backbone.patch_embed1.proj.bias",
                             "backbone.block1.0.attn.q.weight", "backbone.block1.0.attn.q.bias", "backbone.norm1.weight",
                             "backbone.norm1.bias", "decode_head.conv_seg.weight", "decode_head.conv_seg.bias",
                             "decode_head.bn.running_mean", "decode_head.bn.num_batches_tracked"),
                     List.copyOf(f.tensors().keySet()));
        assertMatchesNumpy(f, "mmseg_state.pth", Map.copyOf(merged(f)));
        assertArrayEquals(new long[] {1234}, f.tensors().get("decode_head.bn.num_batches_tracked").toLongArray());
        // the transposed view (stride (1, 4)) and the offset view share one storage
        assertArrayEquals(new float[] {-3f, -1f, 1f, 3f}, Arrays.copyOf(f.tensors().get("backbone.block1.0.attn.q.weight").toFloatArray(), 4));
        assertArrayEquals(new float[] {6f, 6.5f, 7f, 7.5f}, f.tensors().get("backbone.block1.0.attn.q.bias").toFloatArray());
        // mmcv's meta and the optimizer's plain values, as text
        Map<String, String> m = f.metadata();
        assertEquals("0.16.0+c370b5b", m.get("meta.mmseg_version"));
        assertEquals("4000", m.get("meta.iter"));
        assertEquals("6e-05", m.get("meta.lr"));  // Python's repr, as json.dumps writes it
        assertEquals("[\"road\",\"sidewalk\"]", m.get("meta.CLASSES"));
        assertEquals("[[128,64,128],[244,35,232]]", m.get("meta.PALETTE"));
        assertEquals("1099511627776", m.get("meta.big"));
        assertEquals("-7", m.get("meta.neg"));
        assertEquals("true", m.get("meta.flag"));
        assertEquals("null", m.get("meta.nothing"));
        assertEquals("Zürich ∆", m.get("meta.text"));
        assertEquals("3", m.get("optimizer.state.0.step"));
        assertTrue(m.get("optimizer.param_groups").contains("\"betas\":[0.9,0.999]"), m.get("optimizer.param_groups"));
        assertEquals(List.of("optimizer.state.0.exp_avg"), List.copyOf(f.otherTensors().keySet()));
        assertTrue(m.keySet().stream().noneMatch(k -> k.contains("_metadata")), "state dict _metadata is dropped: " + m.keySet());
    }

    private static Map<String, StoredTensor> merged(TensorFile f) {
        Map<String, StoredTensor> all = new java.util.LinkedHashMap<>(f.tensors());
        all.putAll(f.otherTensors());
        return all;
    }

    @Test
    void zipCheckpointOfTorch2WithDacsPrefixes() throws IOException {
        TensorFile f = TensorFile.read(TinyModel.resource("dacs_state.pth"));
        assertEquals(TensorFile.Format.TORCH_ZIP, f.format());
        assertEquals(9, f.tensors().size());
        assertTrue(f.tensors().containsKey("ema_model.backbone.norm1.weight"));
        assertEquals("40000", f.metadata().get("meta.iter"));
        assertMatchesNumpy(f, "dacs_state.pth", f.tensors());
    }

    @Test
    void legacyFormatOfSegformerImagenetWeights() throws IOException {
        TensorFile f = TensorFile.read(TinyModel.resource("mit_tiny.pth"));
        assertEquals(TensorFile.Format.TORCH_LEGACY, f.format());
        assertEquals("", f.stateDictKey());
        assertEquals(List.of("patch_embed1.proj.weight", "patch_embed1.proj.bias", "block1.0.attn.q.weight", "norm1.weight",
                             "head.weight", "head.bias"), List.copyOf(f.tensors().keySet()));
        assertMatchesNumpy(f, "mit_tiny.pth", f.tensors());
    }

    @Test
    void bigEndianStoragesAreSwapped() throws IOException {
        TensorFile f = TensorFile.read(TinyModel.resource("big_endian.pth"));
        assertMatchesNumpy(f, "big_endian.pth", f.tensors());
        assertArrayEquals(new long[] {-2, 300}, f.tensors().get("n").toLongArray());
    }

    @Test
    void reZippedWithDeflateStillReads(@TempDir Path dir) throws IOException {
        // a checkpoint unpacked and zipped again by another tool: deflated records, no zip64, no padding
        Path src = TinyModel.resource("mmseg_state.pth"), dst = dir.resolve("rezipped.pth");
        try (java.util.zip.ZipFile in = new java.util.zip.ZipFile(src.toFile());
             java.util.zip.ZipOutputStream out = new java.util.zip.ZipOutputStream(Files.newOutputStream(dst))) {
            for (var e : java.util.Collections.list(in.entries())) {
                out.putNextEntry(new java.util.zip.ZipEntry(e.getName()));
                try (var s = in.getInputStream(e)) {
                    s.transferTo(out);
                }
                out.closeEntry();
            }
        }
        TensorFile f = TensorFile.read(dst);
        assertEquals(TensorFile.Format.TORCH_ZIP, f.format());
        assertMatchesNumpy(f, "mmseg_state.pth", merged(f));
    }

    @Test
    void refusesForeignGlobalsWithoutRunningThem() {
        // os.system via GLOBAL (protocol 2), builtins.eval via STACK_GLOBAL (protocol 4)
        for (String[] c : new String[][] {{"evil_os_system.pth", "'os.system'", "/tmp/hrda_pwned_os_system"},
                                          {"evil_eval.pth", "'builtins.eval'", "/tmp/hrda_pwned_eval"}}) {
            Path p = TinyModel.resource(c[0]);
            CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(p));
            assertTrue(e.getMessage().contains(c[1]) && e.getMessage().contains(c[0]), e.getMessage());
            assertFalse(Files.exists(Path.of(c[2])));
        }
    }

    @Test
    void viewBeyondItsStorageIsAnErrorNamingTheTensor() {
        CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(TinyModel.resource("bad_view.pth")));
        assertTrue(e.getMessage().contains("bad_view.pth") && e.getMessage().contains("'backbone.norm1.weight'")
                   && e.getMessage().contains("data/0"), e.getMessage());
    }

    @Test
    void truncatedOrForeignFilesAreNamed(@TempDir Path dir) throws IOException {
        byte[] good = Files.readAllBytes(TinyModel.resource("mmseg_state.pth"));
        Path cut = dir.resolve("cut.pth");
        Files.write(cut, Arrays.copyOf(good, good.length / 2));
        CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(cut));
        assertTrue(e.getMessage().startsWith(cut.toString()) && e.getMessage().contains("zip"), e.getMessage());

        byte[] legacy = Files.readAllBytes(TinyModel.resource("mit_tiny.pth"));
        Path cutLegacy = dir.resolve("cut_legacy.pth");
        Files.write(cutLegacy, Arrays.copyOf(legacy, legacy.length - 10));
        e = assertThrows(CheckpointException.class, () -> TensorFile.read(cutLegacy));
        assertTrue(e.getMessage().contains("cut_legacy.pth") && e.getMessage().contains("truncated"), e.getMessage());

        Path text = dir.resolve("notes.pth");
        Files.writeString(text, "hello, not a checkpoint");
        e = assertThrows(CheckpointException.class, () -> TensorFile.read(text));
        assertTrue(e.getMessage().contains("neither safetensors nor a PyTorch checkpoint"), e.getMessage());
    }

    // ---- the unpickler on Python's own pickles of plain values (protocols 0, 4, 5) ----
    private static Object unpickle(String hex) {
        return new Unpickler(ByteBuffer.wrap(HexFormat.of().parseHex(hex)), "test", null).load();
    }

    private static final String P0 = "286470300a56690a70310a4934320a73566e65670a70320a492d330a73566269670a70330a4c313138303539313632303731373431313330333432344c0a7356660a70340a46312e350a7356730a70350a566162630a70360a7356750a70370a565afc726963680a70380a73566c0a70390a286c7031300a49310a6146322e350a614e617356740a7031310a284930310a4930300a747031320a7356620a7031330a635f636f646563730a656e636f64650a7031340a28565c7530303030010a7031350a566c6174696e310a7031360a747031370a527031380a732e";
    private static final String P4 = "80049571000000000000007d94288c0169944b2a8c036e6567944afdffffff8c03626967948a090000000000000000408c016694473ff80000000000008c0173948c03616263948c0175948c075ac3bc72696368948c016c945d94284b014740040000000000004e658c017494888986948c0162944302000194752e";
    private static final String P5 = "80059571000000000000007d94288c0169944b2a8c036e6567944afdffffff8c03626967948a090000000000000000408c016694473ff80000000000008c0173948c03616263948c0175948c075ac3bc72696368948c016c945d94284b014740040000000000004e658c017494888986948c0162944302000194752e";

    @Test
    void plainValuesOfEveryProtocol() {
        for (String hex : List.of(P0, P4, P5)) {
            Map<?, ?> m = (Map<?, ?>) unpickle(hex);
            assertEquals(42L, m.get("i"));
            assertEquals(-3L, m.get("neg"));
            assertEquals(java.math.BigInteger.ONE.shiftLeft(70), m.get("big"));
            assertEquals(1.5, m.get("f"));
            assertEquals("abc", m.get("s"));
            assertEquals("Zürich", m.get("u"));
            assertEquals(Arrays.asList(1L, 2.5, null), m.get("l"));
            assertEquals(List.of(true, false), m.get("t"));
            assertArrayEquals(new byte[] {0, 1}, (byte[]) m.get("b"));
        }
        assertEquals(Map.of("a", 1L), unpickle("800263636f6c6c656374696f6e730a4f726465726564446963740a71002952710158010000006171024b01732e"));
        Map<?, ?> sets = (Map<?, ?>) unpickle("8004951b000000000000007d94288c0173948f94284b014b02908c02667394284b039194752e");
        assertEquals(java.util.Set.of(1L, 2L), sets.get("s"));
        assertEquals(java.util.Set.of(3L), sets.get("fs"));
    }

    @Test
    void numpyScalarsAreRefused() {
        String np = "80027d71005801000000787101636e756d70792e5f636f72652e6d756c746961727261790a7363616c61720a7102636e756d70790a64747970650a71035802000000663871048988877105527106284b0358010000003c71074e4e4e4affffffff4affffffff4b0074710862635f636f646563730a656e636f64650a71095809000000000000000000c3b03f710a58060000006c6174696e31710b86710c52710d86710e52710f732e";
        Unpickler.PickleException e = assertThrows(Unpickler.PickleException.class, () -> unpickle(np));
        assertTrue(e.getMessage().contains("'numpy._core.multiarray.scalar'"), e.getMessage());
    }

    @Test
    void truncatedPickleIsAnError() {
        String cut = P4.substring(0, P4.length() / 2);
        Unpickler.PickleException e = assertThrows(Unpickler.PickleException.class, () -> unpickle(cut));
        assertTrue(e.getMessage().contains("truncated") || e.getMessage().contains("without STOP"), e.getMessage());
    }
}
