package dev.hrda.autograd;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * The training losses of RIPU (BIT-DA/RIPU train.py, core/loss/*), differentiable through the
 * {@link Tape}: negative learning on the target, local consistency regularisation (LCR) on the
 * source's label boundaries (fused kernels, native/include/hrda/ripu_losses.h) and torch's
 * {@code CrossEntropyLoss(ignore_index=255)} (mean over the labelled pixels) for the source and
 * the actively labelled target pixels. All take logits already at label resolution, as RIPU's
 * classifier returns them. Results are allocated in the current arena, as {@link F}'s.
 * docs/losses.md ("RIPU losses") has the formulas and the official code's details.
 */
public final class RipuLosses {
    private RipuLosses() {}

    /** ripu_spec.md 2.3: SOLVER.NEGATIVE_THRESHOLD. */
    public static final double TAU = 0.05;
    /** ripu_spec.md 2.3: SOLVER.CONSISTENT_LOSS and SOLVER.NEGATIVE_LOSS. */
    public static final double LCR_WEIGHT = 0.1, NL_WEIGHT = 1.0;
    public static final int IGNORE = 255;

    /**
     * A loss that averages over a selection and the size of that selection.
     *
     * @param loss  the differentiable scalar ([1]; f64 for f64 logits, f32 otherwise); 0 with a zero
     *              gradient when count is 0 (the official code's 0/0 would be NaN)
     * @param count negative learning: the (pixel, class) pairs with p below tau; LCR: the boundary pixels
     */
    public record Masked(Tensor loss, int count) {}

    /** The weights and threshold of RIPU's loss sum (ripu_spec.md 2.3; defaults.py). */
    public record Weights(double lcr, double nl, double tau) {
        public static final Weights DEFAULT = new Weights(LCR_WEIGHT, NL_WEIGHT, TAU);
    }

    /**
     * RIPU's loss of one iteration and its terms (all [1], undetached).
     *
     * @param targetCe null when the target batch has no labelled pixel (the official code skips the term)
     * @param lcr      null when the LCR weight is 0 (train.py skips it); weighted terms: lcr and nl
     *                 are already multiplied by their weights, as train.py logs them
     */
    public record Terms(Tensor total, SegLosses.Result sourceCe, SegLosses.Result targetCe, Masked lcr, Masked nl) {}

    /** A fused forward: writes the loss and the count. */
    private interface Forward {
        void run(Tensor loss, Tensor count);
    }

    /** The matching backward: dlogits (+)= scale * d(sum)/dlogits. */
    private interface Backward {
        void run(double scale, boolean acc);
    }

    /** A loss averaged over a selection: forward, count read back, backward scaled by dL/dloss / count (0 when empty). */
    private static Masked masked(Tensor logits, Forward fwd, Backward bwd, Tensor... reads) {
        Backend be = logits.backend();
        Tensor loss = Tensor.empty(be, SegLosses.scalarType(logits), 1);
        int count;
        try (Tensor cnt = Tensor.empty(be, DType.I32, 1)) {
            fwd.run(loss, cnt);
            count = cnt.toIntArray()[0];
        }
        Tape tape = Tape.active(logits);
        if (tape != null) tape.push(() -> {
            if (loss.grad == null) return;
            double scale = count == 0 ? 0.0 : loss.grad.item() / count;
            bwd.run(scale, Tape.prepareGrad(logits));
        }, reads);
        return new Masked(SegLosses.result(loss, tape), count);
    }

    private static void requireMap(String op, Tensor logits) {
        if (logits.rank() != 4) throw new IllegalArgumentException(op + ": logits must be [N, C, H, W], got " + logits.describe());
    }

    /**
     * Negative learning (negative_learning_loss.py on {@code softmax(tgt_out)}): with p =
     * softmax over the channels of logits [N, C, H, W] and M = [p &lt; tau] (detached),
     * {@code -sum M log(1 - p + 1e-6) / sum M} over batch, class and space. Every pixel takes part,
     * labelled ones too. Reads the count back to the host (a synchronisation).
     */
    public static Masked negativeLearning(Tensor logits, double tau) {
        String op = "RipuLosses.negativeLearning";
        requireMap(op, logits);
        int n = logits.dim(0), c = logits.dim(1);
        long hw = (long) logits.dim(2) * logits.dim(3);
        Backend be = logits.backend();
        return masked(logits, (loss, cnt) -> be.negativeLearning(logits, tau, loss, cnt, n, c, hw),
                      (scale, acc) -> be.negativeLearningBackward(logits, tau, scale, logits.grad, n, c, hw, acc), logits);
    }

    /**
     * Local consistency regularisation, 'l1' (local_consistent_loss.py, boundary.py): with p =
     * softmax of logits [N, C, H, W] and pbar its 3x3 mean (replicate padding), the mean over the
     * boundary pixels B of {@code sum_c |p - pbar|}; B = pixels whose 8-neighbour Laplacian of
     * {@code labels} (I32 [N, H, W] or [N, 1, H, W], zero padding, ignored pixels counted with
     * their value) is not 0, minus the pixels labelled {@code ignoreIndex}. The gradient flows
     * through p and pbar. Reads |B| back to the host (a synchronisation).
     */
    public static Masked localConsistency(Tensor logits, Tensor labels, int ignoreIndex) {
        String op = "RipuLosses.localConsistency";
        requireMap(op, logits);
        int n = logits.dim(0), c = logits.dim(1), h = logits.dim(2), w = logits.dim(3);
        int[] hwLab = SegLosses.labelSize(op, labels, n);
        if (hwLab[0] != h || hwLab[1] != w) {
            throw new IllegalArgumentException(op + ": labels " + labels.describe() + " are not at the logits' resolution "
                                               + logits.shapeString() + " (upsample the logits first, as RIPU does)");
        }
        Backend be = logits.backend();
        return masked(logits, (loss, cnt) -> be.localConsistency(logits, labels, ignoreIndex, loss, cnt, n, c, h, w),
                      (scale, acc) -> be.localConsistencyBackward(logits, labels, ignoreIndex, scale, logits.grad, n, c, h, w, acc),
                      logits, labels);
    }

    /**
     * torch's {@code nn.CrossEntropyLoss(ignore_index=ignoreIndex)} as RIPU uses it for the source
     * and for the actively labelled target pixels: the mean over the non-ignored pixels (not
     * mmseg's mean over all pixels), on logits [N, C, h, w] bilinearly upsampled to the labels'
     * size (equal sizes: RIPU upsamples in the classifier). The fused loss of {@link
     * SegLosses#crossEntropy} rescaled by pixels / valid. When no pixel is labelled the loss is 0,
     * not recorded on the tape, and {@code valid() == 0}: skip the term, as train.py does (torch
     * would return NaN). {@code accuracy} and {@code correct} are as in SegLosses.
     */
    public static SegLosses.Result crossEntropy(Tensor logits, Tensor labels, int ignoreIndex) {
        return SegLosses.crossEntropy("RipuLosses.crossEntropy", logits, labels, null, ignoreIndex, true);
    }

    /**
     * RIPU's loss of one iteration (train.py): CE(source) + CE(target active labels, when any)
     * + lcr * LCR(source) + nl * NL(target), logits already at their labels' resolution.
     * {@code targetMask} is the active-label map (255 = unlabelled).
     */
    public static Terms ripu(Tensor sourceLogits, Tensor sourceLabels, Tensor targetLogits, Tensor targetMask, Weights wt) {
        SegLosses.Result src = crossEntropy(sourceLogits, sourceLabels, IGNORE);
        Tensor total = src.loss();
        SegLosses.Result tgt = crossEntropy(targetLogits, targetMask, IGNORE);
        if (tgt.valid() > 0) total = F.add(total, tgt.loss());
        Masked lcr = null;
        if (wt.lcr() > 0) {
            Masked raw = localConsistency(sourceLogits, sourceLabels, IGNORE);
            lcr = new Masked(F.scale(raw.loss(), wt.lcr()), raw.count());
            total = F.add(total, lcr.loss());
        }
        Masked nl = null;
        if (wt.nl() > 0) {
            Masked raw = negativeLearning(targetLogits, wt.tau());
            nl = new Masked(F.scale(raw.loss(), wt.nl()), raw.count());
            total = F.add(total, nl.loss());
        }
        return new Terms(total, src, tgt.valid() > 0 ? tgt : null, lcr, nl);
    }
}
