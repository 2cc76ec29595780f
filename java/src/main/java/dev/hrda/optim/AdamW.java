package dev.hrda.optim;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.AdamW over parameter groups, one fused multi-tensor update per step.
 * Groups follow mmcv's DefaultOptimizerConstructor custom_keys: each parameter takes the
 * lr/decay multipliers of the longest key that is a substring of its name (HRDA: "head" lr x10,
 * "norm" and "pos_block" decay x0).
 */
public final class AdamW implements AutoCloseable {
    /** One custom_keys rule. */
    public record Rule(String key, float lrMult, float decayMult) {}

    /** The group of one parameter: the rule that matched its name (null: none, multipliers 1). */
    public record Group(Rule rule, float lrMult, float decayMult) {}

    public final double baseLr;
    public final double weightDecay;
    public final float beta1, beta2, eps;
    private final Backend backend;
    private final ParamGroups groups;
    private final List<Tensor> expAvg;
    private final List<Tensor> expAvgSq;
    private long step;

    public AdamW(Backend backend, Map<String, Tensor> named, double lr, double weightDecay,
                 float beta1, float beta2, float eps, List<Rule> rules) {
        this.backend = backend;
        this.baseLr = lr;
        this.weightDecay = weightDecay;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.groups = new ParamGroups(backend, named, rules);
        this.expAvg = groups.zerosLike("exp_avg.");
        this.expAvgSq = groups.zerosLike("exp_avg_sq.");
    }

    /**
     * The group of parameter {@code name}: the rule with the longest key that is a substring of the
     * name (ties: the lexicographically first key), multipliers 1 when none matches.
     */
    static Group groupFor(String name, List<Rule> rules) {
        Rule best = null;
        for (Rule r : rules) {
            if (name.contains(r.key()) && (best == null || r.key().length() > best.key().length()
                    || (r.key().length() == best.key().length() && r.key().compareTo(best.key()) < 0))) {
                best = r;
            }
        }
        return new Group(best, best == null ? 1f : best.lrMult(), best == null ? 1f : best.decayMult());
    }

    /** HRDA/DAFormer defaults: lr 6e-5, betas (0.9, 0.999), weight decay 0.01, head x10, norm decay 0. */
    public static AdamW hrda(Backend backend, Map<String, Tensor> named) {
        return new AdamW(backend, named, 6e-5, 0.01, 0.9f, 0.999f, 1e-8f,
                         List.of(new Rule("head", 10f, 1f), new Rule("pos_block", 1f, 0f), new Rule("norm", 1f, 0f)));
    }

    /** One update with lr = baseLr * lrFactor * group multiplier. */
    public void step(double lrFactor) {
        step++;
        int n = groups.params.size();
        float[] lr = new float[n], wd = new float[n];
        for (int i = 0; i < n; i++) {
            lr[i] = (float) (baseLr * lrFactor * groups.lrMult[i]);
            wd[i] = (float) (weightDecay * groups.decayMult[i]);
        }
        backend.adamw(groups.params, groups.grads(), expAvg, expAvgSq, lr, wd, beta1, beta2, eps, step);
    }

    public long stepCount() { return step; }

    /** The custom_keys group of a parameter, by its full name. */
    public Group groupOf(String name) {
        return groups.groupOf(name);
    }

    /** The learning rate of a parameter at {@code lrFactor} of the schedule. */
    public double lrOf(String name, double lrFactor) {
        return baseLr * lrFactor * groupOf(name).lrMult();
    }

    public void zeroGrad() {
        groups.zeroGrad();
    }

    /** The parameter names, in the order of the state (torch's parameter indices). */
    public List<String> names() { return groups.names(); }

    public List<Tensor> expAvg() { return expAvg; }

    public List<Tensor> expAvgSq() { return expAvgSq; }

    /**
     * The optimizer state by name, "exp_avg.<param>" and "exp_avg_sq.<param>" (torch's
     * state keys with the parameter name): the live tensors, so a checkpoint restores them by
     * copying into them (plus {@link #setStepCount}).
     */
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < groups.names.size(); i++) {
            out.put("exp_avg." + groups.names.get(i), expAvg.get(i));
            out.put("exp_avg_sq." + groups.names.get(i), expAvgSq.get(i));
        }
        return out;
    }

    /** Restores the step counter (resume). */
    public void setStepCount(long s) { step = s; }

    @Override
    public void close() {
        for (Tensor t : expAvg) t.close();
        for (Tensor t : expAvgSq) t.close();
    }
}
