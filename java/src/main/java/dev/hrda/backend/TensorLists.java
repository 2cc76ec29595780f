package dev.hrda.backend;

import dev.hrda.tensor.Tensor;

import java.util.List;

/** The arrays of addresses and element counts that the native multi-tensor ops (AdamW, EMA) take. */
final class TensorLists {
    private TensorLists() {}

    /** Each tensor's address (0 for null). */
    static long[] addresses(List<Tensor> ts) {
        long[] a = new long[ts.size()];
        for (int i = 0; i < a.length; i++) a[i] = ts.get(i) == null ? 0L : ts.get(i).address();
        return a;
    }

    /** Each tensor's element count. */
    static long[] sizes(List<Tensor> ts) {
        long[] a = new long[ts.size()];
        for (int i = 0; i < a.length; i++) a[i] = ts.get(i).numel();
        return a;
    }
}
