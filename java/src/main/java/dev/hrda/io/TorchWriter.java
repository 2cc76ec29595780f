package dev.hrda.io;

import dev.hrda.data.AtomicFiles;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Writes a checkpoint as {@code torch.save} does (the zip format of torch >= 1.6), so that
 * mmseg's {@code load_checkpoint} and {@code torch.load(..., weights_only=True)} read it:
 * {@code {'meta': {str: str}, 'state_dict': OrderedDict(name -> tensor)}}.
 *
 * <p>The pickle (protocol 2, as torch.save) uses only what torch's weights-only unpickler
 * allows: {@code torch._utils._rebuild_tensor_v2}, the typed storage classes
 * ({@code torch.FloatStorage}, ...) inside persistent ids
 * {@code ('storage', class, key, 'cpu', numel)}, and {@code collections.OrderedDict}. The zip
 * holds {@code <stem>/data.pkl}, {@code <stem>/byteorder} ("little"), one stored (uncompressed)
 * record {@code <stem>/data/<key>} per tensor, data aligned to 64 bytes by an "FB" extra field as
 * torch's writer pads, and {@code <stem>/version} ("3"). No zip64: files up to 4 GiB.
 */
public final class TorchWriter {
    private static final int ALIGN = 64;
    private static final long ZIP_LIMIT = 0xFFFF_FFFFL;

    private TorchWriter() {}

    /** A Python tuple in a tree given to {@link #writeTree}. */
    public record Tuple(List<?> items) {}

    /** A collections.OrderedDict in a tree given to {@link #writeTree} (a state dict). */
    public record OrderedDict(Map<?, ?> items) {}

