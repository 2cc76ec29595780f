package dev.hrda.tensor;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Live native allocations per device, counted by every allocator. Tests assert that the count
 * returns to where it started; training logs the peak.
 */
public final class MemoryStats {
    private static final AtomicLong[] LIVE = {new AtomicLong(), new AtomicLong()};
    private static final AtomicLong[] BYTES = {new AtomicLong(), new AtomicLong()};
    private static final AtomicLong[] PEAK = {new AtomicLong(), new AtomicLong()};

    private MemoryStats() {}

    static void allocated(Device d, long bytes) {
        LIVE[d.ordinal()].incrementAndGet();
        long now = BYTES[d.ordinal()].addAndGet(bytes);
        PEAK[d.ordinal()].accumulateAndGet(now, Math::max);
    }

    static void freed(Device d, long bytes) {
        LIVE[d.ordinal()].decrementAndGet();
        BYTES[d.ordinal()].addAndGet(-bytes);
    }

    /** Number of live allocations on the device. */
    public static long liveAllocations(Device d) { return LIVE[d.ordinal()].get(); }

    public static long liveBytes(Device d) { return BYTES[d.ordinal()].get(); }

    public static long peakBytes(Device d) { return PEAK[d.ordinal()].get(); }

    public static void resetPeak(Device d) { PEAK[d.ordinal()].set(BYTES[d.ordinal()].get()); }

    /** Raises the peak to at least {@code bytes} (a caller that reset it to trace parts of a step restores the step's peak). */
    public static void raisePeak(Device d, long bytes) { PEAK[d.ordinal()].accumulateAndGet(bytes, Math::max); }

    /** A snapshot of live allocation counts on both devices, for leak checks. */
    public record Snapshot(long cpu, long cuda, long cpuBytes, long cudaBytes) {
        public static Snapshot take() {
            return new Snapshot(liveAllocations(Device.CPU), liveAllocations(Device.CUDA),
                                liveBytes(Device.CPU), liveBytes(Device.CUDA));
        }
    }
}
