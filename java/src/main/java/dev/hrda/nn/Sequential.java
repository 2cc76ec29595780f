package dev.hrda.nn;

import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * torch.nn.Sequential: layers named by position ("0", "1", …), so a conv-BN-ReLU stack keeps the
 * original keys ("shortcut.0.weight", "shortcut.1.running_mean"); a parameter-free layer (ReLU,
 * pooling, dropout: {@link #fn}) takes a position too, as in PyTorch. Layers may also be named
 * (a module whose attributes run in order, e.g. depthwise_conv, depthwise_bn, …).
 */
public final class Sequential extends Module implements MapLayer {
    private final List<MapLayer> layers = new ArrayList<>();

    public Sequential(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    /** Appends a layer named by its position; {@code m} must be a {@link MapLayer}. */
    public Sequential add(Module m) {
        return add(Integer.toString(layers.size()), m);
    }

    /** Appends a layer under {@code name}. */
    public Sequential add(String name, Module m) {
        if (!(m instanceof MapLayer l)) throw new IllegalArgumentException(m.getClass().getSimpleName() + " does not map one tensor to another");
        child(name, m);
        layers.add(l);
        return this;
    }

    /** Appends a parameter-free layer (it holds a position). */
    public Sequential fn(UnaryOperator<Tensor> f) {
        layers.add(f::apply);
        return this;
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = x;
        for (MapLayer l : layers) {
            Tensor next = l.forward(y);
            if (y != x && next != y) Scope.done(y);  // inference: each intermediate goes after its reader
            y = next;
        }
        return y;
    }
}
