package dev.hrda.data;

import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC3;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_NEAREST;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipelineTest {
    @Test
    void resizeKeepsRatioLikeMmcv() {
        assertArrayEquals(new int[] {2560, 1407}, PipelineConfig.hrdaGta().resizedSize(1914, 1052));
        assertArrayEquals(new int[] {1280, 704}, PipelineConfig.daformerGta().resizedSize(1914, 1052));
        assertArrayEquals(new int[] {2048, 1024}, PipelineConfig.hrdaCityscapesTarget().resizedSize(2048, 1024));
        assertArrayEquals(new int[] {1024, 512}, PipelineConfig.daformerCityscapesTarget().resizedSize(2048, 1024));
        assertArrayEquals(new int[] {2560, 1520}, PipelineConfig.hrdaSynthia().resizedSize(1280, 760));
    }

    @Test
    void nearestResizeMatchesOpenCv() {
        SplittableRandom r = new SplittableRandom(3);
        int[][] sizes = {{97, 61, 130, 71}, {200, 100, 133, 67}, {64, 32, 256, 128}, {191, 105, 256, 141}};
        for (int[] s : sizes) {
            byte[] src = new byte[s[0] * s[1]];
            for (int i = 0; i < src.length; i++) src[i] = (byte) r.nextInt(256);
            byte[] mine = Pipeline.resizeNearest(src, s[0], s[1], s[2], s[3]);
            try (Mat m = Images.labelMat(src, s[0], s[1]); Mat o = new Mat()) {
                resize(m, o, new Size(s[2], s[3]), 0, 0, INTER_NEAREST);
                assertArrayEquals(Images.toBytes(o), mine, Arrays.toString(s));
            }
        }
    }

    @Test
    void cropOfTheResizedImageMatchesResizingEverything() {
        int sw = 191, sh = 105, dw = 256, dh = 141; // GTA 1914x1052 -> 2560x1407, scaled down 10x
        SplittableRandom r = new SplittableRandom(5);
        byte[] bgr = new byte[sw * sh * 3];
        for (int i = 0; i < bgr.length; i++) bgr[i] = (byte) (((i / 3) % sw) + r.nextInt(30));
        for (int[] size : new int[][] {{dw, dh}, {100, 55}}) { // up- and downscaling
            try (Mat src = Images.bgrMat(bgr, sw, sh); Mat full = new Mat()) {
                resize(src, full, new Size(size[0], size[1]), 0, 0, org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR);
                byte[] all = Images.toBytes(full);
                Mat keep = src.clone();
                try (Pipeline.Prepared p = new Pipeline.Prepared(Path.of("x.png"), keep, size[0], size[1], null, 0, 0)) {
                    int[][] boxes = {{0, 0, 40, 40}, {7, 13, 33, 50}, {size[1] - 30, size[0] - 45, 30, 45}};
                    for (int[] b : boxes) {
                        // warpAffine quantises positions to 1/32 pixel; this image is noise (30 levels between neighbours)
                        assertCropOf(all, size[0], Pipeline.cropResized(p, b[0], b[1], b[2], b[3]), b, 4, 0.5,
                                     "box " + Arrays.toString(b) + " at " + Arrays.toString(size));
                    }
                    assertArrayEquals(all, Pipeline.cropResized(p, 0, 0, size[1], size[0]), "whole image: exact resize");
                }
            }
        }
    }

    /** {@code crop} (BGR, box {y, x, h, w}) against the same box of {@code all} (BGR, {@code width} wide): max and mean level differences. */
    private static void assertCropOf(byte[] all, int width, byte[] crop, int[] b, int maxAllowed, double meanAllowed, String at) {
        int maxDiff = 0;
        double sum = 0;
        for (int y = 0; y < b[2]; y++) {
            for (int x = 0; x < b[3] * 3; x++) {
                int d = Math.abs((crop[y * b[3] * 3 + x] & 0xFF) - (all[((b[0] + y) * width + b[1]) * 3 + x] & 0xFF));
                maxDiff = Math.max(maxDiff, d);
                sum += d;
            }
        }
        assertTrue(maxDiff <= maxAllowed, at + ": max diff " + maxDiff);
        assertTrue(sum / crop.length < meanAllowed, at + ": mean diff " + sum / crop.length);
    }

    /** Bytes of {@code src} resized whole by cv::resize with {@code interp}. */
    private static byte[] cvResize(Mat src, int w, int h, int interp) {
        try (Mat out = new Mat(); Size sz = new Size(w, h)) {
            resize(src, out, sz, 0, 0, interp);
            return Images.toBytes(out);
        }
    }

    @Test
    void bicubicResizeIsOpenCvsInterCubicAndDiffersFromBilinear(@TempDir Path tmp) throws Exception {
        int sw = 191, sh = 105;
        SplittableRandom r = new SplittableRandom(11);
        byte[] bgr = new byte[sw * sh * 3];
        for (int i = 0; i < bgr.length; i++) bgr[i] = (byte) r.nextInt(256); // noise: the kernels differ most
        byte[] smooth = new byte[sw * sh * 3];
        for (int i = 0; i < smooth.length; i++) smooth[i] = (byte) (((i / 3) % sw) + r.nextInt(30));
        for (int[] size : new int[][] {{256, 141}, {128, 72}}) { // up- and downscaling (RIPU: 1914x1052 -> 1280x720)
            try (Mat src = Images.bgrMat(bgr, sw, sh); Mat keep = src.clone();
                 Pipeline.Prepared p = new Pipeline.Prepared(Path.of("x.png"), keep, size[0], size[1], null, 0, 0)) {
                byte[] cubic = cvResize(src, size[0], size[1], INTER_CUBIC), linear = cvResize(src, size[0], size[1], INTER_LINEAR);
                byte[] poison = new byte[cubic.length];
                Arrays.fill(poison, (byte) 0x5A);
                byte[] mine = Pipeline.cropResized(p, 0, 0, size[1], size[0], PipelineConfig.Interpolation.BICUBIC);
                assertFalse(Arrays.equals(poison, mine));
                assertArrayEquals(cubic, mine, "whole image: cv::resize INTER_CUBIC itself at " + Arrays.toString(size));
                assertArrayEquals(linear, Pipeline.cropResized(p, 0, 0, size[1], size[0], PipelineConfig.Interpolation.BILINEAR));
                int differ = 0;
                for (int i = 0; i < cubic.length; i++) if (cubic[i] != linear[i]) differ++;
                assertTrue(differ > cubic.length / 2, "bicubic and bilinear differ on noise: " + differ + " of " + cubic.length);

                // finish(): the configured interpolation, normalised (R channel of pixel (y, x) from BGR byte 2)
                Pipeline pipe = new Pipeline(PipelineConfig.test(size[0], size[1]).withLabel(false)
                                                             .withInterpolation(PipelineConfig.Interpolation.BICUBIC));
                Sample smp = pipe.finish(p, new int[] {0, 0, size[1], size[0]}, false);
                int y = size[1] / 2, x = size[0] / 3;
                float expectR = ((cubic[(y * size[0] + x) * 3 + 2] & 0xFF) - PipelineConfig.MEAN[0]) / PipelineConfig.STD[0];
                assertEquals(expectR, smp.image()[y * size[0] + x], 1e-5f);
            }
            // a crop alone (warpAffine INTER_CUBIC) agrees with the crop of the whole resize to within rounding
            try (Mat src = Images.bgrMat(smooth, sw, sh); Mat keep = src.clone();
                 Pipeline.Prepared p = new Pipeline.Prepared(Path.of("x.png"), keep, size[0], size[1], null, 0, 0)) {
                byte[] all = cvResize(src, size[0], size[1], INTER_CUBIC);
                for (int[] b : new int[][] {{0, 0, 40, 40}, {7, 13, 33, 50}, {size[1] - 30, size[0] - 45, 30, 45}}) {
                    assertCropOf(all, size[0], Pipeline.cropResized(p, b[0], b[1], b[2], b[3], PipelineConfig.Interpolation.BICUBIC), b, 6,
                                 0.75, "bicubic box " + Arrays.toString(b) + " at " + Arrays.toString(size));
                }
            }
        }
        // labels stay nearest whatever the image's interpolation
        Path img = tmp.resolve("i.png"), lbl = tmp.resolve("l.png");
        byte[] ids = new byte[sw * sh];
        for (int i = 0; i < ids.length; i++) ids[i] = (byte) r.nextInt(19);
        TestFiles.writeColor(img, bgr, sw, sh);
        TestFiles.writeGray(lbl, ids, sw, sh);
        PipelineConfig base = PipelineConfig.source(1280, 720, 64).withKeepRatio(false).withScale(256, 141);
        try (Pipeline.Prepared a = new Pipeline(base).prepare(img, lbl);
             Pipeline.Prepared b = new Pipeline(base.withInterpolation(PipelineConfig.Interpolation.BICUBIC)).prepare(img, lbl)) {
            assertArrayEquals(Pipeline.resizeNearest(ids, sw, sh, 256, 141), b.label());
            assertArrayEquals(a.label(), b.label());
        }
    }

    @Test
    void blockHistogramsEqualDirectCounts() {
        int w = 333, h = 170;
        SplittableRandom r = new SplittableRandom(8);
        byte[] label = new byte[w * h];
        for (int i = 0; i < label.length; i++) {
            int v = r.nextInt(22);
            label[i] = (byte) (v >= 19 ? 255 : v);
        }
        try (Pipeline.Prepared p = coordImage(w, h, label)) {
            for (int k = 0; k < 200; k++) {
                int bh = 1 + r.nextInt(h), bw = 1 + r.nextInt(w);
                int[] box = {r.nextInt(h - bh + 1), r.nextInt(w - bw + 1), bh, bw};
                long[] direct = new long[256];
                Pipeline.directHistogram(p, box[0], box[1], box[0] + bh, box[1] + bw, direct);
                assertArrayEquals(direct, Pipeline.histogram(p, box), Arrays.toString(box));
                assertEquals(direct[LabelMaps.CAR], Pipeline.countInBox(p, box, LabelMaps.CAR));
            }
            assertTrue(p.blockCounts() != null, "block counts in use after repeated queries");
        }
    }

    /** A prepared image whose pixels encode their coordinates: B = x, G = y, R = 7; label = region id. */
    static Pipeline.Prepared coordImage(int w, int h, byte[] label) {
        byte[] bgr = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                bgr[(y * w + x) * 3] = (byte) x;
                bgr[(y * w + x) * 3 + 1] = (byte) y;
                bgr[(y * w + x) * 3 + 2] = 7;
            }
        }
        Mat m = Images.bgrMat(bgr, w, h);
        return new Pipeline.Prepared(Path.of("coords.png"), m, label, w, h);
    }

    static int pixel(Sample s, int c, int y, int x, PipelineConfig cfg) {
        float v = s.image()[(c * s.height() + y) * s.width() + x];
        return Math.round(v * cfg.std()[c] + cfg.mean()[c]);
    }

    @Test
    void flipMovesImageLabelAndValidityMaskTogether() {
        int w = 200, h = 100;
        byte[] label = new byte[w * h];
        for (int i = 0; i < label.length; i++) label[i] = (byte) ((i % w) / 11); // ids 0..18 by column band
        PipelineConfig cfg = PipelineConfig.target(0, 0, 64).withLabel(true).withCatMaxRatio(1.0)
                                           .withValidMargins(new int[] {5, 20, 3, 40}, w, h);
        Pipeline p = new Pipeline(cfg);
        int flips = 0;
        try (Pipeline.Prepared pr = coordImage(w, h, label)) {
            for (int seed = 0; seed < 40; seed++) {
                Sample s = p.finish(pr, p.sampleCrop(pr, new SplittableRandom(seed)), new SplittableRandom(seed));
                if (s.flipped()) flips++;
                for (int y = 0; y < 64; y++) {
                    for (int x = 0; x < 64; x++) {
                        int sx = s.cropX() + (s.flipped() ? 63 - x : x), sy = s.cropY() + y;
                        assertEquals(sx, pixel(s, 2, y, x, cfg), "B channel (source x) at " + x);   // RGB order: B is channel 2
                        assertEquals(sy, pixel(s, 1, y, x, cfg));
                        assertEquals(7, pixel(s, 0, y, x, cfg));
                        assertEquals(sx / 11, s.labelAt(y, x));
                        boolean valid = sy >= 5 && sy < h - 20 && sx >= 3 && sx < w - 40;
                        assertEquals(valid ? 1 : 0, s.valid()[y * 64 + x], "mask at " + sx + "," + sy);
                    }
                }
            }
        }
        assertTrue(flips > 10 && flips < 30, "flip probability 0.5: " + flips + "/40");
    }

    static boolean catOk(Sample s, double ratio) {
        long[] hist = new long[256];
        for (byte b : s.label()) hist[b & 0xFF]++;
        long max = 0, sum = 0;
        int n = 0;
        for (int v = 0; v < 255; v++) {
            if (hist[v] > 0) {
                n++;
                sum += hist[v];
                max = Math.max(max, hist[v]);
            }
        }
        return n > 1 && (double) max / sum < ratio;
    }

    @Test
    void cropsRespectCatMaxRatio() {
        // left half road, right half thin stripes of cars and persons: many 40x40 crops are mostly road
        int w = 200, h = 60;
        byte[] label = new byte[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                label[y * w + x] = (byte) (x < 100 ? LabelMaps.ROAD : (x / 5) % 2 == 0 ? LabelMaps.CAR : LabelMaps.PERSON);
            }
        }
        PipelineConfig on = PipelineConfig.source(0, 0, 40).withFlipProb(0);
        PipelineConfig off = on.withCatMaxRatio(1.0);
        int okOn = 0, okOff = 0, n = 300;
        try (Pipeline.Prepared pr = coordImage(w, h, label)) {
            for (int seed = 0; seed < n; seed++) {
                Pipeline a = new Pipeline(on), b = new Pipeline(off);
                if (catOk(a.finish(pr, a.sampleCrop(pr, new SplittableRandom(seed)), false), 0.75)) okOn++;
                if (catOk(b.finish(pr, b.sampleCrop(pr, new SplittableRandom(seed)), false), 0.75)) okOff++;
            }
        }
        // one draw satisfies the ratio (road < 30 of 40 columns: x offset > 70 of 0..160) with p = 0.56;
        // all 11 draws failing has p = 1e-4
        assertTrue(okOff > 0.4 * n && okOff < 0.7 * n, "without cat_max_ratio: " + okOff);
        assertEquals(n, okOn, "with cat_max_ratio 0.75");
    }

    @Test
    void normalisesToRgbWithTheSpecMeanAndStdAndPads() {
        byte[] bgr = TestFiles.solidBgr(30, 20, 10, 100, 200);
        Mat m = Images.bgrMat(bgr, 30, 20);
        byte[] label = new byte[30 * 20];
        Arrays.fill(label, (byte) LabelMaps.SKY);
        PipelineConfig cfg = PipelineConfig.target(0, 0, 32).withLabel(true);
        Pipeline p = new Pipeline(cfg);
        try (Pipeline.Prepared pr = new Pipeline.Prepared(Path.of("x.png"), m, label, 30, 20)) {
            Sample s = p.finish(pr, p.sampleCrop(pr, new SplittableRandom(0)), false);
            assertEquals(32, s.height());
            assertEquals(32, s.width());
            float[] img = s.image();
            int plane = 32 * 32;
            assertEquals((200 - 123.675f) / 58.395f, img[0], 1e-5);             // R
            assertEquals((100 - 116.28f) / 57.12f, img[plane], 1e-5);           // G
            assertEquals((10 - 103.53f) / 57.375f, img[2 * plane], 1e-5);      // B
            // padding: bottom rows and right columns
            assertEquals(0f, img[31 * 32 + 5]);
            assertEquals(0f, img[5 * 32 + 31]);
            assertEquals(LabelMaps.SKY, s.labelAt(19, 29));
            assertEquals(255, s.labelAt(20, 0));
            assertEquals(255, s.labelAt(0, 30));
            assertEquals(0, s.valid()[31 * 32 + 31]);
        }
    }

    @Test
    void validityMaskHasTheHrdaMarginsAt2048x1024() {
        Mat m = new Mat(1024, 2048, CV_8UC3);
        PipelineConfig cfg = PipelineConfig.target(2048, 1024, 0).withCrop(0, 0);
        Pipeline p = new Pipeline(cfg);
        try (Pipeline.Prepared pr = new Pipeline.Prepared(Path.of("cs.png"), m, null, 2048, 1024)) {
            Sample s = p.finish(pr, new int[] {0, 0, 1024, 2048}, false);
            byte[] v = s.valid();
            long ones = 0;
            for (byte b : v) ones += b;
            assertEquals((1024 - 30 - 240) * (2048 - 30 - 30), ones);
            assertEquals(0, v[29 * 2048 + 1000]);
            assertEquals(1, v[30 * 2048 + 1000]);
            assertEquals(1, v[(1024 - 241) * 2048 + 1000]);
            assertEquals(0, v[(1024 - 240) * 2048 + 1000]);
            assertEquals(0, v[500 * 2048 + 29]);
            assertEquals(1, v[500 * 2048 + 30]);
            assertEquals(1, v[500 * 2048 + 2017]);
            assertEquals(0, v[500 * 2048 + 2018]);
        }
        // at 1024x512 the margins scale with the image (what resizing the 2048x1024 mask gives)
        Mat small = new Mat(512, 1024, CV_8UC3);
        try (Pipeline.Prepared pr = new Pipeline.Prepared(Path.of("cs.png"), small, null, 1024, 512)) {
            assertArrayEquals(new int[] {15, 120, 15, 15}, p.scaledMargins(pr));
        }
    }

    @Test
    void loadsFilesEndToEndAndReportsBadInputByFile(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("cs");
        Path img = root.resolve("leftImg8bit/train/c/c_000000_000001_leftImg8bit.png");
        Path lbl = root.resolve("gtFine/train/c/c_000000_000001_gtFine_labelTrainIds.png");
        TestFiles.writeColor(img, TestFiles.solidBgr(64, 32, 1, 2, 3), 64, 32);
        byte[] l = new byte[64 * 32];
        for (int i = 0; i < l.length; i++) l[i] = (byte) (i % 64 < 32 ? 0 : 13);
        TestFiles.writeGray(lbl, l, 64, 32);
        Dataset ds = Dataset.open(DatasetKind.CITYSCAPES, root, "train", true);
        Pipeline p = new Pipeline(PipelineConfig.source(128, 64, 32));
        Sample s = p.load(ds.get(0), new SplittableRandom(1));
        assertEquals(32, s.height());
        assertTrue(s.count(0) > 0 || s.count(13) > 0);

        // size mismatch
        TestFiles.writeGray(lbl, new byte[60 * 32], 60, 32);
        DataException e1 = assertThrows(DataException.class, () -> p.load(ds.get(0), new SplittableRandom(1)));
        assertEquals(lbl, e1.path());
        assertTrue(e1.getMessage().contains("60x32") && e1.getMessage().contains("64x32"), e1.getMessage());

        // truncated image
        TestFiles.writeGray(lbl, l, 64, 32);
        TestFiles.truncate(img, (int) Files.size(img) - 20);
        DataException e2 = assertThrows(DataException.class, () -> p.load(ds.get(0), new SplittableRandom(1)));
        assertEquals(img, e2.path());
        assertTrue(e2.getMessage().contains("truncated"), e2.getMessage());

        // corrupt (not an image at all)
        Files.write(img, new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
                                     27, 28, 29, 30, 31, 32, 33, 34, 'I', 'E', 'N', 'D', 0, 0, 0, 0});
        DataException e3 = assertThrows(DataException.class, () -> p.load(ds.get(0), new SplittableRandom(1)));
        assertEquals(img, e3.path());

        // image without label
        Files.delete(lbl);
        DataException e4 = assertThrows(DataException.class, () -> Dataset.open(DatasetKind.CITYSCAPES, root, "train", true));
        assertEquals(img, e4.path());
        assertTrue(e4.getMessage().contains("image without label"), e4.getMessage());
        assertTrue(e4.getMessage().contains(lbl.toString()), e4.getMessage());
        // a raw label only: the error says to convert
        TestFiles.writeGray(root.resolve("gtFine/train/c/c_000000_000001_gtFine_labelIds.png"), l, 64, 32);
        DataException e5 = assertThrows(DataException.class, () -> Dataset.open(DatasetKind.CITYSCAPES, root, "train", true));
        assertTrue(e5.getMessage().contains("hrda convert cityscapes"), e5.getMessage());
        // unlabelled target use is fine
        assertEquals(1, Dataset.open(DatasetKind.CITYSCAPES, root, "train", false).size());
        assertFalse(Files.exists(lbl));
    }
}
