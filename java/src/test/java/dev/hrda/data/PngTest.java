package dev.hrda.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

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
 * pixel for pixel on every PNG fixture, plus encode→decode round trips. Every java.desktop type
 * stays inside {@link ImageIOReference}, so that this class loads (and its tests are skipped by
 * tag filters) on the bundled runtime, which has no java.desktop.
 */
class PngTest {
    static List<Path> fixturePngs() throws IOException {
        try (Stream<Path> s = Files.walk(TestFiles.fixtures())) {
            List<Path> l = s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
            assertTrue(l.size() >= 15, "fixture PNGs: " + l.size());
            return l;
        }
    }

    static void assertSameAsImageIO(byte[] png, String what) throws Exception {
        ImageIOReference.Decoded ref = ImageIOReference.decode(png);
        assertNotNull(ref, what);
        Png.Image mine = Png.decode(png);
        assertEquals(ref.width(), mine.width(), what);
        assertEquals(ref.height(), mine.height(), what);
        assertEquals(ref.bands(), mine.channels(), what);
        int[] expect = ref.samples();
        int[] got = mine.samples();
        for (int i = 0; i < expect.length; i++) {
            if (expect[i] != got[i]) {
                int px = i / mine.channels();
                throw new AssertionError(what + ": sample " + i + " (x=" + px % mine.width() + ", y=" + px / mine.width()
                                         + ") is " + got[i] + ", ImageIO says " + expect[i]);
            }
        }
        if (mine.colorType() == Png.PALETTE) {
            int[] rgb = ref.paletteRgb();
            assertNotNull(rgb, what + ": ImageIO sees no palette");
            byte[] pal = mine.palette();
            for (int e = 0; e < pal.length / 3; e++) {
                for (int c = 0; c < 3; c++) assertEquals(rgb[3 * e + c], pal[3 * e + c] & 0xFF, what + " palette " + e);
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
        assertArrayEquals(ImageIOReference.decode(Files.readAllBytes(lbl)).samples(), ids.ids());
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
        for (int bits : new int[] {1, 2, 4, 8}) {
            byte[] png = ImageIOReference.randomPalette(bits, 37, 19, 7 + bits);
            assertEquals(bits, Png.decode(png).bitDepth(), "ImageIO wrote " + bits + "-bit");
            assertSameAsImageIO(png, bits + "-bit palette");
        }
        for (String kind : ImageIOReference.KINDS) {
            assertSameAsImageIO(ImageIOReference.randomImage(kind, 45, 23, 11), "ImageIO " + kind);
        }
    }

    @Test
    void unsupportedAndBrokenFilesNameTheFile(@TempDir Path tmp) throws Exception {
        Path inter = tmp.resolve("interlaced.png");
        Files.write(inter, ImageIOReference.interlacedGray(20, 10));
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
