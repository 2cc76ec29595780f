package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Tensor;

import java.util.random.RandomGenerator;

/**
 * MIC's BlockMaskGenerator (masking_transforms.py): per image a grid of round(H / block) x
 * round(W / block) patches (Python's round: halves to even), a patch kept when its uniform draw
 * exceeds the mask ratio (0.7: 70 % masked), the grid upsampled with PyTorch's nearest rule to the
 * image size, and the image multiplied by it (masked pixels become 0 in normalised space).
 */
public final class BlockMask {
    /** MIC(HRDA) mask_ratio and mask_block_size; MIC(DAFormer) uses blocks of 32. */
    public static final double MIC_MASK_RATIO = 0.7;
    public static final int MIC_HRDA_BLOCK = 64, MIC_DAFORMER_BLOCK = 32;

    private BlockMask() {}

    /** keep [batch * rows * cols] of 0 or 1, row-major per image. */
    public record Grid(int batch, int rows, int cols, byte[] keep) {
        public Grid {
            if (keep.length != batch * rows * cols) throw new IllegalArgumentException("keep needs batch * rows * cols values");
        }
    }

    /** Grid size of one side: round(size / block), halves to even as Python's round. */
    public static int gridSize(int size, int block) {
        return (int) Math.rint((double) size / block);
    }

    /** Draws the keep grid of a batch, image by image, row by row (torch.rand(B, 1, rows, cols) > ratio). */
    public static Grid draw(RandomGenerator rng, int batch, int height, int width, double maskRatio, int block) {
        int rows = gridSize(height, block), cols = gridSize(width, block);
        if (rows < 1 || cols < 1) {
            throw new IllegalArgumentException("a " + height + " x " + width + " image has no whole " + block + "-pixel block");
        }
        byte[] keep = new byte[batch * rows * cols];
        for (int i = 0; i < keep.length; i++) keep[i] = (byte) (rng.nextDouble() > maskRatio ? 1 : 0);
        return new Grid(batch, rows, cols, keep);
    }

    /** out = images * upsampled grid; out may be images (in place). images and out [B, C, H, W]. */
    public static void apply(Backend backend, Tensor images, Tensor out, Grid grid) {
        Checks.requireRank(images, 4, "images");
        Checks.requireFloat(images, "images");
        int b = images.dim(0), c = images.dim(1), h = images.dim(2), w = images.dim(3);
        Checks.requireShape(out, "masked images", b, c, h, w);
        Checks.requireDType(out, images.dtype(), "masked images");
        if (grid.batch() != b) throw new IllegalArgumentException("grid of " + grid.batch() + " images for a batch of " + b);
        try (Tensor keep = Tensor.ofBytes(backend, grid.keep(), b, grid.rows(), grid.cols())) {
            backend.blockMask(keep, images, out, b, c, h, w, grid.rows(), grid.cols());
        }
    }
}
