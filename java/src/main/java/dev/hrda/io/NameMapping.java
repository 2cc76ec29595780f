package dev.hrda.io;

import dev.hrda.tensor.DType;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * Maps a checkpoint's tensor names onto a model's (mmseg's names: {@code backbone.block1.0.attn.q.weight},
 * {@code decode_head.head.*}, ...) and plans the load. In order:
 * <ol>
 * <li>a {@code module.} prefix on every name (DataParallel/DDP) is dropped, as mmcv does;</li>
 * <li>a DACS checkpoint ({@code model.}, {@code ema_model.}, {@code imnet_model.} sub-models) gives
 *     the selected sub-model with its prefix removed; the others are skipped;</li>
 * <li>a RIPU checkpoint ({@code feature_extractor.}, {@code classifier.}, each perhaps with its own
 *     {@code module.}) gives {@code backbone.*} (RIPU's extractor already names its ResNet
 *     {@code backbone}) and {@code decode_head.*}; its optimizer states are skipped;</li>
 * <li>of: names as they are, {@code backbone.} added (SegFormer's ImageNet {@code mit_b5.pth}
 *     holds bare encoder names), {@code backbone.} removed (a full checkpoint into an encoder
 *     alone), the variant that matches most model names is taken (as they are on a tie);</li>
 * <li>each name is then loaded, mismatched (shape, or float into integer), skipped
 *     ({@code num_batches_tracked} the model does not keep, the ImageNet classifier {@code fc.*}
 *     of a torchvision ResNet) or unexpected.</li>
 * </ol>
 */
final class NameMapping {
    static final List<String> UDA_PARTS = List.of("model", "ema_model", "imnet_model");

    private NameMapping() {}

    /**
     * @param dtypes the model's dtypes, or null when only shapes are known (checks conversions if given)
     */
    static LoadReport plan(Path file, Map<String, StoredTensor> tensors, Map<String, int[]> shapes,
                           Map<String, DType> dtypes, LoadOptions opts) {
        List<String> notes = new ArrayList<>();
        List<LoadReport.Skipped> skipped = new ArrayList<>();
        Map<String, String> names = new LinkedHashMap<>();  // file name -> candidate model name
        for (String n : tensors.keySet()) names.put(n, n);

        if (!names.isEmpty() && names.keySet().stream().allMatch(n -> n.startsWith("module."))) {
            names.replaceAll((k, v) -> v.substring("module.".length()));
            notes.add("removed the DataParallel prefix 'module.'");
        }
        selectRipuParts(names, shapes.keySet(), notes, skipped);
        selectUdaPart(file, names, shapes.keySet(), opts, notes, skipped);
        alignPrefix(names, shapes.keySet(), notes);

        List<LoadReport.Loaded> loaded = new ArrayList<>();
        List<LoadReport.Mismatch> mismatched = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        Set<String> placed = new HashSet<>();
        for (Map.Entry<String, String> e : names.entrySet()) {
            String source = e.getKey(), target = e.getValue();
            StoredTensor t = tensors.get(source);
            int[] want = shapes.get(target);
            if (want == null) {
                if (target.endsWith("num_batches_tracked")) skipped.add(new LoadReport.Skipped(source, "BatchNorm batch counter the model does not keep"));
                else if (TORCHVISION_FC.contains(target)) skipped.add(new LoadReport.Skipped(source, "the ImageNet classifier of a torchvision ResNet"));
                else unexpected.add(source);
                continue;
            }
            placed.add(target);
            DType to = dtypes == null ? null : dtypes.get(target);
            if (!Arrays.equals(want, t.shape())) {
                mismatched.add(new LoadReport.Mismatch(source, target, t.shape(), want,
                        "file shape " + t.shapeString() + " vs model " + Arrays.toString(want)));
            } else if (to != null && !t.convertibleTo(to)) {
                mismatched.add(new LoadReport.Mismatch(source, target, t.shape(), want, t.dtype() + " values cannot load into " + to));
            } else {
                loaded.add(new LoadReport.Loaded(source, target, t.dtype(), to));
            }
        }
        List<String> missing = new ArrayList<>();
        for (String m : shapes.keySet()) if (!placed.contains(m)) missing.add(m);
        return new LoadReport(file, notes, loaded, missing, unexpected, mismatched, skipped, shapes.size());
    }

