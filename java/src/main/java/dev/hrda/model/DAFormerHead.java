package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.nn.Conv2d;
import dev.hrda.nn.ConvModule;
import dev.hrda.nn.DepthwiseSeparableConvModule;
import dev.hrda.nn.Init;
import dev.hrda.nn.Linear;
import dev.hrda.nn.MapLayer;
import dev.hrda.nn.Module;
import dev.hrda.nn.ModuleList;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * DAFormer's decode head (mmseg daformer_head.py), also HRDA's scale-attention head when the
 * fusion is a 1×1 ConvModule. Keys: embed_layers.{i}.proj.*, fuse_layer.aspp_modules.{j}.*,
 * fuse_layer.bottleneck.*, (or fuse_layer.conv/bn.*), conv_seg.*. Returns logits at the
 * stride of the first level (4), before any upsampling.
 */
public final class DAFormerHead extends DecodeHead {
    public final HeadConfig config;
    private final ModuleList<Mlp> embeds;
    private final Aspp aspp;
    private final ConvModule conv1x1;
    private final Conv2d convSeg;
    private boolean withCp;

    public DAFormerHead(Backend backend, DType dtype, HeadConfig c, Random r) {
        super(backend, dtype);
        this.config = c;
        embeds = child("embed_layers", new ModuleList<>(backend, dtype));
        for (int i = 0; i < 4; i++) embeds.add(new Mlp(backend, dtype, c.inChannels()[i], c.embedDim(), r));
        int cat = 4 * c.embedDim();
        if (c.fusion() == HeadConfig.Fusion.ASPP) {
            aspp = child("fuse_layer", new Aspp(backend, dtype, cat, c.channels(), c.dilations(), r));
            conv1x1 = null;
        } else {
            aspp = null;
            conv1x1 = child("fuse_layer", ConvModule.convBnRelu(backend, dtype, cat, c.channels(), 1, 0, 1, r));
        }
        convSeg = child("conv_seg", new Conv2d(backend, dtype, c.channels(), c.numClasses(), 1, 1, 0, 1, 1, true, r));
        convSeg.weight.copyFrom(Init.normal(convSeg.weight.numel(), 0.01, r));  // normal_init(conv_seg, std=0.01)
        backend.fill(convSeg.bias, 0);
    }

    /** Recompute the ASPP fusion (its branches hold most of the head's activations) in the backward pass. */
    @Override
    public void useCheckpoint(boolean on) {
        withCp = on;
    }

    /** Four encoder maps -> logits [B, numClasses, H/4, W/4]. */
    @Override
    public Tensor forward(List<Tensor> feats) {
        try (Scope s = Scope.open()) {
            Tensor first = feats.get(0);
            int h = first.dim(2), w = first.dim(3);
            List<Tensor> levels = new ArrayList<>(4);
            for (int i = 0; i < 4; i++) {
                Linear proj = embeds.get(i).proj;
                Tensor e = F.conv2d(feats.get(i), proj.weight, proj.bias, 1, 0, 1, 1);  // the Linear on every pixel
                Tensor up = F.resize(e, h, w);
                if (up != e) Scope.done(e);
                levels.add(up);
            }
            // inference frees each intermediate after its last reader (Scope.done); training keeps what the tape reads
            Tensor x = F.concat(levels);
            Scope.done(levels);
            Tensor fused = aspp == null ? conv1x1.forward(x) : withCp ? F.checkpoint(aspp::forward, x) : aspp.forward(x);
            Scope.done(x);
            Tensor dropped = F.dropout2d(fused, config.dropout(), isStochastic());
            if (dropped != fused) Scope.done(fused);
            Tensor logits = convSeg.forward(dropped);
            Scope.done(dropped);
            return s.keep(logits);
        }
    }

    /** mmseg's MLP embedding: one nn.Linear "proj" with PyTorch's default init (U(±1/sqrt(fan_in))). */
    static final class Mlp extends Module {
        final Linear proj;

        Mlp(Backend be, DType dt, int in, int out, Random r) {
            super(be, dt);
            proj = child("proj", new Linear(be, dt, in, out, true, r));
            proj.weight.copyFrom(Init.uniformFanIn(proj.weight.numel(), in, r));
            proj.bias.copyFrom(Init.uniformFanIn(out, in, r));
        }
    }

    /**
     * mmseg's ASPPWrapper with sep=True, pool=False: branches (1×1 ConvModule for dilation 1,
     * depthwise-separable 3×3 dilated otherwise), concat, 3×3 bottleneck ConvModule.
     */
    static final class Aspp extends Module {
        private final ModuleList<Module> branches;
        private final ConvModule bottleneck;

        Aspp(Backend be, DType dt, int in, int channels, int[] dilations, Random r) {
            super(be, dt);
            branches = child("aspp_modules", new ModuleList<>(be, dt));
            for (int d : dilations) {
                branches.add(d == 1 ? ConvModule.convBnRelu(be, dt, in, channels, 1, 0, 1, r)
                                    : new DepthwiseSeparableConvModule(be, dt, in, channels, 3, d, r));
            }
            bottleneck = child("bottleneck", ConvModule.convBnRelu(be, dt, dilations.length * channels, channels, 3, 1, 1, r));
        }

        Tensor forward(Tensor x) {
            List<Tensor> outs = new ArrayList<>(branches.size());
            for (Module m : branches) outs.add(((MapLayer) m).forward(x));
            Tensor cat = F.concat(outs);
            Scope.done(outs);
            Tensor y = bottleneck.forward(cat);
            Scope.done(cat);
            return y;
        }
    }
}
