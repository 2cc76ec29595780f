package dev.hrda.train;

import dev.hrda.data.Images;
import dev.hrda.data.LabelMaps;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Point;
import org.bytedeco.opencv.opencv_core.Scalar;

import java.nio.file.Path;

import static org.bytedeco.opencv.global.opencv_imgproc.FONT_HERSHEY_SIMPLEX;
import static org.bytedeco.opencv.global.opencv_imgproc.LINE_AA;
import static org.bytedeco.opencv.global.opencv_imgproc.line;
import static org.bytedeco.opencv.global.opencv_imgproc.putText;

/**
 * A BGR picture assembled on the host, tile by tile (debug images) or line by line (plots), and
 * written as PNG through OpenCV. Tiles are scaled to the tile size with nearest neighbours.
 */
final class Canvas implements AutoCloseable {
    final int width, height;
    private final byte[] bgr;
    private Mat mat;

    Canvas(int width, int height, int gray) {
        this.width = width;
        this.height = height;
        this.bgr = new byte[3 * width * height];
        java.util.Arrays.fill(bgr, (byte) gray);
    }

    /** Sets one pixel (clipped). */
    void set(int x, int y, int b, int g, int r) {
        if (mat != null) throw new IllegalStateException("pixels must be drawn before text and lines");
        if (x < 0 || y < 0 || x >= width || y >= height) return;
        int i = 3 * (y * width + x);
        bgr[i] = (byte) b;
        bgr[i + 1] = (byte) g;
        bgr[i + 2] = (byte) r;
    }

    /** An RGB image (3 x h x w, 0..255) into the tile at (x0, y0) of size tw x th. */
    void rgb(float[] chw, int h, int w, int x0, int y0, int tw, int th) {
        int plane = h * w;
        for (int ty = 0; ty < th; ty++) {
            int sy = ty * h / th;
            for (int tx = 0; tx < tw; tx++) {
                int sx = tx * w / tw, p = sy * w + sx;
                set(x0 + tx, y0 + ty, clamp(chw[2 * plane + p]), clamp(chw[plane + p]), clamp(chw[p]));
            }
        }
    }

    /** Train ids in the Cityscapes palette (255 and unknown ids black). */
    void labels(int[] ids, int h, int w, int x0, int y0, int tw, int th) {
        for (int ty = 0; ty < th; ty++) {
            int sy = ty * h / th;
            for (int tx = 0; tx < tw; tx++) {
                int c = ids[sy * w + tx * w / tw];
                int[] rgb = c >= 0 && c < LabelMaps.PALETTE.length ? LabelMaps.PALETTE[c] : new int[] {0, 0, 0};
                set(x0 + tx, y0 + ty, rgb[2], rgb[1], rgb[0]);
            }
        }
    }

    /** Values in [lo, hi] as gray levels. */
    void gray(float[] v, int h, int w, float lo, float hi, int x0, int y0, int tw, int th) {
        for (int ty = 0; ty < th; ty++) {
            int sy = ty * h / th;
            for (int tx = 0; tx < tw; tx++) {
                float f = (v[sy * w + tx * w / tw] - lo) / Math.max(hi - lo, 1e-12f);
                int g = clamp(255 * f);
                set(x0 + tx, y0 + ty, g, g, g);
            }
        }
    }

    private Mat mat() {
        if (mat == null) mat = Images.bgrMat(bgr, width, height);
        return mat;
    }

    /** Draws text (after the pixel work: it goes to the OpenCV image). */
    void text(String s, int x, int y, double scale, int b, int g, int r) {
        putText(mat(), s, new Point(x, y), FONT_HERSHEY_SIMPLEX, scale, new Scalar(b, g, r, 0), 1, LINE_AA, false);
    }

    void lineTo(int x1, int y1, int x2, int y2, int b, int g, int r, int thickness) {
        line(mat(), new Point(x1, y1), new Point(x2, y2), new Scalar(b, g, r, 0), thickness, LINE_AA, 0);
    }

    void write(Path file) {
        Images.writePng(file, mat());
    }

    private static int clamp(float v) {
        return Math.max(0, Math.min(255, Math.round(v)));
    }

    @Override
    public void close() {
        if (mat != null) mat.close();
    }
}
