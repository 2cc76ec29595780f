package dev.hrda.data;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.bytedeco.opencv.global.opencv_core.CV_16U;
import static org.bytedeco.opencv.global.opencv_core.CV_8U;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_UNCHANGED;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_PNG_COMPRESSION;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imread;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imwrite;

/**
 * Reading and writing images and label maps. Every failure is a {@link DataException} naming
 * the file. OpenCV returns an empty Mat instead of failing (missing, truncated or corrupt
 * files), and expands palette PNGs to colour, so palette labels (Mapillary) are read with our
 * own {@link Png} codec to get the palette indices, as PIL does (not javax.imageio: java.desktop
 * would add ~15 MiB to the bundled runtime).
 *
 * Mats returned here are owned by the caller (close them, or use a PointerScope).
 */
public final class Images {
    private Images() {}

    /** Width, height, bit depth and colour type from a PNG header, or null if not a PNG. */
    public record PngHeader(int width, int height, int bitDepth, int colorType) {
        public boolean palette() { return colorType == 3; }
    }

    public static PngHeader pngHeader(Path p) {
        byte[] h = new byte[33];
        try (InputStream in = Files.newInputStream(p)) {
            int n = in.readNBytes(h, 0, h.length);
            if (n < 33) return null;
        } catch (IOException e) {
            throw new DataException(p, "cannot read (" + e.getMessage() + ")", e);
        }
        if ((h[0] & 0xFF) != 0x89 || h[1] != 'P' || h[2] != 'N' || h[3] != 'G') return null;
        int w = ((h[16] & 0xFF) << 24) | ((h[17] & 0xFF) << 16) | ((h[18] & 0xFF) << 8) | (h[19] & 0xFF);
        int ht = ((h[20] & 0xFF) << 24) | ((h[21] & 0xFF) << 16) | ((h[22] & 0xFF) << 8) | (h[23] & 0xFF);
        return new PngHeader(w, ht, h[24] & 0xFF, h[25] & 0xFF);
    }

    private static void requireFile(Path p, String what) {
        if (!Files.exists(p)) throw new DataException(p, what + " does not exist");
        if (!Files.isRegularFile(p)) throw new DataException(p, what + " is not a regular file");
        if (!Files.isReadable(p)) throw new DataException(p, what + " is not readable (permissions)");
    }

    /** A PNG must end with an IEND chunk; OpenCV sometimes decodes a truncated one partially. */
    private static void checkPngComplete(Path p, String what) {
        try {
            long size = Files.size(p);
            if (size < 12) throw new DataException(p, what + " is truncated (" + size + " bytes)");
            byte[] tail = new byte[12];
            try (var ch = Files.newByteChannel(p)) {
                ch.position(size - 12);
                java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(tail);
                while (bb.hasRemaining() && ch.read(bb) > 0) { /* fill */ }
            }
            if (tail[4] != 'I' || tail[5] != 'E' || tail[6] != 'N' || tail[7] != 'D') {
                throw new DataException(p, what + " is truncated or corrupt (PNG without IEND chunk)");
            }
        } catch (IOException e) {
            throw new DataException(p, "cannot read " + what + " (" + e.getMessage() + ")", e);
        }
    }

    private static boolean isPng(Path p) {
        return p.getFileName().toString().toLowerCase().endsWith(".png");
    }

    private static boolean isJpeg(Path p) {
        String n = p.getFileName().toString().toLowerCase();
        return n.endsWith(".jpg") || n.endsWith(".jpeg");
    }

    /** A JPEG must end with an EOI marker (FF D9), possibly followed by a little padding. */
    private static void checkJpegComplete(Path p, String what) {
        try {
            long size = Files.size(p);
            int n = (int) Math.min(size, 64);
            byte[] tail = new byte[n];
            try (var ch = Files.newByteChannel(p)) {
                ch.position(size - n);
                java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(tail);
                while (bb.hasRemaining() && ch.read(bb) > 0) { /* fill */ }
            }
            for (int i = n - 2; i >= 0; i--) {
                if ((tail[i] & 0xFF) == 0xFF && (tail[i + 1] & 0xFF) == 0xD9) return;
            }
            throw new DataException(p, what + " is truncated or corrupt (JPEG without end marker)");
        } catch (IOException e) {
            throw new DataException(p, "cannot read " + what + " (" + e.getMessage() + ")", e);
        }
    }

    /** 8-bit BGR image (3 channels). */
    public static Mat readColor(Path p) {
        requireFile(p, "image");
        if (isPng(p)) checkPngComplete(p, "image");
        if (isJpeg(p)) checkJpegComplete(p, "image");
        Mat m = imread(p.toString(), IMREAD_COLOR);
        if (m == null || m.empty()) {
            if (m != null) m.close();
            throw new DataException(p, "cannot decode image (truncated, corrupt or not an image)");
        }
        return m;
    }

