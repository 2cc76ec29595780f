package dev.hrda.ripu;

import java.util.Arrays;

/**
 * What a RIPU run does besides the source training (ripu_spec.md §1.6–§2.3): the acquisition
 * rounds and their budget, the loss weights. Immutable.
 *
 * @param regions      RA (regions) or PA (pixels)
 * @param selectIters  the rounds run right after these iterations (1-based counts, increasing)
 * @param ratio        RA: labelled fraction of each image over all rounds
 * @param pixels       PA: labelled pixels per image over all rounds at 1280×640
 * @param radiusK      RA region radius k; PA window radius
 * @param lcrWeight    local consistency on the source (0.1)
 * @param nlWeight     negative learning on the target (1.0)
 * @param tau          negative learning threshold (0.05)
 * @param selectW      the selection pass's input width (0: the image's own size); so selectH
 */
public record RipuSettings(boolean regions, int[] selectIters, double ratio, int pixels, int radiusK, double lcrWeight,
                           double nlWeight, double tau, int selectW, int selectH) {
    public RipuSettings {
        if (selectIters.length == 0) throw new IllegalArgumentException("RIPU needs at least one selection round");
        selectIters = selectIters.clone();
    }

    public int rounds() {
        return selectIters.length;
    }

    /** The round (0-based) that runs after iteration count {@code n}, or -1. */
    public int roundAfter(long n) {
        for (int r = 0; r < selectIters.length; r++) if (selectIters[r] == n) return r;
        return -1;
    }

    /** Rounds done once {@code n} iterations have run. */
    public int roundsDoneBy(long n) {
        int k = 0;
        for (int it : selectIters) if (it <= n) k++;
        return k;
    }

    /**
     * Picks per image per round, as the original (build.py): RA ceil(H·W·ratio/rounds/(2k+1)²)
     * regions; PA ceil(pixels/rounds/(1280·640)·H·W) pixels.
     */
    public long picksPerRound(int height, int width) {
        double hw = (double) height * width;
        if (regions) {
            double side = 2.0 * radiusK + 1;
            return (long) Math.ceil(hw * (ratio / rounds()) / (side * side));
        }
        return (long) Math.ceil((double) pixels / rounds() / (1280.0 * 640.0) * hw);
    }

    @Override
    public String toString() {
        return (regions ? "RA " + ratio * 100 + "% in (2k+1)^2 regions, k " + radiusK : "PA " + pixels + " px, window radius " + radiusK)
               + ", rounds after iterations " + Arrays.toString(selectIters) + ", LCR " + lcrWeight + ", NL " + nlWeight + " (tau " + tau + ")";
    }
}
