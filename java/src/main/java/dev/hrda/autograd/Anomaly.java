package dev.hrda.autograd;

import dev.hrda.tensor.Tensor;

import java.util.Optional;

/**
 * Anomaly detection ({@code hrda train --detect-anomaly}, torch.autograd.detect_anomaly): every
 * op of {@link F} checks its output for NaN or infinity and the first one that produces one
 * fails, naming the op and the model code that called it. Costs a reduction and a host read per
 * op, so it is off by default.
 */
public final class Anomaly {
    private static volatile boolean enabled;

    private Anomaly() {}

    public static void enable(boolean on) {
        enabled = on;
    }

    public static boolean enabled() {
        return enabled;
    }

    /** Thrown at the first non-finite op output. */
    public static final class AnomalyException extends RuntimeException {
        public AnomalyException(String message) {
            super(message);
        }
    }

    static void check(Tensor out) {
        if (!out.dtype().isFloat() || out.numel() == 0) return;
        double s;
        try (Tensor sum = Tensor.empty(out.backend(), out.dtype(), 1)) {
            out.backend().sum(out, sum);
            s = sum.item();
        }
        if (Double.isFinite(s)) return;  // a NaN or infinity anywhere makes the sum non-finite (or it overflowed: checked below)
        double[] v = out.toDoubleArray();
        int bad = -1;
        for (int i = 0; i < v.length && bad < 0; i++) if (!Double.isFinite(v[i])) bad = i;
        if (bad < 0) return;  // the sum overflowed, no element is bad
        throw new AnomalyException("--detect-anomaly: F." + op() + " produced " + v[bad] + " at element " + bad + " of its output "
                                   + out.describe() + ", called from " + caller());
    }

    private static String op() {
        return frame(f -> f.getClassName().equals(F.class.getName()) && !f.getMethodName().equals("result")
                          && !f.getMethodName().startsWith("lambda$"))
            .map(StackWalker.StackFrame::getMethodName).orElse("?");
    }

    private static String caller() {
        return frame(f -> !f.getClassName().startsWith("dev.hrda.autograd."))
            .map(f -> f.getClassName().substring(f.getClassName().lastIndexOf('.') + 1) + "." + f.getMethodName() + ":" + f.getLineNumber())
            .orElse("?");
    }

    private static Optional<StackWalker.StackFrame> frame(java.util.function.Predicate<StackWalker.StackFrame> p) {
        return StackWalker.getInstance().walk(s -> s.filter(p).findFirst());
    }
}
