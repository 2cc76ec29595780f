package dev.hrda.model;

import java.util.Arrays;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A whole segmentor: encoder, decode head, and for HRDA the scale-attention head and the
 * multi-resolution settings ({@code hrda} null = plain DAFormer / source-only EncoderDecoder).
 *
 * @param testCrop   slide test window (0 = whole-image test, DAFormer's mode)
 * @param testStride slide test stride
 */
public record ModelConfig(String name, MitConfig backbone, HeadConfig head, HeadConfig attentionHead, HrdaConfig hrda,
                          int testCrop, int testStride) {
    public ModelConfig {
        if ((hrda == null) != (attentionHead == null)) throw new IllegalArgumentException(name + ": HRDA needs an attention head, DAFormer none");
        if (head.inChannels()[0] != backbone.embedDims()[0]) throw new IllegalArgumentException(name + ": head inputs do not match the encoder");
    }

    public boolean isHrda() {
        return hrda != null;
    }

    public int numClasses() {
        return head.numClasses();
    }

    /** DAFormer (MiT + sep-ASPP head), whole-image test. */
    public static ModelConfig daformer(String name, MitConfig mit, int embed, int numClasses) {
        return new ModelConfig(name, mit, HeadConfig.daformer(mit.embedDims(), embed, numClasses), null, null, 0, 0);
    }

    /** HRDA (DAFormer head on context and detail, class-wise scale attention), slide test 1024/512. */
    public static ModelConfig hrda(String name, MitConfig mit, int embed, int numClasses, HrdaConfig hrda) {
        return new ModelConfig(name, mit, HeadConfig.daformer(mit.embedDims(), embed, numClasses),
                               HeadConfig.attention(mit.embedDims(), embed, numClasses), hrda, 2 * hrda.hrCropSize(), hrda.hrCropSize());
    }

    /**
     * The same HRDA model with its scale attention fixed: 0 = context (LR) only, 1 = detail (HR)
     * only, as HRDA's {@code tools/test.py --hrda-out LR|HR} sets it.
     */
    public ModelConfig withFixedAttention(double value) {
        if (!isHrda()) throw new IllegalArgumentException(name + " is not an HRDA model: it has no scale attention to fix");
        return new ModelConfig(name, backbone, head, attentionHead, hrda.withFixedAttention(value), testCrop, testStride);
    }

    /**
     * Named models: {@code daformer_mitbN}, {@code hrda_mitbN} (N = 0…5; 19 Cityscapes classes,
     * embed 256), and the reference fixtures' {@code tiny_daformer} / {@code tiny_hrda}.
     */
    public static ModelConfig named(String name) {
        if (name.equals("tiny_daformer")) return daformer(name, MitConfig.named("mit_tiny"), 16, 5);
        if (name.equals("tiny_hrda")) return hrda(name, MitConfig.named("mit_tiny"), 16, 5, HrdaConfig.defaults().withHrCrop(64));
        int us = name.indexOf("_mitb");
        if (us > 0) {
            MitConfig mit = MitConfig.named("mit_b" + name.substring(us + 5));
            switch (name.substring(0, us)) {
                case "daformer": return daformer(name, mit, 256, 19);
                case "hrda": return hrda(name, mit, 256, 19, HrdaConfig.defaults());
                default: break;
            }
        }
        throw new IllegalArgumentException("unknown model '" + name + "' (daformer_mitb0…5, hrda_mitb0…5, tiny_daformer, tiny_hrda)");
    }

    private static final Pattern BLOCK = Pattern.compile("(?:^|\\.)block([1-4])\\.(\\d+)\\.");
    private static final Pattern EMBED = Pattern.compile("(?:^|\\.)patch_embed([1-4])\\.proj\\.weight$");

    /**
     * The model a checkpoint was saved from, read off its names and shapes (any prefix:
     * {@code model.}, {@code ema_model.}, none): the MiT variant from the patch-embedding widths
     * and the number of blocks per stage, HRDA if a {@code scale_attention} head is present, the
     * head width and class count from the DAFormer head. A backbone-only file (SegFormer's
     * ImageNet weights) gives the DAFormer model with 256 channels and 19 classes. The test
     * models' mit_tiny encoder is recognised too ({@code tiny_daformer}, {@code tiny_hrda}).
     *
     * @throws IllegalArgumentException naming what could not be recognised
     */
    public static ModelConfig guess(Map<String, int[]> shapes) {
        int[] dims = new int[4], depths = new int[4];
        boolean hrda = false;
        int embed = 256, classes = 19;
        // a UDA file's sub-models (model., ema_model., imnet_model.) share one architecture
        for (var e : shapes.entrySet()) {
            String n = e.getKey();
            var m = BLOCK.matcher(n);
            if (m.find()) depths[m.group(1).charAt(0) - '1'] = Math.max(depths[m.group(1).charAt(0) - '1'], Integer.parseInt(m.group(2)) + 1);
            m = EMBED.matcher(n);
            if (m.find()) dims[m.group(1).charAt(0) - '1'] = e.getValue()[0];
            if (n.contains("decode_head.scale_attention.")) hrda = true;
            else if (n.endsWith("decode_head.embed_layers.0.proj.weight") || n.endsWith("decode_head.head.embed_layers.0.proj.weight")) embed = e.getValue()[0];
            else if (n.endsWith("decode_head.conv_seg.weight") || n.endsWith("decode_head.head.conv_seg.weight")) classes = e.getValue()[0];
        }
        for (int v = 0; v <= 5; v++) {
            MitConfig mit = MitConfig.named("mit_b" + v);
            if (Arrays.equals(mit.embedDims(), dims) && Arrays.equals(mit.depths(), depths)) {
                String name = (hrda ? "hrda" : "daformer") + "_mitb" + v;
                return hrda ? hrda(name, mit, embed, classes, HrdaConfig.defaults()) : daformer(name, mit, embed, classes);
            }
        }
        MitConfig tiny = MitConfig.named("mit_tiny");
        if (Arrays.equals(tiny.embedDims(), dims) && Arrays.equals(tiny.depths(), depths)) {
            String name = hrda ? "tiny_hrda" : "tiny_daformer";
            return hrda ? hrda(name, tiny, embed, classes, HrdaConfig.defaults().withHrCrop(64)) : daformer(name, tiny, embed, classes);
        }
        throw new IllegalArgumentException("no MiT variant has patch-embedding widths " + Arrays.toString(dims)
                                           + " and blocks per stage " + Arrays.toString(depths) + " (name the model with --model)");
    }
}
