package dev.hrda.io;

import dev.hrda.backend.Backend;
import dev.hrda.backend.CpuBackend;
import dev.hrda.data.Json;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.Segmentor;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import dev.hrda.testing.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * .pth export ({@link TorchWriter}): what it writes is read back by our reader, by the JDK's zip
 * reader (CRC-32, sizes) and by an independent reader in Python's standard library that accepts
 * only what torch.load(weights_only=True) accepts (tools/read_pth.py); models round-trip.
 */
class TorchWriterTest {
    /** One tensor of every stored dtype, odd shapes, a scalar and an empty tensor, random values. */
    private static Map<String, StoredTensor> assorted(long seed) {
        Random r = new Random(seed);
        Map<String, StoredTensor> m = new LinkedHashMap<>();
        m.put("backbone.patch_embed1.proj.weight", floats(StoredDType.F32, r, 3, 5, 7));
        m.put("f64", floats(StoredDType.F64, r, 11));
        m.put("f16", floats(StoredDType.F16, r, 2, 9));
        m.put("bf16", floats(StoredDType.BF16, r, 13));
        m.put("decode_head.bn.num_batches_tracked", StoredTensor.ofLongs(new long[] {(1L << 40) + 7}));
        m.put("i64", integers(StoredDType.I64, r, 5));
        m.put("i32", integers(StoredDType.I32, r, 3, 3));
        m.put("i16", integers(StoredDType.I16, r, 4));
        m.put("i8", integers(StoredDType.I8, r, 6));
        m.put("u8", integers(StoredDType.U8, r, 7));
        m.put("bool", integers(StoredDType.BOOL, r, 5));
        m.put("scalar", floats(StoredDType.F32, r));
        m.put("empty", floats(StoredDType.F32, r, 0, 4));
        m.put("big", floats(StoredDType.F32, r, 300, 301));  // elements and strides past BININT2
        return m;
    }

    private static StoredTensor floats(StoredDType d, Random r, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        ByteBuffer b = ByteBuffer.allocate(n * d.bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            float v = (float) (r.nextGaussian() * 3);
            switch (d) {
                case F64 -> b.putDouble(r.nextGaussian() * 3);
                case F32 -> b.putFloat(v);
                case F16 -> b.putShort((short) (r.nextInt(2) << 15 | (1 + r.nextInt(29)) << 10 | r.nextInt(1024)));  // finite halves
                case BF16 -> b.putShort((short) (Float.floatToRawIntBits(v) >>> 16));
                default -> throw new IllegalArgumentException(d.name());
            }
        }
        return StoredTensor.of(d, shape, b.flip());
    }

    private static StoredTensor integers(StoredDType d, Random r, int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        ByteBuffer b = ByteBuffer.allocate(n * d.bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (d) {
                case I64 -> b.putLong(r.nextLong());
                case I32 -> b.putInt(r.nextInt());
                case I16 -> b.putShort((short) r.nextInt());
                case I8 -> b.put((byte) r.nextInt());
                case U8 -> b.put((byte) r.nextInt(256));
                case BOOL -> b.put((byte) r.nextInt(2));
                default -> throw new IllegalArgumentException(d.name());
            }
        }
        return StoredTensor.of(d, shape, b.flip());
    }

    private static byte[] bytes(StoredTensor t) {
        ByteBuffer d = t.data();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return out;
    }

    @Test
    void ourReaderReadsBackEveryDtypeBitForBit(@TempDir Path dir) {
        Map<String, StoredTensor> in = assorted(1);
        Path file = dir.resolve("iter_4000.pth");
        TorchWriter.write(file, in, Map.of("model", "tiny", "note", "ünïcode"));
        TensorFile f = TensorFile.read(file);
        assertEquals(TensorFile.Format.TORCH_ZIP, f.format());
        assertEquals("state_dict", f.stateDictKey());
        assertEquals(List.copyOf(in.keySet()), List.copyOf(f.tensors().keySet()));
        for (var e : in.entrySet()) {
            StoredTensor got = f.tensors().get(e.getKey());
            assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
            assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
            assertArrayEquals(bytes(e.getValue()), bytes(got), e.getKey());
        }
        assertEquals("tiny", f.metadata().get("meta.model"));
        assertEquals("ünïcode", f.metadata().get("meta.note"));
    }

