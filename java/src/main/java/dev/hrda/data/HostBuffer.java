package dev.hrda.data;

import dev.hrda.kernels.CudaKernels;
import dev.hrda.kernels.CudaRuntime;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;

import java.util.function.Function;

/**
 * Host memory for a batch: page-locked (pinned, cudaHostAlloc) when asked for and CUDA is
 * usable, so that uploads run at full speed; plain malloc otherwise. Freed by close().
 */
public final class HostBuffer implements AutoCloseable {
    private final long bytes;
    private final boolean pinned;
    private long address;
    private Pointer plain; // malloc'd memory when not pinned

    private HostBuffer(long bytes, boolean wantPinned) {
        this.bytes = bytes;
        long addr = 0;
        boolean pin = false;
        if (wantPinned && bytes > 0 && CudaRuntime.probe().usable()) {
            long[] p = new long[1];
            if (CudaKernels.hrda_cuda_host_alloc(p, bytes) == 0 && p[0] != 0) {
                addr = p[0];
                pin = true;
            }
        }
        if (!pin) {
            plain = Pointer.malloc(Math.max(bytes, 1));
            if (plain == null || plain.isNull()) throw new OutOfMemoryError("cannot allocate " + bytes + " bytes of host memory");
            addr = plain.address();
        }
        this.address = addr;
        this.pinned = pin;
    }

    /** Allocates {@code bytes}; pinned where requested and possible. */
    public static HostBuffer allocate(long bytes, boolean pinned) {
        return new HostBuffer(bytes, pinned);
    }

    public long bytes() { return bytes; }
    public boolean pinned() { return pinned; }

    public long address() {
        if (address == 0) throw new IllegalStateException("use of a freed host buffer");
        return address;
    }

    /** A Pointer to the first byte (for Backend.copyFromHost, which reads address()). */
    public Pointer pointer() {
        return new Raw(address(), bytes);
    }

    private static final class Raw extends Pointer {
        Raw(long address, long bytes) {
            this.address = address;
            this.limit = bytes;
            this.capacity = bytes;
        }
    }

    private void check(long offsetBytes, long n) {
        if (offsetBytes < 0 || offsetBytes + n > bytes) {
            throw new IndexOutOfBoundsException("host buffer of " + bytes + " bytes: [" + offsetBytes + ", " + (offsetBytes + n) + ")");
        }
    }

    /** A typed pointer over elements [offsetElems, offsetElems + n) of elemBytes bytes each, bounds-checked. */
    private <P extends Pointer> P view(long offsetElems, int n, int elemBytes, Function<Pointer, P> typed) {
        long off = offsetElems * elemBytes, len = (long) n * elemBytes;
        check(off, len);
        P p = typed.apply(new Raw(address() + off, len));
        p.capacity(n).limit(n);
        return p;
    }

    public void putFloats(long offsetElems, float[] src) {
        try (FloatPointer p = view(offsetElems, src.length, 4, FloatPointer::new)) {
            p.put(src, 0, src.length);
        }
    }

    public void getFloats(long offsetElems, float[] dst) {
        try (FloatPointer p = view(offsetElems, dst.length, 4, FloatPointer::new)) {
            p.get(dst, 0, dst.length);
        }
    }

    public void putInts(long offsetElems, int[] src) {
        try (IntPointer p = view(offsetElems, src.length, 4, IntPointer::new)) {
            p.put(src, 0, src.length);
        }
    }

    public void getInts(long offsetElems, int[] dst) {
        try (IntPointer p = view(offsetElems, dst.length, 4, IntPointer::new)) {
            p.get(dst, 0, dst.length);
        }
    }

    public void putBytes(long offset, byte[] src) {
        try (BytePointer p = view(offset, src.length, 1, BytePointer::new)) {
            p.put(src, 0, src.length);
        }
    }

    @Override
    public void close() {
        if (address == 0) return;
        if (pinned) CudaKernels.hrda_cuda_host_free(address);
        else Pointer.free(plain);
        address = 0;
        plain = null;
    }
}
