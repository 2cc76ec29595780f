package dev.hrda.eval;

import dev.hrda.tensor.Device;
import dev.hrda.tensor.MemoryStats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The peak memory of one stretch of work, e.g. one image of an evaluation: the most tensor bytes
 * live at once on the device ({@link MemoryStats}), and the process's peak resident set size
 * (Linux: VmHWM of /proc/self/status, reset at {@link #start} by writing 5 to
 * /proc/self/clear_refs; on the CPU backend this includes the tensors, the memory pool's idle
 * blocks, the JVM heap and the native libraries' scratch). -1 where a figure cannot be read.
 */
public final class PeakMemory {
    private static final Path STATUS = Path.of("/proc/self/status"), CLEAR_REFS = Path.of("/proc/self/clear_refs");

    /** @param rssReset whether the RSS peak was reset at the start (else it is the process's peak so far) */
    public record Peak(long tensorBytes, long rssBytes, boolean rssReset) {
        /** "1.23 GiB tensors, 2.34 GiB RSS". */
        public String describe() {
            return gb(tensorBytes) + " tensors, " + (rssBytes < 0 ? "RSS unknown" : gb(rssBytes) + (rssReset ? "" : " (process)") + " RSS");
        }
    }

    private final Device device;
    private boolean rssReset;

    public PeakMemory(Device device) {
        this.device = device;
    }

    /** Starts a measurement: both peaks are set to what is in use now. */
    public void start() {
        MemoryStats.resetPeak(device);
        rssReset = resetRssPeak();
    }

    /** The peaks since {@link #start}. */
    public Peak stop() {
        return new Peak(MemoryStats.peakBytes(device), rssPeakBytes(), rssReset);
    }

    /** VmHWM in bytes, or -1 (not Linux). */
    public static long rssPeakBytes() {
        return statusBytes("VmHWM:");
    }

    /** VmRSS in bytes, or -1 (not Linux). */
    public static long rssBytes() {
        return statusBytes("VmRSS:");
    }

    private static boolean resetRssPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
            return true;
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return false;
        }
    }

    private static long statusBytes(String key) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(key)) return Long.parseLong(line.substring(key.length()).replace("kB", "").trim()) * 1024;
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** Bytes as GiB, two decimals. */
    public static String gb(long bytes) {
        return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
    }
}
