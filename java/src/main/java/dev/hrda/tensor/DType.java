package dev.hrda.tensor;

/** Element types. {@link #code} is the hrda_dtype value of the native ABI (native/include/hrda/common.h). */
public enum DType {
    F32(0, 4), F64(1, 8), BF16(2, 2), F16(3, 2), I32(4, 4), U8(5, 1);

    public final int code;
    public final int bytes;

    DType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    public boolean isFloat() {
        return this == F32 || this == F64 || this == BF16 || this == F16;
    }
}
