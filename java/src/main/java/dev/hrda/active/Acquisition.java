package dev.hrda.active;

import dev.hrda.backend.Backend;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * RIPU's acquisition scores (BIT-DA/RIPU core/active): from the softmax output p [B, K, H, W] at
 * full target resolution, per pixel the arg-max pseudo-label and the entropy E = -sum p log(p + 1e-6),
 * and over the (2r+1)^2 window clipped at the border the impurity P (entropy of the window's
 * pseudo-label histogram). RA (FloatingRegionScore): score = P * U with U the window mean of E,
 * both entropies divided by log 19 (hard-coded there for every class count). PA: score = E * P,
 * unnormalised. docs/ripu.md "Acquisition".
 */
public final class Acquisition {
    /** log(19), the official normalisation of RA's entropies (also for 16 classes). */
    public static final double RA_NORM = Math.log(19);

    private Acquisition() {}

    /** RA (region) or PA (pixel) acquisition. */
    public enum Mode { REGION, PIXEL }

    /** score, impurity, uncertainty [B, H, W] of the probabilities' dtype; impurity and uncertainty null unless asked for. */
    public record Scores(Tensor score, Tensor impurity, Tensor uncertainty) implements AutoCloseable {
        @Override
        public void close() {
            if (uncertainty != null) uncertainty.close();
            if (impurity != null) impurity.close();
            score.close();
        }
    }

    /** RA scores over (2k+1)^2 regions: P * U, normalised by log 19. */
    public static Scores region(Backend backend, Tensor prob, int k, boolean withParts) {
        return scores(backend, prob, Mode.REGION, k, withParts);
    }

    /** PA scores: pixel entropy times the impurity of the (2K+1)^2 window, unnormalised. */
    public static Scores pixel(Backend backend, Tensor prob, int radius, boolean withParts) {
        return scores(backend, prob, Mode.PIXEL, radius, withParts);
    }

    /**
     * @param prob      softmax probabilities [B, K, H, W] (f32/f64 on the CPU; f32/bf16/f16 on CUDA)
     * @param radius    the window radius (RA: k; PA: K)
     * @param withParts also return the impurity and the uncertainty (U for RA, the pixel entropy for PA)
     */
    public static Scores scores(Backend backend, Tensor prob, Mode mode, int radius, boolean withParts) {
        if (prob.rank() != 4) throw new IllegalArgumentException("probabilities must be [B, K, H, W], got " + prob.describe());
        if (!prob.dtype().isFloat()) throw new IllegalArgumentException("probabilities must be a float tensor, got " + prob.describe());
        if (radius < 0) throw new IllegalArgumentException("window radius must not be negative, got " + radius);
        int b = prob.dim(0), k = prob.dim(1), h = prob.dim(2), w = prob.dim(3);
        DType d = prob.dtype();
        Tensor score = Tensor.empty(backend, d, b, h, w), imp = null, unc = null;
        try {
            if (withParts) {
                imp = Tensor.empty(backend, d, b, h, w);
                unc = Tensor.empty(backend, d, b, h, w);
            }
            boolean pixel = mode == Mode.PIXEL;
            backend.activeScore(prob, score, imp, unc, b, k, h, w, radius, pixel, pixel ? 1.0 : RA_NORM);
            return new Scores(score, imp, unc);
        } catch (RuntimeException e) {
            if (unc != null) unc.close();
            if (imp != null) imp.close();
            score.close();
            throw e;
        }
    }
}
