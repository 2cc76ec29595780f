package dev.hrda.autograd;

import dev.hrda.backend.Activation;
import dev.hrda.backend.Backend;
import dev.hrda.backend.Box;
import dev.hrda.backend.ConvSpec;
import dev.hrda.tensor.Arena;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;

/**
 * Differentiable ops (the engine's torch.nn.functional). Each computes its forward pass on the
 * inputs' backend and, when a {@link Tape} records and an input requires a gradient, pushes
 * the matching backward step. Results are allocated in the current {@link dev.hrda.tensor.Arena}.
 *
 * Layouts: maps are NCHW; token sequences are [B, N, C] (channels last), as in MiT.
 */
public final class F {
    private static final ThreadLocal<SplittableRandom> RNG = ThreadLocal.withInitial(() -> new SplittableRandom(0));

    private F() {}

    /** Seeds the random stream of dropout / drop-path on this thread. */
    public static void seed(long seed) {
        RNG.set(new SplittableRandom(seed));
    }

    static long nextSeed() {
        if (NO_RANDOM.get()) throw new IllegalStateException("F.recomputable: the recomputed function may not draw random numbers (dropout)");
        return RNG.get().nextLong();
    }

    /** True while a {@link #recomputable} function runs: it must be deterministic, so it may not draw seeds. */
    private static final ThreadLocal<Boolean> NO_RANDOM = ThreadLocal.withInitial(() -> false);

    /**
     * f(x), recorded as usual, except that the result is not kept alive from the forward pass for
     * the backward pass: once the forward is done with it ({@link Scope#done}, a scope's end) its
     * memory goes, and the first backward step that reads it recomputes f(x), without a tape, bit
     * for bit. For cheap ops whose result a later op saves: BN + ReLU before a convolution (the
     * convolution's input), a depthwise convolution before BN, GELU before a Linear. Each costs one
     * more pass over the activation in the backward pass and saves its memory for the whole of it.
     * f may read only x and parameters, must be deterministic (it may not draw random numbers), and
     * BatchNorm in it does not update its running statistics a second time. Without a tape this is
     * f(x).
     */
    public static Tensor recomputable(UnaryOperator<Tensor> f, Tensor x) {
        return recomputable(f, x, f, x);
    }

    /**
     * f(x) as {@link #recomputable(UnaryOperator, Tensor)}, recomputed as {@code again(source)},
     * which must equal f(x) bit for bit: from an earlier input, so that the backward pass need not
     * bring back x first (a depthwise ConvModule's ReLU output from the convolution's input: its
     * BN input is then recomputed only when BN's backward step reads it).
     */
    public static Tensor recomputable(UnaryOperator<Tensor> f, Tensor x, UnaryOperator<Tensor> again, Tensor source) {
        Tensor y = deterministic(f, x, false);
        Tape tape = Tape.current();
        if (tape == null || !y.requiresGrad || y.owner() == x.owner() || y.owner() == source.owner()) return y;
        tape.recomputable(y, () -> deterministic(again, source, true), source);
        return y;
    }

    private static Tensor deterministic(UnaryOperator<Tensor> f, Tensor x, boolean again) {
        boolean wasRandom = NO_RANDOM.get(), wasRecomputing = RECOMPUTING.get();
        NO_RANDOM.set(true);
        if (again) RECOMPUTING.set(true);
        try {
            return f.apply(x);
        } finally {
            NO_RANDOM.set(wasRandom);
            RECOMPUTING.set(wasRecomputing);
        }
    }

    /** True while a checkpointed function is recomputed for its backward pass. */
    private static final ThreadLocal<Boolean> RECOMPUTING = ThreadLocal.withInitial(() -> false);

    /**
     * f(x) without keeping f's intermediate activations: they are recomputed in the backward
     * pass (mmseg's with_cp, torch.utils.checkpoint), trading one more forward of f for its
     * memory. Dropout masks replay with the same seeds and BatchNorm running statistics are not
     * updated a second time, so the result and the gradients equal those of f(x) itself.
     * Parameters used by f receive their gradients as usual; any other tensor that needs a
     * gradient must be x itself (f may not capture one: its gradient would live in the
     * recomputation's arena).
     */
    public static Tensor checkpoint(UnaryOperator<Tensor> f, Tensor x) {
        Tape tape = Tape.current();
        long seed = nextSeed();  // f draws from its own stream, with or without a tape, so masks replay
        SplittableRandom outer = RNG.get();
        if (tape == null || RECOMPUTING.get()) {
            try {
                RNG.set(new SplittableRandom(seed));
                return f.apply(x);
            } finally {
                RNG.set(outer);
            }
        }
        Tensor y;
        try (AutoCloseable paused = Tape.suspend(); Scope inner = Scope.open()) {  // no tape: only y survives
            RNG.set(new SplittableRandom(seed));
            y = inner.keep(f.apply(x));
        } catch (Exception e) {
            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
        } finally {
            RNG.set(outer);
        }
        tape.push(() -> {
            if (y.grad == null) return;
            // x's gradient must outlive the recomputation's arena: made here, accumulated into there
            if (x.requiresGrad && x.grad == null) x.grad = Tensor.zeros(x.backend(), x.dtype(), x.shape());
            SplittableRandom saved = RNG.get();
            RECOMPUTING.set(true);
            try (Arena inner = Arena.open(); Tape t = Tape.record()) {
                RNG.set(new SplittableRandom(seed));
                Tensor again = f.apply(x);
                t.backward(again, y.grad);
            } finally {
                RECOMPUTING.set(false);
                RNG.set(saved);
            }
        }, x);
        y.requiresGrad = true;
        tape.producedBy(y);
        return y;
    }

    private static Tensor like(Tensor x) {
        return Tensor.empty(x.backend(), x.dtype(), x.shape());
    }

    private static Tensor result(Tensor out, Tape tape) {
        if (Anomaly.enabled()) Anomaly.check(out);
        out.requiresGrad = tape != null;
        if (tape != null) tape.producedBy(out);
        return out;
    }

    private static void requireSameShape(String op, Tensor a, Tensor b) {
        if (!Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException(op + ": shapes differ " + a.shapeString() + " vs " + b.shapeString());
        }
    }

