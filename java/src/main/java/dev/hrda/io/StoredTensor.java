package dev.hrda.io;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.bytedeco.javacpp.BytePointer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.Supplier;

/**
 * A tensor as a checkpoint file holds it, in host memory or still in the (memory-mapped) file:
 * dtype, shape and bytes. A tensor of a .pth file may be a strided view of a larger storage
 * (transposed, at an offset, shared with other tensors); {@link #data()} materialises it in
 * row-major order. Nothing here owns native memory: the bytes are Java buffers or file mappings.
 */
public final class StoredTensor {
    private final StoredDType dtype;
    private final int[] shape;
    private final long numel;
    private final long[] strides;        // in elements
    private final long offset;           // in elements
    private final long storageBytes;
    private final ByteOrder order;
    private final Supplier<ByteBuffer> storage;
    private final String source;         // where the bytes come from, for messages

    StoredTensor(StoredDType dtype, int[] shape, long[] strides, long offset, long storageBytes,
                 ByteOrder order, Supplier<ByteBuffer> storage, String source) {
        this.dtype = dtype;
        this.shape = shape.clone();
        this.strides = strides.clone();
        this.offset = offset;
        this.storageBytes = storageBytes;
        this.order = order;
        this.storage = storage;
        this.source = source;
        long n = 1;
        for (int s : shape) n *= s;
        this.numel = n;
    }

    /** A contiguous little-endian tensor over {@code data} (position to limit), without copying. */
    public static StoredTensor of(StoredDType dtype, int[] shape, ByteBuffer data) {
        ByteBuffer d = data.slice().order(ByteOrder.LITTLE_ENDIAN);
        StoredTensor t = contiguous(dtype, shape, d.remaining(), () -> d, "memory");
        if (t.byteSize() != d.remaining()) {
            throw new IllegalArgumentException(d.remaining() + " bytes do not hold " + dtype + Arrays.toString(shape));
        }
        return t;
    }

    public static StoredTensor ofFloats(float[] values, int... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return of(StoredDType.F32, shape, b);
    }

    public static StoredTensor ofLongs(long[] values, int... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return of(StoredDType.I64, shape, b);
    }

    /** Copies a tensor (any backend) to host memory now. */
    public static StoredTensor copyOf(Tensor t) {
        return of(StoredDType.of(t.dtype()), t.shape(), hostCopy(t));
    }

    /** Reads the tensor's current values when {@link #data()} is called (it must still be alive then). */
    static StoredTensor lazyCopyOf(Tensor t) {
        return contiguous(StoredDType.of(t.dtype()), t.shape(), t.bytes(), () -> hostCopy(t), t.describe());
    }

    static StoredTensor contiguous(StoredDType dtype, int[] shape, long bytes, Supplier<ByteBuffer> data, String source) {
        return new StoredTensor(dtype, shape, rowMajor(shape), 0, bytes, ByteOrder.LITTLE_ENDIAN, data, source);
    }

