package dev.hrda.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The central directory of a zip archive (torch.save's container), read from a mapped file so
 * that stored records become views of the mapping without copying. Handles zip64 and the data
 * descriptors PyTorch's writer uses; deflated records (a re-zipped checkpoint) are inflated.
 */
final class ZipIndex {
    record Entry(String name, int flags, int method, long compressedSize, long size, long localHeaderOffset) {}

    private static final int EOCD = 0x06054b50, ZIP64_LOCATOR = 0x07064b50, ZIP64_EOCD = 0x06064b50;
    private static final int CENTRAL = 0x02014b50, LOCAL = 0x04034b50;

    private final MappedFile file;
    private final Map<String, Entry> entries = new LinkedHashMap<>();

    private ZipIndex(MappedFile file) {
        this.file = file;
    }

    static ZipIndex read(MappedFile file) {
        ZipIndex z = new ZipIndex(file);
        z.readCentralDirectory();
        return z;
    }

    private CheckpointException corrupt(String what) {
        return new CheckpointException(file.path(), "not a readable zip archive: " + what);
    }

    private void readCentralDirectory() {
        long size = file.size();
        if (size < 22) throw corrupt("shorter than an end-of-central-directory record");
        long tailStart = Math.max(0, size - 22 - 65535);
        ByteBuffer tail = file.slice(tailStart, size - tailStart);
        int at = -1;
        for (int p = tail.limit() - 22; p >= 0; p--) {
            if (tail.getInt(p) == EOCD) { at = p; break; }
        }
        if (at < 0) throw corrupt("no end-of-central-directory record");
        long count = tail.getShort(at + 10) & 0xffff;
        long cdSize = tail.getInt(at + 12) & 0xffffffffL;
        long cdOffset = tail.getInt(at + 16) & 0xffffffffL;
        long eocdPos = tailStart + at;
        if (eocdPos >= 20) {
            ByteBuffer loc = file.slice(eocdPos - 20, 20);
            if (loc.getInt(0) == ZIP64_LOCATOR) {
                ByteBuffer z64 = file.slice(loc.getLong(8), 56);
                if (z64.getInt(0) != ZIP64_EOCD) throw corrupt("bad zip64 end-of-central-directory record");
                count = z64.getLong(32);
                cdSize = z64.getLong(40);
                cdOffset = z64.getLong(48);
            }
        }
        ByteBuffer cd = file.slice(cdOffset, cdSize);
        int p = 0;
        for (long i = 0; i < count; i++) {
            if (p + 46 > cd.limit() || cd.getInt(p) != CENTRAL) throw corrupt("bad central directory entry " + i);
            int flags = cd.getShort(p + 8) & 0xffff;
            int method = cd.getShort(p + 10) & 0xffff;
            long csize = cd.getInt(p + 20) & 0xffffffffL;
            long usize = cd.getInt(p + 24) & 0xffffffffL;
            int nameLen = cd.getShort(p + 28) & 0xffff, extraLen = cd.getShort(p + 30) & 0xffff;
            int commentLen = cd.getShort(p + 32) & 0xffff;
            long local = cd.getInt(p + 42) & 0xffffffffL;
            if (p + 46 + nameLen + extraLen > cd.limit()) throw corrupt("central directory entry " + i + " overruns");
            byte[] nb = new byte[nameLen];
            cd.get(p + 46, nb);
            String name = new String(nb, StandardCharsets.UTF_8);
            // zip64 extra field: the 64-bit values of the fields saturated at 0xffffffff, in this order
            for (int e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen; ) {
                int id = cd.getShort(e) & 0xffff, len = cd.getShort(e + 2) & 0xffff;
                if (id == 0x0001) {
                    int q = e + 4;
                    if (usize == 0xffffffffL) { usize = cd.getLong(q); q += 8; }
                    if (csize == 0xffffffffL) { csize = cd.getLong(q); q += 8; }
                    if (local == 0xffffffffL) local = cd.getLong(q);
                }
                e += 4 + len;
            }
            entries.put(name, new Entry(name, flags, method, csize, usize, local));
            p += 46 + nameLen + extraLen + commentLen;
        }
    }

    List<String> names() { return new ArrayList<>(entries.keySet()); }

    Entry entry(String name) { return entries.get(name); }

    /** The uncompressed bytes of a record (a view of the mapping for stored records). */
    ByteBuffer data(Entry e) {
        if ((e.flags() & 1) != 0) throw corrupt("record " + e.name() + " is encrypted");
        ByteBuffer lh = file.slice(e.localHeaderOffset(), 30);
        if (lh.getInt(0) != LOCAL) throw corrupt("bad local header of " + e.name());
        long start = e.localHeaderOffset() + 30 + (lh.getShort(26) & 0xffff) + (lh.getShort(28) & 0xffff);
        ByteBuffer raw = file.slice(start, e.compressedSize());
        if (e.method() == 0) {
            if (e.compressedSize() != e.size()) throw corrupt("stored record " + e.name() + " has two sizes");
            return raw;
        }
        if (e.method() != 8) throw corrupt("record " + e.name() + " uses compression method " + e.method());
        if (e.size() > Integer.MAX_VALUE) throw corrupt("deflated record " + e.name() + " is over 2 GiB");
        Inflater inf = new Inflater(true);
        try {
            inf.setInput(raw);
            ByteBuffer out = ByteBuffer.allocate((int) e.size()).order(ByteOrder.LITTLE_ENDIAN);
            while (out.hasRemaining() && !inf.finished()) {
                if (inf.inflate(out) == 0 && (inf.needsInput() || inf.needsDictionary())) break;
            }
            if (out.hasRemaining()) throw corrupt("deflated record " + e.name() + " is truncated");
            return out.flip();
        } catch (DataFormatException ex) {
            throw corrupt("deflated record " + e.name() + ": " + ex.getMessage());
        } finally {
            inf.end();
        }
    }
}
