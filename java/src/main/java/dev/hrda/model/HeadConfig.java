package dev.hrda.model;

import java.util.Arrays;

/**
 * A DAFormer-style decode head (hrda_spec.md §2): per-level embeddings to {@code embedDim}
 * channels, resize to stride 4, concat, a fusion layer, Dropout2d, a 1×1 classifier.
 *
 * @param fusion      ASPP (DAFormer: depthwise-separable ASPP + 3×3 bottleneck) or CONV1X1
 *                    (SegFormer's MLP decoder: 1×1 ConvModule; HRDA's scale attention)
 * @param dilations   ASPP dilations (1 = a 1×1 branch)
 */
public record HeadConfig(int[] inChannels, int embedDim, int channels, int numClasses, Fusion fusion, int[] dilations,
                         float dropout) implements DecodeHeadConfig {
    public enum Fusion { ASPP, CONV1X1 }

    public HeadConfig {
        if (inChannels.length != 4) throw new IllegalArgumentException("head needs 4 input levels, got " + Arrays.toString(inChannels));
        if (fusion == Fusion.ASPP && dilations.length == 0) throw new IllegalArgumentException("ASPP fusion needs dilations");
    }

    /** DAFormer's head: embed 256, sep-ASPP (1, 6, 12, 18), channels 256, dropout 0.1. */
    public static HeadConfig daformer(int[] inChannels, int embed, int numClasses) {
        return new HeadConfig(inChannels, embed, embed, numClasses, Fusion.ASPP, new int[] {1, 6, 12, 18}, 0.1f);
    }

    /** HRDA's scale-attention head: the same embeddings, a 1×1 ConvModule fusion. */
    public static HeadConfig attention(int[] inChannels, int embed, int outputs) {
        return new HeadConfig(inChannels, embed, embed, outputs, Fusion.CONV1X1, new int[0], 0.1f);
    }
}
