package dev.hrda.config;

import dev.hrda.optim.AdamW;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@code optimizer} (hrda_spec.md §6): AdamW (torch's defaults: betas 0.9/0.999, weight decay 0.01, eps 1e-8) with {@code paramwise_cfg.custom_keys} as
 * {@link AdamW.Rule}s (a parameter takes the multipliers of the longest key in its name), in
 * the config's order; or SGD as RIPU trains DeepLab (ripu_spec.md §3: torch.optim.SGD with
 * momentum 0.9, weight decay 5e-4, the head at 10× the backbone's lr: custom_keys
 * {@code {head: {lr_mult: 10}}}; no dampening, no Nesterov).
 *
 * @param momentum SGD's momentum (NaN for AdamW)
 */
public record OptimizerSpec(String type, double lr, double beta1, double beta2, double weightDecay, double eps,
                            List<AdamW.Rule> customKeys, double momentum) {
    public OptimizerSpec {
        customKeys = List.copyOf(customKeys);
    }

    static OptimizerSpec bind(Section s) {
        String type = s.choice("type", null, "AdamW", "SGD");
        boolean sgd = type.equals("SGD");
        if (sgd) {
            for (String k : new String[] {"betas", "eps", "amsgrad"}) if (s.has(k)) throw s.error(k, "is an AdamW setting (optimizer.type is SGD)");
            s.fixed("dampening", 0.0, "torch's default, as RIPU");
            s.fixed("nesterov", false, "RIPU's SGD");
        } else {
            for (String k : new String[] {"momentum", "dampening", "nesterov"}) if (s.has(k)) throw s.error(k, "is an SGD setting (optimizer.type is AdamW)");
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
                                 s.number("weight_decay", sgd ? 0 : 0.01, 0, Double.MAX_VALUE), sgd ? 0 : s.number("eps", 1e-8, 0, 1), rules,
                                 sgd ? s.number("momentum", 0, 0, 1) : Double.NaN);
    }
}
