package dev.hrda.kernels;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/** Wraps raw addresses as JavaCPP pointers (no ownership: nothing is freed when they are dropped). */
public final class Ptr {
    private Ptr() {}

    public static FloatPointer f32(long address) {
        return new FloatPointer((Pointer) null) {{ this.address = address; }};
    }

    public static DoublePointer f64(long address) {
        return new DoublePointer((Pointer) null) {{ this.address = address; }};
    }

    public static Pointer raw(long address) {
        return new Pointer((Pointer) null) {{ this.address = address; }};
    }
}
