package dev.hrda.io;

import dev.hrda.data.DataException;
import dev.hrda.data.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** safetensors: round trips of every dtype, header validation, atomic writes. */
class SafeTensorsTest {
    private static byte[] bytes(StoredTensor t) {
        ByteBuffer b = t.data();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static StoredTensor random(StoredDType d, Random r, int... shape) {
        long n = 1;
        for (int s : shape) n *= s;
        byte[] raw = new byte[(int) n * d.bytes];
        r.nextBytes(raw);
        if (d == StoredDType.BOOL) for (int i = 0; i < raw.length; i++) raw[i] &= 1;
        return StoredTensor.of(d, shape, ByteBuffer.wrap(raw));
    }

    @Test
    void roundTripOfEveryDtypeWithMetadata(@TempDir Path dir) throws IOException {
        Random r = new Random(1);
        Map<String, StoredTensor> in = new LinkedHashMap<>();
        int k = 0;
        for (StoredDType d : StoredDType.values()) in.put("t" + k++ + "." + d, random(d, r, 3, 5));
        in.put("scalar", random(StoredDType.F64, r));
        in.put("empty", random(StoredDType.F32, r, 0, 3));
        in.put("odd.u8", random(StoredDType.U8, r, 7));
        Map<String, String> meta = Map.of("config", "model = dict(\n  type='HRDA')\n", "iter", "4000", "note", "Zürich \"quoted\"");
        Path p = dir.resolve("x.safetensors");
        SafeTensors.write(p, in, meta);

        TensorFile f = TensorFile.read(p);
        assertEquals(TensorFile.Format.SAFETENSORS, f.format());
        assertEquals(meta, f.metadata());
        assertEquals(in.keySet(), f.tensors().keySet());
        for (var e : in.entrySet()) {
            StoredTensor got = f.tensors().get(e.getKey());
            assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
            assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
            assertArrayEquals(bytes(e.getValue()), bytes(got), e.getKey());
        }

        // the layout: header padded to 8 bytes, every tensor aligned to its element size
        byte[] file = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertEquals(0, (8 + n) % 8);
        Map<?, ?> header = (Map<?, ?>) Json.parse(new String(file, 8, (int) n, StandardCharsets.UTF_8));
        assertEquals("__metadata__", header.keySet().iterator().next());
        for (var e : header.entrySet()) {
            if (e.getKey().equals("__metadata__")) continue;
            Map<?, ?> info = (Map<?, ?>) e.getValue();
            long begin = (Long) ((List<?>) info.get("data_offsets")).get(0);
            assertEquals(0, begin % StoredDType.valueOf((String) info.get("dtype")).bytes, e.getKey() + " aligned");
        }
    }

    /**
     * A header length whose low bytes read 0x80 0x02 (640 = 0x280) looks like the start of a
     * pickle (PROTO 2): the file is still recognised as safetensors, not as a legacy .pth.
     */
    @Test
    void headerLengthThatLooksLikeAPickleIsStillSafetensors(@TempDir Path dir) throws IOException {
        StringBuilder json = new StringBuilder("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
        while (json.length() < 0x280) json.append(' ');
        ByteBuffer b = ByteBuffer.allocate(8 + 0x280 + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0x280).put(json.toString().getBytes(StandardCharsets.US_ASCII)).putFloat(1.5f).putFloat(-2.25f);
        Path file = dir.resolve("w.safetensors");
        Files.write(file, b.array());
        assertEquals(0x80, Files.readAllBytes(file)[0] & 0xff);
        assertEquals(2, Files.readAllBytes(file)[1]);
        TensorFile f = TensorFile.read(file);
        assertEquals(TensorFile.Format.SAFETENSORS, f.format());
        assertArrayEquals(new float[] {1.5f, -2.25f}, f.tensors().get("w").toFloatArray());
    }

    @Test
    void valuesThroughTypedAccessors(@TempDir Path dir) {
        Path p = dir.resolve("v.safetensors");
        SafeTensors.write(p, Map.of("f", StoredTensor.ofFloats(new float[] {1.5f, -2f, 0.25f}, 3),
                                    "l", StoredTensor.ofLongs(new long[] {1L << 40, -5}, 2, 1)), null);
        TensorFile f = TensorFile.read(p);
        assertArrayEquals(new float[] {1.5f, -2f, 0.25f}, f.tensors().get("f").toFloatArray());
        assertArrayEquals(new long[] {1L << 40, -5}, f.tensors().get("l").toLongArray());
        assertTrue(f.metadata().isEmpty());
    }

    /** A file with a hand-made header (to test what our writer never produces). */
    private static Path raw(Path dir, String header, int dataBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.write(h);
        out.write(new byte[dataBytes]);
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, out.toByteArray());
        return p;
    }

    private static String error(Path p) {
        CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void malformedHeadersAreErrorsNamingFileAndTensor(@TempDir Path dir) throws IOException {
        String ok = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
        assertEquals(2, TensorFile.read(raw(dir, ok, 12)).tensors().size());

        assertTrue(error(raw(dir, ok, 8)).contains("'b'") , "data section too short");
        assertTrue(error(raw(dir, ok.replace("[8,12]", "[4,8]"), 12)).contains("overlap"));
        assertTrue(error(raw(dir, ok.replace("[8,12]", "[8,12]").replace("[0,8]", "[0,8]"), 16)).contains("belong to no tensor"));
        assertTrue(error(raw(dir, ok.replace("\"shape\":[2]", "\"shape\":[3]"), 12)).contains("tensor 'a'"));
        assertTrue(error(raw(dir, ok.replace("\"F32\",\"shape\":[2]", "\"F8_E4M3\",\"shape\":[2]"), 12)).contains("unsupported dtype 'F8_E4M3'"));
        assertTrue(error(raw(dir, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}, \"__metadata__\":{\"x\":1}}", 8))
                           .contains("__metadata__"));
        assertTrue(error(raw(dir, "{\"a\":", 0)).contains("not valid JSON"));
        assertTrue(error(raw(dir, "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8)).contains("bytes [0, 4)"));

        Path lying = dir.resolve("lying.safetensors");
        Files.write(lying, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1 << 20).put((byte) '{').array());
        assertTrue(error(lying).contains("header length"));
    }

    @Test
    void failedWriteLeavesNoPartialFile(@TempDir Path dir) throws IOException {
        Path p = dir.resolve("iter_8000.safetensors");
        Files.writeString(p, "previous");
        StoredTensor good = StoredTensor.ofFloats(new float[1000], 1000);
        StoredTensor failing = StoredTensor.contiguous(StoredDType.F32, new int[] {4}, 16, () -> {
            throw new IllegalStateException("device copy failed");
        }, "test");
        Map<String, StoredTensor> in = new LinkedHashMap<>();
        in.put("a", good);
        in.put("b", failing);
        DataException e = assertThrows(DataException.class, () -> SafeTensors.write(p, in, Map.of()));
        assertTrue(e.getMessage().contains("device copy failed"), e.getMessage());
        assertEquals("previous", Files.readString(p));
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of(p), s.toList(), "no temporary file left behind");
        }
        Path fresh = dir.resolve("new.safetensors");
        assertThrows(DataException.class, () -> SafeTensors.write(fresh, in, Map.of()));
        assertFalse(Files.exists(fresh));
    }
}
