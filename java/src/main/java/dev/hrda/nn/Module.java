package dev.hrda.nn;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A layer or a tree of layers that owns parameters and buffers (persistent tensors, freed by
 * {@link #close()}). Names compose like PyTorch's state_dict keys ("backbone.block1.0.attn.q.weight"),
 * so checkpoints keep the original mmseg/SegFormer names.
 */
public abstract class Module implements AutoCloseable {
    protected final Backend backend;
    protected final DType dtype;
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    /** BatchNorm on batch statistics (and updating its running ones) rather than the running ones. */
    private boolean training = true;
    /** Dropout, Dropout2d and drop-path active. */
    private boolean stochastic = true;

    protected Module(Backend backend, DType dtype) {
        this.backend = backend;
        this.dtype = dtype;
    }

    /**
     * Creates a parameter (outside any arena) initialised from {@code init}. Its gradient is
     * allocated on first use (the first backward pass that reaches it, or the optimizer that
     * owns it), so frozen models (the EMA teacher, the ImageNet model) never hold one.
     */
    protected Tensor param(String name, double[] init, int... shape) {
        Tensor p = Arena.persistent(() -> {
            Tensor t = Tensor.empty(backend, dtype, shape);
            t.copyFrom(init);
            return t;
        });
        p.isParam = true;
        p.requiresGrad = true;
        p.name = name;
        params.put(name, p);
        return p;
    }

    protected Tensor buffer(String name, double value, int... shape) {
        Tensor b = Arena.persistent(() -> Tensor.full(backend, dtype, value, shape));
        b.name = name;
        buffers.put(name, b);
        return b;
    }

    protected <M extends Module> M child(String name, M m) {
        children.put(name, m);
        return m;
    }

    /** All parameters in registration order, keyed by their full name. */
    public Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, true);
        return out;
    }

    public Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, false);
        return out;
    }

    private void collect(String prefix, Map<String, Tensor> out, boolean wantParams) {
        for (var e : (wantParams ? params : buffers).entrySet()) {
            String full = prefix + e.getKey();
            e.getValue().name = full;
            out.put(full, e.getValue());
        }
        for (var e : children.entrySet()) e.getValue().collect(prefix + e.getKey() + ".", out, wantParams);
    }

    public List<Tensor> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    public long parameterCount() {
        long n = 0;
        for (Tensor p : namedParameters().values()) n += p.numel();
        return n;
    }

    public Map<String, Module> children() {
        return Collections.unmodifiableMap(children);
    }

    /**
     * Training mode (dropout and drop-path active, batch norm on batch statistics) or evaluation
     * mode (neither), for this module and its children.
     */
    public void train(boolean on) {
        training = on;
        stochastic = on;
        for (Module m : children.values()) m.train(on);
    }

    /**
     * Dropout and drop-path on or off without touching BatchNorm's mode: DACS runs its EMA
     * teacher with BatchNorm on batch statistics but no dropout ({@code train(true);
     * stochastic(false)}).
     */
    public void stochastic(boolean on) {
        stochastic = on;
        for (Module m : children.values()) m.stochastic(on);
    }

    /** Whether BatchNorm uses batch statistics. */
    public boolean training() {
        return training;
    }

    /** Whether dropout and drop-path are active. */
    public boolean isStochastic() {
        return stochastic;
    }

    /**
     * Whether the parameters take part in autograd. Off: no op records a backward step for
     * them and their gradient memory is freed (a frozen model allocates none).
     */
    public void requiresGrad(boolean on) {
        for (Tensor p : namedParameters().values()) {
            p.requiresGrad = on;
            if (!on && p.grad != null) {
                p.grad.close();
                p.grad = null;
            }
        }
    }

    /** {@code requiresGrad(false)}: the EMA teacher and the ImageNet model of DACS. Returns this. */
    public Module freeze() {
        requiresGrad(false);
        return this;
    }

    /** Allocates a zero gradient for every parameter that requires one and has none (an optimizer's parameters). */
    public void allocateGradients() {
        for (Tensor p : namedParameters().values()) {
            if (p.requiresGrad && p.grad == null) p.grad = Arena.persistent(() -> Tensor.zeros(backend, p.dtype(), p.shape()));
        }
    }

    /** Sets every parameter gradient of this tree to zero. */
    public void zeroGrad() {
        for (Tensor p : namedParameters().values()) if (p.grad != null) backend.fill(p.grad, 0);
    }

    @Override
    public void close() {
        for (Module m : children.values()) m.close();
        for (Tensor t : params.values()) t.close();
        for (Tensor t : buffers.values()) t.close();
    }
}
