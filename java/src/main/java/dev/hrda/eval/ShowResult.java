package dev.hrda.eval;

import dev.hrda.data.DataException;
import dev.hrda.data.Images;
import dev.hrda.data.LabelMaps;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What {@code tools/test.py --show-dir} writes, per image: the prediction in the Cityscapes
 * palette blended over the image (mmseg's {@code show_result} with opacity 0.5), and the raw
 * train-id prediction for tools that read label maps. Files mirror the image's path under the
 * data root and are written atomically.
 */
public final class ShowResult {
    public static final double OPACITY = 0.5;

    private ShowResult() {}

    /** The files written for one image. */
    public record Written(Path blend, Path trainIds) {}

    /**
     * mmseg show_result: out = image·(1 − opacity) + colour·opacity per channel, truncated to a
     * byte as numpy's astype(uint8) does; classes without a palette entry are drawn black, as
     * there. {@code bgr} and the result are interleaved BGR; {@code paletteRgb} is RGB.
     */
    public static byte[] blend(byte[] bgr, byte[] classes, int[][] paletteRgb, double opacity) {
        if (bgr.length != 3 * classes.length) throw new IllegalArgumentException(bgr.length + " BGR bytes for " + classes.length + " pixels");
        byte[] out = new byte[bgr.length];
        int[] black = {0, 0, 0};
        for (int i = 0; i < classes.length; i++) {
            int c = classes[i] & 0xFF;
            int[] rgb = c < paletteRgb.length ? paletteRgb[c] : black;
            for (int ch = 0; ch < 3; ch++) {
                int image = bgr[3 * i + ch] & 0xFF, colour = rgb[2 - ch];
                out[3 * i + ch] = (byte) (int) (image * (1 - opacity) + colour * opacity);
            }
        }
        return out;
    }

    /** Where the files of an image go: its path under {@code root} (or its name), below {@code dir}, without extension. */
    public static Path stem(Path dir, Path root, Path image) {
        Path abs = image.toAbsolutePath().normalize(), base = root.toAbsolutePath().normalize();
        Path rel = abs.startsWith(base) ? base.relativize(abs) : abs.getFileName();
        String name = rel.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dir.resolve(rel).resolveSibling(dot > 0 ? name.substring(0, dot) : name);
    }

    /** Writes {@code <stem>.png} (palette blend) and {@code <stem>_trainIds.png} (class per pixel). */
    public static Written write(Predictor.Prediction p, Path dir, Path root) {
        if (p.bgr() == null) throw new IllegalArgumentException("the prediction of " + p.item().image() + " was made without its image");
        Path stem = stem(dir, root, p.item().image());
        try {
            Files.createDirectories(stem.getParent());
        } catch (IOException e) {
            throw new DataException(stem.getParent(), "cannot create the --show-dir directory (" + e.getMessage() + ")", e);
        }
        Path blend = stem.resolveSibling(stem.getFileName() + ".png"), trainIds = stem.resolveSibling(stem.getFileName() + "_trainIds.png");
        try (Mat m = Images.bgrMat(blend(p.bgr(), p.classes(), LabelMaps.PALETTE, OPACITY), p.width(), p.height())) {
            Images.writePng(blend, m);
        }
        Images.writeLabelPng(trainIds, p.classes(), p.width(), p.height());
        return new Written(blend, trainIds);
    }
}
