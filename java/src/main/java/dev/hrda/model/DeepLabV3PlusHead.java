package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.nn.Conv2d;
import dev.hrda.nn.Init;
import dev.hrda.nn.ModuleList;
import dev.hrda.nn.Norm2d;
import dev.hrda.nn.Sequential;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * RIPU's DepthwiseSeparableASPP (DeepLab-v3+, core/models/classifier.py). Keys:
 * parallel_branches.0.{0,1} (1×1 conv, norm), parallel_branches.{i}.{depthwise,pointwise}_{conv,bn},
 * global_branch.{1,2} (image pooling, 1×1 conv, norm), bottleneck.{0,1}, shortcut.{0,1},
 * decoder.{0,1}.* (depthwise-separable), decoder.3 (1×1 classifier with bias). Every conv is
 * kaiming-normal (fan_in), bias-free but the classifier's; norms FrozenBN or BatchNorm2d.
 */
public final class DeepLabV3PlusHead extends DecodeHead {
    public final DeepLabConfig config;
    private final ModuleList<Sequential> branches;
    private final Sequential global, bottleneck, shortcut, decoder;
    private boolean withCp;

    DeepLabV3PlusHead(Backend backend, DType dtype, DeepLabConfig c, Random r) {
        super(backend, dtype);
        this.config = c;
        int in = c.inChannels()[3], low = c.inChannels()[0], ch = c.channels();
        boolean frozen = c.frozenBn();
        branches = child("parallel_branches", new ModuleList<>(backend, dtype));
        for (int d : c.dilations()) branches.add(d == 1 ? convNormRelu(in, ch, 1, 0, frozen, r) : separable(in, ch, d, frozen, r));
        global = child("global_branch", new Sequential(backend, dtype).fn(F::globalAvgPool).add(conv(in, ch, 1, 0, 1, 1, false, r))
                                                                        .add(Norm2d.create(backend, dtype, ch, frozen)).fn(F::relu));
        bottleneck = child("bottleneck", convNormRelu(ch * (c.dilations().length + 1), ch, 3, 1, frozen, r));
        shortcut = child("shortcut", convNormRelu(low, c.lowChannels(), 1, 0, frozen, r));
        Conv2d cls = conv(ch, c.numClasses(), 1, 0, 1, 1, true, r);
        decoder = child("decoder", new Sequential(backend, dtype).add(separable(ch + c.lowChannels(), ch, 1, frozen, r))
                                                                    .add(separable(ch, ch, 1, frozen, r))
                                                                    .fn(x -> F.dropout2d(x, c.dropout(), isStochastic()))
                                                                    .add(cls));
    }

    private Conv2d conv(int in, int out, int k, int pad, int dilation, int groups, boolean bias, Random r) {
        Conv2d conv = new Conv2d(backend, dtype, in, out, k, 1, pad, dilation, groups, bias, r);
        conv.weight.copyFrom(Init.kaimingNormalFanIn(conv.weight.numel(), (long) (in / groups) * k * k, r));
        return conv;
    }

    private Sequential convNormRelu(int in, int out, int k, int pad, boolean frozen, Random r) {
        return new Sequential(backend, dtype).add(conv(in, out, k, pad, 1, 1, false, r)).add(Norm2d.create(backend, dtype, out, frozen)).fn(F::relu);
    }

    /** RIPU's DepthwiseSeparableConv2d: 3×3 depthwise (dilated), norm, ReLU, 1×1 pointwise, norm, ReLU. */
    private Sequential separable(int in, int out, int dilation, boolean frozen, Random r) {
        return new Sequential(backend, dtype).add("depthwise_conv", conv(in, in, 3, dilation, dilation, in, false, r))
                                             .add("depthwise_bn", Norm2d.create(backend, dtype, in, frozen)).fn(F::relu)
                                             .add("pointwise_conv", conv(in, out, 1, 0, 1, 1, false, r))
                                             .add("pointwise_bn", Norm2d.create(backend, dtype, out, frozen)).fn(F::relu);
    }

    @Override
    public void useCheckpoint(boolean on) {
        withCp = on;
    }

    @Override
    public boolean alignCorners() {
        return true;
    }

    @Override
    public Tensor forward(List<Tensor> feats) {
        try (Scope s = Scope.open()) {
            Tensor low = feats.get(0), x = feats.get(3);
            Tensor aspp = withCp ? F.checkpoint(this::aspp, x) : aspp(x);
            Tensor up = F.resizeAligned(aspp, low.dim(2), low.dim(3));
            if (up != aspp) Scope.done(aspp);
            Tensor sc = shortcut.forward(low);
            Tensor cat = F.concat(List.of(up, sc));
            Scope.done(List.of(up, sc));
            return s.keep(decoder.forward(cat));
        }
    }

    /** The branches, the image pooling broadcast back, concatenated, the bottleneck. */
    private Tensor aspp(Tensor x) {
        List<Tensor> outs = new ArrayList<>(branches.size() + 1);
        for (Sequential b : branches) outs.add(b.forward(x));
        Tensor g = global.forward(x);
        outs.add(F.resizeAligned(g, x.dim(2), x.dim(3)));
        Scope.done(g);
        Tensor cat = F.concat(outs);
        Scope.done(outs);
        Tensor y = bottleneck.forward(cat);
        Scope.done(cat);
        return y;
    }
}
