package dev.hrda.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The images of one split of a data set and their train-id label files, in the data set's
 * original layout.
 */
public final class Dataset {
    /** One image and its train-id label file (null when opened without labels). */
    public record Item(Path image, Path label) {
        /** The label's file name: what the rare-class statistics use to name a sample. */
        public String labelName() { return label == null ? null : label.getFileName().toString(); }
    }

    private final DatasetKind kind;
    private final Path root;
    private final String split;
    private final List<Item> items;
    private Map<String, Integer> byLabelName;

    private Dataset(DatasetKind kind, Path root, String split, List<Item> items) {
        this.kind = kind;
        this.root = root;
        this.split = split;
        this.items = Collections.unmodifiableList(items);
    }

    /** Checks that root exists and has the data set's directories; errors name the directory. */
    public static void checkRoot(DatasetKind kind, Path root) {
        if (!Files.exists(root)) throw new DataException(root, kind + " data root does not exist");
        if (!Files.isDirectory(root)) throw new DataException(root, kind + " data root is not a directory");
        try (Stream<Path> s = Files.list(root)) {
            if (s.findAny().isEmpty()) throw new DataException(root, kind + " data root is empty");
        } catch (IOException e) {
            throw new DataException(root, "cannot list (" + e.getMessage() + ")", e);
        }
        for (String d : kind.layout().requiredDirs()) {
            Path p = root.resolve(d);
            if (!Files.isDirectory(p)) {
                throw new DataException(p, "missing: a " + kind + " root must contain " + String.join(", ", kind.layout().requiredDirs())
                                           + " (is " + root + " the right directory?)");
            }
        }
    }

    /**
     * Opens a split. With {@code withLabels}, every image must have its train-id label file;
     * the error names the first image without one (and says to run {@code hrda convert} where
     * only the raw label exists).
     */
    public static Dataset open(DatasetKind kind, Path root, String split, boolean withLabels) {
        checkRoot(kind, root);
        Layout layout = kind.layout();
        List<Path> images = layout.images(root, split);
        if (images.isEmpty()) {
            throw new DataException(root, "no " + kind + " images found for split '" + split + "' (splits here: "
                                          + layout.splits(root) + ")");
        }
        List<Item> items = new ArrayList<>(images.size());
        for (Path img : images) {
            Path label = null;
            if (withLabels) {
                label = layout.trainIdLabel(root, img);
                if (!Files.isRegularFile(label)) {
                    Path raw = layout.rawLabel(root, img);
                    if (raw != null && Files.isRegularFile(raw)) {
                        throw new DataException(label, "label not converted to train ids yet (run: hrda convert " + kind + " " + root + ")");
                    }
                    throw new DataException(img, "image without label (expected " + label + ")");
                }
            }
            items.add(new Item(img, label));
        }
        return new Dataset(kind, root, split, items);
    }

    public DatasetKind kind() { return kind; }
    public Path root() { return root; }
    public String split() { return split; }
    public List<Item> items() { return items; }
    public int size() { return items.size(); }
    public Item get(int i) { return items.get(i); }

    /** Index of the item whose label file has this name (as the statistics files name them), or -1. */
    public synchronized int indexOfLabel(String fileName) {
        if (byLabelName == null) {
            byLabelName = new HashMap<>();
            for (int i = 0; i < items.size(); i++) {
                if (items.get(i).label != null) byLabelName.put(items.get(i).labelName(), i);
            }
        }
        String base = fileName.substring(fileName.replace('\\', '/').lastIndexOf('/') + 1);
        return byLabelName.getOrDefault(base, -1);
    }

    @Override
    public String toString() { return kind + " " + split + " (" + items.size() + " images) at " + root; }
}
