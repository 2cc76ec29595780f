package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.nn.Conv2d;
import dev.hrda.nn.Init;
import dev.hrda.nn.MapLayer;
import dev.hrda.nn.Module;
import dev.hrda.nn.ModuleList;
import dev.hrda.nn.Norm2d;
import dev.hrda.nn.Sequential;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * torchvision's ResNet with Bottleneck blocks as RIPU's feature extractor builds it
 * (core/models/resnet.py): stem conv1 7×7/2, bn1, ReLU, max-pool 3×3/2; layer1…layer4 with
 * replace_stride_with_dilation [False, True, True] (output stride 8: layer3 and layer4 keep
 * stride 1, their first block at the previous dilation, the others at 2 and 4); the stride and
 * dilation sit on each block's 3×3 conv2. Returns the four layers' outputs (strides 4, 8, 8, 8).
 * Names are torchvision's (conv1.weight, layer3.0.downsample.1.running_var, …), so an ImageNet
 * resnet101-*.pth and RIPU's feature_extractor load as they are; no fc.
 */
public final class ResNet extends Backbone {
    static final int EXPANSION = 4;
    public final ResNetConfig config;
    private final Conv2d conv1;
    private final MapLayer bn1;
    private final List<ModuleList<Bottleneck>> layers = new ArrayList<>();
    private boolean withCp;

    public ResNet(Backend backend, DType dtype, ResNetConfig c, Random r) {
        super(backend, dtype);
        this.config = c;
        int w = c.width();
        conv1 = child("conv1", conv(backend, dtype, 3, w, 7, 2, 3, 1, r));
        bn1 = (MapLayer) child("bn1", Norm2d.create(backend, dtype, w, c.frozenBn()));
        int inplanes = w, dilation = 1;
        boolean[] dilate = {false, false, true, true};
        for (int i = 0; i < 4; i++) {
            int planes = w << i, stride = i == 0 ? 1 : 2, previous = dilation;
            if (dilate[i]) {
                dilation *= stride;
                stride = 1;
            }
            ModuleList<Bottleneck> layer = child("layer" + (i + 1), new ModuleList<>(backend, dtype));
            boolean down = stride != 1 || inplanes != planes * EXPANSION;
            layer.add(new Bottleneck(backend, dtype, inplanes, planes, stride, previous, down, c.frozenBn(), r));
            inplanes = planes * EXPANSION;
            for (int b = 1; b < c.blocks()[i]; b++) layer.add(new Bottleneck(backend, dtype, inplanes, planes, 1, dilation, false, c.frozenBn(), r));
            layers.add(layer);
        }
    }

    /** A bias-free conv with torchvision's init: kaiming normal, fan_out, ReLU gain. */
    static Conv2d conv(Backend be, DType dt, int in, int out, int k, int stride, int pad, int dilation, Random r) {
        Conv2d c = new Conv2d(be, dt, in, out, k, stride, pad, dilation, 1, false, r);
        c.weight.copyFrom(Init.kaimingNormalFanOut(c.weight.numel(), (long) out * k * k, r));
        return c;
    }

    @Override
    public void useCheckpoint(boolean on) {
        withCp = on;
    }

    @Override
    public List<Tensor> forward(Tensor img) {
        Tensor x = conv1.forward(img);
        x = Scope.replaced(x, bn1.forward(x));
        x = Scope.replaced(x, F.relu(x));
        x = Scope.replaced(x, F.maxPool2d(x, 3, 2, 1));
        List<Tensor> outs = new ArrayList<>(4);
        for (ModuleList<Bottleneck> layer : layers) {
            for (Bottleneck b : layer) {
                Tensor in = x;
                x = withCp ? F.checkpoint(b::forward, in) : b.forward(in);
                if (outs.isEmpty() || outs.get(outs.size() - 1) != in) Scope.done(in);  // a returned level stays
            }
            outs.add(x);
        }
        return outs;
    }


    /** torchvision's Bottleneck: 1×1, 3×3 (stride, dilation), 1×1 ×4, each with its norm; ReLU after the residual sum. */
    static final class Bottleneck extends Module {
        private final Conv2d conv1, conv2, conv3;
        private final MapLayer bn1, bn2, bn3;
        private final Sequential downsample;

        Bottleneck(Backend be, DType dt, int inplanes, int planes, int stride, int dilation, boolean down, boolean frozen, Random r) {
            super(be, dt);
            int out = planes * EXPANSION;
            conv1 = child("conv1", conv(be, dt, inplanes, planes, 1, 1, 0, 1, r));
            bn1 = (MapLayer) child("bn1", Norm2d.create(be, dt, planes, frozen));
            conv2 = child("conv2", conv(be, dt, planes, planes, 3, stride, dilation, dilation, r));
            bn2 = (MapLayer) child("bn2", Norm2d.create(be, dt, planes, frozen));
            conv3 = child("conv3", conv(be, dt, planes, out, 1, 1, 0, 1, r));
            bn3 = (MapLayer) child("bn3", Norm2d.create(be, dt, out, frozen));
            downsample = down ? child("downsample", new Sequential(be, dt).add(conv(be, dt, inplanes, out, 1, stride, 0, 1, r))
                                                                           .add(Norm2d.create(be, dt, out, frozen))) : null;
        }

        Tensor forward(Tensor x) {
            Tensor y = conv1.forward(x);
            y = Scope.replaced(y, bn1.forward(y));
            y = Scope.replaced(y, F.relu(y));
            y = Scope.replaced(y, conv2.forward(y));
            y = Scope.replaced(y, bn2.forward(y));
            y = Scope.replaced(y, F.relu(y));
            y = Scope.replaced(y, conv3.forward(y));
            y = Scope.replaced(y, bn3.forward(y));
            Tensor identity = downsample != null ? downsample.forward(x) : x;
            Tensor sum = F.add(y, identity);
            Scope.done(y);
            if (identity != x) Scope.done(identity);
            return Scope.replaced(sum, F.relu(sum));
        }
    }
}
