package dev.hrda.data;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Scalar;
import org.bytedeco.opencv.opencv_core.Size;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.bytedeco.opencv.global.opencv_core.BORDER_REPLICATE;
import static org.bytedeco.opencv.global.opencv_core.CV_64F;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_CUBIC;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.WARP_INVERSE_MAP;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;
import static org.bytedeco.opencv.global.opencv_imgproc.warpAffine;

/**
 * Runs a {@link PipelineConfig} on one image (and label): load, Resize (keep ratio, bilinear
 * or bicubic image, nearest label), RandomCrop (cat_max_ratio), RandomFlip, Normalize (BGR to RGB, mean/std,
 * CHW), Pad (image 0, label 255, mask 0). The validity mask is defined on the resized image and
 * goes through the same crop and flip.
 *
 * Split in {@link #prepare} (decode and resize, once per image) and {@link #finish} (crop, flip,
 * normalise) so that rare class sampling can draw new crops of one image without decoding it
 * again. Native memory of an image lives in its {@link Prepared} and is freed by close().
 */
public final class Pipeline {
    private final PipelineConfig cfg;

    public Pipeline(PipelineConfig cfg) {
        this.cfg = cfg;
    }

    public PipelineConfig config() { return cfg; }

    /**
     * A decoded image with its label. The image stays at its decoded size: only the crop that
     * {@link #finish} takes is resampled (bilinear or bicubic, as if the whole image had been resized to
     * {@code width x height} first), which saves most of the resize work for HRDA's 2560x1407
     * source frames. The label (small, and needed whole for cat_max_ratio and rare class
     * sampling) is resized at once. Close it to free the native image.
     */
    public static final class Prepared implements AutoCloseable {
        final Path file;
        Mat image;              // decoded BGR (original size)
        final int width, height; // size after Resize
        final byte[] label;     // resized (training) or original (test) train ids, or null
        final int labelWidth, labelHeight;
        private int histograms;
        private BlockCounts blockCounts;

        /** An image already at its pipeline size. */
        Prepared(Path file, Mat image, byte[] label, int labelWidth, int labelHeight) {
            this(file, image, image.cols(), image.rows(), label, labelWidth, labelHeight);
        }

        Prepared(Path file, Mat image, int width, int height, byte[] label, int labelWidth, int labelHeight) {
            this.file = file;
            this.image = image;
            this.width = width;
            this.height = height;
            this.label = label;
            this.labelWidth = labelWidth;
            this.labelHeight = labelHeight;
        }

        /** Block counts, built once more than two crop histograms of this label were asked for. */
        BlockCounts blockCounts() {
            if (blockCounts == null && ++histograms > 2 && labelWidth >= 4 * BlockCounts.B && labelHeight >= 4 * BlockCounts.B) {
                blockCounts = new BlockCounts(this);
            }
            return blockCounts;
        }

        public int width() { return width; }
        public int height() { return height; }
        /** Size of the decoded image, before Resize (where test-time predictions are compared). */
        public int originalWidth() { return image.cols(); }
        public int originalHeight() { return image.rows(); }
        /** The decoded BGR image at its original size; owned by this Prepared, valid until close(). */
        public Mat image() { return image; }
        public byte[] label() { return label; }
        public Path file() { return file; }

        @Override
        public void close() {
            if (image != null) {
                image.close();
                image = null;
            }
        }
    }

    /** Loads an item: decode, check, resize. */
    public Prepared prepare(Dataset.Item item) {
        return prepare(item.image(), cfg.withLabel() ? item.label() : null);
    }

    public Prepared prepare(Path imageFile, Path labelFile) {
        return prepare(imageFile, labelFile, null);
    }

    /**
     * {@link #prepare(Path, Path)} with {@code labelEdit} applied to the label at the image's
     * original size, before any resize (RIPU's active labels: the ground truth where a region was
     * selected, 255 elsewhere), so the pipeline's geometry treats the edited label as the label.
     */
    @SuppressWarnings("try") // the scope frees the native temporaries of decoding
    public Prepared prepare(Path imageFile, Path labelFile, LabelEdit labelEdit) {
        if (cfg.withLabel() && labelFile == null) throw new DataException(imageFile, "image without label");
        try (PointerScope scope = new PointerScope()) {
            Mat img = Images.readColor(imageFile);
            int w = img.cols(), h = img.rows();
            byte[] label = null;
            if (labelFile != null) {
                Mat lm = Images.readLabel(labelFile);
                if (lm.cols() != w || lm.rows() != h) {
                    throw new DataException(labelFile, "label is " + lm.cols() + "x" + lm.rows() + " but its image "
                                                       + imageFile.getFileName() + " is " + w + "x" + h);
                }
                label = Images.toBytes(lm);
                if (cfg.invalidLabels() == PipelineConfig.InvalidLabels.REFUSE) LabelCheck.require(labelFile, label);
                else LabelCheck.invalidToIgnore(label);
                if (labelEdit != null) labelEdit.apply(label, w, h);
            }
            int[] s = cfg.resizedSize(w, h);
            img.retainReference(); // survives the scope; released by Prepared.close()
            int lw = w, lh = h;
            if (label != null && cfg.cropH() > 0 && (s[0] != w || s[1] != h)) {
                label = resizeNearest(label, w, h, s[0], s[1]);
                lw = s[0];
                lh = s[1];
            }
            return new Prepared(imageFile, img, s[0], s[1], label, lw, lh);
        }
    }

