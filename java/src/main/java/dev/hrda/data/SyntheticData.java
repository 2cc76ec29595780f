package dev.hrda.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.bytedeco.opencv.opencv_core.Mat;

/**
 * {@code hrda synth}: writes the built-in synthetic benchmark, a GTA-style source domain
 * ({@code <out>/gta/images/NNNNN.png}, {@code labels/NNNNN.png} with label ids) and a
 * Cityscapes-style target domain ({@code <out>/cityscapes/leftImg8bit/{train,val}/synth/},
 * {@code gtFine/.../*_gtFine_labelIds.png}), then converts both like real data sets
 * ({@code *_labelTrainIds.png} and the rare-class statistics). Deterministic for a seed.
 */
public final class SyntheticData {
    private SyntheticData() {}

    public static final int DEFAULT_WIDTH = 512, DEFAULT_HEIGHT = 256, DEFAULT_COUNT = 64;
    public static final String CITY = "synth";

    /** What was written: roots and image counts. */
    public record Summary(Path gtaRoot, Path cityscapesRoot, int source, int targetTrain, int targetVal,
                          Converter.Report gtaReport, Converter.Report cityscapesReport) {}

    /**
     * @param count source images; the target gets count/2 train and count/4 val images (at least 1 each)
     */
    public static Summary write(Path out, long seed, int w, int h, int count, int nproc, boolean convert, boolean progress) {
        if (w < 32 || h < 16) throw new IllegalArgumentException("synthetic images must be at least 32x16");
        if (count < 1) throw new IllegalArgumentException("count must be >= 1");
        Path gta = out.resolve("gta"), cs = out.resolve("cityscapes");
        int nTrain = Math.max(1, count / 2), nVal = Math.max(1, count / 4);
        try {
            Files.createDirectories(gta.resolve("images"));
            Files.createDirectories(gta.resolve("labels"));
            for (String split : new String[] {"train", "val"}) {
                Files.createDirectories(cs.resolve("leftImg8bit").resolve(split).resolve(CITY));
                Files.createDirectories(cs.resolve("gtFine").resolve(split).resolve(CITY));
            }
        } catch (IOException e) {
            throw new DataException(out, "cannot create directories (" + e.getMessage() + ")", e);
        }
        record Job(SyntheticScenes.Domain d, long seed, Path img, Path lbl) {}
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            String n = String.format("%05d.png", i + 1);
            jobs.add(new Job(SyntheticScenes.Domain.SOURCE, mix(seed, 1, i), gta.resolve("images").resolve(n), gta.resolve("labels").resolve(n)));
        }
        for (int s = 0; s < 2; s++) {
            String split = s == 0 ? "train" : "val";
            int n = s == 0 ? nTrain : nVal;
            for (int i = 0; i < n; i++) {
                String stem = String.format("%s_%06d_%06d", CITY, s * 100000 + i, 19);
                jobs.add(new Job(SyntheticScenes.Domain.TARGET, mix(seed, 2 + s, i),
                                 cs.resolve("leftImg8bit").resolve(split).resolve(CITY).resolve(stem + "_leftImg8bit.png"),
                                 cs.resolve("gtFine").resolve(split).resolve(CITY).resolve(stem + "_gtFine_labelIds.png")));
            }
        }
        Progress bar = progress ? Progress.bar("synth", jobs.size()) : Progress.silent();
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, nproc));
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (Job j : jobs) {
                fs.add(pool.submit(() -> {
                    SyntheticScenes.Scene sc = SyntheticScenes.draw(j.d(), w, h, j.seed());
                    try (Mat m = Images.bgrMat(sc.bgr(), w, h)) {
                        Images.writePng(j.img(), m);
                    }
                    Images.writeLabelPng(j.lbl(), sc.labelIds(), w, h);
                    bar.step();
                }));
            }
            for (Future<?> f : fs) f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) throw re;
            throw new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
        }
        bar.finish();
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("generator", "hrda synth");
        meta.put("seed", seed);
        meta.put("width", w);
        meta.put("height", h);
        meta.put("source_images", count);
        meta.put("target_train_images", nTrain);
        meta.put("target_val_images", nVal);
        AtomicFiles.writeString(out.resolve("synth.json"), Json.write(meta) + "\n");
        Converter.Report rg = null, rc = null;
        if (convert) {
            Converter.Options o = new Converter.Options(nproc, true, progress);
            rg = Converter.convert(DatasetKind.GTA, gta, o);
            rc = Converter.convert(DatasetKind.CITYSCAPES, cs, o);
        }
        return new Summary(gta, cs, count, nTrain, nVal, rg, rc);
    }

    static long mix(long seed, long stream, long i) {
        long z = seed * 0x9E3779B97F4A7C15L + stream * 0xD1B54A32D192ED03L + i * 0x8CB92BA72F3D8DD7L;
        z = (z ^ (z >>> 31)) * 0xBF58476D1CE4E5B9L;
        return z ^ (z >>> 29);
    }
}
