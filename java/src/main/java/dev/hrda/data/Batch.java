package dev.hrda.data;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * N samples of one size, stacked in host memory ({@link HostBuffer}, pinned for CUDA uploads):
 * images f32 [N, 3, H, W] (normalised RGB), labels i32 [N, H, W] (train ids, 255 ignore) or
 * none, validity mask f32 [N, H, W] or none. Uploaded with {@link #images(Backend)} etc.
 * close() frees the host memory (or hands it back to the loader's pool).
 */
public final class Batch implements AutoCloseable {
    private final int n, height, width;
    private HostBuffer images, labels, valid;
    private final List<String> files;
    private final boolean[] flipped;
    private final Consumer<HostBuffer> recycle;

    private Batch(int n, int height, int width, HostBuffer images, HostBuffer labels, HostBuffer valid,
                  List<String> files, boolean[] flipped, Consumer<HostBuffer> recycle) {
        this.n = n;
        this.height = height;
        this.width = width;
        this.images = images;
        this.labels = labels;
        this.valid = valid;
        this.files = Collections.unmodifiableList(files);
        this.flipped = flipped;
        this.recycle = recycle;
    }

    /** Host memory for batches: where buffers come from and go back to. */
    public interface BufferSource {
        HostBuffer acquire(long bytes);

        void release(HostBuffer b);
    }

    /** Stacks samples (all the same size) into freshly allocated host buffers. */
    public static Batch of(List<Sample> samples, boolean pinned) {
        return of(samples, new BufferSource() {
            @Override public HostBuffer acquire(long bytes) { return HostBuffer.allocate(bytes, pinned); }
            @Override public void release(HostBuffer b) { b.close(); }
        });
    }

    public static Batch of(List<Sample> samples, BufferSource src) {
        if (samples.isEmpty()) throw new IllegalArgumentException("empty batch");
        Sample s0 = samples.get(0);
        int n = samples.size(), h = s0.height(), w = s0.width();
        boolean hasLabel = s0.label() != null, hasValid = s0.valid() != null;
        for (Sample s : samples) {
            if (s.height() != h || s.width() != w) {
                throw new IllegalArgumentException("samples of different sizes in one batch: " + s0.file() + " "
                                                   + w + "x" + h + ", " + s.file() + " " + s.width() + "x" + s.height());
            }
            if ((s.label() != null) != hasLabel || (s.valid() != null) != hasValid) {
                throw new IllegalArgumentException("samples with and without labels/masks in one batch");
            }
            if (hasLabel && (s.labelHeight() != h || s.labelWidth() != w)) {
                throw new IllegalArgumentException("label size differs from image size in " + s.file() + " (test mode: batch size 1)");
            }
        }
        long plane = (long) h * w;
        HostBuffer img = src.acquire(n * 3 * plane * 4);
        HostBuffer lbl = hasLabel ? src.acquire(n * plane * 4) : null;
        HostBuffer val = hasValid ? src.acquire(n * plane * 4) : null;
        List<String> files = new ArrayList<>(n);
        boolean[] flipped = new boolean[n];
        int[] li = hasLabel ? new int[(int) plane] : null;
        float[] vf = hasValid ? new float[(int) plane] : null;
        for (int i = 0; i < n; i++) {
            Sample s = samples.get(i);
            img.putFloats(i * 3 * plane, s.image());
            if (hasLabel) {
                byte[] b = s.label();
                for (int k = 0; k < li.length; k++) li[k] = b[k] & 0xFF;
                lbl.putInts(i * plane, li);
            }
            if (hasValid) {
                byte[] b = s.valid();
                for (int k = 0; k < vf.length; k++) vf[k] = b[k];
                val.putFloats(i * plane, vf);
            }
            files.add(s.file());
            flipped[i] = s.flipped();
        }
        return new Batch(n, h, w, img, lbl, val, files, flipped, src::release);
    }

    public int size() { return n; }
    public int height() { return height; }
    public int width() { return width; }
    public List<String> files() { return files; }
    public boolean flipped(int i) { return flipped[i]; }
    public boolean hasLabels() { return labels != null; }
    public boolean hasValid() { return valid != null; }
    public HostBuffer imageBuffer() { return live(images); }
    public HostBuffer labelBuffer() { return labels == null ? null : live(labels); }
    public HostBuffer validBuffer() { return valid == null ? null : live(valid); }

    private HostBuffer live(HostBuffer b) {
        if (b == null) throw new IllegalStateException("batch is closed");
        return b;
    }

    /** f32 [N, 3, H, W] on the backend's device. */
    public Tensor images(Backend backend) {
        Tensor t = Tensor.empty(backend, DType.F32, n, 3, height, width);
        t.copyFrom(live(images).pointer());
        return t;
    }

    /** i32 [N, H, W]. */
    public Tensor labels(Backend backend) {
        if (labels == null) throw new IllegalStateException("batch has no labels");
        Tensor t = Tensor.empty(backend, DType.I32, n, height, width);
        t.copyFrom(labels.pointer());
        return t;
    }

    /** f32 [N, H, W], 1 where pseudo-labels are trusted. */
    public Tensor valid(Backend backend) {
        if (valid == null) throw new IllegalStateException("batch has no validity mask");
        Tensor t = Tensor.empty(backend, DType.F32, n, height, width);
        t.copyFrom(valid.pointer());
        return t;
    }

    public float[] imageArray() {
        float[] a = new float[n * 3 * height * width];
        live(images).getFloats(0, a);
        return a;
    }

    public int[] labelArray() {
        int[] a = new int[n * height * width];
        live(labels).getInts(0, a);
        return a;
    }

    public float[] validArray() {
        float[] a = new float[n * height * width];
        live(valid).getFloats(0, a);
        return a;
    }

    @Override
    public void close() {
        for (HostBuffer b : new HostBuffer[] {images, labels, valid}) if (b != null) recycle.accept(b);
        images = labels = valid = null;
    }
}
