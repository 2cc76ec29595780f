package dev.hrda.tensor;

import dev.hrda.backend.Backend;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

import java.util.Arrays;

/**
 * A dense row-major tensor in native memory (off-heap on the CPU, device memory on CUDA).
 *
 * Ownership is explicit: a tensor allocated while an {@link Arena} is open belongs to it;
 * otherwise its creator must {@link #close()} it. Views ({@link #view}) share their base's
 * memory and never free it. Nothing is left to the garbage collector.
 *
 * Autograd state lives here too: {@link #grad} (allocated on first use), {@link #requiresGrad},
 * and for parameters their original (mmseg/SegFormer) {@link #name}. Optimizer groups belong
 * to the optimizer ({@link dev.hrda.optim.AdamW#groupOf}), not to the tensor.
 */
public final class Tensor implements AutoCloseable {
    private final Backend backend;
    private final DType dtype;
    private final int[] shape;
    private final long numel;
    private final Tensor base;       // non-null for views
    /** Owners: the memory (0 once freed). Views: the byte offset into the base's memory. */
    private long address;
    /** Views only: set by {@link #free()}, after which the view may not be read. */
    private boolean dropped;

    /** Gradient of a loss with respect to this tensor; same shape and dtype. */
    public Tensor grad;
    public boolean requiresGrad;
    /** Parameters keep their gradient across arenas and are updated by the optimizer. */
    public boolean isParam;
    public String name;

    private Tensor(Backend backend, DType dtype, int[] shape, long address, Tensor base) {
        this.backend = backend;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.numel = numel(shape);
        this.base = base;
        // a view resolves its address through the base, so that it follows the base's memory when
        // autograd drops and recomputes an activation (dropStorage / takeStorage)
        this.address = base == null ? address : address - base.address;
    }

