package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.nn.Conv2d;
import dev.hrda.nn.Init;
import dev.hrda.nn.ModuleList;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Random;

/**
 * RIPU's ASPP_Classifier_V2 (DeepLab-v2): on the last encoder level, one 3×3 conv to the classes
 * per dilation (padding = dilation), biases on, weights N(0, 0.01), the outputs summed. Keys
 * conv2d_list.{i}.weight/bias. Logits at the last level's stride (8 on ResNet OS8).
 */
public final class DeepLabV2Head extends DecodeHead {
    public final DeepLabConfig config;
    private final ModuleList<Conv2d> convs;

    DeepLabV2Head(Backend backend, DType dtype, DeepLabConfig c, Random r) {
        super(backend, dtype);
        this.config = c;
        int in = c.inChannels()[3];
        convs = child("conv2d_list", new ModuleList<>(backend, dtype));
        for (int d : c.dilations()) {
            Conv2d conv = convs.add(new Conv2d(backend, dtype, in, c.numClasses(), 3, 1, d, d, 1, true, r));
            conv.weight.copyFrom(Init.normal(conv.weight.numel(), 0.01, r));  // the bias keeps PyTorch's default init
        }
    }

    @Override
    public Tensor forward(List<Tensor> feats) {
        Tensor x = feats.get(3), sum = null;
        for (Conv2d conv : convs) {
            Tensor y = conv.forward(x);
            if (sum == null) {
                sum = y;
            } else {
                Tensor next = F.add(sum, y);
                Scope.done(List.of(sum, y));
                sum = next;
            }
        }
        return sum;
    }

    /** Nothing worth recomputing: the head is four convolutions to the classes. */
    @Override
    public void useCheckpoint(boolean on) {}

    @Override
    public boolean alignCorners() {
        return true;
    }
}
