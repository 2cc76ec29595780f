package dev.hrda.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code data} section: batch size and loader threads per GPU, the labelled source, the
 * unlabelled target (null for source-only training), rare class sampling (null: off), RIPU's
 * class-balanced source sampling (null: off; not with rare class sampling), the
 * validation sets ({@code data.val}: one data set or a list, evaluated in one run) and the
 * test set.
 *
 * <p>{@code data.train} is a {@code UDADataset} (source and target), a {@code DGDataset}
 * (HRDA's domain-generalisation branch: the source only, with rare class sampling; a target
 * there is ignored) or a plain data set (mmseg's source-only configs).
 */
public record DataSpec(int samplesPerGpu, int workersPerGpu, DatasetSpec source, DatasetSpec target, RcsSpec rareClassSampling,
                       ClassBalancedSpec classBalancedSampling, List<DatasetSpec> val, DatasetSpec test) {
    public DataSpec {
        val = List.copyOf(val);
    }

    static final String[] KEYS = {"samples_per_gpu", "workers_per_gpu", "train", "val", "test"};
    private static final String[] TRAIN_KEYS = {"type", "source", "target", "rare_class_sampling", ClassBalancedSpec.KEY, "sync_crop_size"};

    /** @param active RIPU (the active section): the target is kept with its labels even when uda is source-only */
    static DataSpec bind(Section s, UdaSpec uda, boolean active) {
        Node trainNode = s.get("train");
        if (!(trainNode instanceof Node.Dict td)) throw s.has("train") ? s.error("train", "expected a mapping") : s.error("missing key 'data.train'");
        String trainType = td.get("type") instanceof Node.Leaf l && l.value() instanceof String t ? t : null;
        DatasetSpec source, target = null;
        RcsSpec rcs = null;
        ClassBalancedSpec cbs = null;
        if ("UDADataset".equals(trainType) || "DGDataset".equals(trainType)) {
            Section t = s.section("train", TRAIN_KEYS);
            t.fixed("sync_crop_size", null, "HRDA's crop-size study only");
            source = DatasetSpec.bind(t.section("source", DatasetSpec.KEYS), DatasetSpec.Role.SOURCE);
            boolean isUda = trainType.equals("UDADataset");
            if (isUda && !t.has("target")) throw t.error("missing key 'data.train.target' (a UDADataset adapts to a target)");
            DatasetSpec tg = t.has("target") ? DatasetSpec.bind(t.section("target", DatasetSpec.KEYS),
                                                                active ? DatasetSpec.Role.ACTIVE_TARGET : DatasetSpec.Role.TARGET) : null;
            if (isUda && uda == null) {
                throw t.error("type", "UDADataset needs a uda section (a _base_ uda file; uda.source_only: true for source-only training)");
            }
            if (!isUda && uda != null && !uda.sourceOnly()) {
                throw t.error("type", "a DGDataset has no target: uda needs source_only: true (as HRDA's dacs_*_srconly bases)");
            }
            if (isUda && (!uda.sourceOnly() || active)) target = tg;
            Section r = t.optSection("rare_class_sampling", "min_pixels", "class_temp", "min_crop_ratio");
            if (r != null) rcs = RcsSpec.bind(r);
            Section b = t.optSection(ClassBalancedSpec.KEY, "sub_epoch");
            if (b != null) cbs = ClassBalancedSpec.bind(b);
            if (rcs != null && cbs != null) {
                throw t.error(ClassBalancedSpec.KEY, "excludes data.train.rare_class_sampling (one way to draw the source: "
                                                     + "rare_class_sampling for DAFormer/HRDA, class_balanced_sampling for RIPU)");
            }
        } else {
            if (uda != null && !uda.sourceOnly()) {
                throw s.error("train", "uda " + uda.type() + " needs a UDADataset (source and target), got " + (trainType == null ? "no type" : "'" + trainType + "'"));
            }
            source = DatasetSpec.bind(s.section("train", DatasetSpec.KEYS), DatasetSpec.Role.SOURCE);
        }
        if (source.annDir() == null) throw s.error("train", "the source needs labels (ann_dir)");

        List<DatasetSpec> val = new ArrayList<>();
        if (s.has("val")) {
            List<Node> items = s.list("val", true);
            boolean list = s.get("val") instanceof Node.Seq;
            for (int i = 0; i < items.size(); i++) {
                String path = s.key("val") + (list ? "[" + i + "]" : "");
                val.add(DatasetSpec.bind(Section.item(path, items.get(i), "a data set", DatasetSpec.KEYS), DatasetSpec.Role.EVAL));
            }
        }
        Map<String, Integer> count = new HashMap<>();
        for (DatasetSpec d : val) count.merge(d.name(), 1, Integer::sum);
        for (int i = 0; i < val.size(); i++) {
            DatasetSpec d = val.get(i);
            if (count.get(d.name()) > 1) val.set(i, d.named(d.name() + "_" + d.split().replace('/', '_')));
        }
        DatasetSpec test = s.has("test") ? DatasetSpec.bind(s.section("test", DatasetSpec.KEYS), DatasetSpec.Role.EVAL) : null;
        return new DataSpec(s.integer("samples_per_gpu", 1, 4096), s.integer("workers_per_gpu", 1, 0, 256), source, target, rcs, cbs, val, test);
    }
}
