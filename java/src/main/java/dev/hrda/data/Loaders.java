package dev.hrda.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Background loaders over one data set: random batches (source-only training) and in-order evaluation. */
public final class Loaders {
    private Loaders() {}

    /** Endless batches of uniformly drawn samples; batch i depends only on (seed, i). */
    public static Loader<Batch> random(Dataset ds, Pipeline pipe, int batchSize, long seed, int workers, int prefetch,
                                       boolean pinned) {
        BufferPool pool = new BufferPool(pinned);
        return new Loader<Batch>(i -> {
            SplittableRandom rng = UdaData.rng(seed, i);
            List<Sample> s = new ArrayList<>(batchSize);
            for (int k = 0; k < batchSize; k++) {
                SplittableRandom r = rng.split();
                s.add(pipe.load(ds.get(r.nextInt(ds.size())), r));
            }
            return Batch.of(s, pool);
        }, -1, workers, prefetch, "hrda-data").onClose(pool::close);
    }

    /**
     * Every item once, in order, one per batch (evaluation: images may differ in size and the
     * label keeps its original size; use {@link #sequentialSamples} for that).
     */
    public static Loader<Batch> sequential(Dataset ds, Pipeline pipe, int workers, int prefetch, boolean pinned) {
        BufferPool pool = new BufferPool(pinned);
        return new Loader<Batch>(i -> Batch.of(List.of(pipe.load(ds.get((int) i), UdaData.rng(0, i))), pool),
                                 ds.size(), workers, prefetch, "hrda-eval").onClose(pool::close);
    }

    /** Holder so that samples (plain arrays) can go through a {@link Loader}. */
    public record Item(int index, Sample sample) implements AutoCloseable {
        @Override public void close() { /* heap only */ }
    }

    /** Every item once, in order, as samples (test mode: label at original size). */
    public static Loader<Item> sequentialSamples(Dataset ds, Pipeline pipe, int workers, int prefetch) {
        return new Loader<>(i -> new Item((int) i, pipe.load(ds.get((int) i), UdaData.rng(0, i))), ds.size(), workers,
                            prefetch, "hrda-eval");
    }
}
