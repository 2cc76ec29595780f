package dev.hrda.config;

import dev.hrda.model.DeepLabConfig;
import dev.hrda.model.HeadConfig;
import dev.hrda.model.HrdaConfig;
import dev.hrda.model.MitConfig;
import dev.hrda.model.ModelConfig;
import dev.hrda.model.ResNetConfig;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * The {@code model} section (hrda_spec.md §1–3): an {@code EncoderDecoder} (DAFormer) or an
 * {@code HRDAEncoderDecoder}, as a {@link ModelConfig} (named {@code daformer_mitbN} /
 * {@code hrda_mitbN}; test_cfg whole: testCrop 0, slide: its crop and stride).
 *
 * @param pretrained   the ImageNet weights (absolute path), or null
 * @param featureScale the features the feature distance uses: HRDA's feature_scale (0.5: the
 *                     context's), 1 for EncoderDecoder
 * @param batchedSlide test_cfg.batched_slide: all slide windows through the network at once
 */
public record ModelSpec(String type, String pretrained, ModelConfig config, double featureScale, boolean batchedSlide) {

    static final String[] KEYS = {"type", "pretrained", "backbone", "decode_head", "neck", "auxiliary_head", "train_cfg", "test_cfg",
                                  "init_cfg", "scales", "hr_crop_size", "hr_slide_inference", "hr_slide_overlapping",
                                  "crop_coord_divisible", "blur_hr_crop", "feature_scale"};
    private static final String[] HRDA_KEYS = {"scales", "hr_crop_size", "hr_slide_inference", "hr_slide_overlapping",
                                               "crop_coord_divisible", "blur_hr_crop", "feature_scale"};
    private static final String[] HEAD_KEYS = {"type", "in_channels", "in_index", "channels", "dropout_ratio", "num_classes", "norm_cfg",
                                               "align_corners", "decoder_params", "loss_decode", "init_cfg", "ignore_index",
                                               "input_transform", "single_scale_head", "attention_classwise", "hr_loss_weight",
                                               "lr_loss_weight", "attention_embed_dim", "fixed_attention", "debug_output_attention"};
    private static final String[] HRDA_HEAD_KEYS = {"single_scale_head", "attention_classwise", "hr_loss_weight", "lr_loss_weight",
                                                    "attention_embed_dim", "fixed_attention", "debug_output_attention"};
    private static final String[] CFG_KEYS = {"type", "act_cfg", "norm_cfg"};

    public boolean isHrda() {
        return config.isHrda();
    }

