package dev.hrda.config;

import dev.hrda.optim.PolySchedule;

/**
 * {@code lr_config} (mmcv's PolyLrUpdaterHook, iteration-based): poly decay with
 * {@code power} to {@code minLr}, after an optional linear warm-up of {@code warmupIters}
 * from {@code warmupRatio} of the lr. {@code baseLr} is {@code optimizer.lr} (added: the
 * schedule needs it to express min_lr as a ratio).
 *
 * @param warmup     "linear" or null (no warm-up)
 * @param totalIters our extension {@code total_iters}: the length of the poly decay when training
 *                   stops earlier (RIPU: MAX_ITER 62500 with STOP_ITER 40000 = runner.max_iters);
 *                   0: runner.max_iters, as mmcv
 */
public record LrSpec(String policy, double power, double minLr, String warmup, int warmupIters, double warmupRatio, double baseLr,
                     int totalIters) {
    /**
     * The schedule as a factor of each parameter group's lr, with {@code min_lr} as a ratio of
     * {@code optimizer.lr}. mmcv applies min_lr per group ({@code (lr_g - min_lr) * coeff +
     * min_lr}); with min_lr 0 (every shipped config) the two agree exactly, otherwise groups
     * with an lr_mult end at lr_mult * min_lr instead of min_lr.
     */
    public PolySchedule schedule(int maxIters) {
        return new PolySchedule(totalIters > 0 ? totalIters : maxIters, power, baseLr == 0 ? 0 : minLr / baseLr, warmup == null ? 0 : warmupIters, warmupRatio);
    }

    static LrSpec bind(Section s, double baseLr) {
        s.choice("policy", null, "poly");
        s.fixed("by_epoch", false, "training is iteration-based");
        s.fixed("warmup_by_epoch", false, "training is iteration-based");
        String warmup = s.has("warmup") ? s.choice("warmup", null, "linear") : null;
        double minLr = s.number("min_lr", 0, 0, Double.MAX_VALUE);
        if (minLr > baseLr) throw s.error("min_lr", Section.fmt(minLr) + " is above optimizer.lr " + Section.fmt(baseLr));
        return new LrSpec("poly", s.number("power", 1, 0, Double.MAX_VALUE), minLr, warmup,
                          warmup == null ? 0 : s.integer("warmup_iters", 1, Integer.MAX_VALUE),
                          warmup == null ? 1 : s.number("warmup_ratio", 0, 1), baseLr, s.integer("total_iters", 0, 0, Integer.MAX_VALUE));
    }
}
