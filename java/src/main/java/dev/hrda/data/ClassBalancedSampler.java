package dev.hrda.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * RIPU's class-balanced source sampling (BIT-DA/RIPU core/datasets/gtav.py and synthia.py with
 * {@code max_iters}): the source files a run reads, fixed before it starts. For
 * {@code items / subEpoch + 1} sub-epochs of {@code subEpoch} picks each: a class c is drawn
 * with weight {@code 1 / log(1 + 0.01 + d_c)}, d_c the share of class c in the histogram of the
 * classes of the files picked so far in this sub-epoch (all zero at its start: uniform), then the
 * next file of c's list (files containing c anywhere), whose classes are added to the histogram.
 * The picks are shuffled (RIPU's DataLoader shuffle=True) and item k of the run reads pick
 * {@code k mod picks} (the list is at least {@code items} long; a loader prefetching past the
 * end wraps).
 *
 * <p>Each class's list starts in an order drawn from the seed (the original's is os.listdir's)
 * and is reshuffled whenever its cursor runs past the end; the cursor is kept across sub-epochs.
 * The original then restarts at {@code cursor % (len - 1)}, that is at index 1 (index 0 for two
 * files, a division by zero for one): it skips one random file per pass after the first and
 * cannot sample a class found in a single file. Here the cursor restarts at 0, so every pass
 * visits every file of the class and single-file classes work.
 *
 * <p>Classes no file contains are left out (their weight would be that of an unseen class, and
 * the original would crash drawing them); {@link #absent()} lists them. Deterministic: a pure
 * function of the per-file classes, the number of items, the sub-epoch size and the seed, so a
 * resumed run reads the same files.
 */
public final class ClassBalancedSampler {
    /** RIPU's SUB_EPOCH_SIZE. */
    public static final int SUB_EPOCH = 3000;

    private final int[] order;
    private final int[] classes;
    private final List<Integer> absent = new ArrayList<>();
    private final long items;
    private final int subEpoch, files, unused;

    /**
     * @param classesOf the classes (train ids 0..18, each once) of each source item, by data set
     *                  index; an item with none is never drawn
     * @param items     how many source items the run reads (max_iters x batch size)
     * @param subEpoch  picks per sub-epoch (RIPU: 3000)
     */
    public ClassBalancedSampler(int[][] classesOf, long items, int subEpoch, long seed) {
        if (items < 1) throw new IllegalArgumentException("class-balanced sampling: items must be positive, got " + items);
        if (subEpoch < 1) throw new IllegalArgumentException("class-balanced sampling: sub_epoch must be positive, got " + subEpoch);
        long total = (items / subEpoch + 1) * (long) subEpoch;
        if (total > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("class-balanced sampling: " + total + " picks do not fit an array");
        this.items = items;
        this.subEpoch = subEpoch;
        this.files = classesOf.length;
        int n = LabelMaps.NUM_CLASSES;
        int[] fileCount = new int[n];
        int none = 0;
        for (int f = 0; f < classesOf.length; f++) {
            if (classesOf[f].length == 0) none++;
            for (int c : classesOf[f]) {
                if (c < 0 || c >= n) throw new IllegalArgumentException("class-balanced sampling: item " + f + " has class " + c + " (0-18)");
                fileCount[c]++;
            }
        }
        this.unused = none;
        List<Integer> present = new ArrayList<>();
        for (int c = 0; c < n; c++) {
            if (fileCount[c] > 0) present.add(c);
            else absent.add(c);
        }
        if (present.isEmpty()) throw new IllegalArgumentException("class-balanced sampling: no source file contains a class");
        classes = present.stream().mapToInt(Integer::intValue).toArray();
        int k = classes.length;
        int[][] lists = new int[n][];
        for (int c : classes) lists[c] = new int[fileCount[c]];
        int[] fill = new int[n];
        for (int f = 0; f < classesOf.length; f++) for (int c : classesOf[f]) lists[c][fill[c]++] = f;

        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + 0x43424C53L); // "CBLS": apart from the batches' streams
        for (int c : classes) shuffle(lists[c], rng);
        int[] cursor = new int[n];
        int[] picks = new int[(int) total];
        long[] dist = new long[n];
        double[] cdf = new double[k];
        int at = 0;
        for (long e = 0; e < total / subEpoch; e++) {
            java.util.Arrays.fill(dist, 0);
            long sum = 0;
            for (int i = 0; i < subEpoch; i++) {
                double acc = 0;
                for (int j = 0; j < k; j++) {
                    double share = sum == 0 ? 0 : (double) dist[classes[j]] / sum;
                    acc += 1.0 / Math.log(1 + 1e-2 + share);
                    cdf[j] = acc;
                }
                double u = rng.nextDouble() * acc;
                int j = 0;
                while (j < k - 1 && u >= cdf[j]) j++;
                int c = classes[j];
                int[] list = lists[c];
                if (cursor[c] == list.length) { // past the end: reshuffle, start again at 0 (see the class comment)
                    shuffle(list, rng);
                    cursor[c] = 0;
                }
                int f = list[cursor[c]++];
                picks[at++] = f;
                for (int cf : classesOf[f]) dist[cf]++;
                sum += classesOf[f].length;
            }
        }
        shuffle(picks, rng); // the DataLoader's shuffle=True
        order = picks;
    }

    /**
     * The sampler of a source data set from its class statistics (a class is in a file where it
     * has a pixel: RIPU's np.unique over the label). Every file the statistics name must be in
     * {@code source}; items the statistics do not name are never drawn.
     */
    public static ClassBalancedSampler of(RareClassStats stats, Dataset source, long items, int subEpoch, long seed) {
        int[][] classesOf = new int[source.size()][];
        for (RareClassStats.FileStats fs : stats.files()) {
            String name = RareClassSampler.baseName(fs.file());
            int idx = source.indexOfLabel(name);
            if (idx < 0) {
                throw new DataException(source.root().resolve(RareClassStats.SAMPLE_CLASS_STATS),
                                        "names " + name + ", which is not in " + source
                                        + " (stale statistics? delete the JSON files to recompute them)");
            }
            int m = 0;
            for (long v : fs.counts()) if (v > 0) m++;
            int[] cs = new int[m];
            m = 0;
            for (int c = 0; c < fs.counts().length; c++) if (fs.counts()[c] > 0) cs[m++] = c;
            classesOf[idx] = cs;
        }
        for (int i = 0; i < classesOf.length; i++) if (classesOf[i] == null) classesOf[i] = new int[0];
        return new ClassBalancedSampler(classesOf, items, subEpoch, seed);
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** The data set index of source item {@code item} of the run (item = batch index x batch size + j). */
    public int index(long item) {
        if (item < 0) throw new IllegalArgumentException("item " + item);
        return order[(int) (item % order.length)];
    }

    /** All picks in the order they are read (at least {@link #items()} of them). */
    public int[] order() { return order.clone(); }

    /** The classes drawn, ascending. */
    public int[] classes() { return classes.clone(); }

    /** Classes no source file contains, left out. */
    public List<Integer> absent() { return List.copyOf(absent); }

    public long items() { return items; }
    /** The number of source items it was built for (the data set's size). */
    public int files() { return files; }
    public int subEpoch() { return subEpoch; }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("class-balanced source sampling: ").append(order.length).append(" picks (")
                .append(order.length / subEpoch).append(" sub-epochs of ").append(subEpoch).append(") for ").append(items)
                .append(" items from ").append(files).append(" files, ").append(classes.length).append(" classes");
        if (!absent.isEmpty()) sb.append(" (no file contains ").append(absent).append(": left out)");
        if (unused > 0) sb.append("; ").append(unused).append(" files without a class never drawn");
        return sb.toString();
    }
}
