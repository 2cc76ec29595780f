package dev.hrda.nn;

import dev.hrda.autograd.F;
import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Random;

/** y = x W^T + b over the last dim (torch.nn.Linear); parameters "weight" [out, in], "bias" [out]. */
public final class Linear extends Module {
    public final Tensor weight;
    public final Tensor bias;

    public Linear(Backend backend, DType dtype, int in, int out, boolean withBias, Random r) {
        super(backend, dtype);
        weight = param("weight", Init.truncNormal((long) in * out, 0.02, r), out, in);
        bias = withBias ? param("bias", Init.constant(out, 0), out) : null;
    }

    public Tensor forward(Tensor x) {
        return F.linear(x, weight, bias);
    }
}
