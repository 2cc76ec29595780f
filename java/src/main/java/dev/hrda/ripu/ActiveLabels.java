package dev.hrda.ripu;

import dev.hrda.data.AtomicFiles;
import dev.hrda.data.DataException;
import dev.hrda.data.Dataset;
import dev.hrda.data.Images;
import dev.hrda.data.Json;
import dev.hrda.data.Pipeline;
import dev.hrda.data.Png;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * RIPU's acquired target labels, per target image at its original size (ripu_spec.md §1.6, §1.8):
 * {@code selected} (the pixels whose ground truth is revealed: the annotated regions) and
 * {@code active} (the pixels no later round may pick: the suppression windows), persisted in
 * the work dir as 8-bit PNGs ({@code active_labels/<image>_selected.png}, 255 = yes, 0 = no;
 * {@code _active.png} the same), written atomically after each round. Unlike the original
 * (whose initMask resets them on every start), {@link #open} reads them back, so a resumed run
 * keeps its labels. Thread-safe: loader threads read while nothing writes (rounds run between
 * loaders).
 */
public final class ActiveLabels {
    public static final String DIR = "active_labels";
    private final Path dir;
    private final Dataset target;
    private final byte[][] selected, active;
    private final int[] width, height;
    private int roundsDone;
    public static final String ROUNDS = "rounds.json";

    private ActiveLabels(Path dir, Dataset target) {
        this.dir = dir;
        this.target = target;
        int n = target.size();
        selected = new byte[n][];
        active = new byte[n][];
        width = new int[n];
        height = new int[n];
    }

    /** The store of a work dir: masks already there (a resumed run) are read, the others start empty. */
    public static ActiveLabels open(Path workDir, Dataset target) {
        ActiveLabels a = new ActiveLabels(workDir.resolve(DIR), target);
        Path rounds = a.dir.resolve(ROUNDS);
        if (Files.isRegularFile(rounds)) {
            try {
                Object v = ((java.util.Map<?, ?>) Json.parse(Files.readString(rounds))).get("rounds");
                if (!(v instanceof Number num)) throw new DataException(rounds, "has no 'rounds' count");
                a.roundsDone = num.intValue();
            } catch (java.io.IOException | RuntimeException e) {
                if (e instanceof DataException d) throw d;
                throw new DataException(rounds, "cannot be read (" + e.getMessage() + ")", e);
            }
        }
        for (int i = 0; i < target.size(); i++) {
            Path s = a.file(i, "selected"), t = a.file(i, "active");
            if (Files.isRegularFile(s) != Files.isRegularFile(t)) {
                throw new DataException(Files.isRegularFile(s) ? t : s, "is missing while its pair exists (a damaged work dir?)");
            }
            if (!Files.isRegularFile(s)) continue;
            Png.Image si = Png.read(s), ti = Png.read(t);
            if (si.width() != ti.width() || si.height() != ti.height()) {
                throw new DataException(t, "is " + ti.width() + "x" + ti.height() + " but " + s.getFileName() + " is " + si.width() + "x" + si.height());
            }
            a.width[i] = si.width();
            a.height[i] = si.height();
            a.selected[i] = binary(s, si);
            a.active[i] = binary(t, ti);
        }
        return a;
    }

    /** A 0/255 mask PNG as 0/1 bytes, or null when the file does not exist. */
    public static byte[] readMask(Path p) {
        return Files.isRegularFile(p) ? binary(p, Png.read(p)) : null;
    }

    private static byte[] binary(Path p, Png.Image img) {
        if (img.colorType() != Png.GRAY || img.bitDepth() != 8) throw new DataException(p, "is not an 8-bit gray mask");
        byte[] out = new byte[img.samples().length];
        for (int i = 0; i < out.length; i++) {
            int v = img.samples()[i];
            if (v != 0 && v != 255) throw new DataException(p, "holds " + v + " at pixel " + i + " (a mask is 0 or 255)");
            out[i] = (byte) (v == 255 ? 1 : 0);
        }
        return out;
    }

    public Dataset target() { return target; }

    /** Masks of an image: 1 = selected / active, row-major at its original size; null before its first round. */
    public synchronized byte[] selected(int i) { return selected[i]; }

    public synchronized byte[] active(int i) { return active[i]; }

    /** Stores and writes one image's masks after a round (copies taken). */
    public synchronized void update(int i, byte[] sel, byte[] act, int w, int h) {
        if (sel.length != (long) w * h || act.length != (long) w * h) {
            throw new IllegalArgumentException("masks of " + target.get(i).image() + " must be " + w + "x" + h);
        }
        selected[i] = sel.clone();
        active[i] = act.clone();
        width[i] = w;
        height[i] = h;
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new DataException(dir, "cannot create (" + e.getMessage() + ")", e);
        }
        Images.writeLabelPng(file(i, "selected"), scaled(sel), w, h);
        Images.writeLabelPng(file(i, "active"), scaled(act), w, h);
    }

    /** 0/1 bytes as the 0/255 values a mask PNG holds. */
    public static byte[] scaled(byte[] m) {
        byte[] out = new byte[m.length];
        for (int i = 0; i < m.length; i++) out[i] = m[i] != 0 ? (byte) 255 : 0;
        return out;
    }

    /** Where image i's mask of a kind is stored. */
    public Path file(int i, String kind) {
        String name = target.get(i).image().getFileName().toString().replaceFirst("\\.[^.]+$", "");
        return dir.resolve(name + "_" + kind + ".png");
    }

    /** Acquisition rounds completed (rounds.json; 0 in a fresh work dir). */
    public synchronized int roundsDone() {
        return roundsDone;
    }

    /** Marks round {@code rounds} (1-based count) complete after iteration {@code iteration}: rounds.json, written atomically. */
    public synchronized void recordRound(int rounds, long iteration) {
        roundsDone = rounds;
        AtomicFiles.writeString(dir.resolve(ROUNDS), "{\"rounds\": " + rounds + ", \"iteration\": " + iteration + "}\n");
    }

    /** Pixels of the images that have masks (after a round: every target pixel). */
    public synchronized long targetPixels() {
        long n = 0;
        for (int i = 0; i < width.length; i++) n += (long) width[i] * height[i];
        return n;
    }

    /** Labelled (selected) pixels over all images. */
    public synchronized long selectedPixels() {
        long n = 0;
        for (byte[] s : selected) if (s != null) for (byte b : s) n += b;
        return n;
    }

    /**
     * The label edit of image i for the target pipeline: its ground truth where selected, 255
     * (ignore) elsewhere; before any round every pixel is 255.
     */
    public Pipeline.LabelEdit edit(int i) {
        return (label, w, h) -> {
            byte[] s = selected(i);
            if (s == null) {
                Arrays.fill(label, (byte) 255);
                return;
            }
            if (s.length != label.length || width[i] != w) {
                throw new DataException(file(i, "selected"), "is " + width[i] + "x" + height[i] + " but its label is " + w + "x" + h);
            }
            for (int p = 0; p < label.length; p++) if (s[p] == 0) label[p] = (byte) 255;
        };
    }
}
