package dev.hrda.model;

import dev.hrda.backend.Backend;
import dev.hrda.nn.Module;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Random;

/** A decode head: the encoder's four maps to logits [B, K, h, w] at the stride of the level it ends on. */
public abstract class DecodeHead extends Module {
    protected DecodeHead(Backend backend, DType dtype) {
        super(backend, dtype);
    }

    public abstract Tensor forward(List<Tensor> feats);

    /** Activation checkpointing of the head's widest part (its ASPP). */
    public abstract void useCheckpoint(boolean on);

    /** Whether its logits are resized with align_corners=True (RIPU's DeepLab heads) rather than mmseg's False. */
    public boolean alignCorners() {
        return false;
    }

    /** The head a config names, with its original random initialisation. */
    public static DecodeHead create(Backend backend, DType dtype, DecodeHeadConfig c, Random r) {
        if (c instanceof HeadConfig h) return new DAFormerHead(backend, dtype, h, r);
        DeepLabConfig d = (DeepLabConfig) c;
        return d.kind() == DeepLabConfig.Kind.V2 ? new DeepLabV2Head(backend, dtype, d, r) : new DeepLabV3PlusHead(backend, dtype, d, r);
    }
}
