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

    /** Writes {@code stateDict} (names kept as given) and {@code meta} to {@code target}, atomically. */
    public static void write(Path target, Map<String, StoredTensor> stateDict, Map<String, String> meta) {
        long total = 0;
        for (Map.Entry<String, StoredTensor> e : stateDict.entrySet()) {
            total += e.getValue().byteSize() + 200;  // data, headers, padding
        }
        if (total > ZIP_LIMIT) throw new CheckpointException(target, total + " bytes: .pth export is limited to 4 GiB (no zip64)");
        String stem = stemOf(target);
        byte[] pickle = pickle(stateDict, meta);
        AtomicFiles.write(target, tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                Zip zip = new Zip(ch);
                zip.add(stem + "/data.pkl", ByteBuffer.wrap(pickle));
                zip.add(stem + "/byteorder", ascii("little"));
                int key = 0;
                for (Map.Entry<String, StoredTensor> e : stateDict.entrySet()) {
                    ByteBuffer d = e.getValue().data();
                    if (d.remaining() != e.getValue().byteSize()) {
                        throw new IOException("tensor '" + e.getKey() + "' produced " + d.remaining() + " bytes, expected "
                                              + e.getValue().byteSize());
                    }
                    zip.add(stem + "/data/" + key++, d);
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

    private static byte[] pickle(Map<String, StoredTensor> stateDict, Map<String, String> meta) {
        Pickle p = new Pickle();
        p.op(0x80).op(2);                  // PROTO 2
        p.op('}').op('(');                 // EMPTY_DICT, MARK
        p.str("meta").op('}');
        if (meta != null && !meta.isEmpty()) {
            p.op('(');
            for (Map.Entry<String, String> e : meta.entrySet()) p.str(e.getKey()).str(e.getValue());
            p.op('u');                     // SETITEMS
        }
        p.str("state_dict");
        p.global("collections", "OrderedDict").op(')').op('R');  // OrderedDict()
        if (!stateDict.isEmpty()) {
            p.op('(');
            int key = 0;
            for (Map.Entry<String, StoredTensor> e : stateDict.entrySet()) {
                StoredTensor t = e.getValue();
                p.str(e.getKey());
                p.global("torch._utils", "_rebuild_tensor_v2").op('(');
                // persistent id ('storage', torch.XStorage, key, 'cpu', numel)
                p.op('(').str("storage").global("torch", t.dtype().torchStorage)
                 .str(Integer.toString(key++)).str("cpu").integer(t.numel()).op('t').op('Q');
                p.integer(0);              // storage offset
                int[] shape = t.shape();
                long[] strides = StoredTensor.rowMajor(shape);
                p.op('(');
                for (int s : shape) p.integer(s);
                p.op('t').op('(');
                for (long s : strides) p.integer(s);
                p.op('t');
                p.op(0x89);                // requires_grad False
                p.global("collections", "OrderedDict").op(')').op('R');  // backward hooks
                p.op('t').op('R');         // _rebuild_tensor_v2(*args)
            }
            p.op('u');
        }
        p.op('u').op('.');                 // SETITEMS of the top dict, STOP
        return p.bytes();
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
