package dev.hrda.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * A small PNG codec on java.util.zip, so that label maps keep their palette indices without
 * java.desktop (javax.imageio), which would add ~15 MiB to the bundled runtime.
 *
 * Decodes non-interlaced PNGs of every colour type: gray (1/2/4/8/16-bit), RGB (8/16),
 * palette (1/2/4/8), gray+alpha (8/16) and RGBA (8/16), with all five row filters; chunk CRCs
 * are checked. Adam7-interlaced files are refused with a message naming the file. Samples come
 * back as they are stored (palette indices, not colours; 16-bit values unscaled).
 * Encodes 8/16-bit gray, RGB, gray+alpha, RGBA and 8-bit palette images.
 */
public final class Png {
    private Png() {}

    public static final int GRAY = 0, RGB = 2, PALETTE = 3, GRAY_ALPHA = 4, RGBA = 6;

    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    /**
     * A decoded image: {@code samples} holds height × width × channels values, row-major with the
     * channels interleaved in PNG order (R, G, B, A). {@code palette} holds the PLTE entries as
     * RGB triplets (palette images only, else null).
     */
    public record Image(int width, int height, int bitDepth, int colorType, int[] samples, byte[] palette) {
        public Image {
            Png.channels(colorType); // validates the colour type
            if (width <= 0 || height <= 0) throw new IllegalArgumentException("empty image " + width + "x" + height);
            if ((long) width * height * Png.channels(colorType) != samples.length) {
                throw new IllegalArgumentException("samples: expected " + (long) width * height * Png.channels(colorType)
                                                   + " values, got " + samples.length);
            }
        }

        public int channels() { return Png.channels(colorType); }

        /** The sample of channel c at (x, y). */
        public int get(int x, int y, int c) { return samples[(y * width + x) * channels() + c]; }
    }

    public static int channels(int colorType) {
        return switch (colorType) {
            case GRAY, PALETTE -> 1;
            case RGB -> 3;
            case GRAY_ALPHA -> 2;
            case RGBA -> 4;
            default -> throw new IllegalArgumentException("PNG colour type " + colorType + " does not exist");
        };
    }

    private static String colorName(int colorType) {
        return switch (colorType) {
            case GRAY -> "gray";
            case RGB -> "RGB";
            case PALETTE -> "palette";
            case GRAY_ALPHA -> "gray+alpha";
            case RGBA -> "RGBA";
            default -> "colour type " + colorType;
        };
    }

    /** A malformed or unsupported PNG; {@link #read} turns it into a {@link DataException} naming the file. */
    public static final class FormatException extends Exception {
        private static final long serialVersionUID = 1L;
        FormatException(String m) { super(m); }
    }

    // ---------------------------------------------------------------- decoding

