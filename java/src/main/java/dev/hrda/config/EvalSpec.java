package dev.hrda.config;

import java.util.List;

/** {@code evaluation}: mIoU on {@code data.val} every {@code interval} iterations (0: never, where the config has none). */
public record EvalSpec(int interval, String metric) {
    static EvalSpec bind(Section s) {
        if (s == null) return new EvalSpec(0, "mIoU");
        s.fixed("by_epoch", false, "training is iteration-based");
        String metric = "mIoU";
        if (s.has("metric") && s.get("metric") instanceof Node.Seq) {
            s.fixed("metric", List.of("mIoU"), "mmseg's mIoU evaluation");
        } else {
            metric = s.choice("metric", "mIoU", "mIoU");
        }
        return new EvalSpec(s.integer("interval", 1, Integer.MAX_VALUE), metric);
    }
}
