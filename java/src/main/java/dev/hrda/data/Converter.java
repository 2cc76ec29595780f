package dev.hrda.data;

import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code hrda convert}: writes the {@code *_labelTrainIds.png} next to each raw label (as the
 * original tools/convert_datasets scripts do) and the rare-class statistics at the root.
 *
 * Idempotent: a train-id file newer than its raw label is kept (its counts are read back);
 * data sets that ship train ids (ACDC, Dark Zurich, BDD100K) never have theirs rewritten.
 * Raw files are only read. Every file is written atomically, so an interrupted run leaves
 * no half-written file. Unknown ids become ignore (255) and are counted.
 */
public final class Converter {
    private Converter() {}

    public record Options(int nproc, boolean force, boolean progress) {
        public static Options defaults() { return new Options(Math.max(1, Runtime.getRuntime().availableProcessors()), false, false); }
    }

    /**
     * What a run did. {@code ignoredPixels}: pixels written as 255 (void classes included);
     * {@code unknownPixels}: of those, pixels whose id is not in the data set's label
     * definition at all.
     */
    public record Report(int rawLabels, int written, int kept, long convertedPixels, long ignoredPixels,
                         long unknownPixels, int statsFiles, Path statsDir, List<String> errors, List<String> notes) {
        public boolean ok() { return errors.isEmpty(); }
    }

    public static Report convert(DatasetKind kind, Path root, Options opt) {
        Dataset.checkRoot(kind, root);
        Layout layout = kind.layout();
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        List<String> notes = new ArrayList<>();
        Map<Path, long[]> counted = new ConcurrentHashMap<>();
        AtomicInteger written = new AtomicInteger(), kept = new AtomicInteger();
        AtomicLong pixels = new AtomicLong(), ignored = new AtomicLong(), unknown = new AtomicLong();

        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, opt.nproc()), r -> {
            Thread t = new Thread(r, "hrda-convert");
            t.setDaemon(true);
            return t;
        });
        try {
            // 1. raw label ids -> train ids
            List<Path> raws = layout.rawMap() == null ? List.of() : layout.rawLabels(root);
            Progress bar = opt.progress() && !raws.isEmpty() ? Progress.bar("convert " + kind, raws.size()) : Progress.silent();
            List<Future<?>> fs = new ArrayList<>();
            for (Path raw : raws) {
                fs.add(pool.submit(() -> {
                    try {
                        Path out = layout.trainIdFor(raw);
                        if (Files.exists(out) && (layout.shipsTrainIds() || (!opt.force() && isUpToDate(out, raw)))) {
                            kept.incrementAndGet();
                        } else {
                            Images.LabelIds ids = Images.readLabelIds(raw, layout.rawChannel());
                            LabelMap.Result r = layout.rawMap().apply(ids.ids());
                            Images.writeLabelPng(out, r.trainIds(), ids.width(), ids.height());
                            counted.put(out.toAbsolutePath().normalize(), RareClassStats.count(r.trainIds()));
                            written.incrementAndGet();
                            pixels.addAndGet(r.trainIds().length);
                            ignored.addAndGet(r.ignored());
                            unknown.addAndGet(r.unknown());
                        }
                    } catch (DataException e) {
                        errors.add(e.getMessage());
                    } catch (RuntimeException e) {
                        errors.add(raw + ": " + e);
                    } finally {
                        bar.step();
                    }
                }));
            }
            await(fs);
            if (!raws.isEmpty()) bar.finish();

            // 2. rare-class statistics over the statistics split
            String statsSplit = layout.statsSplit();
            List<Path> images = layout.images(root, statsSplit);
            List<Path> labels = new ArrayList<>();
            boolean anyLabel = false;
            for (Path img : images) {
                Path l = layout.trainIdLabel(root, img);
                labels.add(l);
                anyLabel |= Files.isRegularFile(l) || counted.containsKey(l.toAbsolutePath().normalize());
            }
            int statsFiles = 0;
            if (images.isEmpty() || !anyLabel) {
                notes.add("no labelled images in split '" + (statsSplit == null ? "all" : statsSplit)
                          + "': no rare-class statistics written");
            } else {
                long[][] counts = new long[labels.size()][];
                Progress sbar = opt.progress() ? Progress.bar("class stats", labels.size()) : Progress.silent();
                fs.clear();
                for (int i = 0; i < labels.size(); i++) {
                    final int k = i;
                    fs.add(pool.submit(() -> {
                        Path l = labels.get(k);
                        try {
                            long[] c = counted.get(l.toAbsolutePath().normalize());
                            if (c == null) {
                                if (!Files.isRegularFile(l)) {
                                    errors.add(images.get(k) + ": image without label (expected " + l + ")");
                                    return;
                                }
                                try (Mat m = Images.readLabel(l)) {
                                    byte[] b = Images.toBytes(m);
                                    LabelCheck.require(l, b);
                                    c = RareClassStats.count(b);
                                }
                            }
                            counts[k] = c;
                        } catch (DataException e) {
                            errors.add(e.getMessage());
                        } catch (RuntimeException e) {
                            errors.add(l + ": " + e);
                        } finally {
                            sbar.step();
                        }
                    }));
                }
                await(fs);
                sbar.finish();
                if (errors.isEmpty()) {
                    List<RareClassStats.FileStats> stats = new ArrayList<>();
                    for (int i = 0; i < labels.size(); i++) {
                        stats.add(new RareClassStats.FileStats(statsName(root, labels.get(i)), counts[i]));
                    }
                    new RareClassStats(stats).write(root);
                    statsFiles = stats.size();
                } else {
                    notes.add("rare-class statistics not written because of the errors above");
                }
            }
            List<String> sortedErrors = new ArrayList<>(errors);
            Collections.sort(sortedErrors);
            return new Report(raws.size(), written.get(), kept.get(), pixels.get(), ignored.get(), unknown.get(),
                              statsFiles, root, sortedErrors, notes);
        } finally {
            pool.shutdownNow();
        }
    }

    /** The path as the statistics name it: the root as given joined with the relative path. */
    static String statsName(Path root, Path label) {
        Path rel = root.relativize(label);
        String r = rel.toString().replace('\\', '/');
        String base = root.toString().replace('\\', '/');
        return base.isEmpty() ? r : (base.endsWith("/") ? base + r : base + "/" + r);
    }

    private static boolean isUpToDate(Path out, Path raw) {
        try {
            return Files.getLastModifiedTime(out).compareTo(Files.getLastModifiedTime(raw)) >= 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static void await(List<Future<?>> fs) {
        for (Future<?> f : fs) {
            try {
                f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException(e.getCause());
            }
        }
    }

    /**
     * Makes sure a source data set has its rare-class statistics (and train-id labels):
     * converts first where they are missing, instead of failing. Returns the statistics.
     */
    public static RareClassStats ensureStats(DatasetKind kind, Path root, int nproc) {
        if (!RareClassStats.exists(root)) {
            System.err.println("hrda: " + root + " has no " + RareClassStats.SAMPLE_CLASS_STATS + "; computing it now");
            Report r = convert(kind, root, new Options(nproc, false, true));
            if (!r.ok()) {
                throw new DataException(root, "cannot compute rare-class statistics:\n  " + String.join("\n  ", r.errors()));
            }
            if (!RareClassStats.exists(root)) {
                throw new DataException(root, "no labelled images to compute rare-class statistics from");
            }
        }
        return RareClassStats.read(root);
    }
}
