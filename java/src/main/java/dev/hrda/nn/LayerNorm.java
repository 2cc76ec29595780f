package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/** torch.nn.LayerNorm over the last dim; eps is explicit (MiT uses 1e-6 in blocks, 1e-5 elsewhere). */
public final class LayerNorm extends Module {
    public final Tensor weight;
    public final Tensor bias;
    public final float eps;

    public LayerNorm(Backend backend, DType dtype, int dim, float eps) {
        super(backend, dtype);
        this.eps = eps;
        weight = param("weight", Init.constant(dim, 1), dim);
        bias = param("bias", Init.constant(dim, 0), dim);
    }

    public Tensor forward(Tensor x) {
        return F.layerNorm(x, weight, bias, eps);
    }
}
