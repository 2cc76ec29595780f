package dev.hrda.uda;

import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Arrays;

/** Argument checks of the uda wrappers: a readable message before anything reaches the native ops. */
final class Checks {
    private Checks() {}

    static void requireFloat(Tensor t, String what) {
        if (!t.dtype().isFloat()) throw new IllegalArgumentException(what + " must be a float tensor, got " + t.describe());
    }

    static void requireDType(Tensor t, DType d, String what) {
        if (t.dtype() != d) throw new IllegalArgumentException(what + " must be " + d + ", got " + t.describe());
    }

    static void requireShape(Tensor t, String what, int... shape) {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(what + " must have shape " + Arrays.toString(shape) + ", got " + t.describe());
        }
    }

    static void requireRank(Tensor t, int rank, String what) {
        if (t.rank() != rank) throw new IllegalArgumentException(what + " must have rank " + rank + ", got " + t.describe());
    }
}
