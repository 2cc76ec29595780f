package dev.hrda.model;

import java.util.Arrays;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A whole segmentor: encoder (MiT or ResNet), decode head (DAFormer or DeepLab), and for HRDA
 * the scale-attention head and the multi-resolution settings ({@code hrda} null = a plain
 * EncoderDecoder: DAFormer, source-only, RIPU's DeepLab models).
 *
 * @param testCrop   slide test window (0 = whole-image test, DAFormer's mode)
 * @param testStride slide test stride
 */
public record ModelConfig(String name, BackboneConfig backbone, DecodeHeadConfig head, HeadConfig attentionHead, HrdaConfig hrda,
                          int testCrop, int testStride) {
    public ModelConfig {
        if ((hrda == null) != (attentionHead == null)) throw new IllegalArgumentException(name + ": HRDA needs an attention head, DAFormer none");
        if (!Arrays.equals(head.inChannels(), backbone.channels())) {
            throw new IllegalArgumentException(name + ": head inputs " + Arrays.toString(head.inChannels()) + " do not match the "
                                               + backbone.name() + " encoder's " + Arrays.toString(backbone.channels()));
        }
        if (hrda != null && !(head instanceof HeadConfig)) throw new IllegalArgumentException(name + ": HRDA needs a DAFormer head");
    }

    /** The MiT encoder's config; an error naming the model if it has another encoder. */
    public MitConfig mit() {
        if (backbone instanceof MitConfig m) return m;
        throw new IllegalStateException(name + " has a " + backbone.name() + " encoder, not MiT");
    }

    /** The DAFormer/SegFormer head's config; an error naming the model if it has another head. */
    public HeadConfig daformerHead() {
        if (head instanceof HeadConfig h) return h;
        throw new IllegalStateException(name + " has a DeepLab head, not a DAFormer one");
    }

    /** RIPU's DeepLab-v2 (on a ResNet: FrozenBN, OS8), whole-image test. */
    public static ModelConfig deeplabV2(String name, BackboneConfig backbone, int numClasses) {
        return new ModelConfig(name, backbone, DeepLabConfig.v2(backbone.channels(), numClasses), null, null, 0, 0);
    }

    /** RIPU's DeepLab-v3+ (RIPU: 512 channels, a 48-channel shortcut), whole-image test. */
    public static ModelConfig deeplabV3Plus(String name, BackboneConfig backbone, int channels, int lowChannels, int numClasses) {
        return new ModelConfig(name, backbone, DeepLabConfig.v3plus(backbone.channels(), channels, lowChannels, numClasses), null, null, 0, 0);
    }

    public boolean isHrda() {
        return hrda != null;
    }

    public int numClasses() {
        return head.numClasses();
    }

    /** DAFormer (MiT + sep-ASPP head), whole-image test. */
    public static ModelConfig daformer(String name, BackboneConfig backbone, int embed, int numClasses) {
        return new ModelConfig(name, backbone, HeadConfig.daformer(backbone.channels(), embed, numClasses), null, null, 0, 0);
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
     * Named models, {@code HEAD_ENCODER} (19 Cityscapes classes): heads {@code daformer} (embed
     * 256), {@code hrda} (MiT only), {@code deeplabv2}, {@code deeplabv3plus} (RIPU's 512/48);
     * encoders {@code mitb0}…{@code mitb5}, {@code r50}, {@code r101} (RIPU's ResNet, FrozenBN,
     * OS8). RIPU's models are {@code deeplabv2_r101} and {@code deeplabv3plus_r101}. The
     * fixtures' {@code tiny_daformer}, {@code tiny_hrda}, {@code tiny_deeplabv2} and
     * {@code tiny_deeplabv3plus} (5 classes) too.
     */
    public static ModelConfig named(String name) {
        switch (name) {
            case "tiny_daformer": return daformer(name, MitConfig.named("mit_tiny"), 16, 5);
            case "tiny_hrda": return hrda(name, MitConfig.named("mit_tiny"), 16, 5, HrdaConfig.defaults().withHrCrop(64));
            case "tiny_deeplabv2": return deeplabV2(name, ResNetConfig.named("resnet_tiny"), 5);
            case "tiny_deeplabv3plus": return deeplabV3Plus(name, ResNetConfig.named("resnet_tiny"), 16, 8, 5);
            default: break;
        }
        int us = name.lastIndexOf('_');
        BackboneConfig enc = us < 0 ? null : encoder(name.substring(us + 1));
        if (enc != null) {
            switch (name.substring(0, us)) {
                case "daformer": return daformer(name, enc, 256, 19);
                case "hrda": if (enc instanceof MitConfig mit) return hrda(name, mit, 256, 19, HrdaConfig.defaults()); break;
                case "deeplabv2": return deeplabV2(name, enc, 19);
                case "deeplabv3plus": return deeplabV3Plus(name, enc, 512, 48, 19);
                default: break;
            }
        }
        throw new IllegalArgumentException("unknown model '" + name + "' (daformer_mitb0…5, hrda_mitb0…5, deeplabv2_r101, deeplabv3plus_r101, "
                                           + "any of daformer/deeplabv2/deeplabv3plus with mitb0…5, r50, r101; tiny_daformer, tiny_hrda, "
                                           + "tiny_deeplabv2, tiny_deeplabv3plus)");
    }

    /** mitbN, r50, r101, or null. */
    private static BackboneConfig encoder(String s) {
        if (s.matches("mitb[0-5]")) return MitConfig.named("mit_b" + s.substring(4));
        if (s.equals("r50")) return ResNetConfig.named("resnet50");
        if (s.equals("r101")) return ResNetConfig.named("resnet101");
        return null;
    }

    private static final Pattern LAYER = Pattern.compile("(?:^|\\.)layer([1-4])\\.(\\d+)\\.conv1\\.weight$");
    private static final Pattern STEM = Pattern.compile("(?:^|\\.)conv1\\.weight$");

    /**
     * A ResNet checkpoint (torchvision names, bare or under backbone., RIPU's feature_extractor /
     * classifier, ours): the depth from the blocks per layer, the width from the stem, the head
     * from RIPU's names (conv2d_list: DeepLab-v2; parallel_branches: v3+; none: DeepLab-v2 with
     * 19 classes, as for ImageNet weights) or a DAFormer head. Null if the file is not a ResNet.
     */
    private static ModelConfig guessResNet(Map<String, int[]> shapes) {
        int[] blocks = new int[4];
        int width = 0, classes = 19, channels = 512, low = 48;
        boolean v2 = false, v3 = false, daformer = false;
        for (var e : shapes.entrySet()) {
            String n = e.getKey();
            var m = LAYER.matcher(n);
            if (m.find()) {
                int l = m.group(1).charAt(0) - '1';
                blocks[l] = Math.max(blocks[l], Integer.parseInt(m.group(2)) + 1);
            } else if (STEM.matcher(n).find() && !n.contains("layer") && e.getValue().length == 4 && e.getValue()[1] == 3) {
                width = e.getValue()[0];
            }
            if (n.contains("conv2d_list.0.weight")) { v2 = true; classes = e.getValue()[0]; }
            if (n.contains("parallel_branches.")) v3 = true;
            if (n.endsWith("decoder.3.weight")) classes = e.getValue()[0];
            if (n.endsWith("bottleneck.0.weight")) channels = e.getValue()[0];
            if (n.endsWith("shortcut.0.weight")) low = e.getValue()[0];
            if (n.contains("decode_head.embed_layers.")) daformer = true;
        }
        if (width == 0 || blocks[0] == 0) return null;
        if (Arrays.stream(blocks).anyMatch(b -> b == 0)) throw new IllegalArgumentException("a ResNet checkpoint without blocks in every layer: " + Arrays.toString(blocks));
        String depth = Arrays.equals(blocks, new int[] {3, 4, 23, 3}) ? "r101" : Arrays.equals(blocks, new int[] {3, 4, 6, 3}) ? "r50" : null;
        ResNetConfig rc = depth != null && width == 64 ? ResNetConfig.named(depth.equals("r101") ? "resnet101" : "resnet50")
                                                       : new ResNetConfig("resnet_custom", blocks, width, true);
        String enc = depth != null && width == 64 ? depth : "resnet";
        if (daformer) return daformer("daformer_" + enc, rc, 256, classes);
        if (v3 && !v2) return deeplabV3Plus("deeplabv3plus_" + enc, rc, channels, low, classes);
        return deeplabV2("deeplabv2_" + enc, rc, classes);
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
        ModelConfig resnet = guessResNet(shapes);
        if (resnet != null) return resnet;
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
