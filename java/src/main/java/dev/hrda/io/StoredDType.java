package dev.hrda.io;

import dev.hrda.tensor.DType;

/**
 * Element types as checkpoint files store them: a superset of the engine's {@link DType}
 * (int64 for BatchNorm's num_batches_tracked and optimizer steps, bool, int8/16). The names are
 * safetensors' dtype strings.
 */
public enum StoredDType {
    F64(8, DType.F64, "DoubleStorage"), F32(4, DType.F32, "FloatStorage"), F16(2, DType.F16, "HalfStorage"),
    BF16(2, DType.BF16, "BFloat16Storage"), I64(8, null, "LongStorage"), I32(4, DType.I32, "IntStorage"),
    I16(2, null, "ShortStorage"), I8(1, null, "CharStorage"), U8(1, DType.U8, "ByteStorage"), BOOL(1, null, "BoolStorage");

    /** Bytes per element. */
    public final int bytes;
    private final DType engine;
    /** The legacy storage class (torch.FloatStorage, ...) a .pth names for this dtype. */
    final String torchStorage;

    StoredDType(int bytes, DType engine, String torchStorage) {
        this.bytes = bytes;
        this.engine = engine;
        this.torchStorage = torchStorage;
    }

    /** The engine dtype with the same bytes, or null where the engine has none (I64, I16, I8, BOOL). */
    public DType engineType() { return engine; }

    public boolean isFloat() { return this == F64 || this == F32 || this == F16 || this == BF16; }

    public static StoredDType of(DType d) {
        for (StoredDType s : values()) if (s.engine == d) return s;
        throw new IllegalArgumentException("no stored dtype for " + d);
    }

    /** Parses a safetensors dtype string; null if unknown. */
    public static StoredDType fromSafetensors(String s) {
        for (StoredDType d : values()) if (d.name().equals(s)) return d;
        return null;
    }
}
