package dev.hrda.config;

import dev.hrda.optim.AdamW;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code optimizer} (hrda_spec.md §6): AdamW (torch's defaults: betas 0.9/0.999, weight decay 0.01, eps 1e-8) with {@code paramwise_cfg.custom_keys} as
 * {@link AdamW.Rule}s (a parameter takes the multipliers of the longest key in its name), in
 * the config's order.
 */
public record OptimizerSpec(String type, double lr, double beta1, double beta2, double weightDecay, double eps,
                            List<AdamW.Rule> customKeys) {
    public OptimizerSpec {
        customKeys = List.copyOf(customKeys);
    }

    static OptimizerSpec bind(Section s) {
        String type = s.string("type");
        if (!type.equals("AdamW")) {
            throw s.error("type", "optimizer '" + type + "' is not supported (AdamW only: the originals' SGD runs are the DeepLabV2 baselines)");
        }
        s.fixed("amsgrad", false, "");
        double[] betas = s.has("betas") ? s.numbers("betas", 2) : new double[] {0.9, 0.999};
        for (double b : betas) if (!(b >= 0 && b < 1)) throw s.error("betas", "each beta must be in [0, 1)");
        List<AdamW.Rule> rules = new ArrayList<>();
        Section pw = s.optSection("paramwise_cfg", "custom_keys");
        if (pw != null && pw.has("custom_keys")) {
            for (Map.Entry<String, Node> e : pw.entries("custom_keys").entrySet()) {
                Section r = Section.item(pw.key("custom_keys") + "." + e.getKey(), e.getValue(), "lr_mult / decay_mult", "lr_mult", "decay_mult");
                rules.add(new AdamW.Rule(e.getKey(), (float) r.number("lr_mult", 1, 0, Double.MAX_VALUE),
                                         (float) r.number("decay_mult", 1, 0, Double.MAX_VALUE)));
            }
        }
        return new OptimizerSpec(type, s.number("lr", 0, Double.MAX_VALUE), betas[0], betas[1],
                                 s.number("weight_decay", 0.01, 0, Double.MAX_VALUE), s.number("eps", 1e-8, 0, 1), rules);
    }
}
