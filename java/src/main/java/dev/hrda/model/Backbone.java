package dev.hrda.model;

import dev.hrda.backend.Backend;
import dev.hrda.nn.Module;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Random;

/**
 * An encoder: an image [B, 3, H, W] to four feature maps (MiT: strides 4, 8, 16, 32; ResNet at
 * output stride 8: 4, 8, 8, 8) with {@link BackboneConfig#channels()} channels. Any backbone
 * goes with any {@link DecodeHead}.
 */
public abstract class Backbone extends Module {
    protected Backbone(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    public abstract List<Tensor> forward(Tensor img);

    /** Activation checkpointing (mmseg's with_cp) of the encoder's blocks. */
    public abstract void useCheckpoint(boolean on);

    /** The encoder a config names, with its original random initialisation. */
    public static Backbone create(Backend backend, DType dtype, BackboneConfig c, Random r) {
        if (c instanceof MitConfig mit) return new MixTransformer(backend, dtype, mit, r);
        return new ResNet(backend, dtype, (ResNetConfig) c, r);
    }
}
