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

    /** -Dhrda.memory.peakTrace=true: remember where each device's peak was reached (a diagnostic: a stack trace per new peak). */
    private static final boolean PEAK_TRACE = Boolean.getBoolean("hrda.memory.peakTrace");
    private static final Throwable[] PEAK_AT = new Throwable[2];
    /** What the thread is doing, named by its caller (the backward step's recording site), for the peak trace. */
    private static final ThreadLocal<String> DOING = new ThreadLocal<>();

    /** Names what this thread does now, for {@link #peakSite} (null: nothing to say). */
    public static void doing(String what) {
        if (PEAK_TRACE) DOING.set(what);
    }

    private MemoryStats() {}

    static void allocated(Device d, long bytes) {
        LIVE[d.ordinal()].incrementAndGet();
        long now = BYTES[d.ordinal()].addAndGet(bytes);
        long before = PEAK[d.ordinal()].getAndAccumulate(now, Math::max);
        if (PEAK_TRACE && now > before) {
            synchronized (PEAK_AT) {
                String doing = DOING.get();
                PEAK_AT[d.ordinal()] = new Throwable("peak " + (now >> 20) + " MiB live, allocating " + bytes + " bytes"
                                                     + (doing == null ? "" : ", in " + doing));
            }
        }
    }

    /**
     * Where the device's peak (since the last reset) was reached: the engine's frames of the
     * allocation that set it, innermost first, or null without -Dhrda.memory.peakTrace=true.
     */
    public static String peakSite(Device d) {
        Throwable t;
        synchronized (PEAK_AT) {
            t = PEAK_AT[d.ordinal()];
        }
        if (t == null) return null;
        StringBuilder sb = new StringBuilder(t.getMessage());
        for (StackTraceElement e : t.getStackTrace()) {
            String c = e.getClassName();
            if (!c.startsWith("dev.hrda.") || c.startsWith("dev.hrda.tensor.")) continue;
            sb.append("\n    at ").append(c.substring("dev.hrda.".length())).append('.').append(e.getMethodName()).append(':').append(e.getLineNumber());
        }
        return sb.toString();
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
