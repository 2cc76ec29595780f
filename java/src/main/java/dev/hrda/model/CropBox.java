package dev.hrda.model;

import java.util.ArrayList;
import java.util.List;
import java.util.random.RandomGenerator;

/** A rectangle in pixels of some grid: rows [top, top+height), cols [left, left+width). */
public record CropBox(int top, int left, int height, int width) {

    /** The same box on a grid {@code factor} times coarser (coordinates must divide exactly). */
    public CropBox scaled(int factor) {
        if (top % factor != 0 || left % factor != 0 || height % factor != 0 || width % factor != 0) {
            throw new IllegalArgumentException(this + " is not aligned to " + factor);
        }
        return new CropBox(top / factor, left / factor, height / factor, width / factor);
    }

    /**
     * HRDA's get_crop_bbox: a crop of {@code crop}² inside h×w, offsets drawn uniformly among the
     * multiples of {@code divisible} in [0, margin] ((margin+1)/divisible choices, as the original).
     */
    public static CropBox random(int h, int w, int crop, int divisible, RandomGenerator rng) {
        int marginH = Math.max(h - crop, 0), marginW = Math.max(w - crop, 0);
        int top = rng.nextInt((marginH + 1) / divisible > 0 ? (marginH + 1) / divisible : 1) * divisible;
        int left = rng.nextInt((marginW + 1) / divisible > 0 ? (marginW + 1) / divisible : 1) * divisible;
        return new CropBox(top, left, Math.min(crop, h), Math.min(crop, w));
    }

    /**
     * mmseg's slide windows: a grid of {@code crop} windows with {@code stride} over h×w, the
     * last row/column shifted back inside the image.
     */
    public static List<CropBox> slide(int h, int w, int crop, int stride) {
        int ch = Math.min(crop, h), cw = Math.min(crop, w);
        int rows = Math.max(h - ch + stride - 1, 0) / stride + 1, cols = Math.max(w - cw + stride - 1, 0) / stride + 1;
        List<CropBox> out = new ArrayList<>(rows * cols);
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int y2 = Math.min(r * stride + ch, h), x2 = Math.min(c * stride + cw, w);
                out.add(new CropBox(Math.max(y2 - ch, 0), Math.max(x2 - cw, 0), ch, cw));
            }
        }
        return out;
    }
}
