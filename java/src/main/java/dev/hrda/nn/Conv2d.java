package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Random;

/** torch.nn.Conv2d with square kernel/stride/padding/dilation; parameters "weight", "bias". */
public final class Conv2d extends Module implements MapLayer {
    public final Tensor weight;
    public final Tensor bias;
    public final int stride, padding, dilation, groups;

    public Conv2d(Backend backend, DType dtype, int in, int out, int kernel, int stride, int padding, int dilation,
                  int groups, boolean withBias, Random r) {
        super(backend, dtype);
        this.stride = stride;
        this.padding = padding;
        this.dilation = dilation;
        this.groups = groups;
        long fanIn = (long) (in / groups) * kernel * kernel;
        weight = param("weight", Init.uniformFanIn(out * fanIn, fanIn, r), out, in / groups, kernel, kernel);
        bias = withBias ? param("bias", Init.uniformFanIn(out, fanIn, r), out) : null;
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.conv2d(x, weight, bias, stride, padding, dilation, groups);
    }
}
