package dev.hrda.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SyntheticTest {
    static final int W = 512, H = 256;

    @Test
    void scenesAreAPureFunctionOfTheSeed() {
        for (SyntheticScenes.Domain d : SyntheticScenes.Domain.values()) {
            SyntheticScenes.Scene a = SyntheticScenes.draw(d, W, H, 9), b = SyntheticScenes.draw(d, W, H, 9);
            assertArrayEquals(a.bgr(), b.bgr());
            assertArrayEquals(a.labelIds(), b.labelIds());
            assertFalse(Arrays.equals(a.bgr(), SyntheticScenes.draw(d, W, H, 10).bgr()));
        }
    }

    /** Train-id pixel counts summed over n scenes. */
    static long[] classCounts(SyntheticScenes.Domain d, int n) {
        long[] c = new long[256];
        for (int s = 0; s < n; s++) {
            byte[] t = LabelMaps.CITYSCAPES.apply(toInts(SyntheticScenes.draw(d, W, H, s).labelIds())).trainIds();
            for (byte b : t) c[b & 0xFF]++;
        }
        return c;
    }

    static int[] toInts(byte[] b) {
        int[] a = new int[b.length];
        for (int i = 0; i < b.length; i++) a[i] = b[i] & 0xFF;
        return a;
    }

    @Test
    void scenesMixLargeStuffWithThinAndSmallObjects() {
        for (SyntheticScenes.Domain d : SyntheticScenes.Domain.values()) {
            long[] c = classCounts(d, 12);
            long total = 12L * W * H;
            for (int k : new int[] {LabelMaps.ROAD, LabelMaps.SKY, LabelMaps.BUILDING, LabelMaps.VEGETATION, LabelMaps.SIDEWALK}) {
                assertTrue(c[k] > 0.02 * total, d + " large class " + LabelMaps.CLASSES.get(k) + ": " + c[k]);
            }
            for (int k : new int[] {LabelMaps.POLE, LabelMaps.LIGHT, LabelMaps.SIGN, LabelMaps.PERSON, LabelMaps.CAR}) {
                assertTrue(c[k] > 0, d + " has " + LabelMaps.CLASSES.get(k));
                assertTrue(c[k] < 0.15 * total, d + " small class " + LabelMaps.CLASSES.get(k) + ": " + c[k]);
            }
            // poles are thin: on average a few pixels wide
            assertTrue(c[LabelMaps.POLE] < 0.01 * total, "pole share " + c[LabelMaps.POLE] / (double) total);
            int present = 0;
            for (int k = 0; k < 19; k++) if (c[k] > 0) present++;
            assertTrue(present >= 15, d + ": " + present + " classes");
        }
        // riders appear in the real-like domain
        assertTrue(classCounts(SyntheticScenes.Domain.TARGET, 12)[LabelMaps.RIDER] > 0);
    }

    static double saturation(byte[] bgr) {
        double s = 0;
        for (int i = 0; i < bgr.length; i += 3) {
            int b = bgr[i] & 0xFF, g = bgr[i + 1] & 0xFF, r = bgr[i + 2] & 0xFF;
            s += Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b));
        }
        return s / (bgr.length / 3.0);
    }

    /** Mean absolute difference of horizontally adjacent sky pixels: noise / texture. */
    static double skyRoughness(SyntheticScenes.Scene s) {
        double d = 0;
        int n = 0;
        for (int y = 0; y < H; y++) {
            for (int x = 0; x + 1 < W; x++) {
                int i = y * W + x;
                if (s.labelIds()[i] == SyntheticScenes.SKY && s.labelIds()[i + 1] == SyntheticScenes.SKY) {
                    d += Math.abs((s.bgr()[i * 3 + 1] & 0xFF) - (s.bgr()[(i + 1) * 3 + 1] & 0xFF));
                    n++;
                }
            }
        }
        return d / Math.max(n, 1);
    }

    @Test
    void domainsDifferLikeGameAndRealImages() {
        double satS = 0, satT = 0, roughS = 0, roughT = 0;
        for (int s = 0; s < 6; s++) {
            SyntheticScenes.Scene a = SyntheticScenes.draw(SyntheticScenes.Domain.SOURCE, W, H, s);
            SyntheticScenes.Scene b = SyntheticScenes.draw(SyntheticScenes.Domain.TARGET, W, H, s);
            satS += saturation(a.bgr());
            satT += saturation(b.bgr());
            roughS += skyRoughness(a);
            roughT += skyRoughness(b);
        }
        assertTrue(satS > 1.5 * satT, "game palette is more saturated: " + satS + " vs " + satT);
        assertTrue(roughT > 2 * roughS + 0.5, "real-like images carry sensor noise: " + roughT + " vs " + roughS);
        long egoS = 0, egoT = 0;
        for (byte v : SyntheticScenes.draw(SyntheticScenes.Domain.SOURCE, W, H, 1).labelIds()) if (v == SyntheticScenes.EGO) egoS++;
        for (byte v : SyntheticScenes.draw(SyntheticScenes.Domain.TARGET, W, H, 1).labelIds()) if (v == SyntheticScenes.EGO) egoT++;
        assertEquals(0, egoS);
        assertTrue(egoT > 0, "the real-like domain shows the ego vehicle (void)");
    }

    @Test
    void writesBothDomainsInTheOriginalLayoutsReadyForTraining(@TempDir Path tmp) throws Exception {
        long t0 = System.nanoTime();
        SyntheticData.Summary s = SyntheticData.write(tmp, 0, 256, 128, 16, 2, true, false);
        double secs = (System.nanoTime() - t0) / 1e9;
        assertTrue(secs < 20, "synth took " + secs + " s");
        assertTrue(s.gtaReport().ok() && s.cityscapesReport().ok());
        assertEquals(16, Dataset.open(DatasetKind.GTA, s.gtaRoot(), "all", true).size());
        assertEquals(8, Dataset.open(DatasetKind.CITYSCAPES, s.cityscapesRoot(), "train", true).size());
        assertEquals(4, Dataset.open(DatasetKind.CITYSCAPES, s.cityscapesRoot(), "val", true).size());
        assertTrue(RareClassStats.exists(s.gtaRoot()));
        assertTrue(RareClassStats.exists(s.cityscapesRoot()));
        assertEquals(8, RareClassStats.read(s.cityscapesRoot()).files().size(), "Cityscapes statistics count the train split");
        assertTrue(DataCheck.check(DatasetKind.GTA, s.gtaRoot(), null, 2, false).ok());
        assertTrue(DataCheck.check(DatasetKind.CITYSCAPES, s.cityscapesRoot(), null, 2, false).ok());
        assertTrue(Files.readString(tmp.resolve("synth.json")).contains("\"seed\": 0"));
        // same seed, same bytes
        Path again = tmp.resolve("again");
        SyntheticData.write(again, 0, 256, 128, 16, 1, false, false);
        assertEquals(TestFiles.sha256(s.gtaRoot().resolve("images/00007.png")), TestFiles.sha256(again.resolve("gta/images/00007.png")));
        assertEquals(TestFiles.sha256(s.gtaRoot().resolve("labels/00007.png")), TestFiles.sha256(again.resolve("gta/labels/00007.png")));
    }
}
