package dev.hrda.config;

/** {@code checkpoint_config}: save every {@code interval} iterations, keep the last {@code maxKeepCkpts} (-1: all). */
public record CheckpointSpec(int interval, int maxKeepCkpts) {
    static CheckpointSpec bind(Section s, int maxIters) {
        if (s == null) return new CheckpointSpec(maxIters, -1);
        s.fixed("by_epoch", false, "training is iteration-based");
        return new CheckpointSpec(s.integer("interval", 1, Integer.MAX_VALUE), s.integer("max_keep_ckpts", -1, -1, Integer.MAX_VALUE));
    }
}
