package dev.hrda.config;

import dev.hrda.data.PipelineConfig;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * mmseg pipeline lists as a {@link PipelineConfig}. A training pipeline: LoadImageFromFile,
 * [LoadAnnotations], Resize (keep ratio), RandomCrop, RandomFlip, Normalize, Pad, then the
 * formatting steps (DefaultFormatBundle, Collect, ImageToTensor), in that order, each at most
 * once. A test pipeline: LoadImageFromFile and MultiScaleFlipAug (one scale, no flip) around
 * Resize, RandomFlip, Normalize, or the same steps without the wrapper.
 */
final class Pipelines {
    private Pipelines() {}

    private static final Map<String, Integer> RANK = new HashMap<>();
    private static final List<String> ORDER = List.of("LoadImageFromFile", "LoadAnnotations", "Resize", "RandomCrop", "RandomFlip",
                                                      "Normalize", "Pad");
    private static final List<String> FORMAT = List.of("DefaultFormatBundle", "Collect", "ImageToTensor");

    static {
        for (int i = 0; i < ORDER.size(); i++) RANK.put(ORDER.get(i), i);
        for (String f : FORMAT) RANK.put(f, ORDER.size());
    }

    private static final Map<String, String> UNSUPPORTED = Map.of(
            "PhotoMetricDistortion", "applied by DACS itself in the originals; not supported as a pipeline step",
            "RandomRotate", "not used by HRDA/DAFormer",
            "SegRescale", "not used by HRDA/DAFormer",
            "CLAHE", "not used by HRDA/DAFormer",
            "AdjustGamma", "not used by HRDA/DAFormer",
            "RGB2Gray", "not used by HRDA/DAFormer");

    /** The settings collected from a list of steps. */
    private static final class Steps {
        int scaleW, scaleH, cropH, cropW, padH = -1, padW = -1;
        double catMaxRatio = 1, flipProb;
        float[] mean, std;
        boolean labels, msfa, keepRatio = true;
        PipelineConfig.Interpolation interpolation = PipelineConfig.Interpolation.BILINEAR;
    }

    /** The training pipeline (source or target) of a data set's section. */
    static PipelineConfig train(Section dataset, boolean withLabel, int[] validMargins) {
        Steps s = new Steps();
        steps(dataset.key("pipeline"), dataset.list("pipeline", false), s, false);
        if (s.mean == null) throw dataset.error("pipeline", "needs a Normalize step");
        if (s.padH >= 0 && (s.padH != s.cropH || s.padW != s.cropW)) {
            throw dataset.error("pipeline", "Pad size must be the RandomCrop crop_size (" + s.cropH + "x" + s.cropW + "), got " + s.padH + "x" + s.padW);
        }
        return new PipelineConfig(s.scaleW, s.scaleH, s.cropH, s.cropW, s.catMaxRatio, s.flipProb, s.mean, s.std,
                                  withLabel && s.labels, validMargins, 2048, 1024, PipelineConfig.InvalidLabels.REFUSE, s.keepRatio,
                                  s.interpolation);
    }

    /** The test pipeline (val / test) of a data set's section: resize and normalise; the label stays at its size. */
    static PipelineConfig test(Section dataset) {
        Steps s = new Steps();
        steps(dataset.key("pipeline"), dataset.list("pipeline", false), s, true);
        if (s.mean == null) throw dataset.error("pipeline", "needs a Normalize step");
        return new PipelineConfig(s.scaleW, s.scaleH, 0, 0, 1, s.flipProb, s.mean, s.std, true, null, 2048, 1024,
                                  PipelineConfig.InvalidLabels.REFUSE, s.keepRatio, s.interpolation);
    }

    private static void steps(String path, List<Node> list, Steps s, boolean test) {
        int rank = -1;
        String previous = null;
        for (int i = 0; i < list.size(); i++) {
            String at = path + "[" + i + "]";
            Node n = list.get(i);
            if (!(n instanceof Node.Dict d) || !(d.get("type") instanceof Node.Leaf l) || !(l.value() instanceof String type)) {
                throw ConfigException.at(n.origin(), at + ": expected a step (a mapping with a type), got " + Node.show(n));
            }
            if (UNSUPPORTED.containsKey(type)) throw ConfigException.at(l.origin(), at + ": '" + type + "': " + UNSUPPORTED.get(type));
            if (type.equals("MultiScaleFlipAug")) {
                if (!test) throw ConfigException.at(n.origin(), at + ": MultiScaleFlipAug belongs in a test pipeline");
                multiScaleFlipAug(Section.item(at, n, "a step", "type", "img_scale", "img_ratios", "flip", "flip_direction", "transforms"), s);
                rank = ORDER.size();
                continue;
            }
            Integer r = RANK.get(type);
            if (r == null) {
                String near = Section.nearest(type, RANK.keySet());
                throw ConfigException.at(l.origin(), at + ": unknown step '" + type + "'" + (near != null ? " (did you mean '" + near + "'?)" : ""));
            }
            if (r < rank || (r.equals(rank) && r < ORDER.size())) {
                throw ConfigException.at(n.origin(), at + ": " + type + (r.equals(rank) ? " appears twice" : " must come before " + previous)
                                                     + " (steps run in the order " + String.join(", ", ORDER) + ")");
            }
            rank = r;
            previous = type;
            step(at, n, type, s, test);
        }
    }

