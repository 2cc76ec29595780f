package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Random;

/**
 * mmcv's ConvModule as mmseg configures it: conv (no bias when a norm follows), BatchNorm
 * ("bn") and ReLU. Children "conv" and "bn" give the original keys ("….conv.weight",
 * "….bn.running_mean"). Weights: kaiming normal (fan_out), BN 1/0, as mmcv 1.3 initialises.
 */
public final class ConvModule extends Module implements MapLayer {
    public final Conv2d conv;
    public final BatchNorm2d bn;
    private final boolean relu;

    public ConvModule(Backend backend, DType dtype, int in, int out, int kernel, int padding, int dilation, int groups,
                      boolean withNorm, boolean relu, Random r) {
        super(backend, dtype);
        conv = child("conv", new Conv2d(backend, dtype, in, out, kernel, 1, padding, dilation, groups, !withNorm, r));
        long fanOut = (long) out * kernel * kernel;
        conv.weight.copyFrom(Init.kaimingNormalFanOut(conv.weight.numel(), fanOut, r));
        if (conv.bias != null) backend.fill(conv.bias, 0);
        bn = withNorm ? child("bn", new BatchNorm2d(backend, dtype, out)) : null;
        this.relu = relu;
    }

    /** Conv + BN + ReLU, mmseg's default for decode heads. */
    public static ConvModule convBnRelu(Backend backend, DType dtype, int in, int out, int kernel, int padding, int dilation,
                                        Random r) {
        return new ConvModule(backend, dtype, in, out, kernel, padding, dilation, 1, true, true, r);
    }

    /**
     * Training keeps what PyTorch keeps for BN's backward (its input), but not the ReLU's output,
     * which the next convolution also reads: it is recomputed from BN's input in the backward
     * pass ({@link F#recomputable}: one elementwise pass, the memory of one activation per
     * ConvModule for the whole backward pass). A depthwise convolution's output (BN's input) is
     * recomputed the same way: it costs a fraction of the dense convolutions around it.
     */
    @Override
    public Tensor forward(Tensor x) {
        boolean depthwise = conv.groups > 1 && conv.groups == x.dim(1) && conv.weight.dim(0) == conv.groups;
        Tensor y = depthwise ? F.recomputable(conv::forward, x) : conv.forward(x);
        if (bn != null && !y.requiresGrad) return bnReluInPlace(y);  // nothing records: over the convolution's output
        if (bn != null && relu) {
            Tensor z = depthwise ? F.recomputable(this::bnRelu, y, this::convBnRelu, x)
                                 : F.recomputable(this::bnRelu, y);
            return Scope.replaced(y, z);
        }
        if (bn != null) y = Scope.replaced(y, bn.forward(y));
        return relu ? Scope.replaced(y, F.relu(y)) : y;
    }

    /** The whole module again, for a depthwise convolution's ReLU output: BN's input is not brought back for it. */
    private Tensor convBnRelu(Tensor x) {
        return bnReluInPlace(conv.forward(x));
    }

    private Tensor bnReluInPlace(Tensor y) {
        return F.batchNormInPlace(y, bn.weight, bn.bias, bn.runningMean, bn.runningVar, bn.training(), bn.momentum, bn.eps, relu);
    }

    private Tensor bnRelu(Tensor y) {
        Tensor z = bn.forward(y);
        return Scope.replaced(z, F.relu(z));
    }

}
