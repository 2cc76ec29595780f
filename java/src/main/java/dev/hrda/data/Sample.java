package dev.hrda.data;

/**
 * One pipeline output, in host memory.
 *
 * @param image   normalised RGB, CHW, {@code 3 x height x width}
 * @param label   train ids (0..18, 255), {@code labelHeight x labelWidth} (the image size except in
 *                test mode, where the label keeps its original size), or null
 * @param valid   validity mask for pseudo-labels (1 valid, 0 not), {@code height x width}, or null
 * @param file    the image file
 * @param cropY   crop origin in the resized image (0 when not cropped)
 */
public record Sample(float[] image, int height, int width, byte[] label, int labelHeight, int labelWidth,
                     byte[] valid, String file, boolean flipped, int cropY, int cropX) {

    /** Label value at (y, x) as 0..255. */
    public int labelAt(int y, int x) {
        return label[y * labelWidth + x] & 0xFF;
    }

    /** Pixels of class c in the label. */
    public long count(int c) {
        long n = 0;
        for (byte b : label) if ((b & 0xFF) == c) n++;
        return n;
    }
}