    private static ByteBuffer hostCopy(Tensor t) {
        ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(t.bytes())).order(ByteOrder.LITTLE_ENDIAN);
        try (BytePointer p = new BytePointer(b)) {
            t.backend().copyToHost(t, p);
        }
        return b;
    }

    static long[] rowMajor(int[] shape) {
        long[] s = new long[shape.length];
        long acc = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= shape[i];
        }
        return s;
    }

    public StoredDType dtype() { return dtype; }

    public int[] shape() { return shape.clone(); }

    public long numel() { return numel; }

    /** Bytes of the materialised tensor (numel x element size). */
    public long byteSize() { return numel * dtype.bytes; }

    public String shapeString() { return Arrays.toString(shape); }

    @Override
    public String toString() { return dtype + shapeString(); }

    /**
     * Checks that the view lies inside its storage; the message says why not.
     * @throws IllegalArgumentException if it does not
     */
    void validate() {
        for (int s : shape) if (s < 0) throw new IllegalArgumentException("negative dimension in shape " + shapeString());
        if (strides.length != shape.length) {
            throw new IllegalArgumentException("stride " + Arrays.toString(strides) + " does not fit shape " + shapeString());
        }
        if (offset < 0) throw new IllegalArgumentException("negative storage offset " + offset);
        for (long s : strides) if (s < 0) throw new IllegalArgumentException("negative stride in " + Arrays.toString(strides));
        if (numel == 0) return;
        long last = offset;
        try {
            for (int i = 0; i < shape.length; i++) last = Math.addExact(last, Math.multiplyExact(shape[i] - 1L, strides[i]));
            long needed = Math.multiplyExact(last + 1, (long) dtype.bytes);
            if (needed > storageBytes) {
                throw new IllegalArgumentException("view (offset " + offset + ", shape " + shapeString() + ", stride "
                        + Arrays.toString(strides) + ") needs " + needed + " bytes but its storage (" + source
                        + ") has " + storageBytes);
            }
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("view (offset " + offset + ", shape " + shapeString() + ", stride "
                    + Arrays.toString(strides) + ") overflows");
        }
        if (byteSize() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(byteSize() + " bytes: tensors over 2 GiB are not supported");
        }
    }

    private boolean isContiguous() {
        return Arrays.equals(strides, rowMajor(shape)) || numel <= 1;
    }

    /**
     * The values in row-major order, little-endian, read-only, position 0. Contiguous tensors are
     * a view of the file mapping; strided views and big-endian files are copied.
     */
    public ByteBuffer data() {
        ByteBuffer src = storage.get().duplicate().order(order);
        int es = dtype.bytes;
        int bytes = Math.toIntExact(byteSize());
        if (isContiguous() && order == ByteOrder.LITTLE_ENDIAN) {
            int start = Math.toIntExact(offset * es);
            return src.slice(start, bytes).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer out = ByteBuffer.allocateDirect(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (numel == 0) return out;
        int rank = shape.length;
        boolean swap = order != ByteOrder.LITTLE_ENDIAN && es > 1;
        // copy runs along the last dimension when it is dense and no byte swap is needed
        int run = rank > 0 && strides[rank - 1] == 1 && !swap ? shape[rank - 1] : 1;
        int outer = rank == 0 ? 1 : (int) (numel / run);
        int[] idx = new int[rank];
        int last = run > 1 ? rank - 2 : rank - 1;
        long pos = offset;
        int o = 0;
        for (int k = 0; k < outer; k++) {
            int at = Math.toIntExact(pos * es);
            if (swap) {
                for (int b = es - 1; b >= 0; b--) out.put(o++, src.get(at + b));
            } else {
                out.put(o, src, at, run * es);
                o += run * es;
            }
            for (int d = last; d >= 0; d--) {
                pos += strides[d];
                if (++idx[d] < shape[d]) break;
                pos -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
        return out.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Values as doubles (int64 beyond 2^53 loses precision). */
    public double[] toDoubleArray() {
        ByteBuffer b = data();
        double[] out = new double[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) out[i] = element(b, i);
        return out;
    }

    public float[] toFloatArray() {
        ByteBuffer b = data();
        float[] out = new float[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) out[i] = (float) element(b, i);
        return out;
    }

    /** Values of an integer or bool tensor. */
    public long[] toLongArray() {
        if (dtype.isFloat()) throw new IllegalStateException("toLongArray on " + this);
        ByteBuffer b = data();
        long[] out = new long[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) {
            out[i] = switch (dtype) {
                case I64 -> b.getLong(i * 8);
                case I32 -> b.getInt(i * 4);
                case I16 -> b.getShort(i * 2);
                case I8 -> b.get(i);
                default -> b.get(i) & 0xff;
            };
        }
        return out;
    }

    private double element(ByteBuffer b, int i) {
        return switch (dtype) {
            case F64 -> b.getDouble(i * 8);
            case F32 -> b.getFloat(i * 4);
            case BF16 -> Float.intBitsToFloat((b.getShort(i * 2) & 0xffff) << 16);
            case F16 -> halfToFloat(b.getShort(i * 2));
            case I64 -> b.getLong(i * 8);
            case I32 -> b.getInt(i * 4);
            case I16 -> b.getShort(i * 2);
            case I8 -> b.get(i);
            case U8, BOOL -> b.get(i) & 0xff;
        };
    }

    static float halfToFloat(short h) {
        int bits = h & 0xffff, sign = (bits & 0x8000) << 16, exp = (bits >> 10) & 0x1f, man = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (man << 13));
        if (exp == 0) {
            float v = man * 0x1p-24f;  // subnormal (or zero)
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (man << 13));
    }

    /** Whether values of this dtype may be loaded into a tensor of {@code target} (float into integer may not). */
    public boolean convertibleTo(DType target) {
        return dtype.engineType() == target || target.isFloat() || !dtype.isFloat();
    }

    /**
     * Copies the values into {@code target} (any backend), converting the dtype where they differ.
     * @throws IllegalArgumentException on a shape mismatch or a float-to-integer conversion
     */
    public void copyInto(Tensor target) {
        if (!Arrays.equals(shape, target.shape())) {
            throw new IllegalArgumentException("shape " + shapeString() + " does not fit " + target.describe());
        }
        if (!convertibleTo(target.dtype())) {
            throw new IllegalArgumentException(dtype + " values cannot be loaded into " + target.describe());
        }
        DType src = dtype.engineType();
        Backend be = target.backend();
        if (src == target.dtype()) {
            copyRaw(target);
        } else if (src != null && (dtype.isFloat() || target.dtype().isFloat())) {
            Tensor tmp = Arena.persistent(() -> Tensor.empty(be, src, shape));
            try {
                copyRaw(tmp);
                be.convert(tmp, target);
            } finally {
                tmp.close();
            }
        } else if (target.dtype().isFloat()) {
            target.copyFrom(toDoubleArray());
        } else {
            long[] v = toLongArray();
            Tensor tmp = Arena.persistent(() -> integerTensor(be, target.dtype(), v, shape));
            try {
                be.copy(tmp, target);
            } finally {
                tmp.close();
            }
        }
    }

    private static Tensor integerTensor(Backend be, DType d, long[] v, int[] shape) {
        if (d == DType.I32) {
            int[] a = new int[v.length];
            for (int i = 0; i < v.length; i++) a[i] = Math.toIntExact(v[i]);
            return Tensor.of(be, a, shape);
        }
        byte[] a = new byte[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] < 0 || v[i] > 255) throw new IllegalArgumentException("value " + v[i] + " does not fit U8");
            a[i] = (byte) v[i];
        }
        return Tensor.ofBytes(be, a, shape);
    }

    private void copyRaw(Tensor dst) {
        if (numel == 0) return;
        ByteBuffer b = data();
        if (!b.isDirect()) b = ByteBuffer.allocateDirect(b.remaining()).put(b).flip();
        try (BytePointer p = new BytePointer(b)) {
            dst.copyFrom(p);
        }
    }
}
