package dev.hrda.backend;

import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.List;
import java.util.Locale;

/**
 * Argument checks of the fused loss and frozen batch-norm ops (losses.h, batchnorm_eval_backward),
 * shared by {@link CpuBackend} and {@link CudaBackend}: a message naming the op, the tensor and
 * its shape before anything reaches the native library (which would only see sizes).
 */
final class LossChecks {
    private LossChecks() {}

    /** The scalar dtype of the losses: f64 for f64 data, f32 otherwise. */
    static DType scalarType(DType data) {
        return data == DType.F64 ? DType.F64 : DType.F32;
    }

    private static String dims(long... d) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < d.length; i++) sb.append(i == 0 ? "" : "x").append(d[i]);
        return sb.toString();
    }

    private static IllegalArgumentException bad(String op, String what, Tensor t, String expected) {
        return new IllegalArgumentException(String.format(Locale.ROOT, "%s: %s must be %s, got %s", op, what, expected,
                                                          t == null ? "null" : t.describe()));
    }

    /** t is a float tensor of `data`'s dtype (or the float data itself when data is null) with n elements. */
    static void data(String op, String what, Tensor t, Tensor data, long... dims) {
        long n = 1;
        for (long d : dims) n *= d;
        String expected = (data == null ? "a float tensor" : data.dtype().toString()) + " of " + dims(dims) + " elements";
        if (t == null || !t.dtype().isFloat() || (data != null && t.dtype() != data.dtype()) || t.numel() != n) {
            throw bad(op, what, t, expected);
        }
    }

    static void ints(String op, String what, Tensor t, long... dims) {
        long n = 1;
        for (long d : dims) n *= d;
        if (t == null || t.dtype() != DType.I32 || t.numel() != n) throw bad(op, what, t, "I32 of " + dims(dims) + " elements");
    }

    static void scalar(String op, String what, Tensor t, Tensor data) {
        DType s = scalarType(data.dtype());
        if (t == null || t.dtype() != s || t.numel() != 1) throw bad(op, what, t, "one " + s + " element");
    }

    static void positive(String op, long... sizes) {
        for (long s : sizes) {
            if (s <= 0) throw new IllegalArgumentException(op + ": sizes must be positive, got " + dims(sizes));
        }
    }

    private static void segInputs(String op, Tensor logits, Tensor labels, Tensor weight, long n, long c, long h, long w,
                                  long outH, long outW) {
        positive(op, n, c, h, w, outH, outW);
        data(op, "logits", logits, null, n, c, h, w);
        ints(op, "labels", labels, n, outH, outW);
        if (weight != null) data(op, "weight", weight, logits, n, outH, outW);
    }

    static void segCrossEntropy(Tensor logits, Tensor labels, Tensor weight, Tensor loss, Tensor counts,
                                long n, long c, long h, long w, long outH, long outW) {
        String op = "segCrossEntropy";
        segInputs(op, logits, labels, weight, n, c, h, w, outH, outW);
        scalar(op, "loss", loss, logits);
        if (counts != null) ints(op, "counts", counts, 2);
    }

    static void segCrossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, Tensor dlogits,
                                        long n, long c, long h, long w, long outH, long outW) {
        String op = "segCrossEntropyBackward";
        segInputs(op, logits, labels, weight, n, c, h, w, outH, outW);
        data(op, "dlogits", dlogits, logits, n, c, h, w);
    }

    private static void fdInputs(String op, Tensor fs, Tensor fi, Tensor labels, Tensor classes, long n, long c, long hw) {
        if (n < 0 || c <= 0 || hw < 0) throw new IllegalArgumentException(op + ": sizes n " + n + ", c " + c + ", hw " + hw);
        data(op, "student features fs", fs, null, n, c, hw);
        data(op, "ImageNet features fi", fi, fs, n, c, hw);
        ints(op, "labels", labels, n, hw);
        ints(op, "classes (256-bit set)", classes, 8);
    }

    static void featureDistance(Tensor fs, Tensor fi, Tensor labels, Tensor classes, Tensor out, Tensor count,
                                long n, long c, long hw) {
        String op = "featureDistance";
        fdInputs(op, fs, fi, labels, classes, n, c, hw);
        scalar(op, "out", out, fs);
        if (count != null) ints(op, "count", count, 1);
    }

    static void featureDistanceBackward(Tensor fs, Tensor fi, Tensor labels, Tensor classes, Tensor dfs, long n, long c, long hw) {
        String op = "featureDistanceBackward";
        fdInputs(op, fs, fi, labels, classes, n, c, hw);
        data(op, "dfs", dfs, fs, n, c, hw);
    }

    static void batchNormEvalBackward(Tensor x, Tensor gamma, Tensor runningMean, Tensor runningVar, Tensor dy,
                                      Tensor dx, Tensor dgamma, Tensor dbeta, long n, long c, long hw) {
        String op = "batchNormEvalBackward";
        positive(op, n, c, hw);
        data(op, "x", x, null, n, c, hw);
        data(op, "dy", dy, x, n, c, hw);
        if (dx != null) data(op, "dx", dx, x, n, c, hw);
        data(op, "gamma", gamma, x, c);
        if (dgamma != null) data(op, "dgamma", dgamma, x, c);
        if (dbeta != null) data(op, "dbeta", dbeta, x, c);
        DType s = scalarType(x.dtype());
        for (Tensor t : new Tensor[] {runningMean, runningVar}) {
            if (t == null || t.dtype() != s || t.numel() != c) {
                throw bad(op, t == runningMean ? "running_mean" : "running_var", t, s + " of " + c + " elements");
            }
        }
    }

    // RIPU
    static void negativeLearning(String op, Tensor logits, Tensor loss, Tensor count, Tensor dlogits, long n, long c, long hw) {
        positive(op, n, c, hw);
        data(op, "logits", logits, null, n, c, hw);
        if (loss != null) scalar(op, "loss", loss, logits);
        if (count != null) ints(op, "count", count, 1);
        if (dlogits != null) data(op, "dlogits", dlogits, logits, n, c, hw);
    }

    static void localConsistency(String op, Tensor logits, Tensor labels, Tensor loss, Tensor count, Tensor dlogits,
                                 long n, long c, long h, long w) {
        positive(op, n, c, h, w);
        data(op, "logits", logits, null, n, c, h, w);
        ints(op, "labels", labels, n, h, w);
        if (loss != null) scalar(op, "loss", loss, logits);
        if (count != null) ints(op, "count", count, 1);
        if (dlogits != null) data(op, "dlogits", dlogits, logits, n, c, h, w);
    }

    static void sgd(List<Tensor> params, List<Tensor> grads, List<Tensor> buffers, double[] lr, double[] wd, double momentum) {
        int n = params.size();
        if (grads.size() != n || (momentum != 0 && (buffers == null || buffers.size() != n)) || lr.length < n || wd.length < n) {
            throw new IllegalArgumentException("sgd: list sizes differ (" + n + " params, " + grads.size() + " grads, "
                                               + (buffers == null ? "no" : buffers.size()) + " momentum buffers, " + lr.length
                                               + " lr, " + wd.length + " wd)");
        }
        for (int i = 0; i < n; i++) {
            Tensor p = params.get(i);
            data("sgd", "grad of parameter " + i, grads.get(i), p, p.numel());
            if (momentum != 0) data("sgd", "momentum buffer of parameter " + i, buffers.get(i), p, p.numel());
        }
    }
}