    // ------------------------------------------------------------------ elementwise

    public static Tensor add(Tensor a, Tensor b) {
        requireSameShape("add", a, b);
        Tensor y = like(a);
        a.backend().axpby(1, a, 1, b, y);
        Tape tape = Tape.active(a, b);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            accumulate(a, y.grad, 1);
            accumulate(b, y.grad, 1);
        });
        return result(y, tape);
    }

    /**
     * Hands y's gradient to x when x has none yet, for a backward step that computes x's
     * gradient elementwise (or per channel after its reductions) in place of y's: nothing reads
     * y's gradient after the step that produced y (the tape releases it next), so x's needs no
     * buffer of its own. Returns whether it did.
     */
    private static boolean gradInPlace(Tensor x, Tensor y) {
        if (x.grad != null || x.isParam || !x.requiresGrad || y.grad == null || y.isParam) return false;
        x.grad = y.grad;
        y.grad = null;
        return true;
    }

    /** x.grad += s * g (or = s * g when x has no gradient yet). */
    private static void accumulate(Tensor x, Tensor g, double s) {
        if (!x.requiresGrad) return;
        boolean acc = Tape.prepareGrad(x);
        x.backend().axpby(s, g, acc ? 1 : 0, acc ? x.grad : null, x.grad);
    }

    public static Tensor scale(Tensor x, double s) {
        Tensor y = like(x);
        x.backend().axpby(s, x, 0, null, y);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad != null) accumulate(x, y.grad, s);
        });
        return result(y, tape);
    }

    /** Elementwise product of equal shapes. */
    public static Tensor mul(Tensor a, Tensor b) {
        requireSameShape("mul", a, b);
        Tensor y = like(a);
        a.backend().mul(a, b, y, false);
        Tape tape = Tape.active(a, b);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            if (a.requiresGrad) {
                boolean acc = Tape.prepareGrad(a);
                a.backend().mul(y.grad, b, a.grad, acc);
            }
            if (b.requiresGrad) {
                boolean acc = Tape.prepareGrad(b);
                b.backend().mul(y.grad, a, b.grad, acc);
            }
        }, a, b);
        return result(y, tape);
    }

    public static Tensor relu(Tensor x) { return activation(Activation.RELU, x); }

    public static Tensor gelu(Tensor x) { return activation(Activation.GELU, x); }

    public static Tensor sigmoid(Tensor x) { return activation(Activation.SIGMOID, x); }

    /**
     * The backward step keeps one tensor, not both, so that the other is freed when its scope
     * ends (a ConvModule's BN output, as PyTorch's in-place ReLU of mmcv's ConvModule): GELU its
     * input, sigmoid its output, ReLU its output, whose sign is the input's (y > 0 iff x > 0; the
     * kernel's mask reads it in place of x).
     */
    public static Tensor activation(Activation kind, Tensor x) {
        Tensor y = like(x);
        x.backend().activation(kind, x, y);
        Tape tape = Tape.active(x);
        if (tape != null) {
            Tensor mask = kind == Activation.GELU ? x : y;
            tape.push(() -> {
                if (y.grad == null) return;
                Tensor in = kind == Activation.SIGMOID ? null : mask, out = kind == Activation.SIGMOID ? y : null;
                if (gradInPlace(x, y)) {
                    x.backend().activationBackward(kind, in, out, x.grad, x.grad, false);
                    return;
                }
                boolean acc = Tape.prepareGrad(x);
                x.backend().activationBackward(kind, in, out, y.grad, x.grad, acc);
            }, mask);
        }
        return result(y, tape);
    }

    // ------------------------------------------------------------------ dropout family

    private static Tensor dropoutGrouped(Tensor x, float p, long group) {
        if (p == 0f) return x;
        long seed = nextSeed();
        Tensor y = like(x);
        x.backend().dropout(x, y, group, p, seed, false);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            x.backend().dropout(y.grad, x.grad, group, p, seed, acc);
        });
        return result(y, tape);
    }

    /** Element-wise inverted dropout; identity when not training. */
    public static Tensor dropout(Tensor x, float p, boolean training) {
        return training ? dropoutGrouped(x, p, 1) : x;
    }

    /** Drops whole channels of an NCHW map (torch.nn.Dropout2d). */
    public static Tensor dropout2d(Tensor x, float p, boolean training) {
        return training ? dropoutGrouped(x, p, (long) x.dim(2) * x.dim(3)) : x;
    }

    /** Stochastic depth: drops the whole residual branch per sample (timm DropPath). */
    public static Tensor dropPath(Tensor x, float p, boolean training) {
        return training ? dropoutGrouped(x, p, x.numel() / x.dim(0)) : x;
    }

    // ------------------------------------------------------------------ shape

    /** Same data, new shape; gradients flow back through the view. */
    public static Tensor reshape(Tensor x, int... shape) {
        Tensor y = x.view(shape);
        Tape tape = Tape.active(x);
        y.requiresGrad = tape != null;
        if (tape != null) tape.push(() -> {
            if (y.grad == null || !x.requiresGrad) return;
            Tensor g = y.grad.view(x.shape());
            if (x.grad == null && !x.isParam) {
                x.grad = g;       // the same memory, seen with x's shape: it now belongs to x
                y.grad = null;
            } else {
                accumulate(x, g, 1);
            }
        });
        if (tape != null) tape.producedBy(y);
        return y;
    }

    /** [B, C, H, W] -> [B, H*W, C] */
    public static Tensor toTokens(Tensor x) {
        int b = x.dim(0), c = x.dim(1), hw = x.dim(2) * x.dim(3);
        return transposeLast(x, b, c, hw, new int[] {b, hw, c});
    }

    /** [B, H*W, C] -> [B, C, H, W] */
    public static Tensor toMap(Tensor x, int h, int w) {
        int b = x.dim(0), n = x.dim(1), c = x.dim(2);
        if (n != h * w) throw new IllegalArgumentException("toMap: " + n + " tokens is not " + h + "x" + w);
        return transposeLast(x, b, n, c, new int[] {b, c, h, w});
    }

    /** Batched transpose of the trailing [rows, cols] matrix. */
    public static Tensor transposeLast(Tensor x, int batch, int rows, int cols, int[] outShape) {
        Tensor y = Tensor.empty(x.backend(), x.dtype(), outShape);
        x.backend().transpose(x, y, batch, rows, cols, false);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            x.backend().transpose(y.grad, x.grad, batch, cols, rows, acc);
        });
        return result(y, tape);
    }

    /** Concatenates NCHW maps of equal N, H, W along channels. */
    public static Tensor concat(List<Tensor> xs) {
        Tensor first = xs.get(0);
        int n = first.dim(0), h = first.dim(2), w = first.dim(3), total = 0;
        for (Tensor x : xs) {
            if (x.rank() != 4 || x.dim(0) != n || x.dim(2) != h || x.dim(3) != w) {
                throw new IllegalArgumentException("concat: " + x.shapeString() + " does not match " + first.shapeString());
            }
            total += x.dim(1);
        }
        Tensor y = Tensor.empty(first.backend(), first.dtype(), n, total, h, w);
        int off = 0;
        int[] offsets = new int[xs.size()];
        for (int i = 0; i < xs.size(); i++) {
            Tensor x = xs.get(i);
            offsets[i] = off;
            x.backend().copyBox(x, y, new Box(n, x.dim(1), h, w, 0, 0, 0, total, h, w, off, 0, 0, x.dim(1), h, w), false);
            off += x.dim(1);
        }
        Tape tape = Tape.active(xs.toArray(new Tensor[0]));
        final int totalC = total;
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            for (int i = 0; i < xs.size(); i++) {
                Tensor x = xs.get(i);
                if (!x.requiresGrad) continue;
                boolean acc = Tape.prepareGrad(x);
                x.backend().copyBox(y.grad, x.grad, new Box(n, totalC, h, w, offsets[i], 0, 0, x.dim(1), h, w, 0, 0, 0,
                                                            x.dim(1), h, w), acc);
            }
        });
        return result(y, tape);
    }

    /** Spatial crop of an NCHW map: rows [top, top+height), cols [left, left+width). */
    public static Tensor crop(Tensor x, int top, int left, int height, int width) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor y = Tensor.empty(x.backend(), x.dtype(), n, c, height, width);
        x.backend().copyBox(x, y, new Box(n, c, h, w, 0, top, left, c, height, width, 0, 0, 0, c, height, width), false);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            if (!acc) x.backend().fill(x.grad, 0);
            x.backend().copyBox(y.grad, x.grad, new Box(n, c, height, width, 0, 0, 0, c, h, w, 0, top, left, c, height, width), true);
        });
        return result(y, tape);
    }

    /** Zeros of [N, C, height, width] with x inserted at (top, left) (HRDA's hr_ins). */
    public static Tensor insert(Tensor x, int height, int width, int top, int left) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        Tensor y = Tensor.zeros(x.backend(), x.dtype(), n, c, height, width);
        x.backend().copyBox(x, y, new Box(n, c, h, w, 0, 0, 0, c, height, width, 0, top, left, c, h, w), false);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            x.backend().copyBox(y.grad, x.grad, new Box(n, c, height, width, 0, top, left, c, h, w, 0, 0, 0, c, h, w), acc);
        });
        return result(y, tape);
    }

    /** Stacks tensors of equal trailing shape along dim 0 (torch.cat(xs, 0)). */
    public static Tensor catBatch(List<Tensor> xs) {
        Tensor first = xs.get(0);
        long inner = first.numel() / first.dim(0);
        int sum = 0;
        for (Tensor x : xs) {
            if (x.rank() != first.rank() || x.numel() / x.dim(0) != inner || x.dtype() != first.dtype()) {
                throw new IllegalArgumentException("catBatch: " + x.describe() + " does not match " + first.describe());
            }
            sum += x.dim(0);
        }
        int total = sum;
        int[] s = first.shape();
        s[0] = total;
        Tensor y = Tensor.empty(first.backend(), first.dtype(), s);
        int in = Math.toIntExact(inner);
        int at = 0;
        int[] offsets = new int[xs.size()];
        for (int i = 0; i < xs.size(); i++) {
            Tensor x = xs.get(i);
            offsets[i] = at;
            x.backend().copyBox(x, y, batchBox(x.dim(0), total, in, 0, at, x.dim(0)), false);
            at += x.dim(0);
        }
        Tape tape = Tape.active(xs.toArray(new Tensor[0]));
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            for (int i = 0; i < xs.size(); i++) {
                Tensor x = xs.get(i);
                if (!x.requiresGrad) continue;
                boolean acc = Tape.prepareGrad(x);
                x.backend().copyBox(y.grad, x.grad, batchBox(total, x.dim(0), in, offsets[i], 0, x.dim(0)), acc);
            }
        });
        return result(y, tape);
    }

    /** Samples [start, start+count) of dim 0 (x[start:start+count]). */
    public static Tensor sliceBatch(Tensor x, int start, int count) {
        int b = x.dim(0), in = Math.toIntExact(x.numel() / b);
        if (start < 0 || count < 0 || start + count > b) {
            throw new IllegalArgumentException("sliceBatch: [" + start + ", " + (start + count) + ") of " + x.shapeString());
        }
        int[] s = x.shape();
        s[0] = count;
        Tensor y = Tensor.empty(x.backend(), x.dtype(), s);
        x.backend().copyBox(x, y, batchBox(b, count, in, start, 0, count), false);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            if (!acc) x.backend().fill(x.grad, 0);
            x.backend().copyBox(y.grad, x.grad, batchBox(count, b, in, 0, start, count), true);
        });
        return result(y, tape);
    }

    /** Whole samples as a box: the batch is the box's channel axis, a sample one column. */
    private static Box batchBox(int srcB, int dstB, int inner, int srcAt, int dstAt, int size) {
        return new Box(1, srcB, inner, 1, srcAt, 0, 0, dstB, inner, 1, dstAt, 0, 0, size, inner, 1);
    }

    // ------------------------------------------------------------------ resize

    /** Bilinear resize of an NCHW map to (outH, outW), align_corners=False. */
    public static Tensor resize(Tensor x, int outH, int outW) {
        return resize(x, outH, outW, (float) x.dim(2) / outH, (float) x.dim(3) / outW);
    }

    /** Bilinear resize by a scale factor, mapping coordinates with 1/factor as PyTorch does. */
    public static Tensor resizeByFactor(Tensor x, double factor) {
        int oh = (int) Math.floor(x.dim(2) * factor), ow = (int) Math.floor(x.dim(3) * factor);
        return resize(x, oh, ow, (float) (1.0 / factor), (float) (1.0 / factor));
    }

    private static Tensor resize(Tensor x, int outH, int outW, float scaleH, float scaleW) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        if (h == outH && w == outW) return x;
        Tensor y = Tensor.empty(x.backend(), x.dtype(), n, c, outH, outW);
        long nc = (long) n * c;
        x.backend().resizeBilinear(x, y, nc, h, w, outH, outW, scaleH, scaleW);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            x.backend().resizeBilinearBackward(y.grad, x.grad, nc, h, w, outH, outW, scaleH, scaleW, acc);
        });
        return result(y, tape);
    }

    /** Nearest resize (labels; no gradient). x: [N, H, W] or [N, C, H, W]. */
    public static Tensor resizeNearest(Tensor x, int outH, int outW) {
        int h = x.dim(-2), w = x.dim(-1);
        long nc = x.numel() / ((long) h * w);
        int[] s = x.shape();
        s[s.length - 2] = outH;
        s[s.length - 1] = outW;
        Tensor y = Tensor.empty(x.backend(), x.dtype(), s);
        x.backend().resizeNearest(x, y, nc, h, w, outH, outW, (float) h / outH, (float) w / outW);
        return y;
    }

    /**
     * Bilinear resize with align_corners=True (torch: src = dst·(in−1)/(out−1), the scale in the
     * input's precision; a size-1 output reads index 0), as RIPU's heads and test use it. Two
     * GEMMs with the [out, in] interpolation matrices (two taps per row, the rest exact zeros),
     * broadcast over the planes: y = R_h · x · R_wᵀ; the backward is their transposes.
     */
    public static Tensor resizeAligned(Tensor x, int outH, int outW) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        if (h == outH && w == outW) return x;
        Backend be = x.backend();
        int nc = n * c;
        Tensor rh = alignedTaps(be, x.dtype(), h, outH), rw = alignedTaps(be, x.dtype(), w, outW);
        Tensor rows = Tensor.empty(be, x.dtype(), nc, h, outW);  // x · R_wᵀ
        be.gemm(false, true, 1, nc * h, outW, w, 1, x, 0, 0, rw, 0, 0, 0, rows, 0, 0);
        Tensor y = Tensor.empty(be, x.dtype(), n, c, outH, outW);
        be.gemm(false, false, nc, outH, outW, h, 1, rh, 0, 0, rows, 0, (long) h * outW, 0, y, 0, (long) outH * outW);
        Scope.done(rows);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            try (Tensor dRows = Tensor.empty(be, x.dtype(), nc, h, outW)) {
                be.gemm(true, false, nc, h, outW, outH, 1, rh, 0, 0, y.grad, 0, (long) outH * outW, 0, dRows, 0, (long) h * outW);
                boolean acc = Tape.prepareGrad(x);
                be.gemm(false, false, 1, nc * h, w, outW, 1, dRows, 0, 0, rw, 0, 0, acc ? 1 : 0, x.grad, 0, 0);
            }
        }, rh, rw);
        else Scope.done(List.of(rh, rw));
        return result(y, tape);
    }

    /** The [out, in] align_corners=True interpolation matrix of one axis. */
    private static Tensor alignedTaps(Backend be, DType dtype, int in, int out) {
        double[] m = new double[out * in];
        // PyTorch's area_pixel_compute_scale / source index, in float for float maps
        float scaleF = out > 1 ? (float) (in - 1) / (out - 1) : 0f;
        double scaleD = out > 1 ? (double) (in - 1) / (out - 1) : 0;
        for (int o = 0; o < out; o++) {
            double src = dtype == DType.F64 ? scaleD * o : (double) (scaleF * (float) o);
            int i0 = Math.min((int) src, in - 1), i1 = i0 < in - 1 ? i0 + 1 : i0;
            double l1 = dtype == DType.F64 ? src - i0 : (double) ((float) src - (float) i0);
            m[o * in + i0] += 1 - l1;
            m[o * in + i1] += l1;
        }
        Tensor t = Tensor.empty(be, dtype, out, in);
        t.copyFrom(m);
        return t;
    }

    /**
     * Mirrors an NCHW map along its width (torch.flip(x, [3])): a GEMM with the W×W reversal
     * permutation (one exact 1 per row), so the values are copied exactly. For test-time flip
     * averaging, applied at the logits' own resolution before the resize (mirroring commutes
     * with bilinear resizing, whose sampling grid is symmetric).
     */
    public static Tensor flipW(Tensor x) {
        int w = x.dim(-1);
        long rows = x.numel() / w;
        Backend be = x.backend();
        double[] p = new double[w * w];
        for (int i = 0; i < w; i++) p[i * w + (w - 1 - i)] = 1;
        Tensor rev = Tensor.empty(be, x.dtype(), w, w);
        rev.copyFrom(p);
        Tensor y = Tensor.empty(be, x.dtype(), x.shape());
        be.gemm(false, false, 1, Math.toIntExact(rows), w, w, 1, x, 0, 0, rev, 0, 0, 0, y, 0, 0);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            be.gemm(false, false, 1, Math.toIntExact(rows), w, w, 1, y.grad, 0, 0, rev, 0, 0, acc ? 1 : 0, x.grad, 0, 0);
        }, rev);
        else Scope.done(rev);
        return result(y, tape);
    }

    /** Global average pooling, [N, C, H, W] -> [N, C, 1, 1] (nn.AdaptiveAvgPool2d(1)): a GEMM with a 1/HW vector. */
    public static Tensor globalAvgPool(Tensor x) {
        int n = x.dim(0), c = x.dim(1), hw = x.dim(2) * x.dim(3), nc = n * c;
        Backend be = x.backend();
        Tensor v = Tensor.full(be, x.dtype(), 1.0 / hw, hw, 1);
        Tensor y = Tensor.empty(be, x.dtype(), n, c, 1, 1);
        be.gemm(false, false, 1, nc, 1, hw, 1, x, 0, 0, v, 0, 0, 0, y, 0, 0);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);  // dx = dy · vᵀ
            be.gemm(false, true, 1, nc, hw, 1, 1, y.grad, 0, 0, v, 0, 0, acc ? 1 : 0, x.grad, 0, 0);
        }, v);
        else Scope.done(v);
        return result(y, tape);
    }

    /** Max pooling k×k (nn.MaxPool2d(kernel, stride, padding), floor mode) of an NCHW map. */
    public static Tensor maxPool2d(Tensor x, int kernel, int stride, int pad) {
        int n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
        int ho = (h + 2 * pad - kernel) / stride + 1, wo = (w + 2 * pad - kernel) / stride + 1;
        if (ho < 1 || wo < 1) throw new IllegalArgumentException("maxPool2d: input " + x.shapeString() + " is smaller than the " + kernel + "x" + kernel + " window");
        Backend be = x.backend();
        long nc = (long) n * c;
        Tensor y = Tensor.empty(be, x.dtype(), n, c, ho, wo), argmax = Tensor.empty(be, DType.I32, n, c, ho, wo);
        be.maxPool2d(x, y, argmax, nc, h, w, ho, wo, kernel, stride, pad);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            be.maxPool2dBackward(y.grad, argmax, x.grad, nc, h, w, ho, wo, kernel, stride, pad, acc);
        }, argmax);
        else Scope.done(argmax);
        return result(y, tape);
    }

    // ------------------------------------------------------------------ linear algebra

    /** y = x W^T + b over the last dim: x [..., in], w [out, in], b [out] or null. */
    public static Tensor linear(Tensor x, Tensor w, Tensor b) {
        int in = x.dim(-1), out = w.dim(0);
        if (w.dim(1) != in) throw new IllegalArgumentException("linear: input " + x.shapeString() + " vs weight " + w.describe());
        int rows = Math.toIntExact(x.numel() / in);
        int[] s = x.shape();
        s[s.length - 1] = out;
        Backend be = x.backend();
        Tensor y = Tensor.empty(be, x.dtype(), s);
        Tape tape = Tape.active(x, w, b);
        int samples = x.rank() >= 3 ? x.dim(0) : 1;
        if (tape == null && samples > 1) {
            // inference: one GEMM per sample, so that a sample's result does not depend on the batch
            // it came in (OpenBLAS's last bits depend on the row count): the slide test's windows give
            // the same bits in chunks as in one batch. Training keeps one GEMM over all rows.
            int per = rows / samples;
            for (int i = 0; i < samples; i++) {
                be.gemm(false, true, 1, per, out, in, 1, x, (long) i * per * in, 0, w, 0, 0, 0, y, (long) i * per * out, 0);
            }
        } else {
            be.gemm(false, true, 1, rows, out, in, 1, x, 0, 0, w, 0, 0, 0, y, 0, 0);
        }
        if (b != null) be.addBias(y, b, rows, out, 1);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            if (x.requiresGrad) {
                boolean acc = Tape.prepareGrad(x);
                be.gemm(false, false, 1, rows, in, out, 1, y.grad, 0, 0, w, 0, 0, acc ? 1 : 0, x.grad, 0, 0);
            }
            if (w.requiresGrad) {
                boolean acc = Tape.prepareGrad(w);
                be.gemm(true, false, 1, out, in, rows, 1, y.grad, 0, 0, x, 0, 0, acc ? 1 : 0, w.grad, 0, 0);
            }
            if (b != null && b.requiresGrad) {
                boolean acc = Tape.prepareGrad(b);
                be.channelSum(y.grad, b.grad, rows, out, 1, acc);
            }
        }, x, w);
        return result(y, tape);
    }

    /**
     * Batched matrix product over the leading dims: a [..., m, k] (or [..., k, m] if transA),
     * b [..., k, n] (or [..., n, k] if transB) -> [..., m, n].
     */
    public static Tensor matmul(Tensor a, Tensor b, boolean transA, boolean transB) {
        int ra = a.rank();
        int m = transA ? a.dim(-1) : a.dim(-2), k = transA ? a.dim(-2) : a.dim(-1);
        int kb = transB ? b.dim(-1) : b.dim(-2), n = transB ? b.dim(-2) : b.dim(-1);
        if (k != kb) throw new IllegalArgumentException("matmul: " + a.shapeString() + " x " + b.shapeString());
        int batch = Math.toIntExact(a.numel() / ((long) m * k));
        if (b.numel() / ((long) k * n) != batch) throw new IllegalArgumentException("matmul batch: " + a.shapeString() + " x " + b.shapeString());
        int[] s = a.shape();
        s[ra - 2] = m;
        s[ra - 1] = n;
        Backend be = a.backend();
        Tensor y = Tensor.empty(be, a.dtype(), s);
        long sa = (long) m * k, sb = (long) k * n, sc = (long) m * n;
        be.gemm(transA, transB, batch, m, n, k, 1, a, 0, sa, b, 0, sb, 0, y, 0, sc);
        Tape tape = Tape.active(a, b);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            if (a.requiresGrad) {  // dA = dY B^T (or its transpose)
                boolean acc = Tape.prepareGrad(a);
                if (!transA) be.gemm(false, !transB, batch, m, k, n, 1, y.grad, 0, sc, b, 0, sb, acc ? 1 : 0, a.grad, 0, sa);
                else be.gemm(transB, true, batch, k, m, n, 1, b, 0, sb, y.grad, 0, sc, acc ? 1 : 0, a.grad, 0, sa);
            }
            if (b.requiresGrad) {  // dB = A^T dY (or its transpose)
                boolean acc = Tape.prepareGrad(b);
                if (!transB) be.gemm(!transA, false, batch, k, n, m, 1, a, 0, sa, y.grad, 0, sc, acc ? 1 : 0, b.grad, 0, sb);
                else be.gemm(true, transA, batch, n, k, m, 1, y.grad, 0, sc, a, 0, sa, acc ? 1 : 0, b.grad, 0, sb);
            }
        }, a, b);
        return result(y, tape);
    }

    // ------------------------------------------------------------------ attention

    /** Checks q [B, N, C] and kv [B, M, 2C] and returns the head dim C / heads. */
    private static int headDim(String op, Tensor q, Tensor kv, int heads) {
        if (q.rank() != 3 || kv.rank() != 3 || kv.dim(0) != q.dim(0) || kv.dim(2) != 2 * q.dim(2) || kv.dim(1) < 1) {
            throw new IllegalArgumentException(op + ": q " + q.shapeString() + " and kv " + kv.shapeString()
                                               + " must be [B, N, C] and [B, M >= 1, 2C]");
        }
        if (heads < 1 || q.dim(2) % heads != 0) {
            throw new IllegalArgumentException(op + ": " + q.dim(2) + " channels do not split into " + heads + " heads");
        }
        if (q.dtype() != kv.dtype()) throw new IllegalArgumentException(op + ": dtypes differ: " + q.describe() + ", " + kv.describe());
        return q.dim(2) / heads;
    }

    /**
     * Multi-head attention of MiT's efficient self-attention, fused (the N x M scores never exist
     * in memory): q [B, N, C], kv [B, M, 2C] (the kv Linear's output: k then v, each split into
     * heads of C / heads channels) -> [B, N, C] = per head softmax(scale q_h k_h^T) v_h, heads
     * concatenated along channels. Differentiable w.r.t. q and kv.
     */
    public static Tensor attention(Tensor q, Tensor kv, int heads, float scale) {
        int d = headDim("attention", q, kv, heads);
        int b = q.dim(0), n = q.dim(1), m = kv.dim(1);
        Backend be = q.backend();
        Tensor out = like(q);
        Tensor lse = Tensor.empty(be, q.dtype() == DType.F64 ? DType.F64 : DType.F32, b, heads, n);
        be.attention(q, kv, out, lse, b, n, m, heads, d, scale);
        Tape tape = Tape.active(q, kv);
        if (tape != null) tape.push(() -> {
            if (out.grad == null) return;
            boolean accQ = q.requiresGrad && Tape.prepareGrad(q), accKv = kv.requiresGrad && Tape.prepareGrad(kv);
            be.attentionBackward(q, kv, out, lse, out.grad, q.requiresGrad ? q.grad : null, kv.requiresGrad ? kv.grad : null,
                                 b, n, m, heads, d, scale, accQ, accKv);
        }, q, kv, out, lse);
        return result(out, tape);
    }

    /**
     * The same function as {@link #attention} from unfused ops, the path PyTorch takes (heads split
     * by copies, S = scale q_h k_h^T in memory, softmax, S v_h): the baseline of the benchmarks and
     * a second reference. Heads are split with two batched transposes (q) and one transpose + two
     * crops (k^T, v^T come out of [B, 2C, M] directly), so the GEMMs need no leading dimensions.
     */
    public static Tensor attentionUnfused(Tensor q, Tensor kv, int heads, float scale) {
        int d = headDim("attentionUnfused", q, kv, heads);
        int b = q.dim(0), n = q.dim(1), c = q.dim(2), m = kv.dim(1), bh = b * heads;
        // without a tape each intermediate is freed after its last reader (Scope.done): at most two
        // copies of the scores [B*H, N, M] exist at once, as in PyTorch
        // q [B, N, C] -> [B, C, N] = [B*H, D, N] -> [B*H, N, D]
        Tensor qT = transposeLast(q, b, n, c, new int[] {bh, d, n});
        Tensor qh = transposeLast(qT, bh, d, n, new int[] {bh, n, d});
        Scope.done(qT);
        // kv [B, M, 2C] -> [B, 1, 2C, M]: rows 0..C-1 are k^T, rows C..2C-1 v^T, each [B*H, D, M]
        Tensor kvT = transposeLast(kv, b, m, 2 * c, new int[] {b, 1, 2 * c, m});
        Tensor kCrop = crop(kvT, 0, 0, c, m), vCrop = crop(kvT, c, 0, c, m);
        Scope.done(kvT);
        Tensor scores = matmul(qh, reshape(kCrop, bh, d, m), false, false);
        Scope.done(qh);
        Scope.done(kCrop);
        Tensor scaled = scale(scores, scale);
        Scope.done(scores);
        Tensor p = softmax(scaled, -1);  // [B*H, N, M]
        Scope.done(scaled);
        Tensor o = matmul(p, reshape(vCrop, bh, d, m), false, true);  // [B*H, N, D]
        Scope.done(p);
        Scope.done(vCrop);
        // [B*H, N, D] -> [B*H, D, N] = [B, C, N] -> [B, N, C]
        Tensor oT = transposeLast(o, bh, n, d, new int[] {b, c, n});
        Scope.done(o);
        Tensor y = transposeLast(oT, b, c, n, new int[] {b, n, c});
        Scope.done(oT);
        return y;
    }

    // ------------------------------------------------------------------ HRDA fusion

    /**
     * HRDA's scale-attention fusion in one op: lrSeg, att [B, K, h, w] (att after the sigmoid),
     * hrSeg [B, K, hh, ww] placed at (top, left) of the fused grid [B, K, 2h, 2w] (even
     * coordinates). With attm = att masked to the detail box at LR resolution,
     * fused = up2(attm) * hr_ins + up2((1 - attm) * lrSeg) (bilinear x2, align_corners=False;
     * hr_ins = zeros with hrSeg inserted). Inference: hrSeg [B, K, 2h, 2w] at (0, 0).
     * Differentiable w.r.t. all three inputs.
     */
    public static Tensor hrdaFuse(Tensor lrSeg, Tensor att, Tensor hrSeg, int top, int left) {
        requireSameShape("hrdaFuse", lrSeg, att);
        if (lrSeg.rank() != 4 || hrSeg.rank() != 4 || hrSeg.dim(0) != lrSeg.dim(0) || hrSeg.dim(1) != lrSeg.dim(1)) {
            throw new IllegalArgumentException("hrdaFuse: lrSeg " + lrSeg.shapeString() + " and hrSeg " + hrSeg.shapeString()
                                               + " must be [B, K, h, w] and [B, K, hh, ww]");
        }
        if (lrSeg.dtype() != att.dtype() || lrSeg.dtype() != hrSeg.dtype()) {
            throw new IllegalArgumentException("hrdaFuse: dtypes differ: " + lrSeg.describe() + ", " + att.describe() + ", " + hrSeg.describe());
        }
        int b = lrSeg.dim(0), k = lrSeg.dim(1), h = lrSeg.dim(2), w = lrSeg.dim(3), hh = hrSeg.dim(2), ww = hrSeg.dim(3);
        Backend be = lrSeg.backend();
        Tensor fused = Tensor.empty(be, lrSeg.dtype(), b, k, 2 * h, 2 * w);
        be.hrdaFuse(lrSeg, att, hrSeg, fused, b, k, h, w, hh, ww, top, left);
        Tape tape = Tape.active(lrSeg, att, hrSeg);
        if (tape != null) tape.push(() -> {
            if (fused.grad == null) return;
            Tensor[] in = {lrSeg, att, hrSeg};
            boolean distinct = lrSeg != att && lrSeg != hrSeg && att != hrSeg;
            if (distinct) {
                boolean[] acc = new boolean[3];
                Tensor[] g = new Tensor[3];
                for (int i = 0; i < 3; i++) {
                    if (!in[i].requiresGrad) continue;
                    acc[i] = Tape.prepareGrad(in[i]);
                    g[i] = in[i].grad;
                }
                be.hrdaFuseBackward(lrSeg, att, hrSeg, fused.grad, g[0], g[1], g[2], b, k, h, w, hh, ww, top, left,
                                    acc[0], acc[1], acc[2]);
            } else {  // one tensor in two roles: one call per role, the second adds to the first
                for (int i = 0; i < 3; i++) {
                    if (!in[i].requiresGrad) continue;
                    boolean acc = Tape.prepareGrad(in[i]);
                    Tensor gi = in[i].grad;
                    be.hrdaFuseBackward(lrSeg, att, hrSeg, fused.grad, i == 0 ? gi : null, i == 1 ? gi : null, i == 2 ? gi : null,
                                        b, k, h, w, hh, ww, top, left, acc, acc, acc);
                }
            }
        }, lrSeg, att, hrSeg);
        return result(fused, tape);
    }

    /**
     * 2-D convolution (torch.nn.functional.conv2d); bias may be null. A rank-2 weight [out, in]
     * is a 1x1 kernel: a Linear applied to every pixel of a map (DAFormer's embeddings), with no
     * transposes to and from tokens.
     */
    public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int padding, int dilation, int groups) {
        if (w.rank() == 2) return conv2d(x, w, w.view(w.dim(0), w.dim(1), 1, 1), bias, stride, padding, dilation, groups);
        return conv2d(x, w, w, bias, stride, padding, dilation, groups);
    }

    /** {@code w} owns the gradient, {@code w4} is its [K, C/groups, kh, kw] view. */
    private static Tensor conv2d(Tensor x, Tensor w, Tensor w4, Tensor bias, int stride, int padding, int dilation, int groups) {
        if (x.rank() != 4 || w4.rank() != 4) throw new IllegalArgumentException("conv2d: " + x.shapeString() + " * " + w.describe());
        ConvSpec s = new ConvSpec(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w4.dim(0), w4.dim(2), w4.dim(3),
                                  stride, stride, padding, padding, dilation, dilation, groups);
        if (!Arrays.equals(s.weightShape(), w4.shape())) {
            throw new IllegalArgumentException("conv2d: weight " + w.describe() + " should be " + Arrays.toString(s.weightShape())
                                               + " for input " + x.shapeString());
        }
        Backend be = x.backend();
        Tensor y = Tensor.empty(be, x.dtype(), s.outShape());
        be.conv2d(s, x, w4, bias, y);
        Tape tape = Tape.active(x, w, bias);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            if (x.requiresGrad) {
                boolean acc = Tape.prepareGrad(x);
                be.conv2dBackwardData(s, y.grad, w4, x.grad, acc);
            }
            Tensor dw = w.requiresGrad ? gradAccumulator(w).view(w4.shape()) : null;
            Tensor db = bias != null && bias.requiresGrad ? gradAccumulator(bias) : null;
            if (dw != null) be.conv2dBackwardWeight(s, x, y.grad, dw, db);
            else if (db != null) be.channelSum(y.grad, db, s.n(), s.k(), (long) s.outH() * s.outW(), true);
        }, x, w4);
        return result(y, tape);
    }

    // ------------------------------------------------------------------ normalisation

    /** Layer norm over the last dimension. */
    public static Tensor layerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) {
        int cols = x.dim(-1);
        long rows = x.numel() / cols;
        Backend be = x.backend();
        DType stat = x.dtype() == DType.F64 ? DType.F64 : DType.F32;
        Tensor y = like(x);
        Tensor mean = Tensor.empty(be, stat, Math.toIntExact(rows)), rstd = Tensor.empty(be, stat, Math.toIntExact(rows));
        be.layerNorm(x, gamma, beta, y, mean, rstd, rows, cols, eps);
        Tape tape = Tape.active(x, gamma, beta);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = x.requiresGrad && Tape.prepareGrad(x);
            Tensor dg = gamma.requiresGrad ? gradAccumulator(gamma) : null, db = beta.requiresGrad ? gradAccumulator(beta) : null;
            be.layerNormBackward(x, gamma, mean, rstd, y.grad, x.requiresGrad ? x.grad : null, dg, db, rows, cols, acc);
        }, x, gamma, mean, rstd);
        return result(y, tape);
    }

    /**
     * Batch norm over NCHW maps; in training uses batch statistics and updates the running ones.
     * In eval mode (frozen statistics: RIPU's FrozenBN, a frozen ImageNet model) the backward
     * reads the running statistics, which this op then never changes.
     */
    public static Tensor batchNorm(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                   boolean training, float momentum, float eps) {
        int n = x.dim(0), c = x.dim(1);
        long hw = x.numel() / ((long) n * c);
        Backend be = x.backend();
        DType stat = x.dtype() == DType.F64 ? DType.F64 : DType.F32;
        Tensor y = like(x);
        Tensor sm = Tensor.empty(be, stat, c), sr = Tensor.empty(be, stat, c);
        float m = RECOMPUTING.get() ? 0f : momentum;  // the first forward already updated the running statistics
        be.batchNorm(x, gamma, beta, y, runningMean, runningVar, sm, sr, n, c, hw, eps, m, training);
        Tape tape = Tape.active(x, gamma, beta);
        if (tape != null) {
            Tensor[] reads = training ? new Tensor[] {x, gamma, sm, sr} : new Tensor[] {x, gamma, runningMean, runningVar};
            tape.push(() -> {
                if (y.grad == null) return;
                // in place when x has no gradient yet: the kernels read a channel's dy for its sums before writing its dx
                boolean inPlace = gradInPlace(x, y);
                Tensor dy = inPlace ? x.grad : y.grad;
                boolean acc = !inPlace && x.requiresGrad && Tape.prepareGrad(x);
                Tensor dg = gamma.requiresGrad ? gradAccumulator(gamma) : null, db = beta.requiresGrad ? gradAccumulator(beta) : null;
                Tensor dx = x.requiresGrad ? x.grad : null;
                if (training) be.batchNormBackward(x, gamma, sm, sr, dy, dx, dg, db, n, c, hw, acc);
                else be.batchNormEvalBackward(x, gamma, runningMean, runningVar, dy, dx, dg, db, n, c, hw, eps, acc);
            }, reads);
        }
        return result(y, tape);
    }

    /**
     * {@link #batchNorm} (then ReLU if {@code relu}) written over x itself where nothing records
     * (inference, the EMA teacher, a recomputation): a ConvModule's convolution output, which
     * nothing else reads, then needs no second and third map beside it. Where a tape would record
     * the op (x or the affine parameters require a gradient) it is the out-of-place op instead.
     */
    public static Tensor batchNormInPlace(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                          boolean training, float momentum, float eps, boolean relu) {
        if (Tape.active(x, gamma, beta) != null) {
            Tensor y = batchNorm(x, gamma, beta, runningMean, runningVar, training, momentum, eps);
            return relu ? Scope.replaced(y, relu(y)) : y;
        }
        int n = x.dim(0), c = x.dim(1);
        long hw = x.numel() / ((long) n * c);
        Backend be = x.backend();
        DType stat = x.dtype() == DType.F64 ? DType.F64 : DType.F32;
        float m = RECOMPUTING.get() ? 0f : momentum;
        try (Tensor sm = Tensor.empty(be, stat, c); Tensor sr = Tensor.empty(be, stat, c)) {
            // the kernels reduce a channel before they write it (CPU: per channel; CUDA: partials, then a map)
            be.batchNorm(x, gamma, beta, x, runningMean, runningVar, sm, sr, n, c, hw, eps, m, training);
        }
        if (relu) be.activation(Activation.RELU, x, x);
        if (Anomaly.enabled()) Anomaly.check(x);
        return x;
    }

    /** A gradient buffer that kernels may add into (zeroed when freshly made for a non-parameter). */
    private static Tensor gradAccumulator(Tensor t) {
        if (!Tape.prepareGrad(t)) t.backend().fill(t.grad, 0);
        return t.grad;
    }

    // ------------------------------------------------------------------ softmax and losses

    /** Softmax over axis {@code axis} (1 = channels of NCHW, -1 = last). */
    public static Tensor softmax(Tensor x, int axis) {
        int ax = axis < 0 ? x.rank() + axis : axis;
        long outer = 1, inner = 1;
        for (int i = 0; i < ax; i++) outer *= x.dim(i);
        for (int i = ax + 1; i < x.rank(); i++) inner *= x.dim(i);
        int c = x.dim(ax);
        long o = outer, in = inner;
        Tensor y = like(x);
        x.backend().softmax(x, y, o, c, in);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            boolean acc = Tape.prepareGrad(x);
            x.backend().softmaxBackward(y, y.grad, x.grad, o, c, in, acc);
        }, y);
        return result(y, tape);
    }

    /** Sum of all elements as a one-element tensor. */
    public static Tensor sum(Tensor x) {
        Tensor y = Tensor.empty(x.backend(), x.dtype(), 1);
        x.backend().sum(x, y);
        Tape tape = Tape.active(x);
        if (tape != null) tape.push(() -> {
            if (y.grad == null) return;
            double g = y.grad.item();
            Tensor ones = Tensor.full(x.backend(), x.dtype(), g, x.shape());
            accumulate(x, ones, 1);
        });
        return result(y, tape);
    }

    public static Tensor mean(Tensor x) {
        return scale(sum(x), 1.0 / x.numel());
    }

    /**
     * Pixel-wise cross-entropy of logits [N, C, H, W] against int32 labels [N, H, W], optional
     * per-pixel weights [N, H, W], averaged over ALL N*H*W pixels including ignored ones (as
     * mmsegmentation 0.16 does). Returns a one-element tensor.
     */
    public static Tensor crossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignoreIndex) {
        int n = logits.dim(0), c = logits.dim(1);
        long hw = logits.numel() / ((long) n * c);
        if (labels.dtype() != DType.I32 || labels.numel() != n * hw) {
            throw new IllegalArgumentException("crossEntropy: labels " + labels.describe() + " do not match logits " + logits.describe());
        }
        if (weight != null && weight.numel() != n * hw) {
            throw new IllegalArgumentException("crossEntropy: weight " + weight.describe() + " does not match logits " + logits.describe());
        }
        Backend be = logits.backend();
        Tensor perPixel = Tensor.empty(be, logits.dtype(), Math.toIntExact(n * hw));
        be.crossEntropy(logits, labels, weight, ignoreIndex, perPixel, n, c, hw);
        Tensor loss = Tensor.empty(be, logits.dtype(), 1);
        be.sum(perPixel, loss);
        be.axpby(1.0 / (n * hw), loss, 0, null, loss);
        Tape tape = Tape.active(logits);
        if (tape != null) tape.push(() -> {
            if (loss.grad == null) return;
            double g = loss.grad.item();
            boolean acc = Tape.prepareGrad(logits);
            be.crossEntropyBackward(logits, labels, weight, ignoreIndex, g / (n * hw), logits.grad, n, c, hw, acc);
        }, logits, labels, weight);
        return result(loss, tape);
    }
}
