package dev.hrda.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Our PNG codec against javax.imageio (still on the test classpath's JDK; not in the bundle),
 * pixel for pixel on every PNG fixture, plus encode→decode round trips.
 */
class PngTest {
    static List<Path> fixturePngs() throws IOException {
        try (Stream<Path> s = Files.walk(TestFiles.fixtures())) {
            List<Path> l = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
            assertTrue(l.size() >= 15, "fixture PNGs: " + l.size());
            return l;
        }
    }

    /** ImageIO's samples in our layout (rows, then bands in PNG order). */
    static int[] imageioSamples(BufferedImage img) {
        Raster r = img.getRaster();
        int w = img.getWidth(), h = img.getHeight(), bands = r.getNumBands();
        int[] out = new int[w * h * bands];
        int[] band = new int[w * h];
        for (int b = 0; b < bands; b++) {
            r.getSamples(0, 0, w, h, b, band);
            for (int i = 0; i < w * h; i++) out[i * bands + b] = band[i];
        }
        return out;
    }

    static void assertSameAsImageIO(byte[] png, String what) throws Exception {
        BufferedImage ref = ImageIO.read(new ByteArrayInputStream(png));
        assertNotNull(ref, what);
        Png.Image mine = Png.decode(png);
        assertEquals(ref.getWidth(), mine.width(), what);
        assertEquals(ref.getHeight(), mine.height(), what);
        assertEquals(ref.getRaster().getNumBands(), mine.channels(), what);
        int[] expect = imageioSamples(ref);
        int[] got = mine.samples();
        for (int i = 0; i < expect.length; i++) {
            if (expect[i] != got[i]) {
                int px = i / mine.channels();
                throw new AssertionError(what + ": sample " + i + " (x=" + px % mine.width() + ", y=" + px / mine.width()
                                         + ") is " + got[i] + ", ImageIO says " + expect[i]);
            }
        }
        if (mine.colorType() == Png.PALETTE) {
            IndexColorModel cm = (IndexColorModel) ref.getColorModel();
            byte[] pal = mine.palette();
            for (int e = 0; e < pal.length / 3; e++) {
                assertEquals(cm.getRed(e), pal[3 * e] & 0xFF, what + " palette " + e);
                assertEquals(cm.getGreen(e), pal[3 * e + 1] & 0xFF, what + " palette " + e);
                assertEquals(cm.getBlue(e), pal[3 * e + 2] & 0xFF, what + " palette " + e);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("fixturePngs")
    void fixturesDecodeLikeImageIO(Path p) throws Exception {
        assertSameAsImageIO(Files.readAllBytes(p), p.toString());
    }

    @ParameterizedTest
    @MethodSource("fixturePngs")
    void fixturesRoundTripWithEveryFilter(Path p) throws Exception {
        Png.Image img = Png.read(p);
        for (Png.Filter f : Png.Filter.values()) {
            byte[] enc = Png.encode(img, f, 1);
            Png.Image back = Png.decode(enc);
            assertEquals(img.colorType(), back.colorType());
            assertEquals(img.bitDepth(), back.bitDepth());
            assertArrayEquals(img.samples(), back.samples(), p + " " + f);
            assertArrayEquals(img.palette(), back.palette());
        }
        // and what we write, ImageIO reads the same
        assertSameAsImageIO(Png.encode(img, Png.Filter.ADAPTIVE, 6), p + " re-encoded");
    }

    @Test
    void fixtureKindsAreCovered() throws Exception {
        java.util.Set<String> kinds = new java.util.TreeSet<>();
        for (Path p : fixturePngs()) {
            Png.Image i = Png.read(p);
            kinds.add(i.bitDepth() + "/" + i.colorType());
        }
        // 8-bit gray (Cityscapes/ACDC ids), 16-bit gray (instanceIds), 8-bit RGB, 8-bit palette (Mapillary)
        assertTrue(kinds.containsAll(List.of("8/0", "16/0", "8/2", "8/3")), kinds.toString());
    }

    @Test
    void mapillaryPaletteIndicesMatchImageIO() throws Exception {
        Path lbl = TestFiles.fixtures().resolve("mapillary/training/v2.0/labels/__CRyFzoDOXn6unQ6a3DnQ.png");
        Images.LabelIds ids = Images.readLabelIds(lbl, Images.Channel.SINGLE);
        BufferedImage ref = ImageIO.read(lbl.toFile());
        int[] expect = ref.getRaster().getSamples(0, 0, ref.getWidth(), ref.getHeight(), 0, new int[ids.ids().length]);
        assertArrayEquals(expect, ids.ids());
        assertEquals(java.util.Set.of(27, 84, 85), java.util.Arrays.stream(ids.ids()).boxed().collect(java.util.stream.Collectors.toSet()));
    }

    static Png.Image random(int w, int h, int depth, int type, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int ch = Png.channels(type);
        int bound = type == Png.PALETTE ? 200 : 1 << depth;
        int[] s = new int[w * h * ch];
        // smooth-ish data so that the filters matter, with some noise
        for (int i = 0; i < s.length; i++) s[i] = r.nextInt(8) == 0 ? r.nextInt(bound) : (i / ch % w * 7 + i / ch / w * 3) % bound;
        byte[] pal = null;
        if (type == Png.PALETTE) {
            pal = new byte[200 * 3];
            r.nextBytes(pal);
        }
        return new Png.Image(w, h, depth, type, s, pal);
    }

    @ParameterizedTest
    @EnumSource(Png.Filter.class)
    void everyKindRoundTripsAndImageIOAgrees(Png.Filter f) throws Exception {
        int[][] kinds = {{8, Png.GRAY}, {16, Png.GRAY}, {8, Png.RGB}, {16, Png.RGB}, {8, Png.PALETTE},
                         {8, Png.GRAY_ALPHA}, {16, Png.GRAY_ALPHA}, {8, Png.RGBA}, {16, Png.RGBA}};
        for (int[] k : kinds) {
            for (int[] size : new int[][] {{1, 1}, {13, 7}, {64, 33}}) {
                Png.Image img = random(size[0], size[1], k[0], k[1], 31L * k[0] + k[1]);
                byte[] enc = Png.encode(img, f, 6);
                String what = k[0] + "-bit type " + k[1] + " " + size[0] + "x" + size[1] + " " + f;
                assertArrayEquals(img.samples(), Png.decode(enc).samples(), what);
                assertSameAsImageIO(enc, what);
            }
        }
    }

    /** Files written by ImageIO (its own filter choices, sub-byte palettes and gray) decode identically. */
    @Test
    void imageioWrittenFilesDecode() throws Exception {
        SplittableRandom r = new SplittableRandom(7);
        for (int bits : new int[] {1, 2, 4, 8}) {
            int n = 1 << bits;
            byte[] red = new byte[n], green = new byte[n], blue = new byte[n];
            r.nextBytes(red);
            r.nextBytes(green);
            r.nextBytes(blue);
            IndexColorModel cm = new IndexColorModel(bits, n, red, green, blue);
            BufferedImage img = bits == 8 ? new BufferedImage(37, 19, BufferedImage.TYPE_BYTE_INDEXED, cm)
                                          : new BufferedImage(37, 19, BufferedImage.TYPE_BYTE_BINARY, cm);
            for (int y = 0; y < 19; y++) for (int x = 0; x < 37; x++) img.getRaster().setSample(x, y, 0, r.nextInt(n));
            byte[] png = write(img, false);
            Png.Image mine = Png.decode(png);
            assertEquals(bits, mine.bitDepth(), "ImageIO wrote " + bits + "-bit");
            assertSameAsImageIO(png, bits + "-bit palette");
        }
        for (int type : new int[] {BufferedImage.TYPE_BYTE_GRAY, BufferedImage.TYPE_USHORT_GRAY, BufferedImage.TYPE_3BYTE_BGR,
                                   BufferedImage.TYPE_4BYTE_ABGR, BufferedImage.TYPE_INT_RGB}) {
            BufferedImage img = new BufferedImage(45, 23, type);
            for (int y = 0; y < 23; y++) {
                for (int x = 0; x < 45; x++) {
                    for (int b = 0; b < img.getRaster().getNumBands(); b++) {
                        int max = type == BufferedImage.TYPE_USHORT_GRAY ? 65536 : 256;
                        img.getRaster().setSample(x, y, b, (x * 5 + y * 11 + b * 40 + r.nextInt(9)) % max);
                    }
                }
            }
            assertSameAsImageIO(write(img, false), "ImageIO type " + type);
        }
    }

    static byte[] write(BufferedImage img, boolean interlaced) throws IOException {
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

    @Test
    void unsupportedAndBrokenFilesNameTheFile(@TempDir Path tmp) throws Exception {
        BufferedImage img = new BufferedImage(20, 10, BufferedImage.TYPE_BYTE_GRAY);
        Path inter = tmp.resolve("interlaced.png");
        Files.write(inter, write(img, true));
        DataException e = assertThrows(DataException.class, () -> Png.read(inter));
        assertTrue(e.getMessage().contains("interlaced.png") && e.getMessage().contains("Adam7"), e.getMessage());

        byte[] good = Png.encodeGray8(new byte[200], 20, 10);
        Path crc = tmp.resolve("crc.png");
        byte[] bad = good.clone();
        bad[bad.length - 20] ^= 0x55; // inside the IDAT data
        Files.write(crc, bad);
        e = assertThrows(DataException.class, () -> Png.read(crc));
        assertTrue(e.getMessage().contains("crc.png") && e.getMessage().contains("CRC"), e.getMessage());

        Path cut = tmp.resolve("cut.png");
        Files.write(cut, java.util.Arrays.copyOf(good, good.length - 14));
        e = assertThrows(DataException.class, () -> Png.read(cut));
        assertTrue(e.getMessage().contains("cut.png") && e.getMessage().contains("truncated"), e.getMessage());

        Path jpg = tmp.resolve("not.png");
        Files.write(jpg, new byte[] {(byte) 0xFF, (byte) 0xD8, (byte) 0xFF, 0, 0, 0, 0, 0, 0});
        e = assertThrows(DataException.class, () -> Png.read(jpg));
        assertTrue(e.getMessage().contains("not.png") && e.getMessage().contains("signature"), e.getMessage());

        assertThrows(IllegalArgumentException.class,
                     () -> Png.encode(new Png.Image(2, 1, 8, Png.GRAY, new int[] {0, 256}, null), Png.Filter.NONE, 1));
        assertFalse(Png.decode(good).palette() != null);
    }
}