    /**
     * OpenCV INTER_NEAREST (what mmcv uses for label maps): source index floor(x * src/dst),
     * with the scale computed as OpenCV does.
     */
    public static byte[] resizeNearest(byte[] src, int sw, int sh, int dw, int dh) {
        double ifx = 1.0 / ((double) dw / sw), ify = 1.0 / ((double) dh / sh);
        int[] xo = new int[dw];
        for (int x = 0; x < dw; x++) xo[x] = Math.min((int) Math.floor(x * ifx), sw - 1);
        byte[] out = new byte[dw * dh];
        for (int y = 0; y < dh; y++) {
            int sy = Math.min((int) Math.floor(y * ify), sh - 1);
            int so = sy * sw, o = y * dw;
            for (int x = 0; x < dw; x++) out[o + x] = src[so + xo[x]];
        }
        return out;
    }

    /**
     * Draws a crop box {y, x, h, w} as mmseg's RandomCrop: uniform offsets; with a label and
     * cat_max_ratio < 1, up to 10 redraws until no class (ignore excluded) covers
     * cat_max_ratio or more of the crop and there are at least two classes.
     */
    public int[] sampleCrop(Prepared p, SplittableRandom rng) {
        if (cfg.cropH() <= 0) return new int[] {0, 0, p.height, p.width};
        int[] box = drawBox(p, rng);
        if (cfg.catMaxRatio() < 1.0 && p.label != null) {
            for (int k = 0; k < 10; k++) {
                if (catRatioOk(p, box)) break;
                box = drawBox(p, rng);
            }
        }
        return box;
    }

    private int[] drawBox(Prepared p, SplittableRandom rng) {
        int ch = Math.min(cfg.cropH(), p.height), cw = Math.min(cfg.cropW(), p.width);
        int oy = rng.nextInt(Math.max(p.height - cfg.cropH(), 0) + 1);
        int ox = rng.nextInt(Math.max(p.width - cfg.cropW(), 0) + 1);
        return new int[] {oy, ox, ch, cw};
    }

    /** Histogram of label values inside a box {y, x, h, w}. */
    public static long[] histogram(Prepared p, int[] box) {
        long[] hist = new long[256];
        BlockCounts bc = p.blockCounts();
        if (bc == null) {
            directHistogram(p, box[0], box[1], box[0] + box[2], box[1] + box[3], hist);
        } else {
            bc.histogram(p, box, hist);
        }
        return hist;
    }

    static void directHistogram(Prepared p, int y0, int x0, int y1, int x1, long[] hist) {
        byte[] l = p.label;
        for (int y = y0; y < y1; y++) {
            int o = y * p.labelWidth;
            for (int x = x0; x < x1; x++) hist[l[o + x] & 0xFF]++;
        }
    }

    /**
     * Label counts per 16x16 block with 2-D prefix sums, so that the histogram of a large crop
     * costs its border strips instead of all its pixels: cat_max_ratio and rare class sampling
     * may look at up to 10 x 11 crops of one image. Values 0..18 are counted by class, anything
     * else (255) together.
     */
    static final class BlockCounts {
        static final int B = 16, K = LabelMaps.NUM_CLASSES + 1;
        final int gw, gh;
        final int[] integral; // [(gh+1) x (gw+1) x K]

        BlockCounts(Prepared p) {
            gw = p.labelWidth / B;
            gh = p.labelHeight / B;
            integral = new int[(gh + 1) * (gw + 1) * K];
            int[] block = new int[K];
            byte[] l = p.label;
            for (int by = 0; by < gh; by++) {
                for (int bx = 0; bx < gw; bx++) {
                    java.util.Arrays.fill(block, 0);
                    for (int y = by * B; y < by * B + B; y++) {
                        int o = y * p.labelWidth + bx * B;
                        for (int x = 0; x < B; x++) {
                            int v = l[o + x] & 0xFF;
                            block[v < LabelMaps.NUM_CLASSES ? v : K - 1]++;
                        }
                    }
                    int i = idx(by + 1, bx + 1), up = idx(by, bx + 1), left = idx(by + 1, bx), diag = idx(by, bx);
                    for (int k = 0; k < K; k++) {
                        integral[i + k] = block[k] + integral[up + k] + integral[left + k] - integral[diag + k];
                    }
                }
            }
        }

