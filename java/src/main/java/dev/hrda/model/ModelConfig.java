package dev.hrda.model;

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
}