    static ModelSpec bind(Section m) {
        String type = m.choice("type", null, "EncoderDecoder", "HRDAEncoderDecoder");
        boolean hrda = type.equals("HRDAEncoderDecoder");
        for (String k : new String[] {"neck", "auxiliary_head", "init_cfg"}) m.fixed(k, null, "an encoder and one decode head");
        if (!hrda) for (String k : HRDA_KEYS) if (m.get(k) != null) throw m.error(k, "is an HRDAEncoderDecoder setting (model.type is EncoderDecoder)");
        m.optSection("train_cfg");

        String pretrained = m.string("pretrained", null);
        if (pretrained != null) {
            if (pretrained.contains("://")) throw m.error("pretrained", "'" + pretrained + "': only local files are read (MiT's ImageNet weights, e.g. pretrained/mit_b5.pth)");
            pretrained = Path.of(pretrained).toAbsolutePath().normalize().toString();
        }

        Section b = m.section("backbone", "type", "style", "drop_path_rate", "pretrained", "init_cfg",
                              "embed_dims", "num_heads", "depths", "sr_ratios", "mlp_ratios", "norm_cfg", "replace_stride_with_dilation");
        String bt = b.string("type");
        if (bt.equals("resnet50") || bt.equals("resnet101")) return bindResNet(m, type, hrda, pretrained, b, bt);
        for (String k : new String[] {"norm_cfg", "replace_stride_with_dilation"}) {
            if (b.has(k)) throw b.error(k, "is a ResNet setting (backbone.type is " + bt + ")");
        }
        b.fixed("style", "pytorch", "");
        b.fixed("pretrained", null, "set model.pretrained");
        b.fixed("init_cfg", null, "set model.pretrained");
        MitConfig mit;
        if (bt.matches("mit_b[0-5]")) {
            for (String k : new String[] {"embed_dims", "num_heads", "depths", "sr_ratios", "mlp_ratios"}) {
                if (b.has(k)) throw b.error(k, "is fixed by " + bt + " (use type MixVisionTransformer for a custom encoder)");
            }
            mit = MitConfig.named(bt);
        } else if (bt.equals("MixVisionTransformer")) {
            // the constructor arguments of mix_transformer.py's MixVisionTransformer (mit_bX set them)
            int[] mlp = b.ints("mlp_ratios", 4);
            for (int r : mlp) if (r != mlp[0]) throw b.error("mlp_ratios", "one ratio for all stages is supported, got " + Arrays.toString(mlp));
            try {
                mit = new MitConfig("mit_custom", b.ints("embed_dims", 4), b.ints("depths", 4), b.ints("num_heads", 4), b.ints("sr_ratios", 4),
                                    mlp[0], 0.1, 3);
            } catch (IllegalArgumentException e) {
                throw b.error("embed_dims", e.getMessage());
            }
        } else {
            throw b.error("type", "'" + bt + "' is not supported (mit_b0 ... mit_b5, or MixVisionTransformer with embed_dims, num_heads, depths, sr_ratios, mlp_ratios; "
                                  + "resnet50 or resnet101 for RIPU's DeepLab)");
        }
        double dpr = b.number("drop_path_rate", mit.dropPathRate(), 0, 1);
        mit = new MitConfig(mit.name(), mit.embedDims(), mit.depths(), mit.heads(), mit.srRatios(), mit.mlpRatio(), dpr, mit.inChannels());

        Section h = m.section("decode_head", HEAD_KEYS);
        String headType = h.choice("type", null, "DAFormerHead", "HRDAHead");
        if (hrda != headType.equals("HRDAHead")) {
            throw h.error("type", "'" + headType + "' does not go with model.type " + type + " (EncoderDecoder: DAFormerHead, HRDAEncoderDecoder: HRDAHead)");
        }
        if (!hrda) for (String k : HRDA_HEAD_KEYS) if (h.get(k) != null) throw h.error(k, "is an HRDAHead setting (decode_head.type is DAFormerHead)");
        int[] in = h.ints("in_channels", 4);
        if (!Arrays.equals(in, mit.embedDims())) {
            throw h.error("in_channels", Arrays.toString(in) + " does not match the " + bt + " encoder's " + Arrays.toString(mit.embedDims()));
        }
        if (h.has("in_index")) h.fixed("in_index", java.util.List.of(0L, 1L, 2L, 3L), "the head reads all four stages");
        h.fixed("align_corners", false, "");
        h.fixed("ignore_index", 255L, "");
        h.fixed("input_transform", "multiple_select", "");
        h.fixed("init_cfg", null, "");
        norm(h);
        int numClasses = h.integer("num_classes", 1, 255);
        int channels = h.integer("channels", 1, 1 << 16);
        float dropout = (float) h.number("dropout_ratio", 0.1, 0, 1);
        Section loss = h.optSection("loss_decode", "type", "use_sigmoid", "loss_weight", "class_weight", "avg_non_ignore");
        if (loss != null) {
            loss.choice("type", null, "CrossEntropyLoss");
            loss.fixed("use_sigmoid", false, "softmax cross-entropy");
            loss.fixed("loss_weight", 1.0, "");
            loss.fixed("class_weight", null, "");
            loss.fixed("avg_non_ignore", false, "mmseg 0.16 averages over every pixel");
        }

        Section dp = h.section("decoder_params", "embed_dims", "embed_cfg", "embed_neck_cfg", "fusion_cfg");
        int embed = dp.integer("embed_dims", 1, 1 << 16);
        for (String k : new String[] {"embed_cfg", "embed_neck_cfg"}) {
            Section e = dp.optSection(k, CFG_KEYS);
            if (e == null) continue;
            e.choice("type", null, "mlp");
            e.fixed("act_cfg", null, "a linear embedding");
            e.fixed("norm_cfg", null, "a linear embedding");
        }
        Section f = dp.section("fusion_cfg", "type", "sep", "dilations", "pool", "kernel_size", "act_cfg", "norm_cfg", "context_cfg");
        String fusion = f.choice("type", null, "aspp", "conv");
        int[] dilations = new int[0];
        HeadConfig.Fusion kind;
        if (fusion.equals("aspp")) {
            f.fixed("sep", true, "the depthwise-separable ASPP of DAFormer");
            f.fixed("pool", false, "DAFormer's ASPP has no image-pooling branch");
            f.fixed("context_cfg", null, "");
            f.fixed("kernel_size", null, "an aspp fusion has no kernel_size");
            dilations = f.ints("dilations", -1);
            if (dilations.length == 0) throw f.error("dilations", "needs at least one dilation");
            kind = HeadConfig.Fusion.ASPP;
        } else {
            f.fixed("kernel_size", 1L, "a 1x1 ConvModule (SegFormer's MLP decoder)");
            for (String k : new String[] {"sep", "dilations", "pool", "context_cfg"}) f.fixed(k, null, "a conv fusion has no " + k);
            kind = HeadConfig.Fusion.CONV1X1;
        }
        Section act = f.optSection("act_cfg", "type", "inplace");
        if (act != null) act.choice("type", null, "ReLU");
        norm(f);
        HeadConfig head = new HeadConfig(in, embed, channels, numClasses, kind, dilations, dropout);

        HeadConfig attention = null;
        HrdaConfig hc = null;
        double featureScale = 1;
        if (hrda) {
            h.choice("single_scale_head", null, "DAFormerHead");
            h.fixed("attention_classwise", true, "the fusion kernel takes a class-wise attention");
            h.fixed("lr_loss_weight", 0.0, "HRDA uses it only where the detail crop equals the context crop");
            h.fixed("debug_output_attention", false, "");
            int attEmbed = h.integer("attention_embed_dim", 256, 1, 1 << 16);
            attention = new HeadConfig(in, attEmbed, attEmbed, numClasses, HeadConfig.Fusion.CONV1X1, new int[0], dropout);
            double[] scales = m.numbers("scales", 2);
            double lo = Math.min(scales[0], scales[1]), hi = Math.max(scales[0], scales[1]);
            if (hi != 1 || !(lo > 0)) throw m.error("scales", Arrays.toString(scales) + ": HRDA needs the full resolution (1) and a context scale in (0, 1]");
            m.fixed("hr_slide_overlapping", true, "overlapping detail windows (stride hr_crop_size / 2)");
            m.fixed("blur_hr_crop", false, "");
            if (m.get("feature_scale") instanceof Node.Leaf l && l.value() instanceof String) {
                throw m.error("feature_scale", "'" + l.value() + "' is not supported (a scale: 0.5, the context features)");
            }
            featureScale = m.number("feature_scale", 1, 0, 1);
            if (featureScale != lo && featureScale != hi) throw m.error("feature_scale", Section.fmt(featureScale) + " is not one of model.scales");
            double fixedAtt = h.has("fixed_attention") ? h.number("fixed_attention", 0, 1) : Double.NaN;
            int hrCrop = m.square("hr_crop_size", "detail crops");
            int divisible = m.integer("crop_coord_divisible", 1, 1, 1 << 12);
            if (hrCrop % divisible != 0) throw m.error("hr_crop_size", hrCrop + " is not divisible by crop_coord_divisible " + divisible);
            hc = new HrdaConfig(lo, hrCrop, divisible, h.number("hr_loss_weight", 0, 0, 1), m.flag("hr_slide_inference", true), fixedAtt);
        }

        TestCfg t = testCfg(m);
        String name = (hrda ? "hrda" : "daformer") + (bt.startsWith("mit_b") ? "_mitb" + bt.charAt(bt.length() - 1) : "_mit_custom");
        return new ModelSpec(type, pretrained, new ModelConfig(name, mit, head, attention, hc, t.crop, t.stride), featureScale, t.batched);
    }

