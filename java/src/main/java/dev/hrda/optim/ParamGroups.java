package dev.hrda.optim;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parameters of an optimizer ({@link AdamW}, {@link Sgd}) in state order, each with the
 * custom_keys group of its name, and their gradient buffers (allocated up front, so a training
 * run's memory does not grow after its first step).
 */
final class ParamGroups {
    final Backend backend;
    final List<Tensor> params;
    final List<String> names;
    final float[] lrMult;
    final float[] decayMult;
    private final Map<String, AdamW.Group> groups = new LinkedHashMap<>();

    ParamGroups(Backend backend, Map<String, Tensor> named, List<AdamW.Rule> rules) {
        this.backend = backend;
        this.params = new ArrayList<>(named.values());
        this.names = new ArrayList<>(named.keySet());
        lrMult = new float[params.size()];
        decayMult = new float[params.size()];
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            AdamW.Group g = AdamW.groupFor(names.get(i), rules);
            groups.put(names.get(i), g);
            lrMult[i] = g.lrMult();
            decayMult[i] = g.decayMult();
            if (p.grad == null) p.grad = Arena.persistent(() -> Tensor.zeros(backend, p.dtype(), p.shape()));
        }
    }

    /** A persistent zero tensor like each parameter, named {@code prefix + name} (optimizer state). */
    List<Tensor> zerosLike(String prefix) {
        List<Tensor> out = new ArrayList<>(params.size());
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            Tensor t = Arena.persistent(() -> Tensor.zeros(backend, p.dtype(), p.shape()));
            t.name = prefix + names.get(i);
            out.add(t);
        }
        return out;
    }

    /** The gradient buffers in parameter order. */
    List<Tensor> grads() {
        List<Tensor> grads = new ArrayList<>(params.size());
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            if (p.grad == null) throw new IllegalStateException("parameter " + names.get(i) + " has no gradient buffer");
            grads.add(p.grad);
        }
        return grads;
    }

    AdamW.Group groupOf(String name) {
        AdamW.Group g = groups.get(name);
        if (g == null) throw new IllegalArgumentException("'" + name + "' is not a parameter of this optimizer");
        return g;
    }

    void zeroGrad() {
        for (Tensor p : params) if (p.grad != null) backend.fill(p.grad, 0);
    }

    List<String> names() { return Collections.unmodifiableList(names); }
}
