package dev.hrda.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * Where a data set keeps its images and labels, in the data set's original layout, and how
 * an image's label file is named. Paths returned are under the given root.
 */
public abstract class Layout {
    /** The label map from the data set's raw label ids, or null where it ships train ids. */
    public abstract LabelMap rawMap();

    /** Which channel of a raw label holds the class (Synthia: the last one in OpenCV's order). */
    public Images.Channel rawChannel() { return Images.Channel.SINGLE; }

    /** Directories that must exist under the root. */
    public abstract List<String> requiredDirs();

    /** Splits present under the root. */
    public abstract List<String> splits(Path root);

    /** The split whose files the rare-class statistics count (null: every file). */
    public abstract String statsSplit();

    /** Image files of a split (a split may name path components, e.g. "train/night"), sorted. */
    public abstract List<Path> images(Path root, String split);

    /** The train-id label file of an image (may not exist yet). */
    public abstract Path trainIdLabel(Path root, Path image);

    /** The raw label file of an image, or null where the data set ships train ids only. */
    public abstract Path rawLabel(Path root, Path image);

    /** Raw label files to convert (every split), sorted; empty where there is nothing to convert. */
    public abstract List<Path> rawLabels(Path root);

    /** The converted file of a raw label. */
    public abstract Path trainIdFor(Path rawLabel);

    /** Label files of a split (train ids, or raw ones where not converted yet), to find labels without image. */
    public abstract List<Path> labelFiles(Path root, String split);

    /** The image a label file belongs to. */
    public abstract Path imageFor(Path root, Path label);

    /** True where the data set's own train-id files are originals that conversion must never rewrite. */
    public boolean shipsTrainIds() { return rawMap() == null; }

    public static Layout of(DatasetKind kind) {
        return switch (kind) {
            case GTA -> new Flat("images", "labels", LabelMaps.GTA, Images.Channel.SINGLE);
            case SYNTHIA -> new Flat("RGB", "GT/LABELS", LabelMaps.SYNTHIA, Images.Channel.LAST);
            case CITYSCAPES -> new Cityscapes();
            case ACDC, DARK_ZURICH -> new RgbAnon();
            case BDD100K -> new Bdd();
            case MAPILLARY -> new Mapillary();
        };
    }

    // ------------------------------------------------------------------ helpers

