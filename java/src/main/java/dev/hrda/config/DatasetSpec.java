package dev.hrda.config;

import dev.hrda.data.DatasetKind;
import dev.hrda.data.PipelineConfig;

import java.nio.file.Path;
import java.util.Map;

/**
 * One data set of {@code data} (mmseg's dataset dicts): its mmseg type, our kind, the root
 * (absolute; a relative data_root is taken from the working directory, as mmseg does), the
 * image and label directories as written, the split they select in our layouts
 * ({@code "all"} for GTA and Synthia), the pipeline, and a name for logs.
 *
 * @param annDir null where the config has none (an unlabelled target)
 */
public record DatasetSpec(String type, DatasetKind kind, Path dataRoot, String imgDir, String annDir, String split,
                          PipelineConfig pipeline, String name) {

    /** ACTIVE_TARGET: RIPU's target, whose labels the simulated annotator reveals where regions are selected. */
    enum Role { SOURCE, TARGET, ACTIVE_TARGET, EVAL }

    static final String[] KEYS = {"type", "data_root", "img_dir", "ann_dir", "pipeline", "split", "crop_pseudo_margins", "test_mode"};

    static final Map<String, DatasetKind> TYPES = Map.of("GTADataset", DatasetKind.GTA, "CityscapesDataset", DatasetKind.CITYSCAPES,
            "SynthiaDataset", DatasetKind.SYNTHIA, "ACDCDataset", DatasetKind.ACDC, "DarkZurichDataset", DatasetKind.DARK_ZURICH,
            "BDD100KDataset", DatasetKind.BDD100K, "MapillaryDataset", DatasetKind.MAPILLARY);

    /** Where each kind keeps images and labels, {split} standing for the split (docs/data.md). */
    private static String[] layout(DatasetKind kind) {
        return switch (kind) {
            case GTA -> new String[] {"images", "labels"};
            case SYNTHIA -> new String[] {"RGB", "GT/LABELS"};
            case CITYSCAPES -> new String[] {"leftImg8bit/{split}", "gtFine/{split}"};
            case ACDC, DARK_ZURICH -> new String[] {"rgb_anon/{split}", "gt/{split}"};
            case BDD100K -> new String[] {"images/10k/{split}", "labels/sem_seg/masks/{split}"};
            case MAPILLARY -> new String[] {"{split}/images", "{split}/labels", "{split}/v1.2/labels"};
        };
    }

    static DatasetSpec bind(Section d, Role role) {
        String type = d.string("type");
        DatasetKind kind = TYPES.get(type);
        if (kind == null) {
            String near = Section.nearest(type, TYPES.keySet());
            throw d.error("type", "unknown data set type '" + type + "'" + (near != null ? " (did you mean '" + near + "'?)"
                                                                                    : " (" + String.join(", ", TYPES.keySet()) + ")"));
        }
        d.fixed("split", null, "our layouts select the split by directory (img_dir)");
        d.fixed("test_mode", role == Role.EVAL, "");
        Path root = Path.of(d.string("data_root")).toAbsolutePath().normalize();
        String imgDir = d.string("img_dir"), annDir = d.string("ann_dir", null);
        if (annDir == null && role != Role.TARGET) {
            throw ConfigException.at(d.node.origin(), "missing key '" + d.key("ann_dir") + "'"
                                                      + (role == Role.ACTIVE_TARGET ? " (RIPU reveals the target's ground truth where it selects regions)" : ""));
        }
        String[] lay = layout(kind);
        String split = match(lay[0], imgDir);
        if (split == null) throw d.error("img_dir", "'" + imgDir + "' is not where " + type + " keeps its images (" + lay[0] + ", see docs/data.md)");
        if (annDir != null) {
            String annSplit = null;
            for (int i = 1; i < lay.length && annSplit == null; i++) annSplit = match(lay[i], annDir);
            if (!split.equals(annSplit)) {
                throw d.error("ann_dir", "'" + annDir + "' does not go with img_dir '" + imgDir + "' (" + type + ": " + lay[1].replace("{split}", split) + ")");
            }
        }
        int[] margins = null;
        if (d.has("crop_pseudo_margins")) {
            if (role != Role.TARGET) throw d.error("crop_pseudo_margins", "only the UDA target has pseudo-label margins");
            margins = d.ints("crop_pseudo_margins", 4);
            for (int m : margins) if (m < 0) throw d.error("crop_pseudo_margins", "margins must be >= 0 (top, bottom, left, right)");
        }
        PipelineConfig p = role == Role.EVAL ? Pipelines.test(d) : Pipelines.train(d, role == Role.SOURCE || role == Role.ACTIVE_TARGET, margins);
        if (role == Role.ACTIVE_TARGET && !p.withLabel()) throw d.error("pipeline", "needs LoadAnnotations (RIPU's target labels are its revealed ground truth)");
        if (role == Role.TARGET && p.catMaxRatio() < 1) throw d.error("pipeline", "cat_max_ratio needs labels: only the source pipeline may set it");
        return new DatasetSpec(type, kind, root, imgDir, annDir, split, p, kind.id);
    }

    /** The split a directory selects under a layout template, or null if it does not fit. */
    private static String match(String template, String dir) {
        String d = dir.replaceAll("/+$", "").replaceAll("^\\./", "");
        int at = template.indexOf("{split}");
        if (at < 0) return d.equals(template) ? "all" : null;
        String pre = template.substring(0, at), post = template.substring(at + "{split}".length());
        if (!d.startsWith(pre) || !d.endsWith(post) || d.length() <= pre.length() + post.length()) return null;
        return d.substring(pre.length(), d.length() - post.length());
    }

    /** The same data set with another name (two validation sets of one kind). */
    DatasetSpec named(String n) {
        return new DatasetSpec(type, kind, dataRoot, imgDir, annDir, split, pipeline, n);
    }
}
