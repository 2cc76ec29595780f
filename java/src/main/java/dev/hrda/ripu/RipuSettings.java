package dev.hrda.ripu;

import dev.hrda.active.Budget;
import dev.hrda.data.PipelineConfig;

import java.util.Arrays;

/**
 * What a RIPU run does besides training on the source (ripu_spec.md §1.6–§2.3): the acquisition
 * rounds and their budget, the loss weights. Immutable.
 *
 * @param budget       RA: a fraction of each image over all rounds ("2.2%"); PA: pixels per image
 *                     at 1280×640 over all rounds ("40px"); resolved per image and round by {@link Budget}
 * @param selectIters  the rounds run right after these iterations (counts, increasing; 0 = before the first)
 * @param radiusK      RA region radius k; PA suppression window radius
 * @param lcrWeight    local consistency on the source (0.1)
 * @param nlWeight     negative learning on the target (1.0)
 * @param tau          negative learning threshold (0.05)
 * @param selectW      the selection pass's input width (keep-ratio resize; RIPU 1280), so selectH (640)
 * @param sourceFree   no source terms (train_source_free.py)
 * @param selectInterpolation the selection pass's image resize (RIPU's active transform: bicubic); null: bilinear
 */
public record RipuSettings(Budget budget, int[] selectIters, int radiusK, double lcrWeight, double nlWeight, double tau, int selectW,
                           int selectH, boolean sourceFree, PipelineConfig.Interpolation selectInterpolation) {
    /** Bilinear selection resizing. */
    public RipuSettings(Budget budget, int[] selectIters, int radiusK, double lcrWeight, double nlWeight, double tau, int selectW,
                        int selectH, boolean sourceFree) {
        this(budget, selectIters, radiusK, lcrWeight, nlWeight, tau, selectW, selectH, sourceFree, PipelineConfig.Interpolation.BILINEAR);
    }

    public RipuSettings {
        if (selectInterpolation == null) selectInterpolation = PipelineConfig.Interpolation.BILINEAR;
        if (selectIters.length == 0) throw new IllegalArgumentException("RIPU needs at least one selection round");
        if (selectW < 1 || selectH < 1) throw new IllegalArgumentException("selection scale " + selectW + "x" + selectH + " must be positive");
        selectIters = selectIters.clone();
    }

    public boolean regions() {
        return budget.kind() == Budget.Kind.RATIO;
    }

    public int rounds() {
        return selectIters.length;
    }

    /** The round (0-based) that runs once {@code n} iterations are done, or -1. */
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

    /** Picks per image per round on an h x w image (build.py's formulas, {@link Budget#picksPerRound}). */
    public int picksPerRound(int height, int width) {
        return budget.picksPerRound(height, width, rounds(), radiusK);
    }

    @Override
    public String toString() {
        return (regions() ? "RA " + budget.text() + " in (2k+1)^2 regions, k " + radiusK : "PA " + budget.text() + ", window radius " + radiusK)
               + ", rounds after iterations " + Arrays.toString(selectIters) + ", LCR " + lcrWeight + ", NL " + nlWeight + " (tau " + tau + ")"
               + (sourceFree ? ", source-free" : "");
    }
}
