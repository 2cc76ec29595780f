package dev.hrda.uda;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Arrays;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Inputs, poisoned outputs and an elementwise comparison for the uda tests. */
final class TestTensors {
    private TestTensors() {}

    static Tensor of(Backend be, DType d, double[] v, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        t.copyFrom(v);
        return t;
    }

    /** NaN-filled float output: an element the op forgets to write fails the comparison. */
    static Tensor poisoned(Backend be, DType d, int... shape) {
        Tensor t = Tensor.empty(be, d, shape);
        be.fill(t, Double.NaN);
        return t;
    }

    static Tensor poisonedInts(Backend be, int... shape) {
        int[] v = new int[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
        Arrays.fill(v, -77777);
        return Tensor.of(be, v, shape);
    }

    static void assertClose(String what, double[] ref, double[] got, double atol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(got[i] - ref[i]) <= atol)) {  // NaN fails
                fail(String.format(Locale.ROOT, "%s: element %d of %d: expected %.10g, got %.10g", what, i, ref.length, ref[i], got[i]));
            }
        }
    }
}