        int idx(int gy, int gx) { return (gy * (gw + 1) + gx) * K; }

        void histogram(Prepared p, int[] box, long[] hist) {
            int y0 = box[0], x0 = box[1], y1 = y0 + box[2], x1 = x0 + box[3];
            int by0 = (y0 + B - 1) / B, bx0 = (x0 + B - 1) / B, by1 = Math.min(y1 / B, gh), bx1 = Math.min(x1 / B, gw);
            if (by1 <= by0 || bx1 <= bx0) {
                directHistogram(p, y0, x0, y1, x1, hist);
                return;
            }
            int a = idx(by1, bx1), b = idx(by0, bx1), c = idx(by1, bx0), d = idx(by0, bx0);
            for (int k = 0; k < K; k++) {
                long n = (long) integral[a + k] - integral[b + k] - integral[c + k] + integral[d + k];
                hist[k < LabelMaps.NUM_CLASSES ? k : LabelMaps.IGNORE] += n;
            }
            int iy0 = by0 * B, iy1 = by1 * B, ix0 = bx0 * B, ix1 = bx1 * B;
            directHistogram(p, y0, x0, iy0, x1, hist);     // top strip
            directHistogram(p, iy1, x0, y1, x1, hist);     // bottom strip
            directHistogram(p, iy0, x0, iy1, ix0, hist);   // left strip
            directHistogram(p, iy0, ix1, iy1, x1, hist);   // right strip
        }
    }

    boolean catRatioOk(Prepared p, int[] box) {
        long[] hist = histogram(p, box);
        long max = 0, sum = 0;
        int classes = 0;
        for (int v = 0; v < 255; v++) {
            if (hist[v] > 0) {
                classes++;
                sum += hist[v];
                max = Math.max(max, hist[v]);
            }
        }
        return classes > 1 && (double) max / sum < cfg.catMaxRatio();
    }

    /** Pixels of class c (0..18) inside the box. */
    public static long countInBox(Prepared p, int[] box, int c) {
        return histogram(p, box)[c];
    }

    static byte[] cropResized(Prepared p, int y0, int x0, int ch, int cw) {
        return cropResized(p, y0, x0, ch, cw, PipelineConfig.Interpolation.BILINEAR);
    }

    /**
     * Pixels [y0, y0+ch) x [x0, x0+cw) of the image resized (bilinear: INTER_LINEAR, bicubic:
     * INTER_CUBIC, OpenCV's a = -0.75 kernel, not PIL's a = -0.5 antialiased one) to p.width x
     * p.height, as BGR bytes. The whole image is cv::resize itself. A crop is computed alone:
     * warpAffine with the mapping cv::resize uses (src = (dst + 0.5) * src/dst - 0.5, borders
     * replicated, as cv::resize clamps its taps); values agree with resizing the whole image to
     * within rounding (warpAffine quantises positions to 1/32 pixel).
     */
    static byte[] cropResized(Prepared p, int y0, int x0, int ch, int cw, PipelineConfig.Interpolation interpolation) {
        int interp = interpolation == PipelineConfig.Interpolation.BICUBIC ? INTER_CUBIC : INTER_LINEAR;
        int sw = p.image.cols(), sh = p.image.rows();
        if (sw == p.width && sh == p.height) {
            try (Rect r = new Rect(x0, y0, cw, ch); Mat roi = new Mat(p.image, r)) {
                return Images.toBytes(roi);
            }
        }
        try (Mat out = new Mat()) {
            if (x0 == 0 && y0 == 0 && cw == p.width && ch == p.height) {
                try (Size sz = new Size(p.width, p.height)) {
                    resize(p.image, out, sz, 0, 0, interp);
                }
            } else {
                double sx = 1.0 / ((double) p.width / sw), sy = 1.0 / ((double) p.height / sh);
                try (Mat m = new Mat(2, 3, CV_64F); Size sz = new Size(cw, ch); Scalar zero = new Scalar(0.0)) {
                    double[] a = {sx, 0, (x0 + 0.5) * sx - 0.5, 0, sy, (y0 + 0.5) * sy - 0.5};
                    try (DoublePointer dp = new DoublePointer(m.data())) {
                        dp.capacity(6);
                        dp.put(a);
                    }
                    warpAffine(p.image, out, m, sz, interp | WARP_INVERSE_MAP, BORDER_REPLICATE, zero);
                }
            }
            return Images.toBytes(out);
        }
    }

