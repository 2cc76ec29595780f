package dev.hrda.data;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.SplittableRandom;

/**
 * javax.imageio as the reference for {@link PngTest}. The only test code that touches
 * java.desktop; its signatures use java.base types alone, so test classes calling it still load
 * on the bundled runtime (no java.desktop), where the tests that need it are not run.
 */
final class ImageIOReference {
    private ImageIOReference() {}

    /** Samples in Png.Image's layout (rows, then bands in PNG order); paletteRgb for palette images. */
    record Decoded(int width, int height, int bands, int[] samples, int[] paletteRgb) {}

    /** Decodes with ImageIO; null if ImageIO cannot. */
    static Decoded decode(byte[] png) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
        if (img == null) return null;
        WritableRaster r = img.getRaster();
        int w = img.getWidth(), h = img.getHeight(), bands = r.getNumBands();
        int[] out = new int[w * h * bands];
        int[] band = new int[w * h];
        for (int b = 0; b < bands; b++) {
            r.getSamples(0, 0, w, h, b, band);
            for (int i = 0; i < w * h; i++) out[i * bands + b] = band[i];
        }
        int[] pal = null;
        if (img.getColorModel() instanceof IndexColorModel cm) {
            pal = new int[cm.getMapSize() * 3];
            for (int e = 0; e < cm.getMapSize(); e++) {
                pal[3 * e] = cm.getRed(e);
                pal[3 * e + 1] = cm.getGreen(e);
                pal[3 * e + 2] = cm.getBlue(e);
            }
        }
        return new Decoded(w, h, bands, out, pal);
    }

    /** A random palette image of 1, 2, 4 or 8 bits, as ImageIO writes it. */
    static byte[] randomPalette(int bits, int w, int h, long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 1 << bits;
        byte[] red = new byte[n], green = new byte[n], blue = new byte[n];
        r.nextBytes(red);
        r.nextBytes(green);
        r.nextBytes(blue);
        IndexColorModel cm = new IndexColorModel(bits, n, red, green, blue);
        BufferedImage img = bits == 8 ? new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, cm)
                                      : new BufferedImage(w, h, BufferedImage.TYPE_BYTE_BINARY, cm);
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.getRaster().setSample(x, y, 0, r.nextInt(n));
        return write(img, false);
    }

    static final List<String> KINDS = List.of("gray8", "gray16", "bgr", "abgr", "intrgb");

    /** A smooth-plus-noise image of one of {@link #KINDS}, as ImageIO writes it. */
    static byte[] randomImage(String kind, int w, int h, long seed) throws IOException {
        int type = switch (kind) {
            case "gray8" -> BufferedImage.TYPE_BYTE_GRAY;
            case "gray16" -> BufferedImage.TYPE_USHORT_GRAY;
            case "bgr" -> BufferedImage.TYPE_3BYTE_BGR;
            case "abgr" -> BufferedImage.TYPE_4BYTE_ABGR;
            case "intrgb" -> BufferedImage.TYPE_INT_RGB;
            default -> throw new IllegalArgumentException(kind);
        };
        SplittableRandom r = new SplittableRandom(seed);
        BufferedImage img = new BufferedImage(w, h, type);
        int max = type == BufferedImage.TYPE_USHORT_GRAY ? 65536 : 256;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                for (int b = 0; b < img.getRaster().getNumBands(); b++) {
                    img.getRaster().setSample(x, y, b, (x * 5 + y * 11 + b * 40 + r.nextInt(9)) % max);
                }
            }
        }
        return write(img, false);
    }

    /** An Adam7-interlaced 8-bit gray PNG. */
    static byte[] interlacedGray(int w, int h) throws IOException {
        return write(new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY), true);
    }

    private static byte[] write(BufferedImage img, boolean interlaced) throws IOException {
        ImageWriter w = ImageIO.getImageWritersByFormatName("png").next();
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bo)) {
            w.setOutput(out);
            ImageWriteParam p = w.getDefaultWriteParam();
            p.setProgressiveMode(interlaced ? ImageWriteParam.MODE_DEFAULT : ImageWriteParam.MODE_DISABLED);
            w.write(null, new IIOImage(img, null, null), p);
        } finally {
            w.dispose();
        }
        return bo.toByteArray();
    }
}
