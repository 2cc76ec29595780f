package dev.hrda.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Readers of the two formats torch.save writes; both return the unpickled object tree with
 * {@link StoredTensor} leaves (see {@link Unpickler} for what may appear in it).
 *
 * <ul>
 * <li>zip (torch >= 1.6): {@code <folder>/data.pkl}, {@code <folder>/data/<key>} per storage,
 *     {@code <folder>/version}, optionally {@code <folder>/byteorder}; the folder name is free
 *     (the file's stem or "archive") and, as torch does, taken from the first record.</li>
 * <li>legacy (torch < 1.6, many released SegFormer/mmcv weights): consecutive pickles of the magic
 *     number, the protocol version, sys_info and the object, then the sorted storage keys, then
 *     every storage as an 8-byte element count followed by its bytes.</li>
 * </ul>
 */
final class TorchFiles {
    static final BigInteger LEGACY_MAGIC = new BigInteger("1950a86a20f9469cfc6c", 16);
    private static final long LEGACY_PROTOCOL = 1001;

    private TorchFiles() {}

    static boolean isZip(ByteBuffer head) {
        return head.remaining() >= 4 && head.getInt(0) == 0x04034b50;
    }

    /**
     * The legacy format starts with the pickled magic number: PROTO (protocol 2 to 5), then LONG1
     * with 10 bytes. Checking all four bytes matters: a safetensors file whose header length
     * happens to start with 0x80 0x02 is not a pickle.
     */
    static boolean isLegacy(ByteBuffer head) {
        int proto = head.remaining() >= 4 ? head.get(1) & 0xff : 0;
        return proto >= 2 && proto <= 5 && (head.get(0) & 0xff) == 0x80 && (head.get(2) & 0xff) == 0x8a && head.get(3) == 10;
    }

    static Object readZip(MappedFile f) {
        ZipIndex z = ZipIndex.read(f);
        List<String> names = z.names();
        if (names.isEmpty()) throw new CheckpointException(f.path(), "empty zip archive");
        int slash = names.get(0).indexOf('/');
        if (slash < 0) throw new CheckpointException(f.path(), "zip record '" + names.get(0) + "' is not in a folder: not written by torch.save");
        String folder = names.get(0).substring(0, slash + 1);
        ZipIndex.Entry pkl = z.entry(folder + "data.pkl");
        if (pkl == null) {
            throw new CheckpointException(f.path(), "no " + folder + "data.pkl in the archive: not a torch.save file"
                    + (z.entry(folder + "constants.pkl") != null ? " (a TorchScript archive: save its state_dict instead)" : ""));
        }
        ByteOrder order = ByteOrder.LITTLE_ENDIAN;
        ZipIndex.Entry bo = z.entry(folder + "byteorder");
        if (bo != null) {
            String s = StandardCharsets.US_ASCII.decode(z.data(bo)).toString().trim();
            if (s.equals("big")) order = ByteOrder.BIG_ENDIAN;
            else if (!s.equals("little")) throw new CheckpointException(f.path(), "unknown byteorder record '" + s + "'");
        }
        ByteOrder byteOrder = order;
        Map<String, Unpickler.Storage> cache = new HashMap<>();
        Unpickler.Storages storages = (dtype, key, numel) -> cache.computeIfAbsent(key, k -> {
            String name = "data/" + k;
            ZipIndex.Entry e = z.entry(folder + name);
            if (e == null) throw new CheckpointException(f.path(), "storage record " + folder + name + " is missing");
            if (e.size() < numel * dtype.bytes) {
                throw new CheckpointException(f.path(), "storage record " + folder + name + " has " + e.size()
                        + " bytes but holds " + numel + " " + dtype + " elements (" + numel * dtype.bytes + " bytes)");
            }
            return new Unpickler.Storage(dtype, numel, e.size(), byteOrder, () -> z.data(e), name);
        });
        return unpickle(f, z.data(pkl), folder + "data.pkl", storages);
    }

    static Object readLegacy(MappedFile f) {
        if (f.size() > Integer.MAX_VALUE) throw new CheckpointException(f.path(), "legacy-format checkpoints over 2 GiB are not supported");
        ByteBuffer all = f.slice(0, f.size());
        Unpickler.Storages none = (dtype, key, numel) -> {
            throw new CheckpointException(f.path(), "storage in a legacy header pickle");
        };
        Object magic = unpickle(f, all, "magic number", none);
        if (!(magic instanceof BigInteger b && b.equals(LEGACY_MAGIC))) {
            throw new CheckpointException(f.path(), "a pickle, but not a torch.save file (no magic number)");
        }
        Object protocol = unpickle(f, all, "protocol version", none);
        if (!Long.valueOf(LEGACY_PROTOCOL).equals(protocol)) {
            throw new CheckpointException(f.path(), "unsupported legacy protocol version " + protocol);
        }
        Object sysInfo = unpickle(f, all, "sys_info", none);
        ByteOrder order = sysInfo instanceof Map<?, ?> m && Boolean.FALSE.equals(m.get("little_endian"))
                          ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        Map<String, Unpickler.Storage> declared = new HashMap<>();
        Map<String, Long> offsets = new HashMap<>();
        Unpickler.Storages storages = (dtype, key, numel) -> declared.computeIfAbsent(key, k ->
                new Unpickler.Storage(dtype, numel, numel * dtype.bytes, order,
                                      () -> f.slice(offsets.get(k), numel * dtype.bytes), "storage " + k));
        Object root = unpickle(f, all, "object pickle", storages);
        Object keys = unpickle(f, all, "storage keys", none);
        if (!(keys instanceof List<?> keyList)) throw new CheckpointException(f.path(), "storage key list missing");
        long pos = all.position();
        ByteBuffer counts = all.duplicate().order(order);
        for (Object k : keyList) {
            Unpickler.Storage s = declared.get(String.valueOf(k));
            if (s == null) throw new CheckpointException(f.path(), "storage " + k + " is listed but used by no tensor");
            if (pos + 8 > f.size()) throw new CheckpointException(f.path(), "truncated before storage " + k);
            long count = counts.getLong((int) pos);
            if (count != s.numel()) {
                throw new CheckpointException(f.path(), "storage " + k + " holds " + count + " elements, its tensors say " + s.numel());
            }
            offsets.put(String.valueOf(k), pos + 8);
            pos += 8 + count * s.dtype().bytes;
            if (pos > f.size()) throw new CheckpointException(f.path(), "truncated inside storage " + k);
        }
        for (String k : declared.keySet()) {
            if (!offsets.containsKey(k)) throw new CheckpointException(f.path(), "storage " + k + " has no data");
        }
        return root;
    }

    private static Object unpickle(MappedFile f, ByteBuffer in, String what, Unpickler.Storages storages) {
        try {
            return new Unpickler(in, what, storages).load();
        } catch (Unpickler.PickleException e) {
            throw new CheckpointException(f.path(), e.getMessage());
        }
    }
}
