package dev.hrda.nn;

import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Random;

/**
 * mmcv's DepthwiseSeparableConvModule: a depthwise k×k (dilated) ConvModule over every input
 * channel, then a pointwise 1×1 ConvModule; both with BN and ReLU (dw/pw configs default to the
 * module's). Children "depthwise_conv" and "pointwise_conv".
 */
public final class DepthwiseSeparableConvModule extends Module implements MapLayer {
    public final ConvModule depthwise;
    public final ConvModule pointwise;

    public DepthwiseSeparableConvModule(Backend backend, DType dtype, int in, int out, int kernel, int dilation, Random r) {
        super(backend, dtype);
        int padding = dilation * (kernel / 2);
        depthwise = child("depthwise_conv", new ConvModule(backend, dtype, in, in, kernel, padding, dilation, in, true, true, r));
        pointwise = child("pointwise_conv", ConvModule.convBnRelu(backend, dtype, in, out, 1, 0, 1, r));
    }

    @Override
    public Tensor forward(Tensor x) {
        Tensor d = depthwise.forward(x);
        Tensor y = pointwise.forward(d);
        Scope.done(d);  // inference: freed before the caller's next branch runs
        return y;
    }
}
