package dev.hrda.backend;

import dev.hrda.tensor.Device;
import dev.hrda.tensor.Tensor;
import org.bytedeco.javacpp.Pointer;

import java.util.List;

/**
 * Every op the engine needs, on one device. {@link CpuBackend} (libhrda_cpu + OpenBLAS) is the
 * reference and the default without a GPU; {@link CudaBackend} (libhrda_cuda + cuBLAS/cuDNN) is
 * the fast path. Both are checked against each other by the gpu-tagged tests.
 *
 * Sizes are passed explicitly, as the native ABI takes them: shape logic lives one layer up, in
 * {@link dev.hrda.autograd.F}. Backward methods take {@code acc}: false overwrites the input
 * gradient, true adds to it. Parameter gradients are always accumulated.
 */
public interface Backend extends AutoCloseable {
    Device device();

    /** One line: backend, device name, memory, library versions. */
    String describe();

    // ---- memory ----
    long malloc(long bytes);

    void free(long address, long bytes);

    /** Host memory p (dst.bytes() bytes) -> dst. */
    void copyFromHost(Tensor dst, Pointer p);

    /** src -> host memory p (src.bytes() bytes). */
    void copyToHost(Tensor src, Pointer p);

    /** Same-device copy of src.bytes() bytes. */
    void copy(Tensor src, Tensor dst);

    /** Waits for all queued work (no-op on the CPU). */
    void synchronize();

    // ---- elementwise (elementwise.h) ----
    void fill(Tensor y, double value);

    /** out = alpha*x + beta*y; y may be null. */
    void axpby(double alpha, Tensor x, double beta, Tensor y, Tensor out);

    void mul(Tensor a, Tensor b, Tensor out, boolean acc);

    void addBias(Tensor y, Tensor bias, long outer, long c, long inner);

    void channelSum(Tensor x, Tensor out, long outer, long c, long inner, boolean acc);

    /** out (one element) = sum of x. */
    void sum(Tensor x, Tensor out);

    void activation(Activation kind, Tensor x, Tensor y);

    void activationBackward(Activation kind, Tensor x, Tensor y, Tensor dy, Tensor dx, boolean acc);

    void dropout(Tensor x, Tensor y, long group, float p, long seed, boolean acc);

    /** Converts between dtypes (same number of elements). */
    void convert(Tensor x, Tensor y);

    // ---- data movement (copy.h) ----
    void copyBox(Tensor src, Tensor dst, Box box, boolean acc);

    /** y[b, c, r] (+)= x[b, r, c]. */
    void transpose(Tensor x, Tensor y, long batch, long rows, long cols, boolean acc);

    // ---- resize (resize.h) ----
    void resizeBilinear(Tensor x, Tensor y, long nc, long hi, long wi, long ho, long wo, float scaleH, float scaleW);

    void resizeBilinearBackward(Tensor dy, Tensor dx, long nc, long hi, long wi, long ho, long wo,
                                float scaleH, float scaleW, boolean acc);

    void resizeNearest(Tensor x, Tensor y, long nc, long hi, long wi, long ho, long wo, float scaleH, float scaleW);

    // ---- pooling (pool.h) ----
    /** Max pooling k×k, stride, padding (−inf) on planes [nc, h, w]; argmax (int32, [nc, ho, wo]) records each window's first maximum. */
    void maxPool2d(Tensor x, Tensor y, Tensor argmax, long nc, long h, long w, long ho, long wo, long kernel, long stride, long pad);

    /** dx (+)= the output gradient routed to each window's recorded arg-max. */
    void maxPool2dBackward(Tensor dy, Tensor argmax, Tensor dx, long nc, long h, long w, long ho, long wo, long kernel, long stride,
                           long pad, boolean acc);

