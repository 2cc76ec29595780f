package dev.hrda.data;

import org.bytedeco.opencv.opencv_core.Mat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code hrda data check}: reads every image and label of a data set and reports, by file,
 * what is wrong: unreadable (missing, truncated, corrupt), image/label size mismatch, train-id
 * values outside 0-18 and 255, image without label, label without image.
 */
public final class DataCheck {
    private DataCheck() {}

    public record Problem(Path file, String what) {
        @Override public String toString() { return file + ": " + what; }
    }

    /** {@code unconverted}: images whose label exists only as raw ids (fine, but convert before training). */
    public record Report(int images, int labels, int unconverted, List<Problem> problems, List<String> notes) {
        public boolean ok() { return problems.isEmpty(); }
    }

    public static Report check(DatasetKind kind, Path root, String split, int nproc, boolean progress) {
        Dataset.checkRoot(kind, root);
        Layout layout = kind.layout();
        List<String> splits = split == null || split.isEmpty() || split.equals("all") ? layout.splits(root) : List.of(split);
        List<Problem> problems = Collections.synchronizedList(new ArrayList<>());
        List<String> notes = new ArrayList<>();
        record Job(Path image, Path label, Path raw, boolean expectLabel) {}
        List<Job> jobs = new ArrayList<>();
        List<Path> orphanCandidates = new ArrayList<>();
        for (String s : splits) {
            List<Path> images = layout.images(root, s);
            List<Path> labels = layout.labelFiles(root, s);
            if (images.isEmpty()) {
                problems.add(new Problem(root, "no images in split '" + s + "'"));
                continue;
            }
            boolean labelled = !labels.isEmpty();
            if (!labelled) notes.add("split '" + s + "': " + images.size() + " images, no labels (unlabelled split)");
            for (Path img : images) jobs.add(new Job(img, layout.trainIdLabel(root, img), layout.rawLabel(root, img), labelled));
            orphanCandidates.addAll(labels);
        }
        if (splits.isEmpty()) problems.add(new Problem(root, "no " + kind + " images found"));
        // labels without image
        for (Path l : orphanCandidates) {
            Path img = layout.imageFor(root, l);
            if (!Files.exists(img)) problems.add(new Problem(l, "label without image (expected " + img + ")"));
        }
        Progress bar = progress ? Progress.bar("check " + kind, jobs.size()) : Progress.silent();
        int[] counts = new int[2]; // labels checked, unconverted
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, nproc));
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (Job j : jobs) {
                fs.add(pool.submit(() -> {
                    try {
                        checkOne(layout, j.image(), j.label(), j.raw(), j.expectLabel(), problems, counts);
                    } finally {
                        bar.step();
                    }
                }));
            }
            for (Future<?> f : fs) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
        bar.finish();
        if (counts[1] > 0) notes.add(counts[1] + " labels not converted to train ids yet (run: hrda convert " + kind + " " + root + ")");
        List<Problem> sorted = new ArrayList<>(problems);
        sorted.sort(Comparator.comparing((Problem p) -> p.file().toString()).thenComparing(Problem::what));
        return new Report(jobs.size(), counts[0], counts[1], sorted, notes);
    }

    private static void checkOne(Layout layout, Path image, Path label, Path raw, boolean expectLabel, List<Problem> problems,
                                 int[] counts) {
        int w = -1, h = -1;
        try (Mat m = Images.readColor(image)) {
            w = m.cols();
            h = m.rows();
        } catch (DataException e) {
            problems.add(new Problem(image, "unreadable: " + strip(e)));
        } catch (RuntimeException e) {
            problems.add(new Problem(image, "unreadable: " + e));
        }
        Path which;
        int lw, lh;
        try {
            if (Files.isRegularFile(label)) {
                which = label;
                try (Mat m = Images.readLabel(label)) {
                    lw = m.cols();
                    lh = m.rows();
                    String bad = LabelCheck.describeInvalid(Images.toBytes(m));
                    if (bad != null) problems.add(new Problem(label, "label values out of range: " + bad));
                }
                synchronized (counts) { counts[0]++; }
            } else if (raw != null && Files.isRegularFile(raw)) {
                which = raw;
                Images.LabelIds ids = Images.readLabelIds(raw, layout.rawChannel());
                lw = ids.width();
                lh = ids.height();
                synchronized (counts) { counts[0]++; counts[1]++; }
            } else {
                if (expectLabel) problems.add(new Problem(image, "image without label (expected " + label + ")"));
                return;
            }
        } catch (DataException e) {
            problems.add(new Problem(e.path(), "unreadable: " + strip(e)));
            return;
        }
        if (w >= 0 && (lw != w || lh != h)) {
            problems.add(new Problem(which, "size mismatch: label is " + lw + "x" + lh + ", image " + image.getFileName() + " is " + w + "x" + h));
        }
    }

    static String strip(DataException e) {
        String m = e.getMessage(), p = e.path() + ": ";
        return m.startsWith(p) ? m.substring(p.length()) : m;
    }
}