    @Test
    void jdkZipReaderAcceptsRecordsAndChecksums(@TempDir Path dir) throws IOException {
        Map<String, StoredTensor> in = assorted(2);
        Path file = dir.resolve("latest.pth");
        TorchWriter.write(file, in, Map.of());
        List<String> names = new ArrayList<>();
        // ZipInputStream verifies each stored record's size and CRC-32 while reading it
        try (ZipInputStream z = new ZipInputStream(Files.newInputStream(file))) {
            for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
                names.add(e.getName());
                byte[] data = z.readAllBytes();
                if (e.getName().equals("latest/byteorder")) assertEquals("little", new String(data, StandardCharsets.US_ASCII));
                if (e.getName().equals("latest/data/0")) assertArrayEquals(bytes(in.get("backbone.patch_embed1.proj.weight")), data);
            }
        }
        List<String> want = new ArrayList<>(List.of("latest/data.pkl", "latest/byteorder"));
        for (int i = 0; i < in.size(); i++) want.add("latest/data/" + i);
        want.add("latest/version");
        assertEquals(want, names);
    }

    @Test
    void pythonReadsItAsTorchWeightsOnlyLoadWould(@TempDir Path dir) throws Exception {
        Path script = Path.of("").toAbsolutePath().resolveSibling("tools").resolve("read_pth.py");
        if (!Files.exists(script)) script = Path.of("tools/read_pth.py").toAbsolutePath();
        assumeTrue(Files.exists(script), "tools/read_pth.py not found");
        assumeTrue(python3Available(), "python3 not available");
        Map<String, StoredTensor> in = assorted(3);
        Path file = dir.resolve("export.pth");
        TorchWriter.write(file, in, Map.of("model", "tiny_hrda"));
        Process p = new ProcessBuilder("python3", script.toString(), file.toString()).redirectErrorStream(false).start();
        String out;
        try (InputStream s = p.getInputStream()) {
            out = new String(s.readAllBytes(), StandardCharsets.UTF_8);
        }
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "read_pth.py failed: " + err);
        @SuppressWarnings("unchecked") Map<String, Object> root = (Map<String, Object>) Json.parse(out);
        assertEquals(Map.of("model", "tiny_hrda"), root.get("meta"));
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> sd = (Map<String, Map<String, Object>>) root.get("state_dict");
        assertEquals(List.copyOf(in.keySet()), List.copyOf(sd.keySet()));
        for (var e : in.entrySet()) {
            Map<String, Object> t = sd.get(e.getKey());
            assertEquals(e.getValue().dtype().name(), t.get("dtype"), e.getKey());
            int[] shape = ((List<?>) t.get("shape")).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
            assertArrayEquals(e.getValue().shape(), shape, e.getKey());
            List<?> values = (List<?>) t.get("values");
            if (e.getValue().dtype() == StoredDType.I64) {
                long[] want = e.getValue().toLongArray();
                for (int i = 0; i < want.length; i++) assertEquals(want[i], ((Number) values.get(i)).longValue(), e.getKey() + "[" + i + "]");
            } else {
                double[] want = e.getValue().toDoubleArray();
                assertEquals(want.length, values.size(), e.getKey());
                for (int i = 0; i < want.length; i++) assertEquals(want[i], ((Number) values.get(i)).doubleValue(), 0.0, e.getKey() + "[" + i + "]");
            }
        }
    }

    private static boolean python3Available() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import json, pickle, zipfile").start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** A model exported as .pth loads strictly into a fresh model with other initial weights and gives the same values. */
    @Test
    void modelRoundTripsThroughPth(@TempDir Path dir) {
        Path file = dir.resolve("tiny_hrda.pth");
        try (Backend be = new CpuBackend();
             Segmentor a = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 1);
             Segmentor b = Segmentor.create(be, DType.F32, ModelConfig.named("tiny_hrda"), 2)) {
            Checkpoints.savePth(file, a, Map.of("model", "tiny_hrda"));
            Map<String, Tensor> sa = Checkpoints.stateOf(a), sb = Checkpoints.stateOf(b);
            String some = "decode_head.scale_attention.conv_seg.weight";
            assertNotEquals(sa.get(some).toFloatArray()[0], sb.get(some).toFloatArray()[0], "different seeds must give different weights");
            LoadReport r = Checkpoints.load(b, file, LoadOptions.strict());
            assertTrue(r.ok(), r.toString());
            for (var e : sa.entrySet()) assertArrayEquals(e.getValue().toFloatArray(), sb.get(e.getKey()).toFloatArray(), e.getKey());
            // BatchNorm batch counters are written, as torch's strict load_state_dict needs them
            Map<String, StoredTensor> written = TensorFile.read(file).tensors();
            long counters = written.entrySet().stream().filter(e -> e.getKey().endsWith(".num_batches_tracked")).count();
            long norms = sa.keySet().stream().filter(k -> k.endsWith(".running_var")).count();
            assertTrue(norms > 0);
            assertEquals(norms, counters);
            assertEquals(sa.size() + norms, written.size());
        }
    }

    @Test
    void exportCommandConvertsBetweenFormats(@TempDir Path dir) {
        Path pth = dir.resolve("init.pth"), st = dir.resolve("again.safetensors"), back = dir.resolve("back.pth");
        Cli.Run a = Cli.run("export", "--model", "tiny_daformer", "--seed", "5", "--out", pth.toString());
        assertEquals(0, a.status(), a.err());
        assertTrue(a.out().contains("torch.save zip format"), a.out());
        Cli.Run info = Cli.run("info", "--checkpoint", pth.toString());
        assertEquals(0, info.status(), info.out() + info.err());
        assertTrue(info.out().contains("tiny_daformer"), info.out());
        Cli.Run b = Cli.run("export", "--checkpoint", pth.toString(), "--out", st.toString());
        assertEquals(0, b.status(), b.err());
        Cli.Run c = Cli.run("export", "--checkpoint", st.toString(), "--out", back.toString());
        assertEquals(0, c.status(), c.err());
        Map<String, StoredTensor> first = TensorFile.read(pth).tensors(), last = TensorFile.read(back).tensors();
        assertEquals(first.keySet(), last.keySet());
        for (var e : first.entrySet()) assertArrayEquals(bytes(e.getValue()), bytes(last.get(e.getKey())), e.getKey());

        Cli.Run bad = Cli.run("export", "--model", "tiny_daformer", "--out", dir.resolve("w.bin").toString());
        assertNotEquals(0, bad.status());
        assertTrue((bad.out() + bad.err()).contains("w.bin"), bad.out() + bad.err());
        Cli.Run missing = Cli.run("export", "--checkpoint", dir.resolve("nope.pth").toString(), "--out", dir.resolve("x.pth").toString());
        assertNotEquals(0, missing.status());
        assertTrue((missing.out() + missing.err()).contains("nope.pth"), missing.out() + missing.err());
    }
}
