package dev.hrda.nn;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;

/** The 2-d normalisation a RIPU model is built with: FrozenBatchNorm2d (FREEZE_BN) or nn.BatchNorm2d; both are {@link MapLayer}s. */
public final class Norm2d {
    private Norm2d() {}

    public static Module create(Backend backend, DType dtype, int channels, boolean frozen) {
        return frozen ? new FrozenBatchNorm2d(backend, dtype, channels) : new BatchNorm2d(backend, dtype, channels);
    }
}
