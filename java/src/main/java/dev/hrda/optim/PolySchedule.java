package dev.hrda.optim;

/**
 * mmcv's PolyLrUpdaterHook with linear warm-up, as HRDA/DAFormer configure it
 * (schedules/poly10warm.py: power 1.0, min_lr 0, warmup 'linear', 1500 iters, ratio 1e-6):
 * <pre>
 *   poly(i)   = (base - min) * (1 - i/maxIters)^power + min
 *   lr(i)     = poly(i) * (1 - (1 - i/warmupIters) * (1 - warmupRatio))   for i < warmupIters
 *   lr(i)     = poly(i)                                                   otherwise
 * </pre>
 * {@link #factor} returns lr(i)/base, applied to every parameter group's initial lr.
 * RIPU ({@link #poly}): power 0.9, no warm-up, no floor.
 */
public record PolySchedule(int maxIters, double power, double minLrRatio, int warmupIters, double warmupRatio) {
    public static PolySchedule hrdaDefault(int maxIters) {
        return new PolySchedule(maxIters, 1.0, 0.0, 1500, 1e-6);
    }

    /** A plain poly schedule without warm-up or floor, as RIPU's adjust_learning_rate: (1 - i/maxIters)^power. */
    public static PolySchedule poly(int maxIters, double power) {
        return new PolySchedule(maxIters, power, 0.0, 0, 0.0);
    }

    public double factor(long iter) {
        double progress = Math.min(1.0, (double) iter / maxIters);
        double poly = (1 - minLrRatio) * Math.pow(1 - progress, power) + minLrRatio;
        if (iter < warmupIters) {
            double k = (1 - (double) iter / warmupIters) * (1 - warmupRatio);
            return poly * (1 - k);
        }
        return poly;
    }
}