    static List<Path> walk(Path dir, Predicate<String> nameFilter) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> !AtomicFiles.isTemp(p))
                    .filter(p -> nameFilter.test(p.getFileName().toString()))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String stem(String name, String suffix) {
        return name.substring(0, name.length() - suffix.length());
    }

    /** True when every '/'-separated component of split is a directory component of rel. */
    static boolean inSplit(Path rel, String split) {
        if (split == null || split.isEmpty() || split.equals("all")) return true;
        Set<String> comps = new TreeSet<>();
        Path parent = rel.getParent();
        if (parent != null) for (Path c : parent) comps.add(c.toString());
        for (String s : split.split("/")) if (!comps.contains(s)) return false;
        return true;
    }

    static List<String> subdirs(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static boolean endsWithDigitPng(String n) {
        return n.length() > 5 && n.endsWith(".png") && Character.isDigit(n.charAt(n.length() - 5));
    }

    // ------------------------------------------------------------------ GTA5, Synthia: <img>/N.png, <lbl>/N.png

    /** GTA5 (images/, labels/) and SYNTHIA RAND-CITYSCAPES (RGB/, GT/LABELS/): one flat set, no splits. */
    static final class Flat extends Layout {
        final String imgDir, lblDir;
        final LabelMap map;
        final Images.Channel channel;

        Flat(String imgDir, String lblDir, LabelMap map, Images.Channel channel) {
            this.imgDir = imgDir;
            this.lblDir = lblDir;
            this.map = map;
            this.channel = channel;
        }

        @Override public LabelMap rawMap() { return map; }
        @Override public Images.Channel rawChannel() { return channel; }
        @Override public List<String> requiredDirs() { return List.of(imgDir); }
        @Override public List<String> splits(Path root) { return List.of("all"); }
        @Override public String statsSplit() { return null; }

        @Override
        public List<Path> images(Path root, String split) {
            return walk(root.resolve(imgDir), n -> n.endsWith(".png") || n.endsWith(".jpg"));
        }

        Path rel(Path root, Path image) {
            return root.resolve(imgDir).relativize(image);
        }

        @Override
        public Path rawLabel(Path root, Path image) {
            Path r = rel(root, image);
            String n = r.getFileName().toString();
            String png = n.substring(0, n.lastIndexOf('.')) + ".png";
            return root.resolve(lblDir).resolve(r).resolveSibling(png);
        }

        @Override
        public Path trainIdLabel(Path root, Path image) {
            return trainIdFor(rawLabel(root, image));
        }

        @Override
        public List<Path> rawLabels(Path root) {
            return walk(root.resolve(lblDir), Layout::endsWithDigitPng);
        }

        @Override
        public Path trainIdFor(Path raw) {
            String n = raw.getFileName().toString();
            return raw.resolveSibling(stem(n, ".png") + "_labelTrainIds.png");
        }

        @Override
        public List<Path> labelFiles(Path root, String split) {
            return walk(root.resolve(lblDir), n -> n.endsWith(".png"));
        }

        @Override
        public Path imageFor(Path root, Path label) {
            Path r = root.resolve(lblDir).relativize(label);
            String n = r.getFileName().toString();
            if (n.endsWith("_labelTrainIds.png")) n = stem(n, "_labelTrainIds.png") + ".png";
            return root.resolve(imgDir).resolve(r).resolveSibling(n);
        }
    }

    // ------------------------------------------------------------------ Cityscapes, ACDC, Dark Zurich

    /**
     * Images and labels in two parallel trees: imgDir/REL/X{img} has its labels at
     * lblDir/REL/X{raw} (raw ids, converted to) and lblDir/REL/X{train} (train ids).
     */
    abstract static class ParallelTrees extends Layout {
        final String imgDir, lblDir, img, raw, train;

        ParallelTrees(String imgDir, String lblDir, String img, String raw, String train) {
            this.imgDir = imgDir;
            this.lblDir = lblDir;
            this.img = img;
            this.raw = raw;
            this.train = train;
        }

        @Override public LabelMap rawMap() { return LabelMaps.CITYSCAPES; }
        @Override public List<String> requiredDirs() { return List.of(imgDir); }
        @Override public String statsSplit() { return "train"; }

        @Override
        public List<Path> images(Path root, String split) {
            Path base = root.resolve(imgDir);
            return walk(base, n -> n.endsWith(img)).stream().filter(p -> inSplit(base.relativize(p), split)).toList();
        }

        Path labelWithSuffix(Path root, Path image, String suffix) {
            Path r = root.resolve(imgDir).relativize(image);
            return root.resolve(lblDir).resolve(r).resolveSibling(stem(r.getFileName().toString(), img) + suffix);
        }

        @Override public Path trainIdLabel(Path root, Path image) { return labelWithSuffix(root, image, train); }
        @Override public Path rawLabel(Path root, Path image) { return labelWithSuffix(root, image, raw); }
        @Override public List<Path> rawLabels(Path root) { return walk(root.resolve(lblDir), n -> n.endsWith(raw)); }

        @Override
        public Path trainIdFor(Path rawLabel) {
            return rawLabel.resolveSibling(stem(rawLabel.getFileName().toString(), raw) + train);
        }

        @Override
        public List<Path> labelFiles(Path root, String split) {
            Path base = root.resolve(lblDir);
            return walk(base, n -> n.endsWith(train) || n.endsWith(raw)).stream()
                    .filter(p -> inSplit(base.relativize(p), split)).toList();
        }

        @Override
        public Path imageFor(Path root, Path label) {
            Path r = root.resolve(lblDir).relativize(label);
            String n = r.getFileName().toString();
            String s = n.endsWith(train) ? stem(n, train) : stem(n, raw);
            return root.resolve(imgDir).resolve(r).resolveSibling(s + img);
        }
    }

    /** leftImg8bit/split/city/X_leftImg8bit.png, gtFine/split/city/X_gtFine_labelIds.png (-> _labelTrainIds.png). */
    static final class Cityscapes extends ParallelTrees {
        Cityscapes() {
            super("leftImg8bit", "gtFine", "_leftImg8bit.png", "_gtFine_labelIds.png", "_gtFine_labelTrainIds.png");
        }

        @Override public List<String> splits(Path root) { return subdirs(root.resolve(imgDir)); }
    }

    /**
     * rgb_anon/.../X_rgb_anon.png with gt/.../X_gt_labelTrainIds.png at the same relative place:
     * ACDC's rgb_anon/cond/split/seq/ as released or reorganised into rgb_anon/split/ (HRDA's
     * README), Dark Zurich's rgb_anon/split/cond/seq/. Labels are train ids; *_gt_labelIds.png
     * is converted only where the train-id file is missing.
     */
    static final class RgbAnon extends ParallelTrees {
        static final List<String> SPLITS = List.of("train", "val", "test");

        RgbAnon() {
            super("rgb_anon", "gt", "_rgb_anon.png", "_gt_labelIds.png", "_gt_labelTrainIds.png");
        }

        @Override public boolean shipsTrainIds() { return true; }

        @Override
        public List<String> splits(Path root) {
            Path base = root.resolve(imgDir);
            Set<String> found = new TreeSet<>();
            for (Path p : walk(base, n -> n.endsWith(img))) {
                Path parent = base.relativize(p).getParent();
                if (parent == null) continue;
                for (Path c : parent) if (SPLITS.contains(c.toString())) found.add(c.toString());
            }
            return new ArrayList<>(found);
        }
    }

    // ------------------------------------------------------------------ BDD100K

    /** images/10k/split/X.jpg, labels/sem_seg/masks/split/X.png (train ids). */
    static final class Bdd extends Layout {
        static final String IMG = "images/10k", LBL = "labels/sem_seg/masks";

        @Override public LabelMap rawMap() { return null; }
        @Override public List<String> requiredDirs() { return List.of(IMG); }
        @Override public List<String> splits(Path root) { return subdirs(root.resolve(IMG)); }
        @Override public String statsSplit() { return "train"; }

        @Override
        public List<Path> images(Path root, String split) {
            Path base = root.resolve(IMG);
            return walk(base, n -> n.endsWith(".jpg") || n.endsWith(".png"))
                    .stream().filter(p -> inSplit(base.relativize(p), split)).toList();
        }

        @Override
        public Path trainIdLabel(Path root, Path image) {
            Path r = root.resolve(IMG).relativize(image);
            String n = r.getFileName().toString();
            return root.resolve(LBL).resolve(r).resolveSibling(n.substring(0, n.lastIndexOf('.')) + ".png");
        }

        @Override public Path rawLabel(Path root, Path image) { return null; }
        @Override public List<Path> rawLabels(Path root) { return List.of(); }
        @Override public Path trainIdFor(Path raw) { return raw; }

        @Override
        public List<Path> labelFiles(Path root, String split) {
            Path base = root.resolve(LBL);
            return walk(base, n -> n.endsWith(".png")).stream().filter(p -> inSplit(base.relativize(p), split)).toList();
        }

        @Override
        public Path imageFor(Path root, Path label) {
            Path r = root.resolve(LBL).relativize(label);
            String n = r.getFileName().toString();
            return root.resolve(IMG).resolve(r).resolveSibling(stem(n, ".png") + ".jpg");
        }
    }

    // ------------------------------------------------------------------ Mapillary Vistas

    /**
     * split/images/X.jpg with v1.2 labels split/v1.2/labels/X.png (v2.0 release layout) or
     * split/labels/X.png (v1.x release), converted next to them to X_labelTrainIds.png.
     */
    static final class Mapillary extends Layout {
        @Override public LabelMap rawMap() { return LabelMaps.MAPILLARY_V12; }
        @Override public List<String> requiredDirs() { return List.of(); }
        @Override public String statsSplit() { return "training"; }

        @Override
        public List<String> splits(Path root) {
            return subdirs(root).stream().filter(s -> Files.isDirectory(root.resolve(s).resolve("images"))).toList();
        }

        static String canonical(String split) {
            return switch (split) {
                case "train" -> "training";
                case "val" -> "validation";
                default -> split;
            };
        }

        static Path labelDir(Path splitDir) {
            Path v12 = splitDir.resolve("v1.2").resolve("labels");
            return Files.isDirectory(v12) ? v12 : splitDir.resolve("labels");
        }

        @Override
        public List<Path> images(Path root, String split) {
            List<Path> out = new ArrayList<>();
            for (String s : splits(root)) {
                if (split == null || split.equals("all") || canonical(split).equals(s)) {
                    out.addAll(walk(root.resolve(s).resolve("images"), n -> n.endsWith(".jpg") || n.endsWith(".png")));
                }
            }
            return out;
        }

        Path splitDirOf(Path root, Path image) {
            return root.resolve(root.relativize(image).getName(0));
        }

        @Override
        public Path rawLabel(Path root, Path image) {
            String n = image.getFileName().toString();
            return labelDir(splitDirOf(root, image)).resolve(n.substring(0, n.lastIndexOf('.')) + ".png");
        }

        @Override public Path trainIdLabel(Path root, Path image) { return trainIdFor(rawLabel(root, image)); }

        @Override
        public List<Path> rawLabels(Path root) {
            List<Path> out = new ArrayList<>();
            for (String s : splits(root)) {
                out.addAll(walk(labelDir(root.resolve(s)), n -> n.endsWith(".png") && !n.endsWith("_labelTrainIds.png")));
            }
            return out;
        }

        @Override
        public Path trainIdFor(Path raw) {
            return raw.resolveSibling(stem(raw.getFileName().toString(), ".png") + "_labelTrainIds.png");
        }

        @Override
        public List<Path> labelFiles(Path root, String split) {
            List<Path> out = new ArrayList<>();
            for (String s : splits(root)) {
                if (split == null || split.equals("all") || canonical(split).equals(s)) {
                    out.addAll(walk(labelDir(root.resolve(s)), n -> n.endsWith(".png")));
                }
            }
            return out;
        }

        @Override
        public Path imageFor(Path root, Path label) {
            Path splitDir = root.resolve(root.relativize(label).getName(0));
            String n = label.getFileName().toString();
            if (n.endsWith("_labelTrainIds.png")) n = stem(n, "_labelTrainIds.png") + ".png";
            return splitDir.resolve("images").resolve(stem(n, ".png") + ".jpg");
        }
    }
}
