package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * RIPU's FrozenBatchNorm2d (core/models/layers.py): y = x·w/sqrt(var) + (b − mean·w/sqrt(var)),
 * no eps, all four tensors buffers (weight, bias, running_mean, running_var: no gradient, never
 * updated), whatever the module's mode. The input gradient flows through (eval-mode batch norm).
 */
public final class FrozenBatchNorm2d extends Module implements MapLayer {
    public final Tensor weight;
    public final Tensor bias;
    public final Tensor runningMean;
    public final Tensor runningVar;

    public FrozenBatchNorm2d(Backend backend, DType dtype, int channels) {
        super(backend, dtype);
        weight = buffer("weight", 1, channels);
        bias = buffer("bias", 0, channels);
        runningMean = buffer("running_mean", 0, channels);
        runningVar = buffer("running_var", 1, channels);
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.batchNorm(x, weight, bias, runningMean, runningVar, false, 0f, 0f);
    }
}
