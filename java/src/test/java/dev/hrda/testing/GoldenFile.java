package dev.hrda.testing;

import dev.hrda.backend.Backend;
import dev.hrda.data.Json;
import dev.hrda.io.StoredTensor;
import dev.hrda.io.TensorFile;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** A golden fixture written by tools/golden (safetensors with JSON metadata), and the relative comparison the golden tests share. */
public final class GoldenFile {
    private final Backend be;
    private final Path path;
    public final TensorFile file;
    public final Map<String, StoredTensor> tensors;

    public GoldenFile(Backend be, Path path) {
        this.be = be;
        this.path = path;
        this.file = TensorFile.read(path);
        this.tensors = file.tensors();
    }

    /** A metadata entry parsed as JSON (an object, a list or a number). */
    public Object json(String key) {
        String s = file.metadata().get(key);
        if (s == null) fail(path + " has no metadata '" + key + "'");
        return Json.parse(s);
    }

    public boolean has(String key) {
        return tensors.containsKey(key);
    }

    public StoredTensor tensor(String key) {
        StoredTensor t = tensors.get(key);
        if (t == null) fail(path + " has no tensor " + key);
        return t;
    }

    public double[] values(String key) {
        StoredTensor t = tensor(key);
        try (Tensor x = Tensor.empty(be, DType.F64, t.shape())) {
            t.copyInto(x);
            return x.toDoubleArray();
        }
    }

    public int[] ints(String key) {
        StoredTensor t = tensor(key);
        try (Tensor x = Tensor.empty(be, DType.I32, t.shape())) {
            t.copyInto(x);
            return x.toIntArray();
        }
    }

    /** Copies {@code prefix + name} into every target (a missing key fails). */
    public void load(String prefix, Map<String, Tensor> targets) {
        for (var e : targets.entrySet()) tensor(prefix + e.getKey()).copyInto(e.getValue());
    }

    public static double num(Map<?, ?> m, String key) {
        Object v = m.get(key);
        if (!(v instanceof Number n)) throw new AssertionError("fixture config has no number '" + key + "': " + v);
        return n.doubleValue();
    }

    public static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    public static double[] minus(double[] a, double[] b) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] - b[i];
        return out;
    }

    /** max |got - want| / max |want| <= tol (or max |got - want| <= tol when absolute); NaN fails. */
    public static void assertClose(String what, double[] want, double[] got, double tol, boolean absolute) {
        assertEquals(want.length, got.length, what + ": length");
        double scale = absolute ? 1 : Math.max(maxAbs(want), 1e-300), worst = 0;
        int at = -1;
        for (int i = 0; i < want.length; i++) {
            double e = Math.abs(got[i] - want[i]) / scale;
            if (!(e <= worst)) {  // NaN counts as worst
                worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : e;
                at = i;
            }
        }
        if (!(worst <= tol)) {
            fail(String.format(Locale.ROOT, "%s: error %.3g > %.1g (element %d: expected %.10g, got %.10g)", what, worst, tol, at, want[at], got[at]));
        }
    }
}