    private record TestCfg(int crop, int stride, boolean batched) {}

    private static TestCfg testCfg(Section m) {
        Section t = m.section("test_cfg", "mode", "crop_size", "stride", "batched_slide");
        String mode = t.choice("mode", null, "whole", "slide");
        if (mode.equals("whole")) {
            for (String k : new String[] {"crop_size", "stride", "batched_slide"}) t.fixed(k, null, "test_cfg.mode is whole");
            return new TestCfg(0, 0, false);
        }
        int crop = t.square("crop_size", "test windows"), stride = t.square("stride", "test strides");
        if (stride > crop) throw t.error("stride", stride + " is larger than crop_size " + crop + " (windows would leave gaps)");
        return new TestCfg(crop, stride, t.flag("batched_slide", false));
    }

    /**
     * RIPU's models (ripu_spec.md §3): backbone {@code resnet50 | resnet101} (torchvision's, output
     * stride 8; norm_cfg FrozenBN as RIPU's FREEZE_BN, or BN) with decode_head
     * {@code ASPP_Classifier_V2} (DeepLab-v2) or {@code DepthwiseSeparableASPP} (DeepLab-v3+),
     * RIPU's class names and settings. Resizes are align_corners=True, as in RIPU.
     */
    private static ModelSpec bindResNet(Section m, String type, boolean hrda, String pretrained, Section b, String bt) {
        if (hrda) throw m.error("type", "HRDAEncoderDecoder needs a MiT encoder (backbone.type is " + bt + ")");
        for (String k : new String[] {"drop_path_rate", "embed_dims", "num_heads", "depths", "sr_ratios", "mlp_ratios"}) {
            if (b.has(k)) throw b.error(k, "is a MixVisionTransformer setting (backbone.type is " + bt + ")");
        }
        b.fixed("style", "pytorch", "torchvision's ResNet (stride on the 3x3 conv)");
        b.fixed("pretrained", null, "set model.pretrained");
        b.fixed("init_cfg", null, "set model.pretrained");
        if (b.has("replace_stride_with_dilation")) {
            b.fixed("replace_stride_with_dilation", java.util.List.of(false, true, true), "RIPU's output stride 8");
        }
        boolean frozen = frozenNorm(b);
        ResNetConfig named = ResNetConfig.named(bt);
        ResNetConfig rc = new ResNetConfig(bt, named.blocks(), named.width(), frozen);

        Section h = m.section("decode_head", "type", "in_channels", "in_index", "channels", "c1_in_channels", "c1_channels", "dilations",
                              "num_classes", "dropout_ratio", "norm_cfg", "align_corners", "ignore_index", "init_cfg");
        String ht = h.choice("type", null, "ASPP_Classifier_V2", "DepthwiseSeparableASPP");
        int[] ch = rc.channels();
        int in = h.integer("in_channels", 1, 1 << 16);
        if (in != ch[3]) throw h.error("in_channels", in + " is not the " + bt + " encoder's last stage (" + ch[3] + ")");
        if (h.has("in_index")) h.fixed("in_index", 3L, "the head reads the last stage");
        if (h.has("align_corners")) h.fixed("align_corners", true, "RIPU resizes with align_corners=True");
        h.fixed("ignore_index", 255L, "");
        h.fixed("init_cfg", null, "RIPU's initialisation");
        int classes = h.integer("num_classes", 1, 255);
        DeepLabConfig head;
        if (ht.equals("ASPP_Classifier_V2")) {
            for (String k : new String[] {"channels", "c1_in_channels", "c1_channels", "dropout_ratio", "norm_cfg"}) {
                if (h.has(k)) throw h.error(k, "ASPP_Classifier_V2 has no " + k + " (summed dilated convs to the classes)");
            }
            int[] dil = h.has("dilations") ? h.ints("dilations", -1) : new int[] {6, 12, 18, 24};
            if (dil.length == 0) throw h.error("dilations", "needs at least one dilation");
            head = new DeepLabConfig(DeepLabConfig.Kind.V2, ch, 0, 0, dil, classes, 0f, frozen);
        } else {
            int low = h.integer("c1_channels", 48, 1, 1 << 16);
            if (h.has("c1_in_channels")) {
                int c1 = h.integer("c1_in_channels", 1, 1 << 16);
                if (c1 != ch[0]) throw h.error("c1_in_channels", c1 + " is not the " + bt + " encoder's first stage (" + ch[0] + ")");
            }
            int[] dil = h.has("dilations") ? h.ints("dilations", -1) : new int[] {1, 6, 12, 18};
            if (dil.length == 0) throw h.error("dilations", "needs at least one dilation");
            head = new DeepLabConfig(DeepLabConfig.Kind.V3PLUS, ch, h.integer("channels", 512, 1, 1 << 16), low, dil, classes,
                                     (float) h.number("dropout_ratio", 0.1, 0, 1), frozenNorm(h));
        }
        TestCfg t = testCfg(m);
        String enc = bt.equals("resnet101") ? "_r101" : "_r50";
        String name = (head.kind() == DeepLabConfig.Kind.V2 ? "deeplabv2" : "deeplabv3plus") + enc;
        return new ModelSpec(type, pretrained, new ModelConfig(name, rc, head, null, null, t.crop, t.stride), 1, t.batched);
    }

    /** norm_cfg of a RIPU model: FrozenBN (the default, RIPU's FREEZE_BN: True) or BN (trainable BatchNorm2d). */
    private static boolean frozenNorm(Section s) {
        Section n = s.optSection("norm_cfg", "type", "requires_grad");
        if (n == null) return true;
        String t = n.choice("type", null, "FrozenBN", "BN");
        n.fixed("requires_grad", t.equals("BN"), t.equals("BN") ? "" : "FrozenBN is not trained");
        return t.equals("FrozenBN");
    }

    /** norm_cfg: BatchNorm with learned affine parameters (mmseg's BN, requires_grad true). */
    private static void norm(Section s) {
        Section n = s.optSection("norm_cfg", "type", "requires_grad");
        if (n == null) return;
        n.choice("type", null, "BN");
        n.fixed("requires_grad", true, "");
    }
}