    // ---- normalisation (norm.h) ----
    void layerNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor mean, Tensor rstd,
                   long rows, long cols, float eps);

    void layerNormBackward(Tensor x, Tensor gamma, Tensor mean, Tensor rstd, Tensor dy,
                           Tensor dx, Tensor dgamma, Tensor dbeta, long rows, long cols, boolean acc);

    void batchNorm(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor runningMean, Tensor runningVar,
                   Tensor saveMean, Tensor saveRstd, long n, long c, long hw, float eps, float momentum, boolean training);

    void batchNormBackward(Tensor x, Tensor gamma, Tensor saveMean, Tensor saveRstd, Tensor dy,
                           Tensor dx, Tensor dgamma, Tensor dbeta, long n, long c, long hw, boolean acc);

    /**
     * Backward of the eval-mode {@link #batchNorm} (frozen running statistics, read only): with
     * rs = 1 / sqrt(runningVar + eps), dx (+)= dy * gamma * rs, dgamma += sum dy * (x - runningMean) * rs,
     * dbeta += sum dy. Each of dx, dgamma, dbeta may be null; running stats f64 for f64 data, f32 otherwise.
     */
    void batchNormEvalBackward(Tensor x, Tensor gamma, Tensor runningMean, Tensor runningVar, Tensor dy,
                               Tensor dx, Tensor dgamma, Tensor dbeta, long n, long c, long hw, float eps, boolean acc);

    // ---- softmax and loss (softmax.h) ----
    void softmax(Tensor x, Tensor y, long outer, long c, long inner);

    void softmaxBackward(Tensor y, Tensor dy, Tensor dx, long outer, long c, long inner, boolean acc);

    /** Per-pixel loss; labels int32 [n, hw]; weight may be null. Throws on labels out of range. */
    void crossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignoreIndex, Tensor loss, long n, long c, long hw);

    void crossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, int ignoreIndex, double gradScale,
                              Tensor dlogits, long n, long c, long hw, boolean acc);

    // ---- fused training losses (losses.h) ----
    /**
     * mmseg 0.16's decode-head loss in one pass: logits [n, c, h, w] bilinearly upsampled
     * (align_corners=False, the taps of {@link #resizeBilinear} with scale h / outH) to the labels
     * i32 [n, outH, outW] (outH >= h, outW >= w), per-pixel cross-entropy times weight ([n, outH, outW],
     * the logits' dtype; may be null), 0 at ignoreIndex, mean over all n*outH*outW pixels into loss
     * (one element, f64 for f64 logits, f32 otherwise). counts (i32 [2], may be null): non-ignored
     * pixels whose arg-max equals the label, and non-ignored pixels. Throws on labels outside [0, c)
     * other than ignoreIndex, and on outH < h or outW < w.
     */
    void segCrossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignoreIndex, Tensor loss, Tensor counts,
                         long n, long c, long h, long w, long outH, long outW);

    /** dlogits [n, c, h, w] (+)= gradScale * d(sum of weighted per-pixel losses)/dlogits; gradScale = dL/dloss / (n*outH*outW). */
    void segCrossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, int ignoreIndex, double gradScale,
                                 Tensor dlogits, long n, long c, long h, long w, long outH, long outW, boolean acc);

    /**
     * DAFormer's masked feature distance: fs, fi [n, c, hw], labels i32 [n, hw], classes i32 [8] (a
     * 256-bit set of label values); out (one element, f64 for f64 data, f32 otherwise) = mean over
     * pixels whose label is in the set of ||fs - fi||_2 over channels, 0 when there is none; count
     * (i32 [1], may be null) = those pixels.
     */
    void featureDistance(Tensor fs, Tensor fi, Tensor labels, Tensor classes, Tensor out, Tensor count, long n, long c, long hw);

    /** dfs (+)= gradScale * (fs - fi) / dist at masked pixels with dist > 0, 0 elsewhere; gradScale = dL/dout / count. */
    void featureDistanceBackward(Tensor fs, Tensor fi, Tensor labels, Tensor classes, double gradScale, Tensor dfs,
                                 long n, long c, long hw, boolean acc);

    // ---- RIPU (ripu_losses.h; sgd_step in optim.h) ----
    /**
     * RIPU's negative learning over every pixel: logits [n, c, hw], p = softmax over c,
     * M = [p < tau]; loss (one element, f64 for f64 logits, f32 otherwise) = -sum M log(1 - p + 1e-6)
     * / sum M, 0 when sum M = 0; count (i32 [1], may be null) = sum M.
     */
    void negativeLearning(Tensor logits, double tau, Tensor loss, Tensor count, long n, long c, long hw);

    /** dlogits [n, c, hw] (+)= gradScale * d(sum M (-log(1 - p + 1e-6)))/dlogits; gradScale = dL/dloss / count. */
    void negativeLearningBackward(Tensor logits, double tau, double gradScale, Tensor dlogits, long n, long c, long hw, boolean acc);

    /**
     * RIPU's local consistency (l1) on the label boundaries: logits [n, c, h, w], labels i32
     * [n, h, w]; loss (one element) = mean over B of sum_c |p - mean3x3_replicate(p)|, with B the
     * pixels whose 8-neighbour Laplacian of the labels (zero padding) is not 0 and whose label is
     * not ignoreIndex; 0 when B is empty; count (i32 [1], may be null) = |B|.
     */
    void localConsistency(Tensor logits, Tensor labels, int ignoreIndex, Tensor loss, Tensor count, long n, long c, long h, long w);

    /** dlogits [n, c, h, w] (+)= gradScale * d(sum over B of the l1 discrepancy)/dlogits; gradScale = dL/dloss / count. */
    void localConsistencyBackward(Tensor logits, Tensor labels, int ignoreIndex, double gradScale, Tensor dlogits,
                                  long n, long c, long h, long w, boolean acc);

    /**
     * torch.optim.SGD over a parameter list: d = g + wd p; buf = d (firstStep) or momentum buf +
     * (1 - dampening) d; d = nesterov ? d + momentum buf : buf; p -= lr d. lr, wd per tensor;
     * momentumBuffers may be null when momentum is 0.
     */
    void sgd(List<Tensor> params, List<Tensor> grads, List<Tensor> momentumBuffers, double[] lr, double[] wd,
             double momentum, double dampening, boolean nesterov, boolean firstStep);

    // ---- fused attention (attention.h) ----
    /**
     * Multi-head attention of MiT's efficient self-attention, without the N x M score matrix:
     * q [b, n, heads*headDim], kv [b, m, 2*heads*headDim] (k then v, each split into heads like q),
     * out [b, n, heads*headDim] = per head softmax(scale q_h k_h^T) v_h; lse [b, heads, n] receives
     * the log-sum-exp of each score row (f32; f64 when the data is f64). CUDA: headDim 32 or 64.
     */
    void attention(Tensor q, Tensor kv, Tensor out, Tensor lse, long b, long n, long m, int heads, int headDim, float scale);

    /**
     * Gradients of {@link #attention} from dout and the forward's out and lse: dq [b, n, C] and
     * dkv [b, m, 2C] (dk, dv in the layout of kv); either may be null (not needed).
     */
    void attentionBackward(Tensor q, Tensor kv, Tensor out, Tensor lse, Tensor dout, Tensor dq, Tensor dkv,
                           long b, long n, long m, int heads, int headDim, float scale, boolean accDq, boolean accDkv);

    // ---- HRDA scale-attention fusion (fusion.h) ----
    /**
     * fused [b, k, 2h, 2w] = up2(att * mask) * hr_ins + up2((1 - att * mask) * lrSeg), with lrSeg and
     * att [b, k, h, w], hrSeg [b, k, hh, ww] inserted at (top, left) of the fused grid (even
     * coordinates), mask = 1 on the box at LR resolution; up2 = bilinear x2, align_corners=False.
     */
    void hrdaFuse(Tensor lrSeg, Tensor att, Tensor hrSeg, Tensor fused, long b, long k, long h, long w,
                  long hh, long ww, long top, long left);

    /** Gradients of {@link #hrdaFuse}; each of dlrSeg, datt, dhrSeg may be null (not needed). */
    void hrdaFuseBackward(Tensor lrSeg, Tensor att, Tensor hrSeg, Tensor dfused, Tensor dlrSeg, Tensor datt, Tensor dhrSeg,
                          long b, long k, long h, long w, long hh, long ww, long top, long left,
                          boolean accLr, boolean accAtt, boolean accHr);

    // ---- DACS transforms and pseudo-labels (augment.h); no gradients ----
    /**
     * kornia 0.5.8 ColorJitter between DACS's denormalisation and renormalisation, on normalised
     * RGB images x, y [b, 3, h, w] (y may be x): factors f32 [b, 4] (brightness, contrast,
     * saturation, hue as kornia draws them), order i32 [b, 4] (a permutation of 0 brightness,
     * 1 contrast, 2 saturation, 3 hue), mean and std the pipeline's (0..255 units, RGB order).
     */
    void colorJitter(Tensor x, Tensor y, Tensor factors, Tensor order, float[] mean, float[] std, long b, long h, long w);

    /**
     * kornia GaussianBlur2d((kh, kw), (s, s)) with reflect borders on x, y [b, c, h, w] (y may be
     * x), s = sigma[i] (f32 [b]) for sample i; kh, kw odd, radius below the image size.
     */
    void gaussianBlur(Tensor x, Tensor y, Tensor sigma, long b, long c, long h, long w, int kh, int kw);

    /** present i32 [9]: bits of the label values 0..255 found in labels (words 0..7), count of others (word 8). */
    void labelPresence(Tensor labels, Tensor present);

    /**
     * ClassMix: mask = srcLabel in chosen[i] (i32 [b, 8], 256-bit sets of label values);
     * mixedImg [b, c, h, w] = mask ? srcImg : tgtImg, mixedLabel = mask ? srcLabel : pseudoLabel,
     * mixedWeight = mask ? 1 : pseudoWeight ([b, h, w], image dtype); mask u8 [b, h, w] may be null.
     */
    void classMix(Tensor chosen, Tensor srcImg, Tensor tgtImg, Tensor srcLabel, Tensor pseudoLabel, Tensor pseudoWeight,
                  Tensor mixedImg, Tensor mixedLabel, Tensor mixedWeight, Tensor mask, long b, long c, long h, long w);

    /**
     * From logits [b, k, hw]: label i32 [b, hw] = arg-max of the softmax, prob [b, hw] its
     * maximum (may be null), confident i32 [1] = pixels with prob >= threshold (may be null).
     */
    void pseudoLabel(Tensor logits, Tensor label, Tensor prob, Tensor confident, double threshold, long b, long k, long hw);

    /** out [b, h, w] = weight, 0 on the first ignoreTop and last ignoreBottom rows, times valid (may be null). */
    void pseudoWeightMap(Tensor valid, Tensor out, double weight, long ignoreTop, long ignoreBottom, long b, long h, long w);

    /** DAFormer's downscale_label_ratio: labels i32 [b, h, w] -> out i32 [b, h / scale, w / scale]. */
    void downscaleLabelRatio(Tensor labels, Tensor out, long b, long h, long w, int scale, float minRatio, int numClasses,
                             int ignoreIndex);

    /** MIC's block mask: y [b, c, h, w] = x * keep (u8 [b, gh, gw], nearest-upsampled); y may be x. */
    void blockMask(Tensor keep, Tensor x, Tensor y, long b, long c, long h, long w, long gh, long gw);

    // RIPU ---- active acquisition (active.h); no gradients ----
    /**
     * RIPU acquisition scores of probabilities prob [b, k, h, w] (softmax output): score, impurity and
     * uncertainty [b, h, w] of prob's dtype (impurity, uncertainty may be null). The window has
     * radius {@code radius}; {@code pixelUncertainty} false: RA (U = window mean entropy), true: PA
     * (U = pixel entropy); both entropies are divided by {@code norm} (RA log 19, PA 1).
     */
    void activeScore(Tensor prob, Tensor score, Tensor impurity, Tensor uncertainty, long b, long k, long h, long w,
                     int radius, boolean pixelUncertainty, double norm);

    /**
     * One round of RIPU's greedy selection on score [b, h, w] (consumed), active and selected u8
     * [b, h, w] (in/out): {@code count} picks per image, picks i32 [b, count, 2] = (h, w), pickScore
     * [b, count] of score's dtype (may be null). RA: activeRadius k, maskRadius 2k; PA: 0 and K.
     */
    void activeSelect(Tensor score, Tensor active, Tensor selected, Tensor picks, Tensor pickScore, long b, long h, long w,
                      int count, int activeRadius, int maskRadius);

    /** mask i32 = selected (u8) ? gt (i32) : ignoreIndex, elementwise over selected.numel(). */
    void activeReveal(Tensor selected, Tensor gt, Tensor mask, int ignoreIndex);

    // ---- GEMM and convolution ----
    /**
     * Row-major batched GEMM: for i < batch, C_i = alpha * op(A_i) op(B_i) + beta * C_i with
     * op(A_i) [m, k], op(B_i) [k, n]; X_i starts at element offX + i * strideX.
     */
    void gemm(boolean transA, boolean transB, int batch, int m, int n, int k, double alpha,
              Tensor a, long offA, long strideA, Tensor b, long offB, long strideB,
              double beta, Tensor c, long offC, long strideC);

    /** y = conv(x, w) + bias (bias may be null). */
    void conv2d(ConvSpec s, Tensor x, Tensor w, Tensor bias, Tensor y);

    void conv2dBackwardData(ConvSpec s, Tensor dy, Tensor w, Tensor dx, boolean acc);

    /** dw += ..., dbias += ... (dbias may be null). */
    void conv2dBackwardWeight(ConvSpec s, Tensor x, Tensor dy, Tensor dw, Tensor dbias);

    // ---- optimizer (optim.h) ----
    void adamw(List<Tensor> params, List<Tensor> grads, List<Tensor> expAvg, List<Tensor> expAvgSq,
               float[] lr, float[] weightDecay, float beta1, float beta2, float eps, long step);

    void ema(List<Tensor> ema, List<Tensor> params, float alpha);

    @Override
    void close();
}