    private static void step(String at, Node n, String type, Steps s, boolean test) {
        switch (type) {
            case "LoadImageFromFile" -> {
                Section st = Section.item(at, n, "a step", "type", "to_float32", "color_type", "imdecode_backend");
                st.fixed("color_type", "color", "");
            }
            case "LoadAnnotations" -> {
                Section st = Section.item(at, n, "a step", "type", "reduce_zero_label", "imdecode_backend");
                st.fixed("reduce_zero_label", false, "labels are train ids");
                s.labels = true;
            }
            case "Resize" -> {
                Section st = Section.item(at, n, "a step", "type", "img_scale", "keep_ratio", "ratio_range", "multiscale_mode",
                                          "interpolation");
                if (st.has("keep_ratio") && !st.flag("keep_ratio")) s.keepRatio = false;  // exactly img_scale (RIPU's 1280x720 GTA frames)
                // mmcv imresize's interpolation for the image (RIPU: bicubic); labels stay nearest
                s.interpolation = PipelineConfig.Interpolation.of(st.choice("interpolation", "bilinear", PipelineConfig.Interpolation.keys()));
                st.fixed("ratio_range", null, "a single scale");
                st.fixed("multiscale_mode", "range", "a single scale");
                if (s.msfa) {
                    st.fixed("img_scale", null, "MultiScaleFlipAug sets the scale");
                } else {
                    int[] wh = st.ints("img_scale", 2);
                    if (wh[0] < 1 || wh[1] < 1) throw st.error("img_scale", "sizes must be positive");
                    s.scaleW = wh[0];
                    s.scaleH = wh[1];
                }
            }
            case "RandomCrop" -> {
                if (test) throw ConfigException.at(n.origin(), at + ": a test pipeline does not crop");
                Section st = Section.item(at, n, "a step", "type", "crop_size", "cat_max_ratio", "ignore_index");
                int[] hw = st.ints("crop_size", 2);
                if (hw[0] < 1 || hw[1] < 1) throw st.error("crop_size", "sizes must be positive");
                s.cropH = hw[0];
                s.cropW = hw[1];
                s.catMaxRatio = st.number("cat_max_ratio", 1, Double.MIN_VALUE, 1);
                st.fixed("ignore_index", 255L, "");
            }
            case "RandomFlip" -> {
                Section st = Section.item(at, n, "a step", "type", "prob", "flip_ratio", "direction");
                st.fixed("direction", "horizontal", "");
                if (test) st.fixed("prob", null, "no test-time flip");
                else s.flipProb = st.number("prob", 0, 0, 1);
            }
            case "Normalize" -> {
                Section st = Section.item(at, n, "a step", "type", "mean", "std", "to_rgb");
                st.fixed("to_rgb", true, "images are read as RGB");
                s.mean = floats(st.numbers("mean", 3));
                s.std = floats(st.numbers("std", 3));
                for (float v : s.std) if (!(v > 0)) throw st.error("std", "must be positive");
            }
            case "Pad" -> {
                if (test) throw ConfigException.at(n.origin(), at + ": a test pipeline does not pad");
                Section st = Section.item(at, n, "a step", "type", "size", "size_divisor", "pad_val", "seg_pad_val");
                st.fixed("size_divisor", null, "padding to the crop size");
                st.fixed("pad_val", 0L, "");
                st.fixed("seg_pad_val", 255L, "");
                int[] hw = st.ints("size", 2);
                s.padH = hw[0];
                s.padW = hw[1];
            }
            case "DefaultFormatBundle" -> Section.item(at, n, "a step", "type");
            case "Collect" -> Section.item(at, n, "a step", "type", "keys", "meta_keys");
            case "ImageToTensor" -> Section.item(at, n, "a step", "type", "keys");
            default -> throw new IllegalStateException(type);
        }
    }

    private static void multiScaleFlipAug(Section st, Steps s) {
        if (st.has("flip") && st.flag("flip")) s.flipProb = 1;  // test mode: predict the mirrored image too and average
        st.fixed("img_ratios", null, "a single test scale");
        st.fixed("flip_direction", "horizontal", "");
        int[] wh = st.ints("img_scale", 2);
        if (wh[0] < 1 || wh[1] < 1) throw st.error("img_scale", "sizes must be positive");
        s.scaleW = wh[0];
        s.scaleH = wh[1];
        s.msfa = true;
        steps(st.key("transforms"), st.list("transforms", false), s, true);
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }
}