    private static void selectUdaPart(Path file, Map<String, String> names, Set<String> model, LoadOptions opts,
                                      List<String> notes, List<LoadReport.Skipped> skipped) {
        Set<String> parts = new LinkedHashSet<>(UDA_PARTS);
        if (opts.source() != null) parts.add(opts.source());
        boolean modelIsUda = model.stream().anyMatch(n -> parts.contains(head(n)));
        Map<String, Integer> present = new LinkedHashMap<>();
        for (String n : names.values()) if (parts.contains(head(n))) present.merge(head(n), 1, Integer::sum);
        if (modelIsUda) return;
        if (present.isEmpty()) {
            if (opts.source() != null) {
                throw new CheckpointException(file, "sub-model '" + opts.source() + "' asked for, but the checkpoint holds no "
                                                    + "UDA sub-models (" + String.join(", ", UDA_PARTS) + ")");
            }
            return;
        }
        String sel = opts.source() != null ? opts.source() : "model";
        if (!present.containsKey(sel)) {
            throw new CheckpointException(file, "no tensors of sub-model '" + sel + ".' in the checkpoint; it holds " + present);
        }
        var it = names.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            String h = head(e.getValue());
            if (h.equals(sel)) {
                e.setValue(e.getValue().substring(sel.length() + 1));
            } else if (present.containsKey(h)) {
                skipped.add(new LoadReport.Skipped(e.getKey(), "UDA sub-model '" + h + ".' not selected"));
                it.remove();
            }
        }
        notes.add("DACS checkpoint " + present + ": sub-model '" + sel + ".' selected");
    }

    private static final Set<String> TORCHVISION_FC = Set.of("backbone.fc.weight", "backbone.fc.bias", "fc.weight", "fc.bias");
    private static final String RIPU_ENCODER = "feature_extractor.", RIPU_HEAD = "classifier.";

    /** RIPU's train.py checkpoint: {'feature_extractor': …, 'classifier': …, 'optimizer_fea': …, 'optimizer_cls': …, 'iteration'}. */
    private static void selectRipuParts(Map<String, String> names, Set<String> model, List<String> notes, List<LoadReport.Skipped> skipped) {
        boolean ripu = names.values().stream().anyMatch(n -> n.startsWith(RIPU_ENCODER) || n.startsWith(RIPU_HEAD))
                       && model.stream().noneMatch(n -> n.startsWith(RIPU_ENCODER) || n.startsWith(RIPU_HEAD));
        if (!ripu) return;
        var it = names.entrySet().iterator();
        while (it.hasNext()) {
            var e = it.next();
            String n = e.getValue();
            if (n.startsWith(RIPU_ENCODER)) {
                e.setValue(stripModule(n.substring(RIPU_ENCODER.length())));
            } else if (n.startsWith(RIPU_HEAD)) {
                e.setValue("decode_head." + stripModule(n.substring(RIPU_HEAD.length())));
            } else if (n.startsWith("optimizer_fea.") || n.startsWith("optimizer_cls.")) {
                skipped.add(new LoadReport.Skipped(e.getKey(), "RIPU optimizer state"));
                it.remove();
            }
        }
        notes.add("RIPU checkpoint: feature_extractor.* loaded as the encoder, classifier.* as decode_head.*");
    }

    private static String stripModule(String n) {
        return n.startsWith("module.") ? n.substring("module.".length()) : n;
    }

    private static String head(String name) {
        int dot = name.indexOf('.');
        return dot < 0 ? name : name.substring(0, dot);
    }

    private static void alignPrefix(Map<String, String> names, Set<String> model, List<String> notes) {
        Map<String, UnaryOperator<String>> variants = new LinkedHashMap<>();
        variants.put("", n -> n);
        variants.put("prefixed 'backbone.' (bare encoder names, as in SegFormer's ImageNet weights)", n -> "backbone." + n);
        variants.put("removed the prefix 'backbone.' (the model is an encoder alone)",
                     n -> n.startsWith("backbone.") ? n.substring("backbone.".length()) : n);
        String best = "";
        long bestScore = -1;
        for (var v : variants.entrySet()) {
            long score = names.values().stream().filter(n -> model.contains(v.getValue().apply(n))).count();
            if (score > bestScore) {
                best = v.getKey();
                bestScore = score;
            }
        }
        if (best.isEmpty()) return;
        UnaryOperator<String> f = variants.get(best);
        names.replaceAll((k, v) -> f.apply(v));
        notes.add(best);
    }
}