    /** Validity of resized-image pixel (y, x) under the configured margins. */
    private boolean validAt(Prepared p, int y, int x, int[] m) {
        return y >= m[0] && y < p.height - m[1] && x >= m[2] && x < p.width - m[3];
    }

    /** Margins scaled from the reference size to the resized image (nearest-neighbour equivalent). */
    int[] scaledMargins(Prepared p) {
        int[] m = cfg.validMargins();
        double sy = (double) p.height / cfg.refH(), sx = (double) p.width / cfg.refW();
        return new int[] {(int) Math.round(m[0] * sy), (int) Math.round(m[1] * sy),
                          (int) Math.round(m[2] * sx), (int) Math.round(m[3] * sx)};
    }

    /** Crop, flip (drawn from rng), normalise to CHW float, pad. */
    public Sample finish(Prepared p, int[] box, SplittableRandom rng) {
        boolean flip = cfg.flipProb() > 0 && rng.nextDouble() < cfg.flipProb();
        return finish(p, box, flip);
    }

    public Sample finish(Prepared p, int[] box, boolean flip) {
        int y0 = box[0], x0 = box[1], ch = box[2], cw = box[3];
        int oh = cfg.cropH() > 0 ? Math.max(cfg.cropH(), ch) : ch;
        int ow = cfg.cropW() > 0 ? Math.max(cfg.cropW(), cw) : cw;
        // image: crop -> bytes (BGR HWC) -> flip + normalise + CHW + pad
        byte[] bgr = cropResized(p, y0, x0, ch, cw, cfg.interpolation());
        float[] img = new float[3 * oh * ow];
        float[] mean = cfg.mean(), std = cfg.std();
        float m0 = mean[0], m1 = mean[1], m2 = mean[2];
        float s0 = 1f / std[0], s1 = 1f / std[1], s2 = 1f / std[2];
        int plane = oh * ow;
        for (int y = 0; y < ch; y++) {
            int srow = y * cw * 3;
            int drow = y * ow;
            for (int x = 0; x < cw; x++) {
                int sx = flip ? cw - 1 - x : x;
                int si = srow + sx * 3;
                int di = drow + x;
                img[di] = ((bgr[si + 2] & 0xFF) - m0) * s0;             // R
                img[plane + di] = ((bgr[si + 1] & 0xFF) - m1) * s1;     // G
                img[2 * plane + di] = ((bgr[si] & 0xFF) - m2) * s2;     // B
            }
        }
        byte[] label = null;
        int lh = 0, lw = 0;
        if (p.label != null) {
            if (cfg.cropH() <= 0) {
                label = p.label; // test mode: original size, not flipped
                lh = p.labelHeight;
                lw = p.labelWidth;
            } else {
                label = new byte[oh * ow];
                java.util.Arrays.fill(label, (byte) LabelMaps.IGNORE);
                for (int y = 0; y < ch; y++) {
                    int so = (y0 + y) * p.labelWidth + x0;
                    int d = y * ow;
                    if (!flip) System.arraycopy(p.label, so, label, d, cw);
                    else for (int x = 0; x < cw; x++) label[d + x] = p.label[so + cw - 1 - x];
                }
                lh = oh;
                lw = ow;
            }
        }
        byte[] valid = null;
        if (cfg.validMargins() != null) {
            int[] m = scaledMargins(p);
            valid = new byte[oh * ow];
            for (int y = 0; y < ch; y++) {
                for (int x = 0; x < cw; x++) {
                    int sx = flip ? cw - 1 - x : x;
                    valid[y * ow + x] = validAt(p, y0 + y, x0 + sx, m) ? (byte) 1 : 0;
                }
            }
        }
        return new Sample(img, oh, ow, label, lh, lw, valid, p.file.toString(), flip, y0, x0);
    }

    /** The whole pipeline for one item. */
    public Sample load(Dataset.Item item, SplittableRandom rng) {
        return load(item, rng, null);
    }

    /** The whole pipeline for one item, its label edited first ({@link #prepare(Path, Path, LabelEdit)}). */
    public Sample load(Dataset.Item item, SplittableRandom rng, LabelEdit labelEdit) {
        try (Prepared p = prepare(item.image(), cfg.withLabel() ? item.label() : null, labelEdit)) {
            return finish(p, sampleCrop(p, rng), rng);
        }
    }

    /** Edits a label in place: train ids [height x width] at the image's original size. */
    @FunctionalInterface
    public interface LabelEdit {
        void apply(byte[] label, int width, int height);
    }
}
