package dev.hrda.bench;

import dev.hrda.eval.PeakMemory;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.MemoryPool;
import dev.hrda.tensor.MemoryStats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Does a long training run grow? Runs {@code hrda train ARGS...} in this JVM (the whole loop:
 * loader, DACS iteration, logging, evaluation, checkpoints) while a sampler records, every
 * second, the iteration (from the text log), the process's resident set (VmRSS), the live tensor
 * bytes and allocations (MemoryStats) and the pool's cached bytes. At the end it prints one row
 * per 50 iterations and the drift of each figure between the end of the warm-up (first 10 % of
 * the iterations) and the end of the run.
 * {@code java -cp ... dev.hrda.bench.TrainMemoryBench configs/synth/synth_dacs_daformer_small.yaml --work-dir DIR ...}
 */
public final class TrainMemoryBench {
    record Sample(long iter, double seconds, long rssKiB, long liveBytes, long liveAllocs, long cachedBytes) {}

    private static final Pattern ITER = Pattern.compile("Iter \\[(\\d+)/(\\d+)\\]");

    public static void main(String[] args) throws Exception {
        String[] trainArgs = new String[args.length + 1];
        trainArgs[0] = "train";
        System.arraycopy(args, 0, trainArgs, 1, args.length);
        Path workDir = Path.of(valueOf(args, "--work-dir"));
        List<Sample> samples = new ArrayList<>();
        long t0 = System.nanoTime();
        Thread sampler = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    long[] it = lastIteration(workDir);
                    if (it != null) {
                        synchronized (samples) {
                            samples.add(new Sample(it[0], (System.nanoTime() - t0) / 1e9, PeakMemory.rssBytes() >> 10, MemoryStats.liveBytes(Device.CPU),
                                                   MemoryStats.liveAllocations(Device.CPU), MemoryPool.cachedBytes()));
                        }
                    }
                    Thread.sleep(1000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, "memory-sampler");
        sampler.setDaemon(true);
        sampler.start();
        int rc = dev.hrda.cli.Main.run(trainArgs);
        sampler.interrupt();
        sampler.join();
        if (rc != 0) System.exit(rc);
        report(samples);
    }

    static void report(List<Sample> all) {
        System.out.println("iter   seconds  VmRSS_MiB  live_tensor_MiB  live_allocations  pool_cached_MiB");
        long next = 0, maxIter = all.isEmpty() ? 0 : all.get(all.size() - 1).iter();
        for (Sample s : all) {
            if (s.iter() < next) continue;
            System.out.printf(Locale.ROOT, "%5d  %7.0f  %9.0f  %15.1f  %16d  %15.1f%n", s.iter(), s.seconds(), s.rssKiB() / 1024.0,
                              s.liveBytes() / 1048576.0, s.liveAllocs(), s.cachedBytes() / 1048576.0);
            next = s.iter() + 50;
        }
        long warm = maxIter / 10;
        List<Sample> after = all.stream().filter(s -> s.iter() >= warm).toList();
        if (after.size() < 2) return;
        // the run's last samples include the final evaluation and checkpoint: compare the maxima
        // over the first and last tenth of the post-warm-up samples, so one transient does not decide
        int k = Math.max(1, after.size() / 10);
        List<Sample> head = after.subList(0, k), tail = after.subList(after.size() - k, after.size());
        long rssHead = head.stream().mapToLong(Sample::rssKiB).max().orElse(0), rssTail = tail.stream().mapToLong(Sample::rssKiB).max().orElse(0);
        long rssMax = after.stream().mapToLong(Sample::rssKiB).max().orElse(0), rssMin = after.stream().mapToLong(Sample::rssKiB).min().orElse(0);
        long allocMin = after.stream().mapToLong(Sample::liveAllocs).min().orElse(0), allocMax = after.stream().mapToLong(Sample::liveAllocs).max().orElse(0);
        System.out.printf(Locale.ROOT, "after warm-up (iteration %d on, %d samples): VmRSS %.0f -> %.0f MiB (range %.0f..%.0f), "
                          + "live allocations %d..%d, live tensor bytes %.1f..%.1f MiB%n", warm, after.size(), rssHead / 1024.0, rssTail / 1024.0,
                          rssMin / 1024.0, rssMax / 1024.0, allocMin, allocMax,
                          after.stream().mapToLong(Sample::liveBytes).min().orElse(0) / 1048576.0,
                          after.stream().mapToLong(Sample::liveBytes).max().orElse(0) / 1048576.0);
    }

    /** The last "Iter [i/n]" of the newest text log in the work dir, or null before the first. */
    static long[] lastIteration(Path workDir) throws IOException {
        if (!Files.isDirectory(workDir)) return null;
        Path log;
        try (var files = Files.list(workDir)) {
            log = files.filter(p -> p.getFileName().toString().endsWith(".log")).max(Path::compareTo).orElse(null);
        }
        if (log == null) return null;
        List<String> lines = Files.readAllLines(log);
        for (int i = lines.size() - 1; i >= 0; i--) {
            Matcher m = ITER.matcher(lines.get(i));
            if (m.find()) return new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
        }
        return null;
    }

    private static String valueOf(String[] args, String key) {
        int i = Arrays.asList(args).indexOf(key);
        if (i < 0 || i + 1 >= args.length) throw new IllegalArgumentException("TrainMemoryBench needs " + key + " DIR among the train arguments");
        return args[i + 1];
    }
}
