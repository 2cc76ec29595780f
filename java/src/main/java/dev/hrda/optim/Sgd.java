package dev.hrda.optim;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.SGD (maximize off) over parameter groups, one fused multi-tensor update per step
 * (optim.h sgd_step): {@code d = g + wd p; buf = d} at the first step, else {@code momentum buf +
 * (1 - dampening) d}; {@code p -= lr (nesterov ? d + momentum buf : buf)}. Groups follow the
 * rules of {@link AdamW} (the longest matching substring of a parameter's name gives its lr/decay
 * multipliers). RIPU's two SGDs (train.py: the feature extractor at the base lr, the classifier
 * at 10x, momentum 0.9, weight decay 5e-4 on both, the same poly factor) are one Sgd with a
 * "head" rule: the update of every parameter is the same.
 */
public final class Sgd implements AutoCloseable {
    public final double baseLr;
    public final double momentum;
    public final double dampening;
    public final double weightDecay;
    public final boolean nesterov;
    private final Backend backend;
    private final ParamGroups groups;
    private final List<Tensor> buffers;
    private long step;

    public Sgd(Backend backend, Map<String, Tensor> named, double lr, double momentum, double dampening, double weightDecay,
               boolean nesterov, List<AdamW.Rule> rules) {
        if (!(lr >= 0) || !(momentum >= 0) || !(weightDecay >= 0)) {
            throw new IllegalArgumentException("Sgd: lr " + lr + ", momentum " + momentum + " and weight decay " + weightDecay
                                               + " must not be negative (torch.optim.SGD refuses them)");
        }
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Sgd: Nesterov momentum requires a momentum and zero dampening");
        }
        this.backend = backend;
        this.baseLr = lr;
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        this.groups = new ParamGroups(backend, named, rules);
        this.buffers = momentum == 0 ? List.of() : groups.zerosLike("momentum_buffer.");
    }

    /** RIPU's optimiser (ripu_spec.md 3): lr 2.5e-4, momentum 0.9, weight decay 5e-4, "head" parameters at lr x10. */
    public static Sgd ripu(Backend backend, Map<String, Tensor> named) {
        return new Sgd(backend, named, 2.5e-4, 0.9, 0, 5e-4, false, List.of(new AdamW.Rule("head", 10f, 1f)));
    }

    /** RIPU's schedule: poly, power 0.9, MAX_ITER 62500, no warm-up, no floor (core/solver/build.py). */
    public static PolySchedule ripuSchedule() {
        return PolySchedule.poly(62500, 0.9);
    }

    /** One update with lr = baseLr * lrFactor * group multiplier. */
    public void step(double lrFactor) {
        int n = groups.params.size();
        double[] lr = new double[n], wd = new double[n];
        for (int i = 0; i < n; i++) {
            lr[i] = baseLr * lrFactor * groups.lrMult[i];
            wd[i] = weightDecay * groups.decayMult[i];
        }
        backend.sgd(groups.params, groups.grads(), momentum == 0 ? null : buffers, lr, wd, momentum, dampening, nesterov, step == 0);
        step++;
    }

    /** Steps taken (torch keeps no counter: a checkpoint with momentum buffers has stepped at least once). */
    public long stepCount() { return step; }

    /** Restores the step counter (resume): 0 makes the next step copy the gradient into the buffers again. */
    public void setStepCount(long s) { step = s; }

    /** The rule group of a parameter, by its full name. */
    public AdamW.Group groupOf(String name) {
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

    /** The momentum buffers in parameter order (empty when momentum is 0). */
    public List<Tensor> momentumBuffers() { return Collections.unmodifiableList(buffers); }

    /** The optimizer state by name, "momentum_buffer.&lt;param&gt;": the live tensors (a checkpoint restores by copying into them). */
    public Map<String, Tensor> stateTensors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < buffers.size(); i++) out.put("momentum_buffer." + groups.names.get(i), buffers.get(i));
        return out;
    }

    @Override
    public void close() {
        for (Tensor t : buffers) t.close();
    }
}
