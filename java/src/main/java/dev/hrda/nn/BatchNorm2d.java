package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/** torch.nn.BatchNorm2d (momentum 0.1, eps 1e-5); buffers running_mean, running_var. */
public final class BatchNorm2d extends Module implements MapLayer {
    public final Tensor weight;
    public final Tensor bias;
    public final Tensor runningMean;
    public final Tensor runningVar;
    public final float momentum;
    public final float eps;

    public BatchNorm2d(Backend backend, DType dtype, int channels) {
        this(backend, dtype, channels, 0.1f, 1e-5f);
    }

    public BatchNorm2d(Backend backend, DType dtype, int channels, float momentum, float eps) {
        super(backend, dtype);
        this.momentum = momentum;
        this.eps = eps;
        weight = param("weight", Init.constant(channels, 1), channels);
        bias = param("bias", Init.constant(channels, 0), channels);
        // running stats stay f32 (f64 on the f64 reference path), whatever the activations' dtype
        runningMean = buffer("running_mean", 0, channels);
        runningVar = buffer("running_var", 1, channels);
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.batchNorm(x, weight, bias, runningMean, runningVar, training(), momentum, eps);
    }
}
