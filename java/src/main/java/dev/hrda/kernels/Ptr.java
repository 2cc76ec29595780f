package dev.hrda.kernels;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/** Wraps raw addresses as JavaCPP pointers (no ownership: nothing is freed when they are dropped). */
public final class Ptr {
    private Ptr() {}

    public static FloatPointer f32(long addr) {
        return new FloatPointer((Pointer) null) {{ this.address = addr; }};
    }

    public static DoublePointer f64(long addr) {
        return new DoublePointer((Pointer) null) {{ this.address = addr; }};
    }

    public static Pointer raw(long addr) {
        return new Pointer((Pointer) null) {{ this.address = addr; }};
    }
}
