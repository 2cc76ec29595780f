package dev.hrda.model;

import java.util.Arrays;

/**
 * RIPU's DeepLab heads (core/models/classifier.py, ripu_spec.md §3).
 * <ul>
 * <li>V2 (ASPP_Classifier_V2): 3×3 convs of the last level to the classes, one per dilation
 *     (6, 12, 18, 24), summed; weights N(0, 0.01), biases on. Logits at the last level's stride.</li>
 * <li>V3PLUS (DepthwiseSeparableASPP): on the last level a 1×1 branch and depthwise-separable
 *     3×3 branches ({@code channels} each; dilations 1, 6, 12, 18) and an image-pooling branch,
 *     concatenated, a 3×3 bottleneck; resized to the first level, concatenated with its 1×1
 *     shortcut ({@code lowChannels}), two depthwise-separable 3×3 convs, Dropout2d, a 1×1
 *     classifier. Logits at the first level's stride. Kaiming-normal init.</li>
 * </ul>
 * Every resize is bilinear with align_corners=True, as the original.
 *
 * @param frozenBn FrozenBatchNorm2d in the V3PLUS head (RIPU's FREEZE_BN), or trainable BatchNorm2d
 */
public record DeepLabConfig(Kind kind, int[] inChannels, int channels, int lowChannels, int[] dilations, int numClasses,
                            float dropout, boolean frozenBn) implements DecodeHeadConfig {
    public enum Kind { V2, V3PLUS }

    public DeepLabConfig {
        if (inChannels.length != 4) throw new IllegalArgumentException("DeepLab head needs the 4 encoder levels' channels, got " + Arrays.toString(inChannels));
        if (dilations.length == 0) throw new IllegalArgumentException("DeepLab head needs at least one dilation");
        if (numClasses < 1) throw new IllegalArgumentException("DeepLab head needs classes, got " + numClasses);
    }

    /** DeepLab-v2's classifier: dilations 6/12/18/24 summed. */
    public static DeepLabConfig v2(int[] inChannels, int numClasses) {
        return new DeepLabConfig(Kind.V2, inChannels, 0, 0, new int[] {6, 12, 18, 24}, numClasses, 0f, true);
    }

    /** DeepLab-v3+ as RIPU: 512 channels, rates 1/6/12/18, 48-channel shortcut, Dropout2d(0.1), FrozenBN. */
    public static DeepLabConfig v3plus(int[] inChannels, int channels, int lowChannels, int numClasses) {
        return new DeepLabConfig(Kind.V3PLUS, inChannels, channels, lowChannels, new int[] {1, 6, 12, 18}, numClasses, 0.1f, true);
    }
}
