package dev.hrda.active;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Arrays;

/**
 * One round of RIPU's greedy selection (build.py RegionSelection / PixelSelection) on the device
 * holding the scores: everything already active starts at -inf; then per image, {@code count} times,
 * the maximum (ties to the lowest column, then the lowest row: the official two torch.max calls) is
 * picked, the square of radius maskRadius around it is set to -inf and marked active (persisted
 * across rounds), and the square of radius activeRadius is marked selected (labelled). RA: activeRadius
 * k, maskRadius 2k; PA: the single pixel, maskRadius K.
 */
public record RegionSelector(int activeRadius, int maskRadius) {
    public RegionSelector {
        if (activeRadius < 0 || maskRadius < 0) {
            throw new IllegalArgumentException("radii must not be negative: active " + activeRadius + ", mask " + maskRadius);
        }
    }

    /** RA: (2k+1)^2 regions, suppression radius 2k. */
    public static RegionSelector regions(int k) {
        if (k < 0) throw new IllegalArgumentException("region radius k must not be negative, got " + k);
        return new RegionSelector(k, 2 * k);
    }

    /** PA: single pixels, suppression radius K. */
    public static RegionSelector pixels(int radius) {
        if (radius < 0) throw new IllegalArgumentException("pixel suppression radius must not be negative, got " + radius);
        return new RegionSelector(0, radius);
    }

    /** The picks of a round, per image in pick order: h[b][j], w[b][j] and the score each pick had. */
    public record Picks(int[][] h, int[][] w, double[][] score) {
        public int images() { return h.length; }

        public int count() { return h.length == 0 ? 0 : h[0].length; }
    }

    /**
     * Runs one round in place.
     *
     * @param score    [B, H, W] or [H, W] float scores (consumed: -inf where suppressed)
     * @param active   u8 of the same shape (0/1): suppressed in this or an earlier round; updated
     * @param selected u8 of the same shape (0/1): labelled pixels; updated
     * @param count    picks per image (Budget.picksPerRound)
     */
    public Picks select(Backend backend, Tensor score, Tensor active, Tensor selected, int count) {
        if (score.rank() != 2 && score.rank() != 3) throw new IllegalArgumentException("score must be [B, H, W] or [H, W], got " + score.describe());
        if (!score.dtype().isFloat()) throw new IllegalArgumentException("score must be a float tensor, got " + score.describe());
        requireMask(active, score, "active mask");
        requireMask(selected, score, "selected mask");
        if (count < 0) throw new IllegalArgumentException("pick count must not be negative, got " + count);
        int b = score.rank() == 3 ? score.dim(0) : 1, h = score.dim(-2), w = score.dim(-1);
        int[][] ph = new int[b][count], pw = new int[b][count];
        double[][] ps = new double[b][count];
        if (count == 0 || b == 0) return new Picks(ph, pw, ps);
        try (Tensor picks = Tensor.empty(backend, DType.I32, b, count, 2);
             Tensor values = Tensor.empty(backend, score.dtype(), b, count)) {
            backend.activeSelect(score, active, selected, picks, values, b, h, w, count, activeRadius, maskRadius);
            int[] p = picks.toIntArray();
            double[] v = values.toDoubleArray();
            for (int i = 0; i < b; i++)
                for (int j = 0; j < count; j++) {
                    ph[i][j] = p[2 * (i * count + j)];
                    pw[i][j] = p[2 * (i * count + j) + 1];
                    ps[i][j] = v[i * count + j];
                }
        }
        return new Picks(ph, pw, ps);
    }

    /**
     * The revealed label mask: gt where selected, ignoreIndex (255) elsewhere, i32 of selected's
     * shape; pixels whose ground truth is ignoreIndex were still paid for.
     */
    public static Tensor reveal(Backend backend, Tensor selected, Tensor gt, int ignoreIndex) {
        if (selected.dtype() != DType.U8) throw new IllegalArgumentException("selected mask must be U8, got " + selected.describe());
        if (gt.dtype() != DType.I32 || !Arrays.equals(gt.shape(), selected.shape())) {
            throw new IllegalArgumentException("ground truth must be I32 of the selected mask's shape " + selected.shapeString()
                                               + ", got " + gt.describe());
        }
        Tensor mask = Tensor.empty(backend, DType.I32, selected.shape());
        try {
            backend.activeReveal(selected, gt, mask, ignoreIndex);
            return mask;
        } catch (RuntimeException e) {
            mask.close();
            throw e;
        }
    }

    private static void requireMask(Tensor m, Tensor score, String what) {
        if (m.dtype() != DType.U8 || !Arrays.equals(m.shape(), score.shape())) {
            throw new IllegalArgumentException(what + " must be U8 of the score's shape " + score.shapeString() + ", got " + m.describe());
        }
    }
}
