package dev.hrda.config;

import java.util.Arrays;

/**
 * Our extension {@code active}: RIPU's active domain adaptation (BIT-DA/RIPU's ACTIVE and the
 * loss weights of its SOLVER section, ripu_spec.md §1.6–§2.3), read beside the model, data and
 * schedule of an mmseg-style config. Present: {@code hrda train} runs RIPU (no EMA teacher, no
 * ClassMix) instead of DACS.
 *
 * @param setting       RA (regions of (2k+1)², the score P·U) or PA (single pixels, H·P over 65×65)
 * @param selectIters   the rounds: selection runs right after these iterations (1-based counts, as
 *                      train.py's {@code iteration += 1; if iteration in SELECT_ITER}); 0 = before the
 *                      first iteration (the source-free variant selects before its steps at 0, 2000, …)
 * @param ratio         RA: the labelled fraction of each image over all rounds (RATIO, 0.022)
 * @param pixels        PA: labelled pixels per image over all rounds at 1280×640 (PIXELS, 40),
 *                      scaled to each image's size as the original
 * @param radiusK       RADIUS_K: RA region radius k (1: 3×3), PA window radius (32: 65×65)
 * @param consistentLoss the LCR weight (CONSISTENT_LOSS 0.1)
 * @param negativeLoss  the negative-learning weight (NEGATIVE_LOSS 1.0)
 * @param negativeThreshold τ (NEGATIVE_THRESHOLD 0.05)
 * @param selectScale   the network input [w, h] of the selection pass (INPUT_SIZE_TEST 1280×640;
 *                      the logits are upsampled to each image's size); null: the image's size
 * @param sourceFree    train_source_free.py: no source data, the target CE on the acquired labels and
 *                      negative learning only (the model starts from a source-only checkpoint)
 */
public record ActiveSpec(String setting, int[] selectIters, double ratio, int pixels, int radiusK, double consistentLoss,
                         double negativeLoss, double negativeThreshold, int[] selectScale, boolean sourceFree) {

    static final String[] KEYS = {"name", "setting", "select_iters", "ratio", "pixels", "radius_k", "consistent_loss", "negative_loss",
                                  "negative_threshold", "select_scale", "source_free"};

    public boolean regions() {
        return setting.equals("RA");
    }

    static ActiveSpec bind(Section s, int maxIters) {
        s.choice("name", "AL-RIPU", "AL-RIPU");
        String setting = s.choice("setting", null, "RA", "PA");
        int[] iters = s.ints("select_iters", -1);
        if (iters.length == 0) throw s.error("select_iters", "needs at least one round");
        for (int i = 0; i < iters.length; i++) {
            if (iters[i] < 0 || iters[i] > maxIters) {
                throw s.error("select_iters", iters[i] + " is not an iteration of this run (0 .. runner.max_iters " + maxIters + ")");
            }
            if (i > 0 && iters[i] <= iters[i - 1]) throw s.error("select_iters", Arrays.toString(iters) + " must increase");
        }
        double ratio = 0;
        int pixels = 0;
        if (setting.equals("RA")) {
            ratio = s.number("ratio", 0, 1);
            if (!(ratio > 0)) throw s.error("ratio", "must be positive (e.g. 0.022: 2.2 % of each image)");
            if (s.has("pixels")) throw s.error("pixels", "is the PA budget (setting is RA: use ratio)");
        } else {
            pixels = s.integer("pixels", 1, 1 << 24);
            if (s.has("ratio")) throw s.error("ratio", "is the RA budget (setting is PA: use pixels)");
        }
        int k = s.integer("radius_k", setting.equals("RA") ? 1 : 32, 0, 1 << 12);
        int[] scale = s.has("select_scale") ? s.ints("select_scale", 2) : null;
        if (scale != null && (scale[0] < 1 || scale[1] < 1)) throw s.error("select_scale", Arrays.toString(scale) + " must be positive [w, h]");
        return new ActiveSpec(setting, iters, ratio, pixels, k, s.number("consistent_loss", 0.1, 0, 1e6), s.number("negative_loss", 1.0, 0, 1e6),
                              s.number("negative_threshold", 0.05, 0, 1), scale, s.flag("source_free", false));
    }
}