    /** Writes {@code stateDict} (names kept as given) and {@code meta} to {@code target}, atomically. */
    public static void write(Path target, Map<String, StoredTensor> stateDict, Map<String, String> meta) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("meta", meta == null ? Map.of() : meta);
        root.put("state_dict", new OrderedDict(stateDict));
        writeTree(target, root);
    }

    /**
     * Writes a tree as torch.save would pickle it, atomically: {@link Map} (a dict; keys String or
     * Integer), {@link OrderedDict}, {@link List}, {@link Tuple}, String, Integer/Long, Double/Float,
     * Boolean, null and {@link StoredTensor} (a CPU tensor). mmcv's training checkpoints are such
     * trees: {@code {'meta': {...}, 'state_dict': OrderedDict, 'optimizer': {'state': {0: {...}},
     * 'param_groups': [...]}}}.
     */
    public static void writeTree(Path target, Map<String, ?> root) {
        List<StoredTensor> tensors = new ArrayList<>();
        byte[] pickle = pickle(root, tensors);
        long total = 0;
        for (StoredTensor t : tensors) total += t.byteSize() + 200;  // data, headers, padding
        if (total > ZIP_LIMIT) throw new CheckpointException(target, total + " bytes: .pth export is limited to 4 GiB (no zip64)");
        String stem = stemOf(target);
        AtomicFiles.write(target, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                Zip zip = new Zip(ch);
                zip.add(stem + "/data.pkl", ByteBuffer.wrap(pickle));
                zip.add(stem + "/byteorder", ascii("little"));
                for (int key = 0; key < tensors.size(); key++) {
                    StoredTensor t = tensors.get(key);
                    ByteBuffer d = t.data();
                    if (d.remaining() != t.byteSize()) {
                        throw new IOException("tensor " + key + " produced " + d.remaining() + " bytes, expected " + t.byteSize());
                    }
                    zip.add(stem + "/data/" + key, d);
                }
                zip.add(stem + "/version", ascii("3\n"));
                zip.finish();
                ch.force(true);
            }
        });
    }

    /** torch.save's archive folder: the file name without its last extension. */
    static String stemOf(Path target) {
        String name = target.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        return stem.isEmpty() ? "archive" : stem;
    }

    private static ByteBuffer ascii(String s) {
        return ByteBuffer.wrap(s.getBytes(StandardCharsets.US_ASCII));
    }

    // ---------------------------------------------------------------------------------------
    // pickle, protocol 2

    private static final int MAX_DEPTH = 32;

    /** Pickles the tree (protocol 2, as torch.save); tensors get storage keys 0, 1, ... in order of appearance. */
    private static byte[] pickle(Object root, List<StoredTensor> tensors) {
        Pickle p = new Pickle();
        p.op(0x80).op(2);                  // PROTO 2
        value(p, root, tensors, 0);
        p.op('.');                         // STOP
        return p.bytes();
    }

    private static void value(Pickle p, Object v, List<StoredTensor> tensors, int depth) {
        if (depth > MAX_DEPTH) throw new IllegalArgumentException("checkpoint tree nested deeper than " + MAX_DEPTH);
        if (v == null) {
            p.op('N');
        } else if (v instanceof String s) {
            p.str(s);
        } else if (v instanceof Boolean b) {
            p.op(b ? 0x88 : 0x89);         // NEWTRUE / NEWFALSE
        } else if (v instanceof Integer || v instanceof Long) {
            p.integer(((Number) v).longValue());
        } else if (v instanceof Double || v instanceof Float) {
            p.op('G');                     // BINFLOAT: 8 bytes big-endian
            long bits = Double.doubleToLongBits(((Number) v).doubleValue());
            for (int i = 7; i >= 0; i--) p.op((int) (bits >>> (8 * i)) & 0xFF);
        } else if (v instanceof StoredTensor t) {
            tensor(p, t, tensors.size());
            tensors.add(t);
        } else if (v instanceof OrderedDict od) {
            p.global("collections", "OrderedDict").op(')').op('R');  // OrderedDict()
            items(p, od.items(), tensors, depth);
        } else if (v instanceof Map<?, ?> m) {
            p.op('}');                     // EMPTY_DICT
            items(p, m, tensors, depth);
        } else if (v instanceof Tuple t) {
            if (t.items().isEmpty()) {
                p.op(')');
            } else {
                p.op('(');
                for (Object o : t.items()) value(p, o, tensors, depth + 1);
                p.op('t');
            }
        } else if (v instanceof List<?> l) {
            p.op(']');                     // EMPTY_LIST
            if (!l.isEmpty()) {
                p.op('(');
                for (Object o : l) value(p, o, tensors, depth + 1);
                p.op('e');                 // APPENDS
            }
        } else {
            throw new IllegalArgumentException("cannot pickle a " + v.getClass().getName() + " into a checkpoint");
        }
    }

    private static void items(Pickle p, Map<?, ?> m, List<StoredTensor> tensors, int depth) {
        if (m.isEmpty()) return;
        p.op('(');                         // MARK
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getKey() instanceof String || e.getKey() instanceof Integer)) {
                throw new IllegalArgumentException("checkpoint dict key " + e.getKey() + " is neither a string nor an int");
            }
            value(p, e.getKey(), tensors, depth + 1);
            value(p, e.getValue(), tensors, depth + 1);
        }
        p.op('u');                         // SETITEMS
    }

    /** torch._utils._rebuild_tensor_v2(persistent storage, 0, shape, strides, False, OrderedDict()). */
    private static void tensor(Pickle p, StoredTensor t, int key) {
        p.global("torch._utils", "_rebuild_tensor_v2").op('(');
        // persistent id ('storage', torch.XStorage, key, 'cpu', numel)
        p.op('(').str("storage").global("torch", t.dtype().torchStorage)
         .str(Integer.toString(key)).str("cpu").integer(t.numel()).op('t').op('Q');
        p.integer(0);                      // storage offset
        int[] shape = t.shape();
        long[] strides = StoredTensor.rowMajor(shape);
        p.op('(');
        for (int s : shape) p.integer(s);
        p.op('t').op('(');
        for (long s : strides) p.integer(s);
        p.op('t');
        p.op(0x89);                        // requires_grad False
        p.global("collections", "OrderedDict").op(')').op('R');  // backward hooks
        p.op('t').op('R');                 // _rebuild_tensor_v2(*args)
    }

    private static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Pickle op(int code) {
            out.write(code);
            return this;
        }

        Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            op('X');                       // BINUNICODE: u32 length, UTF-8
            le(b.length, 4);
            out.writeBytes(b);
            return this;
        }

        Pickle global(String module, String name) {
            op('c');
            out.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
            return this;
        }

        Pickle integer(long v) {
            if (v >= 0 && v < 256) {
                op('K').op((int) v);       // BININT1
            } else if (v >= 0 && v < 65536) {
                op('M');                   // BININT2
                le(v, 2);
            } else if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                op('J');                   // BININT
                le(v, 4);
            } else {
                op(0x8a).op(8);            // LONG1, 8 bytes two's complement
                le(v, 8);
            }
            return this;
        }

        private void le(long v, int bytes) {
            for (int i = 0; i < bytes; i++) out.write((int) (v >>> (8 * i)) & 0xFF);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    // ---------------------------------------------------------------------------------------
    // zip: stored records, sizes and CRC in the local headers, 64-byte aligned data

    private static final class Zip {
        private record Entry(byte[] name, long crc, long size, long headerOffset) {}

        private final FileChannel ch;
        private final List<Entry> entries = new ArrayList<>();
        private long pos;

        Zip(FileChannel ch) {
            this.ch = ch;
        }

        void add(String name, ByteBuffer data) throws IOException {
            byte[] n = name.getBytes(StandardCharsets.UTF_8);
            long size = data.remaining();
            CRC32 crc = new CRC32();
            crc.update(data.duplicate());
            long headerOffset = pos;
            int fixed = 30 + n.length;
            // extra field "FB" (id 0x4246) padding the data start to a multiple of 64 bytes
            int pad = (int) ((ALIGN - (headerOffset + fixed + 4) % ALIGN) % ALIGN);
            ByteBuffer h = ByteBuffer.allocate(fixed + 4 + pad).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(0x04034b50).putShort((short) 20).putShort((short) 0x0800).putShort((short) 0)
             .putShort((short) 0).putShort((short) 0)            // time, date
             .putInt((int) crc.getValue()).putInt((int) size).putInt((int) size)
             .putShort((short) n.length).putShort((short) (4 + pad)).put(n)
             .putShort((short) 0x4246).putShort((short) pad);
            for (int i = 0; i < pad; i++) h.put((byte) 'Z');
            h.flip();
            write(h);
            write(data.duplicate());
            entries.add(new Entry(n, crc.getValue(), size, headerOffset));
        }

        void finish() throws IOException {
            long cdStart = pos;
            for (Entry e : entries) {
                ByteBuffer c = ByteBuffer.allocate(46 + e.name.length).order(ByteOrder.LITTLE_ENDIAN);
                c.putInt(0x02014b50).putShort((short) 20).putShort((short) 20).putShort((short) 0x0800).putShort((short) 0)
                 .putShort((short) 0).putShort((short) 0)
                 .putInt((int) e.crc).putInt((int) e.size).putInt((int) e.size)
                 .putShort((short) e.name.length).putShort((short) 0).putShort((short) 0)   // name, extra, comment
                 .putShort((short) 0).putShort((short) 0).putInt(0)                         // disk, internal, external attrs
                 .putInt((int) e.headerOffset).put(e.name);
                c.flip();
                write(c);
            }
            long cdSize = pos - cdStart;
            if (pos > ZIP_LIMIT || entries.size() > 0xFFFF) throw new IOException("archive too large for zip without zip64");
            ByteBuffer end = ByteBuffer.allocate(22).order(ByteOrder.LITTLE_ENDIAN);
            end.putInt(0x06054b50).putShort((short) 0).putShort((short) 0)
               .putShort((short) entries.size()).putShort((short) entries.size())
               .putInt((int) cdSize).putInt((int) cdStart).putShort((short) 0);
            end.flip();
            write(end);
        }

        private void write(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) pos += ch.write(b);
        }
    }
}
