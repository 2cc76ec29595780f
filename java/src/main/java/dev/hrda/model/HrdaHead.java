package dev.hrda.model;

import dev.hrda.autograd.F;
import dev.hrda.autograd.Scope;
import dev.hrda.backend.Backend;
import dev.hrda.nn.Module;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Random;

/**
 * HRDA's decode head (hrda_head.py): one DAFormer head ("head") applied to context and detail
 * features, and a scale-attention head ("scale_attention", class-wise, sigmoid) on the context
 * features only. The attention is not detached: the fused loss trains it and the encoder.
 */
public final class HrdaHead extends Module {
    public final DAFormerHead head;
    public final DAFormerHead scaleAttention;
    private double fixedAttention;

    HrdaHead(Backend backend, DType dtype, ModelConfig c, Random r) {
        super(backend, dtype);
        head = child("head", new DAFormerHead(backend, dtype, c.daformerHead(), r));
        scaleAttention = child("scale_attention", new DAFormerHead(backend, dtype, c.attentionHead(), r));
        fixedAttention = c.hrda().fixedAttention();
    }

    /**
     * Fixes the scale attention (0: context only, 1: detail only; NaN: learned), as HRDA's
     * test.py --hrda-out LR|HR does to a loaded model.
     */
    public void fixAttention(double value) {
        if (!Double.isNaN(value) && (value < 0 || value > 1)) throw new IllegalArgumentException("fixed attention must be in [0, 1], got " + value);
        fixedAttention = value;
    }

    public double fixedAttention() {
        return fixedAttention;
    }

    /** sigmoid(scale_attention(context features)), or the fixed value broadcast to lr's shape. */
    public Tensor attention(List<Tensor> contextFeats, Tensor lr) {
        if (!Double.isNaN(fixedAttention)) return Tensor.full(backend, lr.dtype(), fixedAttention, lr.shape());
        Tensor logits = scaleAttention.forward(contextFeats);
        Tensor att = F.sigmoid(logits);
        Scope.done(logits);
        return att;
    }

    /**
     * fused = up2(att·mask)·hr_inserted + up2((1 − att·mask)·lr) on the stride-4 grid of the
     * full-resolution input; {@code box} is where hr lies on that grid (the mask is box/2 at the
     * context's resolution).
     */
    public static Tensor fuse(Tensor lr, Tensor att, Tensor hr, CropBox box) {
        return F.hrdaFuse(lr, att, hr, box.top(), box.left());
    }
}
