package dev.hrda.train;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * The training progress bar on stderr: iteration, rate, ETA and the current losses, redrawn in
 * place at most 5 times a second; where stderr is not a terminal (a log file, CI), a plain line
 * every 5 % of the run instead.
 */
final class TrainProgress {
    private final PrintStream out;
    private final long start, total;
    private final long t0 = System.nanoTime();
    private final boolean terminal = System.console() != null;
    private long lastDraw;
    private long lastPlainStep = -1;
    private boolean drawn;

    TrainProgress(PrintStream out, long start, long total) {
        this.out = out;
        this.start = start;
        this.total = total;
    }

    /** Seconds left at the rate of this process so far. */
    double etaSeconds(long done) {
        double s = (System.nanoTime() - t0) / 1e9, rate = (done - start) / Math.max(s, 1e-9);
        return rate > 0 ? (total - done) / rate : 0;
    }

    void update(long done, Map<String, Double> log) {
        if (out == null) return;
        long now = System.nanoTime();
        long step = total / 20 == 0 ? done : done / Math.max(1, total / 20);
        if (terminal ? now - lastDraw < 200_000_000L && done != total : step == lastPlainStep && done != total) return;
        lastDraw = now;
        lastPlainStep = step;
        double s = (now - t0) / 1e9, rate = (done - start) / Math.max(s, 1e-9);
        int width = 24, fill = (int) (width * done / Math.max(total, 1));
        StringBuilder b = new StringBuilder(terminal ? "\r" : "");
        b.append("train [");
        for (int i = 0; i < width; i++) b.append(i < fill ? '=' : i == fill ? '>' : ' ');
        b.append(String.format(Locale.ROOT, "] %d/%d  %.2f it/s  ETA %s", done, total, rate, TrainLog.eta(etaSeconds(done))));
        Double loss = log.get("loss");
        if (loss != null) b.append(String.format(Locale.ROOT, "  loss %.4f", loss));
        for (String k : new String[] {"decode.loss_seg", "mix.decode.loss_seg", "masked.decode.loss_seg", "src.loss_imnet_feat_dist"}) {
            Double v = log.get(k);
            if (v != null) b.append(String.format(Locale.ROOT, "  %s %.4f", k.replace(".decode.loss_seg", "").replace("decode.loss_seg", "src")
                                                                          .replace("src.loss_imnet_feat_dist", "fd"), v));
        }
        if (terminal) {
            out.print(b + "   ");
            drawn = true;
        } else {
            out.println(b);
        }
        out.flush();
    }

    /** Ends the bar's line before other output (an evaluation's lines). */
    void pause() {
        if (out != null && drawn) {
            out.println();
            drawn = false;
        }
    }

    void finish() {
        pause();
    }
}