    /**
     * A train-id label map: 8-bit, one channel (palette PNGs give their indices). Anything else
     * (colour, 16-bit) is refused, naming the file.
     */
    public static Mat readLabel(Path p) {
        requireFile(p, "label");
        PngHeader h = isPng(p) ? pngHeader(p) : null;
        if (isPng(p)) checkPngComplete(p, "label");
        if (h != null && h.palette()) {
            LabelIds ids = readPaletteIndices(p);
            Mat m = new Mat(ids.height, ids.width, CV_8UC1);
            byte[] b = new byte[ids.ids.length];
            for (int i = 0; i < b.length; i++) b[i] = (byte) ids.ids[i];
            put(m, b);
            return m;
        }
        Mat m = imread(p.toString(), IMREAD_UNCHANGED);
        if (m == null || m.empty()) {
            if (m != null) m.close();
            throw new DataException(p, "cannot decode label (truncated, corrupt or not an image)");
        }
        if (m.channels() != 1 || m.depth() != CV_8U) {
            String what = m.channels() + " channel(s), " + (m.depth() == CV_16U ? "16" : "8") + "-bit";
            m.close();
            throw new DataException(p, "label must be an 8-bit single-channel (or palette) image, found " + what);
        }
        return m;
    }

    /** Raw label ids of any supported encoding. */
    public record LabelIds(int width, int height, int[] ids) {}

    /** Which channel of a multi-channel label holds the class id. */
    public enum Channel {
        /** Only single-channel (8/16-bit gray) or palette images are accepted. */
        SINGLE,
        /** OpenCV's last channel (BGR order: the first PNG channel, red), as Synthia's converter reads it. */
        LAST
    }

    /** Reads label ids: 8- or 16-bit gray, palette indices, or one channel of a colour label. */
    public static LabelIds readLabelIds(Path p, Channel channel) {
        requireFile(p, "label");
        PngHeader h = isPng(p) ? pngHeader(p) : null;
        if (isPng(p)) checkPngComplete(p, "label");
        if (h != null && h.palette()) return readPaletteIndices(p);
        try (Mat m = imread(p.toString(), IMREAD_UNCHANGED)) {
            if (m.empty()) throw new DataException(p, "cannot decode label (truncated, corrupt or not an image)");
            int ch = m.channels();
            if (ch != 1 && channel == Channel.SINGLE) {
                throw new DataException(p, "label must have one channel, found " + ch);
            }
            int w = m.cols(), ht = m.rows();
            int n = w * ht;
            int[] out = new int[n];
            int c = ch - 1; // last channel
            if (m.depth() == CV_8U) {
                byte[] b = toBytes(m);
                for (int i = 0; i < n; i++) out[i] = b[i * ch + c] & 0xFF;
            } else if (m.depth() == CV_16U) {
                byte[] b = toBytes(m);
                for (int i = 0; i < n; i++) {
                    int k = (i * ch + c) * 2; // native (little-endian) order
                    out[i] = (b[k] & 0xFF) | ((b[k + 1] & 0xFF) << 8);
                }
            } else {
                throw new DataException(p, "unsupported label depth (only 8- and 16-bit)");
            }
            return new LabelIds(w, ht, out);
        }
    }

    private static LabelIds readPaletteIndices(Path p) {
        Png.Image img = Png.read(p);
        if (img.colorType() != Png.PALETTE) throw new DataException(p, "expected a palette image");
        return new LabelIds(img.width(), img.height(), img.samples());
    }

    /** Bytes of a Mat (row-major, channels interleaved). */
    public static byte[] toBytes(Mat m) {
        Mat src = m.isContinuous() ? m : m.clone();
        try {
            long n = src.total() * src.elemSize();
            byte[] out = new byte[Math.toIntExact(n)];
            BytePointer d = src.data();
            d.capacity(n);
            d.get(out);
            return out;
        } finally {
            if (src != m) src.close();
        }
    }

    /** Copies bytes into a continuous Mat of matching size. */
    public static void put(Mat m, byte[] data) {
        long n = m.total() * m.elemSize();
        if (!m.isContinuous() || n != data.length) throw new IllegalArgumentException("Mat/array size mismatch");
        BytePointer d = m.data();
        d.capacity(n);
        d.put(data);
    }

    public static Mat labelMat(byte[] data, int w, int h) {
        Mat m = new Mat(h, w, CV_8UC1);
        put(m, data);
        return m;
    }

    public static Mat bgrMat(byte[] data, int w, int h) {
        Mat m = new Mat(h, w, CV_8UC3);
        put(m, data);
        return m;
    }

    /** Writes a Mat atomically; the format follows the extension (PNG, or JPEG for .jpg). */
    public static void writePng(Path target, Mat m) {
        AtomicFiles.write(target, tmp -> {
            try (IntPointer params = new IntPointer(IMWRITE_PNG_COMPRESSION, 3)) {
                if (!imwrite(tmp.toString(), m, params)) throw new IOException("OpenCV could not encode the PNG");
            }
        });
    }

    /** Writes a single-channel 8-bit label map (e.g. train ids) as PNG atomically. */
    public static void writeLabelPng(Path target, byte[] data, int w, int h) {
        try (Mat m = labelMat(data, w, h)) {
            writePng(target, m);
        }
    }
}