    /** Allocates uninitialised memory; adopted by the current arena if one is open. */
    public static Tensor empty(Backend backend, DType dtype, int... shape) {
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
        }
        long bytes = numel(shape) * dtype.bytes;
        long addr = MemoryPool.allocate(backend, bytes);
        MemoryStats.allocated(backend.device(), bytes);
        Tensor t = new Tensor(backend, dtype, shape, addr, null);
        Arena a = Arena.current();
        if (a != null) a.adopt(t);
        return t;
    }

    public static Tensor zeros(Backend backend, DType dtype, int... shape) {
        Tensor t = empty(backend, dtype, shape);
        backend.fill(t, 0);
        return t;
    }

    public static Tensor full(Backend backend, DType dtype, double value, int... shape) {
        Tensor t = empty(backend, dtype, shape);
        backend.fill(t, value);
        return t;
    }

    public static Tensor of(Backend backend, float[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(backend, DType.F32, shape);
        try (FloatPointer p = new FloatPointer(data)) {
            backend.copyFromHost(t, p);
        }
        return t;
    }

    public static Tensor of(Backend backend, double[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(backend, DType.F64, shape);
        try (DoublePointer p = new DoublePointer(data)) {
            backend.copyFromHost(t, p);
        }
        return t;
    }

    public static Tensor of(Backend backend, int[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(backend, DType.I32, shape);
        try (IntPointer p = new IntPointer(data)) {
            backend.copyFromHost(t, p);
        }
        return t;
    }

    public static Tensor ofBytes(Backend backend, byte[] data, int... shape) {
        checkLength(data.length, shape);
        Tensor t = empty(backend, DType.U8, shape);
        try (BytePointer p = new BytePointer(data)) {
            backend.copyFromHost(t, p);
        }
        return t;
    }

    /** Same memory, new shape (same number of elements). Valid while the base lives. */
    public Tensor view(int... newShape) {
        int infer = -1;
        long known = 1;
        int[] s = newShape.clone();
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one -1 allowed in " + Arrays.toString(newShape));
                infer = i;
            } else {
                known *= s[i];
            }
        }
        if (infer >= 0) s[infer] = (int) (numel / Math.max(known, 1));
        if (numel(s) != numel) {
            throw new IllegalArgumentException("cannot view " + shapeString() + " as " + Arrays.toString(newShape));
        }
        Tensor v = new Tensor(backend, dtype, s, address(), base != null ? base : this);
        v.requiresGrad = requiresGrad;
        return v;
    }

    public Backend backend() { return backend; }
    public DType dtype() { return dtype; }
    public Device device() { return backend.device(); }
    public int[] shape() { return shape.clone(); }
    public int rank() { return shape.length; }
    public long numel() { return numel; }
    public long bytes() { return numel * dtype.bytes; }
    public boolean isView() { return base != null; }

    /** The tensor that owns this memory: the base of a view, else this. */
    public Tensor owner() { return base != null ? base : this; }

    /** Size of dimension i; negative i counts from the end. */
    public int dim(int i) { return shape[i < 0 ? shape.length + i : i]; }

    public long address() {
        if (base != null) {
            if (dropped) throw new IllegalStateException("use of a freed tensor " + describe());
            if (base.address == 0) throw new IllegalStateException("view of a freed tensor " + describe());
            return base.address + address;
        }
        if (address == 0 && numel > 0) throw new IllegalStateException("use of a freed tensor " + describe());
        return address;
    }

    public boolean isFreed() { return base != null ? dropped : address == 0; }

    public String shapeString() { return Arrays.toString(shape); }

    public String describe() {
        return (name != null ? name + " " : "") + dtype + shapeString() + "@" + backend.device();
    }

    @Override
    public String toString() { return "Tensor(" + describe() + ")"; }

    /** Copies to a Java array (converting from any float dtype). */
    public float[] toFloatArray() {
        if (dtype != DType.F32) {
            try (Tensor f = Tensor.empty(backend, DType.F32, shape)) {
                backend.convert(this, f);
                return f.toFloatArray();
            }
        }
        float[] out = new float[Math.toIntExact(numel)];
        try (FloatPointer p = new FloatPointer(numel)) {
            backend.copyToHost(this, p);
            p.get(out);
        }
        return out;
    }

    public double[] toDoubleArray() {
        if (dtype != DType.F64) {
            try (Tensor f = Tensor.empty(backend, DType.F64, shape)) {
                backend.convert(this, f);
                return f.toDoubleArray();
            }
        }
        double[] out = new double[Math.toIntExact(numel)];
        try (DoublePointer p = new DoublePointer(numel)) {
            backend.copyToHost(this, p);
            p.get(out);
        }
        return out;
    }

    public int[] toIntArray() {
        if (dtype != DType.I32) throw new IllegalStateException("toIntArray on " + describe());
        int[] out = new int[Math.toIntExact(numel)];
        try (IntPointer p = new IntPointer(numel)) {
            backend.copyToHost(this, p);
            p.get(out);
        }
        return out;
    }

    public byte[] toByteArray() {
        if (dtype != DType.U8) throw new IllegalStateException("toByteArray on " + describe());
        byte[] out = new byte[Math.toIntExact(numel)];
        try (BytePointer p = new BytePointer(numel)) {
            backend.copyToHost(this, p);
            p.get(out);
        }
        return out;
    }

    /** Scalar value of a one-element tensor. */
    public double item() {
        if (numel != 1) throw new IllegalStateException("item() on " + describe());
        return toDoubleArray()[0];
    }

    public void copyFrom(float[] data) {
        checkLength(data.length, shape);
        if (dtype != DType.F32) {
            try (Tensor f = Tensor.of(backend, data, shape)) {
                backend.convert(f, this);
            }
            return;
        }
        try (FloatPointer p = new FloatPointer(data)) {
            backend.copyFromHost(this, p);
        }
    }

    public void copyFrom(double[] data) {
        checkLength(data.length, shape);
        if (dtype != DType.F64) {
            try (Tensor f = Tensor.of(backend, data, shape)) {
                backend.convert(f, this);
            }
            return;
        }
        try (DoublePointer p = new DoublePointer(data)) {
            backend.copyFromHost(this, p);
        }
    }

    /** Copies host memory (bytes() bytes at p) into this tensor. */
    public void copyFrom(Pointer p) {
        backend.copyFromHost(this, p);
    }

    /** Frees the memory (and the gradient) now. Idempotent; views only drop their reference. */
    void free() {
        if (base != null) {
            dropped = true;
            return;
        }
        if (address != 0) {
            MemoryPool.release(backend, address, bytes());
            MemoryStats.freed(backend.device(), bytes());
        }
        address = 0;
    }

    /**
     * Frees this tensor's memory but not the tensor: autograd drops an activation that is cheap to
     * recompute once the forward is done with it, and gives it memory again with
     * {@link #takeStorage} when the backward pass first reads it. Until then any use fails as a
     * freed tensor's would. Its views follow it (they resolve their address through it).
     */
    public void dropStorage() {
        if (base != null) throw new IllegalStateException("dropStorage of a view " + describe());
        free();
    }

    /**
     * Gives a tensor emptied by {@link #dropStorage} the memory of {@code from} (a fresh owner of
     * the same size, e.g. the recomputed activation), which is left freed without releasing it.
     * The tensor is adopted by the current arena, as a fresh allocation would be, so that it is
     * freed at the arena's end at the latest.
     */
    public void takeStorage(Tensor from) {
        if (base != null || address != 0) throw new IllegalStateException("takeStorage: " + describe() + " still has memory or is a view");
        if (from.base != null || from.address == 0 || from.bytes() != bytes() || from.backend != backend) {
            throw new IllegalArgumentException("takeStorage: " + from.describe() + " cannot give its memory to " + describe());
        }
        address = from.address;
        from.address = 0;
        Arena a = Arena.current();
        if (a != null) a.adopt(this);
    }

    /**
     * Frees the memory this tensor uses now, also when it is a view (then the whole base goes,
     * with every other view of it): for a gradient handed from a view to its base's owner.
     */
    public void release() {
        if (base != null) base.free();
        free();
    }

    /**
     * Frees this tensor; for a persistent tensor (parameter, optimizer state) also its gradient.
     * Closing an arena-owned tensor early is allowed: the arena then skips it.
     */
    @Override
    public void close() {
        if (isParam && grad != null) {
            grad.free();
            grad = null;
        }
        free();
    }

    /** Fills bytes of raw memory at address with 0xFF (NaN in every float dtype): the pool's poison. */
    static void poison(Backend backend, long address, long bytes) {
        Tensor owner = new Tensor(backend, DType.U8, new int[] {0}, address, null);  // never freed: not an allocation
        for (long off = 0; off < bytes; off += 1 << 30) {
            int n = (int) Math.min(bytes - off, 1 << 30);
            backend.fill(new Tensor(backend, DType.U8, new int[] {n}, address + off, owner), 255);
        }
    }

    private static long numel(int[] shape) {
        long n = 1;
        for (int s : shape) n *= s;
        return n;
    }

    private static void checkLength(int length, int[] shape) {
        if (length != numel(shape)) {
            throw new IllegalArgumentException("data of length " + length + " does not fill shape " + Arrays.toString(shape));
        }
    }
}
