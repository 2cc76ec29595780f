package dev.hrda.data;

import dev.hrda.kernels.CudaRuntime;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The UDA training data (DAFormer's UDADataset): each step draws a source sample (rare class
 * sampling when enabled, RIPU's class-balanced file order when enabled, else uniform) and a
 * target sample (uniform). Deterministic: batch i uses random numbers derived from (seed, i)
 * only; with class-balanced sampling, source item j of batch i is file
 * {@code order[i * batchSize + j]} of the precomputed order.
 */
public final class UdaData {
    private final Dataset source, target;
    private final Pipeline sourcePipe, targetPipe;
    private final RareClassSampler rcs;
    private final ClassBalancedSampler cbs;
    /** RIPU's active labels: the label edit of target item i, or null (unlabelled target: UDA). */
    private volatile java.util.function.IntFunction<Pipeline.LabelEdit> targetLabels;

    public UdaData(Dataset source, Pipeline sourcePipe, Dataset target, Pipeline targetPipe, RareClassSampler rcs) {
        this(source, sourcePipe, target, targetPipe, rcs, null);
    }

    /** @param cbs RIPU's class-balanced source order (built from {@code source}), or null; not with {@code rcs} */
    public UdaData(Dataset source, Pipeline sourcePipe, Dataset target, Pipeline targetPipe, RareClassSampler rcs,
                   ClassBalancedSampler cbs) {
        this.source = source;
        this.target = target;
        this.sourcePipe = sourcePipe;
        this.targetPipe = targetPipe;
        this.rcs = rcs;
        this.cbs = cbs;
        if (source == null) throw new IllegalArgumentException("source data set required");
        if (rcs != null && cbs != null) throw new IllegalArgumentException("rare class sampling and class-balanced sampling exclude each other");
        if (cbs != null && cbs.files() != source.size()) {
            throw new IllegalArgumentException("class-balanced sampling built for " + cbs.files() + " files, the source " + source + " has "
                                               + source.size());
        }
        if (rcs != null) {
            for (int c : rcs.classes()) {
                for (String f : rcs.filesWith(c)) {
                    if (source.indexOfLabel(f) < 0) {
                        throw new DataException(source.root().resolve(RareClassStats.SAMPLE_CLASS_STATS),
                                                "names " + f + ", which is not in " + source
                                                + " (stale statistics? delete the JSON files to recompute them)");
                    }
                }
            }
        }
    }

    public Dataset source() { return source; }
    public Dataset target() { return target; }
    public RareClassSampler rcs() { return rcs; }
    public ClassBalancedSampler classBalanced() { return cbs; }

    /** The same data with RIPU's class-balanced source order (built from {@link #source()}); target labels are kept. */
    public UdaData withClassBalanced(ClassBalancedSampler order) {
        UdaData d = new UdaData(source, sourcePipe, target, targetPipe, rcs, order);
        d.targetLabels = targetLabels;
        return d;
    }

    /** Random numbers of item {@code index} of a run with {@code seed}. */
    public static SplittableRandom rng(long seed, long index) {
        long z = seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return new SplittableRandom(z ^ (z >>> 31));
    }

    /** A source sample and, with rare class sampling, the class it was drawn for (else -1). */
    public record SourceDraw(int rareClass, int index, Sample sample) {}

    /** A source sample: RCS class, file, crop (re-cropped up to 10 times), flip. */
    public Sample sampleSource(SplittableRandom rng) {
        return drawSource(rng).sample();
    }

    /** Source item {@code item} of the run (batch index x batch size + j): the class-balanced order's file, else {@link #drawSource(SplittableRandom)}. */
    public SourceDraw drawSource(SplittableRandom rng, long item) {
        if (cbs == null) return drawSource(rng);
        int idx = cbs.index(item);
        return new SourceDraw(-1, idx, sourcePipe.load(source.get(idx), rng));
    }

    public SourceDraw drawSource(SplittableRandom rng) {
        if (cbs != null) throw new IllegalStateException("class-balanced sampling reads the file of an item: use drawSource(rng, item)");
        if (rcs == null) {
            int idx = rng.nextInt(source.size());
            return new SourceDraw(-1, idx, sourcePipe.load(source.get(idx), rng));
        }
        int c = rcs.sampleClass(rng);
        int idx = source.indexOfLabel(rcs.sampleFile(c, rng));
        try (Pipeline.Prepared p = sourcePipe.prepare(source.get(idx))) {
            int[] box = sourcePipe.sampleCrop(p, rng);
            if (rcs.minCropRatio() > 0) {
                for (int j = 0; j < 10; j++) {
                    if (Pipeline.countInBox(p, box, c) > rcs.minCropPixels()) break;
                    box = sourcePipe.sampleCrop(p, rng); // a new random crop of the same image
                }
            }
            return new SourceDraw(c, idx, sourcePipe.finish(p, box, rng));
        }
    }

    /** Source data alone (source-only training, benchmarks): {@link #sourceBatch}, {@link #sourceLoader}. */
    public static UdaData sourceOnly(Dataset source, Pipeline sourcePipe, RareClassSampler rcs) {
        return new UdaData(source, sourcePipe, null, null, rcs);
    }

    public Batch sourceBatch(long seed, long index, int batchSize, Batch.BufferSource buffers) {
        SplittableRandom rng = rng(seed, index);
        List<Sample> src = new ArrayList<>(batchSize);
        for (int i = 0; i < batchSize; i++) src.add(drawSource(rng.split(), index * batchSize + i).sample());
        return Batch.of(src, buffers);
    }

    public Loader<Batch> sourceLoader(LoaderOptions o) {
        BufferPool pool = new BufferPool(o.pinned());
        return new Loader<>(i -> sourceBatch(o.seed(), i, o.batchSize(), pool), -1, o.workers(), o.prefetch(), "hrda-src")
                .onClose(pool::close);
    }

    public Sample sampleTarget(SplittableRandom rng) {
        if (target == null) throw new IllegalStateException("source-only data has no target");
        int i = rng.nextInt(target.size());
        var labels = targetLabels;
        return targetPipe.load(target.get(i), rng, labels == null ? null : labels.apply(i));
    }

    /**
     * Target labels from {@code edits} (RIPU: the ground truth revealed where regions were
     * selected, 255 elsewhere; the target pipeline must load labels). Set between loaders: a
     * loader's prefetched batches use the edits of when they were built.
     */
    public void targetLabels(java.util.function.IntFunction<Pipeline.LabelEdit> edits) {
        if (edits != null && !targetPipe.config().withLabel()) {
            throw new IllegalStateException("target labels need a target pipeline that loads annotations (LoadAnnotations)");
        }
        targetLabels = edits;
    }

    /** Batch {@code index} of a run with {@code seed}. */
    public UdaBatch batch(long seed, long index, int batchSize, Batch.BufferSource buffers) {
        SplittableRandom rng = rng(seed, index);
        List<Sample> src = new ArrayList<>(batchSize), tgt = new ArrayList<>(batchSize);
        for (int i = 0; i < batchSize; i++) {
            SplittableRandom r = rng.split();
            src.add(drawSource(r, index * batchSize + i).sample());
            tgt.add(sampleTarget(r));
        }
        Batch s = Batch.of(src, buffers);
        try {
            return new UdaBatch(s, Batch.of(tgt, buffers));
        } catch (RuntimeException e) {
            s.close();
            throw e;
        }
    }

    /** Loader options. {@code pinned}: pinned host buffers (only where CUDA is usable). */
    public record LoaderOptions(int batchSize, long seed, int workers, int prefetch, boolean pinned) {
        public static LoaderOptions defaults(int batchSize, long seed) {
            return new LoaderOptions(batchSize, seed, Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors())), 4,
                                     CudaRuntime.probe().usable());
        }
    }

    /** Endless background loader of UDA batches; closing it frees its host buffers. */
    public Loader<UdaBatch> loader(LoaderOptions o) {
        if (target == null) throw new IllegalStateException("source-only data: use sourceLoader");
        BufferPool pool = new BufferPool(o.pinned());
        return new Loader<>(i -> batch(o.seed(), i, o.batchSize(), pool), -1, o.workers(), o.prefetch(), "hrda-uda")
                .onClose(pool::close);
    }

    /** Convenience: opens both data sets and their pipelines; statistics computed if missing. */
    public static UdaData open(DatasetKind srcKind, Path srcRoot, PipelineConfig srcCfg, DatasetKind tgtKind, Path tgtRoot,
                               String tgtSplit, PipelineConfig tgtCfg, RareClassSampler rcsOrNull) {
        Dataset s = Dataset.open(srcKind, srcRoot, srcKind.layout().statsSplit() == null ? "all" : srcKind.layout().statsSplit(), true);
        Dataset t = Dataset.open(tgtKind, tgtRoot, tgtSplit, tgtCfg.withLabel());
        return new UdaData(s, new Pipeline(srcCfg), t, new Pipeline(tgtCfg), rcsOrNull);
    }
}
