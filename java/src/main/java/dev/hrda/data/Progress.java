package dev.hrda.data;

import java.io.PrintStream;

/**
 * A one-line progress bar on stderr ({@code \r}-updated, at most 10 times a second), or
 * silent. Thread-safe.
 */
public final class Progress {
    private final String label;
    private final long total;
    private final PrintStream out;
    private final long start = System.nanoTime();
    private long done;
    private long lastPrint;
    private long printedDone = -1;

    private Progress(String label, long total, PrintStream out) {
        this.label = label;
        this.total = total;
        this.out = out;
    }

    public static Progress bar(String label, long total) {
        return new Progress(label, total, System.err);
    }

    public static Progress silent() {
        return new Progress("", 0, null);
    }

    public synchronized void step() {
        done++;
        if (out == null) return;
        long now = System.nanoTime();
        if (now - lastPrint > 100_000_000L || done == total) {
            lastPrint = now;
            print(now);
        }
    }

    private void print(long now) {
        printedDone = done;
        double s = (now - start) / 1e9;
        double rate = done / Math.max(s, 1e-9);
        int width = 30;
        int fill = total > 0 ? (int) (width * done / total) : 0;
        StringBuilder b = new StringBuilder("\r").append(label).append(" [");
        for (int i = 0; i < width; i++) b.append(i < fill ? '=' : (i == fill ? '>' : ' '));
        b.append("] ").append(done).append('/').append(total);
        b.append(String.format("  %.1f/s", rate));
        if (done < total && rate > 0) b.append(String.format("  ETA %s", time((total - done) / rate)));
        else b.append(String.format("  %s", time(s)));
        b.append("   ");
        out.print(b);
        out.flush();
    }

    private static String time(double s) {
        long t = Math.round(s);
        return t >= 3600 ? String.format("%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String.format("%d:%02d", t / 60, t % 60);
    }

    /** Ends the line. */
    public synchronized void finish() {
        if (out == null) return;
        if (printedDone != done) print(System.nanoTime());
        out.println();
        out.flush();
    }
}
