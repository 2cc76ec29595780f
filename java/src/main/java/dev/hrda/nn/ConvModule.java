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

    @Override
    public Tensor forward(Tensor x) {
        Tensor y = conv.forward(x);
        if (bn != null) y = Scope.replaced(y, bn.forward(y));
        return relu ? Scope.replaced(y, F.relu(y)) : y;
    }

}