    /** Reads and decodes a PNG file; every failure is a {@link DataException} naming it. */
    public static Image read(Path p) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(p);
        } catch (IOException e) {
            throw new DataException(p, "cannot read (" + e.getMessage() + ")", e);
        }
        try {
            return decode(bytes);
        } catch (FormatException e) {
            throw new DataException(p, "cannot decode PNG: " + e.getMessage(), e);
        }
    }

    public static Image decode(byte[] b) throws FormatException {
        if (b.length < 8 || !Arrays.equals(b, 0, 8, SIGNATURE, 0, 8)) throw new FormatException("not a PNG (bad signature)");
        int pos = 8;
        int width = 0, height = 0, depth = 0, type = -1;
        byte[] palette = null;
        ByteArrayOutputStream idat = new ByteArrayOutputStream();
        boolean header = false, end = false;
        CRC32 crc = new CRC32();
        while (!end) {
            if (pos + 8 > b.length) throw new FormatException("truncated (no IEND chunk)");
            long len = u32(b, pos);
            String name = new String(b, pos + 4, 4, java.nio.charset.StandardCharsets.ISO_8859_1);
            if (len > b.length - pos - 12L) throw new FormatException("truncated in chunk " + name);
            int n = (int) len, data = pos + 8;
            crc.reset();
            crc.update(b, pos + 4, n + 4);
            if (crc.getValue() != u32(b, data + n)) throw new FormatException("CRC mismatch in chunk " + name + " (corrupt file)");
            if (!header && !name.equals("IHDR")) throw new FormatException("first chunk is " + name + ", not IHDR");
            switch (name) {
                case "IHDR" -> {
                    if (n != 13) throw new FormatException("IHDR of length " + n);
                    long w = u32(b, data), h = u32(b, data + 4);
                    depth = b[data + 8] & 0xFF;
                    type = b[data + 9] & 0xFF;
                    int compression = b[data + 10] & 0xFF, filter = b[data + 11] & 0xFF, interlace = b[data + 12] & 0xFF;
                    if (w == 0 || h == 0 || w > Integer.MAX_VALUE || h > Integer.MAX_VALUE) {
                        throw new FormatException("bad size " + w + "x" + h);
                    }
                    width = (int) w;
                    height = (int) h;
                    checkDepth(type, depth);
                    if (compression != 0 || filter != 0) throw new FormatException("unknown compression/filter method");
                    if (interlace == 1) throw new FormatException("Adam7-interlaced PNGs are not supported (re-save it without interlacing)");
                    if (interlace != 0) throw new FormatException("unknown interlace method " + interlace);
                    if ((long) width * height * channels(type) > Integer.MAX_VALUE - 8) {
                        throw new FormatException("image too large (" + width + "x" + height + ")");
                    }
                    header = true;
                }
                case "PLTE" -> {
                    if (n % 3 != 0 || n == 0 || n > 768) throw new FormatException("PLTE of length " + n);
                    palette = Arrays.copyOfRange(b, data, data + n);
                }
                case "IDAT" -> idat.write(b, data, n);
                case "IEND" -> end = true;
                default -> {
                    if ((name.charAt(0) & 0x20) == 0) throw new FormatException("unknown critical chunk " + name);
                }
            }
            pos = data + n + 4;
        }
        if (type == PALETTE && palette == null) throw new FormatException("palette image without PLTE chunk");
        int ch = channels(type);
        int bitsPerPixel = ch * depth;
        long stride = ((long) width * bitsPerPixel + 7) / 8;
        int bpp = Math.max(1, bitsPerPixel / 8); // filter distance in bytes
        long rawLen = (stride + 1) * height;
        if (rawLen > Integer.MAX_VALUE - 8) throw new FormatException("image too large (" + width + "x" + height + ")");
        byte[] raw = inflate(idat.toByteArray(), (int) rawLen);
        int s = (int) stride;
        unfilter(raw, s, height, bpp);
        int[] out = new int[width * height * ch];
        int rowValues = width * ch;
        for (int y = 0; y < height; y++) {
            int r = y * (s + 1) + 1, o = y * rowValues;
            switch (depth) {
                case 8 -> {
                    for (int i = 0; i < rowValues; i++) out[o + i] = raw[r + i] & 0xFF;
                }
                case 16 -> {
                    for (int i = 0; i < rowValues; i++) out[o + i] = ((raw[r + 2 * i] & 0xFF) << 8) | (raw[r + 2 * i + 1] & 0xFF);
                }
                default -> { // 1, 2, 4 bits (gray or palette: one channel)
                    int perByte = 8 / depth, mask = (1 << depth) - 1;
                    for (int x = 0; x < width; x++) {
                        int v = raw[r + x / perByte] & 0xFF;
                        out[o + x] = (v >> (8 - depth * (x % perByte + 1))) & mask;
                    }
                }
            }
        }
        // palette indices beyond the PLTE entries are kept as they are (labels need the index, not the colour)
        return new Image(width, height, depth, type, out, palette);
    }

    private static void checkDepth(int type, int depth) throws FormatException {
        boolean ok = switch (type) {
            case GRAY -> depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16;
            case PALETTE -> depth == 1 || depth == 2 || depth == 4 || depth == 8;
            case RGB, GRAY_ALPHA, RGBA -> depth == 8 || depth == 16;
            default -> throw new FormatException("unknown colour type " + type);
        };
        if (!ok) throw new FormatException(depth + "-bit " + colorName(type) + " is not a valid PNG combination");
    }

    private static byte[] inflate(byte[] z, int expected) throws FormatException {
        Inflater inf = new Inflater();
        try {
            inf.setInput(z);
            byte[] raw = new byte[expected];
            int got = 0;
            while (got < expected) {
                int k = inf.inflate(raw, got, expected - got);
                if (k == 0) {
                    if (inf.finished() || inf.needsInput()) break;
                    if (inf.needsDictionary()) throw new FormatException("zlib stream needs a preset dictionary");
                }
                got += k;
            }
            if (got < expected) throw new FormatException("image data is truncated (" + got + " of " + expected + " bytes)");
            return raw;
        } catch (DataFormatException e) {
            throw new FormatException("corrupt image data (" + e.getMessage() + ")");
        } finally {
            inf.end();
        }
    }

    /** Undoes the row filters in place; each row is a filter byte followed by stride bytes. */
    private static void unfilter(byte[] raw, int stride, int height, int bpp) throws FormatException {
        for (int y = 0; y < height; y++) {
            int r = y * (stride + 1), cur = r + 1, prev = cur - stride - 1; // prev valid only for y > 0
            int f = raw[r] & 0xFF;
            boolean top = y == 0;
            switch (f) {
                case 0 -> { }
                case 1 -> {
                    for (int i = bpp; i < stride; i++) raw[cur + i] += raw[cur + i - bpp];
                }
                case 2 -> {
                    if (!top) for (int i = 0; i < stride; i++) raw[cur + i] += raw[prev + i];
                }
                case 3 -> {
                    for (int i = 0; i < stride; i++) {
                        int a = i >= bpp ? raw[cur + i - bpp] & 0xFF : 0;
                        int b = top ? 0 : raw[prev + i] & 0xFF;
                        raw[cur + i] += (byte) ((a + b) >>> 1);
                    }
                }
                case 4 -> {
                    for (int i = 0; i < stride; i++) {
                        int a = i >= bpp ? raw[cur + i - bpp] & 0xFF : 0;
                        int b = top ? 0 : raw[prev + i] & 0xFF;
                        int c = i >= bpp && !top ? raw[prev + i - bpp] & 0xFF : 0;
                        raw[cur + i] += (byte) paeth(a, b, c);
                    }
                }
                default -> throw new FormatException("unknown filter type " + f + " in row " + y);
            }
        }
    }

    private static int paeth(int a, int b, int c) {
        int p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        if (pa <= pb && pa <= pc) return a;
        return pb <= pc ? b : c;
    }

    // ---------------------------------------------------------------- encoding

    /** Row filter choice when encoding: one fixed type (0-4) for every row, or per row the one that compresses best. */
    public enum Filter { NONE, SUB, UP, AVERAGE, PAETH, ADAPTIVE }

    /** Encodes an 8-bit single-channel image (e.g. train ids) as 8-bit gray. */
    public static byte[] encodeGray8(byte[] values, int width, int height) {
        int[] s = new int[values.length];
        for (int i = 0; i < s.length; i++) s[i] = values[i] & 0xFF;
        return encode(new Image(width, height, 8, GRAY, s, null), Filter.ADAPTIVE, 6);
    }

    /**
     * Encodes 8- or 16-bit gray, RGB, gray+alpha, RGBA, or 8-bit palette images (the palette,
     * RGB triplets, is written as PLTE). Bit depths below 8 are not written.
     */
    public static byte[] encode(Image img, Filter filter, int level) {
        int type = img.colorType(), depth = img.bitDepth(), ch = img.channels();
        if (type == PALETTE ? depth != 8 : depth != 8 && depth != 16) {
            throw new IllegalArgumentException("cannot encode " + depth + "-bit " + colorName(type) + " (8-bit, or 16-bit non-palette only)");
        }
        if (type == PALETTE && (img.palette() == null || img.palette().length % 3 != 0
                                || img.palette().length == 0 || img.palette().length > 768)) {
            throw new IllegalArgumentException("a palette image needs 1-256 RGB palette entries");
        }
        int max = (1 << depth) - 1, entries = type == PALETTE ? img.palette().length / 3 : max + 1;
        int w = img.width(), h = img.height(), bytesPerSample = depth / 8;
        int stride = w * ch * bytesPerSample, bpp = ch * bytesPerSample;
        byte[] rows = new byte[(stride + 1) * h];
        byte[] cur = new byte[stride], prev = new byte[stride], cand = new byte[stride], best = new byte[stride];
        int[] s = img.samples();
        for (int y = 0; y < h; y++) {
            int o = y * w * ch;
            for (int i = 0; i < w * ch; i++) {
                int v = s[o + i];
                if (v < 0 || v > max || v >= entries) {
                    throw new IllegalArgumentException("sample " + v + " at index " + (o + i) + " out of range for "
                                                       + depth + "-bit " + colorName(type));
                }
                if (bytesPerSample == 1) cur[i] = (byte) v;
                else {
                    cur[2 * i] = (byte) (v >> 8);
                    cur[2 * i + 1] = (byte) v;
                }
            }
            int ft;
            if (filter == Filter.ADAPTIVE) {
                // the usual heuristic: smallest sum of absolute (signed) differences; no filter for palette images
                ft = 0;
                long bestSum = Long.MAX_VALUE;
                for (int t = 0; t < (type == PALETTE ? 1 : 5); t++) {
                    filterRow(t, cur, prev, y == 0, bpp, cand);
                    long sum = 0;
                    for (byte c : cand) sum += Math.abs((int) c);
                    if (sum < bestSum) {
                        bestSum = sum;
                        ft = t;
                        System.arraycopy(cand, 0, best, 0, stride);
                    }
                }
            } else {
                ft = filter.ordinal();
                filterRow(ft, cur, prev, y == 0, bpp, best);
            }
            rows[y * (stride + 1)] = (byte) ft;
            System.arraycopy(best, 0, rows, y * (stride + 1) + 1, stride);
            byte[] t = prev;
            prev = cur;
            cur = t;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(rows.length / 4 + 256);
        out.write(SIGNATURE, 0, 8);
        byte[] ihdr = new byte[13];
        put32(ihdr, 0, w);
        put32(ihdr, 4, h);
        ihdr[8] = (byte) depth;
        ihdr[9] = (byte) type;
        chunk(out, "IHDR", ihdr);
        if (type == PALETTE) chunk(out, "PLTE", img.palette());
        Deflater def = new Deflater(level);
        try {
            def.setInput(rows);
            def.finish();
            ByteArrayOutputStream z = new ByteArrayOutputStream(rows.length / 4 + 64);
            byte[] buf = new byte[1 << 16];
            while (!def.finished()) z.write(buf, 0, def.deflate(buf));
            chunk(out, "IDAT", z.toByteArray());
        } finally {
            def.end();
        }
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    /** Writes a PNG atomically. */
    public static void write(Path target, Image img) {
        byte[] b = encode(img, Filter.ADAPTIVE, 6);
        AtomicFiles.write(target, tmp -> Files.write(tmp, b));
    }

    private static void filterRow(int t, byte[] cur, byte[] prev, boolean top, int bpp, byte[] out) {
        for (int i = 0; i < cur.length; i++) {
            int x = cur[i] & 0xFF;
            int a = i >= bpp ? cur[i - bpp] & 0xFF : 0;
            int b = top ? 0 : prev[i] & 0xFF;
            int c = i >= bpp && !top ? prev[i - bpp] & 0xFF : 0;
            out[i] = (byte) switch (t) {
                case 0 -> x;
                case 1 -> x - a;
                case 2 -> x - b;
                case 3 -> x - ((a + b) >>> 1);
                default -> x - paeth(a, b, c);
            };
        }
    }

    private static void chunk(ByteArrayOutputStream out, String name, byte[] data) {
        byte[] head = new byte[8];
        put32(head, 0, data.length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte) name.charAt(i);
        CRC32 crc = new CRC32();
        crc.update(head, 4, 4);
        crc.update(data);
        byte[] tail = new byte[4];
        put32(tail, 0, (int) crc.getValue());
        out.write(head, 0, 8);
        out.write(data, 0, data.length);
        out.write(tail, 0, 4);
    }

    private static long u32(byte[] b, int i) {
        return ((long) (b[i] & 0xFF) << 24) | ((b[i + 1] & 0xFF) << 16) | ((b[i + 2] & 0xFF) << 8) | (b[i + 3] & 0xFF);
    }

    private static void put32(byte[] b, int i, int v) {
        b[i] = (byte) (v >>> 24);
        b[i + 1] = (byte) (v >>> 16);
        b[i + 2] = (byte) (v >>> 8);
        b[i + 3] = (byte) v;
    }
}
