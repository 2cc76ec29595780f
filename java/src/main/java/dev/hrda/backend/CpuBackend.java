package dev.hrda.backend;

import dev.hrda.kernels.CpuKernels;
import dev.hrda.kernels.NativeException;
import dev.hrda.kernels.Ptr;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.Tensor;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.openblas.global.openblas_nolapack;

import java.util.List;

import static dev.hrda.kernels.CpuKernels.*;

/**
 * The reference backend: libhrda_cpu (C++/OpenMP) for every op, OpenBLAS for GEMM, convolution
 * as im2col + GEMM (depthwise: direct kernel). Computes in f32 and f64.
 */
public final class CpuBackend implements Backend {
    private static final int ROW_MAJOR = openblas_nolapack.CblasRowMajor;
    private static final int NO_TRANS = openblas_nolapack.CblasNoTrans;
    private static final int TRANS = openblas_nolapack.CblasTrans;

    public CpuBackend() {
        this(true);
    }

    /** useDnnl false: every convolution as im2col + OpenBLAS (the reference the oneDNN path is tested against). */
    public CpuBackend(boolean useDnnl) {
        Loader.load(CpuKernels.class);
        Loader.load(openblas_nolapack.class);
        dnnl = useDnnl ? DnnlConv.createOrNull(this) : null;
    }

    @Override public Device device() { return Device.CPU; }

    @Override
    public String describe() {
        return "cpu: " + hrda_cpu_version().getString() + ", " + hrda_cpu_num_threads() + " threads, GEMM: OpenBLAS (bytedeco openblas_nolapack)"
               + ", convolutions: " + (dnnl != null ? dnnl.describe() + " (f32), im2col + OpenBLAS (f64)"
                                                    : "im2col + OpenBLAS (" + DnnlConv.unavailableReason() + ")");
    }

    static void check(int rc, String op) {
        if (rc != 0) throw new NativeException(op, rc, hrda_cpu_last_error().getString());
    }

    private static int acc(boolean a) { return a ? 1 : 0; }

    private static long addr(Tensor t) { return t == null ? 0L : t.address(); }

    private static int dt(Tensor t) { return t.dtype().code; }

    // ---- memory ----
    @Override
    public long malloc(long bytes) {
        long p = hrda_cpu_alloc(Math.max(bytes, 1));
        if (p == 0) throw new OutOfMemoryError("cpu: cannot allocate " + bytes + " bytes of native memory");
        return p;
    }

    @Override public void free(long address, long bytes) { hrda_cpu_free(address); }

    @Override
    public void copyFromHost(Tensor dst, Pointer p) {
        check(hrda_cpu_memcpy(dst.address(), p.address(), dst.bytes()), "copyFromHost");
    }

    @Override
    public void copyToHost(Tensor src, Pointer p) {
        check(hrda_cpu_memcpy(p.address(), src.address(), src.bytes()), "copyToHost");
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        if (src.bytes() != dst.bytes()) throw new IllegalArgumentException("copy " + src.describe() + " -> " + dst.describe());
        check(hrda_cpu_memcpy(dst.address(), src.address(), src.bytes()), "copy");
    }

    @Override public void synchronize() {}

    // ---- elementwise ----
    @Override public void fill(Tensor y, double value) { check(hrda_cpu_fill(dt(y), y.numel(), value, addr(y)), "fill"); }

    @Override
    public void axpby(double alpha, Tensor x, double beta, Tensor y, Tensor out) {
        check(hrda_cpu_axpby(dt(out), out.numel(), alpha, addr(x), beta, addr(y), addr(out)), "axpby");
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out, boolean acc) {
        check(hrda_cpu_mul(dt(out), out.numel(), addr(a), addr(b), addr(out), acc(acc)), "mul");
    }

    @Override
    public void addBias(Tensor y, Tensor bias, long outer, long c, long inner) {
        check(hrda_cpu_add_bias(dt(y), outer, c, inner, addr(y), addr(bias)), "add_bias");
    }

    @Override
    public void channelSum(Tensor x, Tensor out, long outer, long c, long inner, boolean acc) {
        check(hrda_cpu_channel_sum(dt(x), outer, c, inner, addr(x), addr(out), acc(acc)), "channel_sum");
    }

    @Override public void sum(Tensor x, Tensor out) { check(hrda_cpu_sum(dt(x), x.numel(), addr(x), addr(out)), "sum"); }

    @Override
    public void activation(Activation kind, Tensor x, Tensor y) {
        check(hrda_cpu_activation_forward(dt(x), kind.code, x.numel(), addr(x), addr(y)), "activation_forward");
    }

    @Override
    public void activationBackward(Activation kind, Tensor x, Tensor y, Tensor dy, Tensor dx, boolean acc) {
        check(hrda_cpu_activation_backward(dt(dy), kind.code, dy.numel(), addr(x), addr(y), addr(dy), addr(dx), acc(acc)),
              "activation_backward");
    }

    @Override
    public void dropout(Tensor x, Tensor y, long group, float p, long seed, boolean acc) {
        check(hrda_cpu_dropout(dt(x), x.numel(), group, p, seed, addr(x), addr(y), acc(acc)), "dropout");
    }

    @Override
    public void convert(Tensor x, Tensor y) {
        if (x.numel() != y.numel()) throw new IllegalArgumentException("convert " + x.describe() + " -> " + y.describe());
        check(hrda_cpu_convert(dt(x), dt(y), x.numel(), addr(x), addr(y)), "convert");
    }

    // ---- data movement ----
    @Override
    public void copyBox(Tensor src, Tensor dst, Box b, boolean acc) {
        check(hrda_cpu_copy_box(dt(src), b.n(), addr(src), b.srcC(), b.srcH(), b.srcW(), b.cs(), b.hs(), b.ws(),
                                addr(dst), b.dstC(), b.dstH(), b.dstW(), b.cd(), b.hd(), b.wd(),
                                b.sizeC(), b.sizeH(), b.sizeW(), acc(acc)), "copy_box");
    }

    @Override
    public void transpose(Tensor x, Tensor y, long batch, long rows, long cols, boolean acc) {
        check(hrda_cpu_transpose(dt(x), batch, rows, cols, addr(x), addr(y), acc(acc)), "transpose");
    }

    // ---- pooling ----
    @Override
    public void maxPool2d(Tensor x, Tensor y, Tensor argmax, long nc, long h, long w, long ho, long wo, long kernel, long stride, long pad) {
        check(hrda_cpu_max_pool2d_forward(dt(x), nc, h, w, ho, wo, kernel, stride, pad, addr(x), addr(y), addr(argmax)), "max_pool2d_forward");
    }

    @Override
    public void maxPool2dBackward(Tensor dy, Tensor argmax, Tensor dx, long nc, long h, long w, long ho, long wo, long kernel,
                                  long stride, long pad, boolean acc) {
        check(hrda_cpu_max_pool2d_backward(dt(dy), nc, h, w, ho, wo, kernel, stride, pad, addr(dy), addr(argmax), addr(dx), acc(acc)),
              "max_pool2d_backward");
    }

    // ---- resize ----
    @Override
    public void resizeBilinear(Tensor x, Tensor y, long nc, long hi, long wi, long ho, long wo, float sh, float sw) {
        check(hrda_cpu_resize_bilinear_forward(dt(x), nc, hi, wi, ho, wo, sh, sw, addr(x), addr(y)), "resize_bilinear_forward");
    }

    @Override
    public void resizeBilinearBackward(Tensor dy, Tensor dx, long nc, long hi, long wi, long ho, long wo,
                                       float sh, float sw, boolean acc) {
        check(hrda_cpu_resize_bilinear_backward(dt(dy), nc, hi, wi, ho, wo, sh, sw, addr(dy), addr(dx), acc(acc)),
              "resize_bilinear_backward");
    }

    @Override
    public void resizeNearest(Tensor x, Tensor y, long nc, long hi, long wi, long ho, long wo, float sh, float sw) {
        check(hrda_cpu_resize_nearest(dt(x), nc, hi, wi, ho, wo, sh, sw, addr(x), addr(y)), "resize_nearest");
    }

    // ---- normalisation ----
    @Override
    public void layerNorm(Tensor x, Tensor g, Tensor b, Tensor y, Tensor mean, Tensor rstd, long rows, long cols, float eps) {
        check(hrda_cpu_layernorm_forward(dt(x), rows, cols, eps, addr(x), addr(g), addr(b), addr(y), addr(mean), addr(rstd)),
              "layernorm_forward");
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor g, Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor dg, Tensor db,
                                  long rows, long cols, boolean acc) {
        check(hrda_cpu_layernorm_backward(dt(x), rows, cols, addr(x), addr(g), addr(mean), addr(rstd), addr(dy),
                                          addr(dx), addr(dg), addr(db), acc(acc)), "layernorm_backward");
    }

    @Override
    public void batchNorm(Tensor x, Tensor g, Tensor b, Tensor y, Tensor rm, Tensor rv, Tensor sm, Tensor sr,
                          long n, long c, long hw, float eps, float momentum, boolean training) {
        check(hrda_cpu_batchnorm_forward(dt(x), n, c, hw, eps, momentum, training ? 1 : 0, addr(x), addr(g), addr(b), addr(y),
                                         addr(rm), addr(rv), addr(sm), addr(sr)), "batchnorm_forward");
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor g, Tensor sm, Tensor sr, Tensor dy, Tensor dx, Tensor dg, Tensor db,
                                  long n, long c, long hw, boolean acc) {
        check(hrda_cpu_batchnorm_backward(dt(x), n, c, hw, addr(x), addr(g), addr(sm), addr(sr), addr(dy), addr(dx),
                                          addr(dg), addr(db), acc(acc)), "batchnorm_backward");
    }

    @Override
    public void batchNormEvalBackward(Tensor x, Tensor g, Tensor rm, Tensor rv, Tensor dy, Tensor dx, Tensor dg, Tensor db,
                                      long n, long c, long hw, float eps, boolean acc) {
        LossChecks.batchNormEvalBackward(x, g, rm, rv, dy, dx, dg, db, n, c, hw);
        check(hrda_cpu_batchnorm_eval_backward(dt(x), n, c, hw, eps, addr(x), addr(g), addr(rm), addr(rv), addr(dy), addr(dx),
                                               addr(dg), addr(db), acc(acc)), "batchnorm_eval_backward");
    }

    // ---- softmax and loss ----
    @Override
    public void softmax(Tensor x, Tensor y, long outer, long c, long inner) {
        check(hrda_cpu_softmax_forward(dt(x), outer, c, inner, addr(x), addr(y)), "softmax_forward");
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx, long outer, long c, long inner, boolean acc) {
        check(hrda_cpu_softmax_backward(dt(y), outer, c, inner, addr(y), addr(dy), addr(dx), acc(acc)), "softmax_backward");
    }

    @Override
    public void crossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignore, Tensor loss, long n, long c, long hw) {
        check(hrda_cpu_cross_entropy_forward(dt(logits), n, c, hw, addr(logits), addr(labels), addr(weight), ignore,
                                             addr(loss), 0L), "cross_entropy_forward");
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, int ignore, double gradScale,
                                     Tensor dlogits, long n, long c, long hw, boolean acc) {
        check(hrda_cpu_cross_entropy_backward(dt(logits), n, c, hw, addr(logits), addr(labels), addr(weight), ignore,
                                              gradScale, addr(dlogits), acc(acc)), "cross_entropy_backward");
    }

    // ---- fused training losses ----
    @Override
    public void segCrossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignore, Tensor loss, Tensor counts,
                                long n, long c, long h, long w, long outH, long outW) {
        LossChecks.segCrossEntropy(logits, labels, weight, loss, counts, n, c, h, w, outH, outW);
        check(hrda_cpu_seg_cross_entropy_forward(dt(logits), n, c, h, w, outH, outW, addr(logits), addr(labels), addr(weight),
                                                 ignore, addr(loss), addr(counts), 0L), "seg_cross_entropy_forward");
    }

    @Override
    public void segCrossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, int ignore, double gradScale,
                                        Tensor dlogits, long n, long c, long h, long w, long outH, long outW, boolean acc) {
        LossChecks.segCrossEntropyBackward(logits, labels, weight, dlogits, n, c, h, w, outH, outW);
        check(hrda_cpu_seg_cross_entropy_backward(dt(logits), n, c, h, w, outH, outW, addr(logits), addr(labels), addr(weight),
                                                  ignore, gradScale, addr(dlogits), acc(acc)), "seg_cross_entropy_backward");
    }

    @Override
    public void featureDistance(Tensor fs, Tensor fi, Tensor labels, Tensor classes, Tensor out, Tensor count,
                                long n, long c, long hw) {
        LossChecks.featureDistance(fs, fi, labels, classes, out, count, n, c, hw);
        check(hrda_cpu_feature_distance_forward(dt(fs), n, c, hw, addr(fs), addr(fi), addr(labels), addr(classes), addr(out),
                                                addr(count)), "feature_distance_forward");
    }

    @Override
    public void featureDistanceBackward(Tensor fs, Tensor fi, Tensor labels, Tensor classes, double gradScale, Tensor dfs,
                                        long n, long c, long hw, boolean acc) {
        LossChecks.featureDistanceBackward(fs, fi, labels, classes, dfs, n, c, hw);
        check(hrda_cpu_feature_distance_backward(dt(fs), n, c, hw, addr(fs), addr(fi), addr(labels), addr(classes), gradScale,
                                                 addr(dfs), acc(acc)), "feature_distance_backward");
    }

    // ---- RIPU: negative learning, local consistency, SGD ----
    @Override
    public void negativeLearning(Tensor logits, double tau, Tensor loss, Tensor count, long n, long c, long hw) {
        LossChecks.negativeLearning("negativeLearning", logits, loss, count, null, n, c, hw);
        check(hrda_cpu_negative_learning_forward(dt(logits), n, c, hw, addr(logits), tau, addr(loss), addr(count)),
              "negative_learning_forward");
    }

    @Override
    public void negativeLearningBackward(Tensor logits, double tau, double gradScale, Tensor dlogits, long n, long c, long hw,
                                         boolean acc) {
        LossChecks.negativeLearning("negativeLearningBackward", logits, null, null, dlogits, n, c, hw);
        check(hrda_cpu_negative_learning_backward(dt(logits), n, c, hw, addr(logits), tau, gradScale, addr(dlogits), acc(acc)),
              "negative_learning_backward");
    }

    @Override
    public void localConsistency(Tensor logits, Tensor labels, int ignore, Tensor loss, Tensor count, long n, long c, long h, long w) {
        LossChecks.localConsistency("localConsistency", logits, labels, loss, count, null, n, c, h, w);
        check(hrda_cpu_local_consistency_forward(dt(logits), n, c, h, w, addr(logits), addr(labels), ignore, addr(loss),
                                                addr(count)), "local_consistency_forward");
    }

    @Override
    public void localConsistencyBackward(Tensor logits, Tensor labels, int ignore, double gradScale, Tensor dlogits,
                                         long n, long c, long h, long w, boolean acc) {
        LossChecks.localConsistency("localConsistencyBackward", logits, labels, null, null, dlogits, n, c, h, w);
        check(hrda_cpu_local_consistency_backward(dt(logits), n, c, h, w, addr(logits), addr(labels), ignore, gradScale,
                                                 addr(dlogits), acc(acc)), "local_consistency_backward");
    }

    @Override
    public void sgd(List<Tensor> params, List<Tensor> grads, List<Tensor> buffers, double[] lr, double[] wd,
                    double momentum, double dampening, boolean nesterov, boolean firstStep) {
        int n = params.size();
        if (n == 0) return;
        LossChecks.sgd(params, grads, buffers, lr, wd, momentum);
        check(hrda_cpu_sgd_step(dt(params.get(0)), n, TensorLists.addresses(params), TensorLists.addresses(grads),
                                momentum == 0 ? null : TensorLists.addresses(buffers), TensorLists.sizes(params), lr, wd, momentum,
                                dampening, nesterov ? 1 : 0, firstStep ? 1 : 0), "sgd_step");
    }

    // ---- fused attention ----
    @Override
    public void attention(Tensor q, Tensor kv, Tensor out, Tensor lse, long b, long n, long m, int heads, int headDim, float scale) {
        check(hrda_cpu_attention_forward(dt(q), b, n, m, heads, headDim, scale, addr(q), addr(kv), addr(out), addr(lse)),
              "attention_forward");
    }

    @Override
    public void attentionBackward(Tensor q, Tensor kv, Tensor out, Tensor lse, Tensor dout, Tensor dq, Tensor dkv,
                                  long b, long n, long m, int heads, int headDim, float scale, boolean accDq, boolean accDkv) {
        check(hrda_cpu_attention_backward(dt(q), b, n, m, heads, headDim, scale, addr(q), addr(kv), addr(out), addr(lse),
                                          addr(dout), addr(dq), addr(dkv), acc(accDq), acc(accDkv)), "attention_backward");
    }

    // ---- HRDA fusion ----
    @Override
    public void hrdaFuse(Tensor lrSeg, Tensor att, Tensor hrSeg, Tensor fused, long b, long k, long h, long w,
                         long hh, long ww, long top, long left) {
        check(hrda_cpu_hrda_fuse_forward(dt(lrSeg), b, k, h, w, hh, ww, top, left, addr(lrSeg), addr(att), addr(hrSeg),
                                         addr(fused)), "hrda_fuse_forward");
    }

    @Override
    public void hrdaFuseBackward(Tensor lrSeg, Tensor att, Tensor hrSeg, Tensor dfused, Tensor dlrSeg, Tensor datt, Tensor dhrSeg,
                                 long b, long k, long h, long w, long hh, long ww, long top, long left,
                                 boolean accLr, boolean accAtt, boolean accHr) {
        check(hrda_cpu_hrda_fuse_backward(dt(lrSeg), b, k, h, w, hh, ww, top, left, addr(lrSeg), addr(att), addr(hrSeg),
                                          addr(dfused), addr(dlrSeg), addr(datt), addr(dhrSeg), acc(accLr), acc(accAtt),
                                          acc(accHr)), "hrda_fuse_backward");
    }

    // ---- DACS transforms and pseudo-labels ----
    @Override
    public void colorJitter(Tensor x, Tensor y, Tensor factors, Tensor order, float[] mean, float[] std, long b, long h, long w) {
        check(hrda_cpu_color_jitter(dt(x), b, h, w, addr(factors), addr(order), mean[0], mean[1], mean[2], std[0], std[1], std[2],
                                    addr(x), addr(y)), "color_jitter");
    }

    @Override
    public void gaussianBlur(Tensor x, Tensor y, Tensor sigma, long b, long c, long h, long w, int kh, int kw) {
        check(hrda_cpu_gaussian_blur(dt(x), b, c, h, w, kh, kw, addr(sigma), addr(x), addr(y)), "gaussian_blur");
    }

    @Override
    public void labelPresence(Tensor labels, Tensor present) {
        check(hrda_cpu_label_presence(labels.numel(), addr(labels), addr(present)), "label_presence");
    }

    @Override
    public void classMix(Tensor chosen, Tensor srcImg, Tensor tgtImg, Tensor srcLabel, Tensor pseudoLabel, Tensor pseudoWeight,
                         Tensor mixedImg, Tensor mixedLabel, Tensor mixedWeight, Tensor mask, long b, long c, long h, long w) {
        check(hrda_cpu_class_mix(dt(srcImg), b, c, h, w, addr(chosen), addr(srcImg), addr(tgtImg), addr(srcLabel), addr(pseudoLabel),
                                 addr(pseudoWeight), addr(mixedImg), addr(mixedLabel), addr(mixedWeight), addr(mask)),
              "class_mix");
    }

    @Override
    public void pseudoLabel(Tensor logits, Tensor label, Tensor prob, Tensor confident, double threshold, long b, long k, long hw) {
        check(hrda_cpu_pseudo_label(dt(logits), b, k, hw, addr(logits), threshold, addr(label), addr(prob), addr(confident)),
              "pseudo_label");
    }

    @Override
    public void pseudoWeightMap(Tensor valid, Tensor out, double weight, long ignoreTop, long ignoreBottom, long b, long h, long w) {
        check(hrda_cpu_pseudo_weight_map(dt(out), b, h, w, weight, ignoreTop, ignoreBottom, addr(valid), addr(out)),
              "pseudo_weight_map");
    }

    @Override
    public void downscaleLabelRatio(Tensor labels, Tensor out, long b, long h, long w, int scale, float minRatio, int numClasses,
                                    int ignoreIndex) {
        check(hrda_cpu_downscale_label_ratio(b, h, w, scale, minRatio, numClasses, ignoreIndex, addr(labels), addr(out)),
              "downscale_label_ratio");
    }

    @Override
    public void blockMask(Tensor keep, Tensor x, Tensor y, long b, long c, long h, long w, long gh, long gw) {
        check(hrda_cpu_block_mask(dt(x), b, c, h, w, gh, gw, addr(keep), addr(x), addr(y)), "block_mask");
    }

    // RIPU
    @Override
    public void activeScore(Tensor prob, Tensor score, Tensor impurity, Tensor uncertainty, long b, long k, long h, long w,
                            int radius, boolean pixelUncertainty, double norm) {
        check(hrda_cpu_active_score(dt(prob), b, k, h, w, radius, pixelUncertainty ? 1 : 0, norm, addr(prob), addr(score),
                                    addr(impurity), addr(uncertainty)), "active_score");
    }

    @Override
    public void activeSelect(Tensor score, Tensor active, Tensor selected, Tensor picks, Tensor pickScore, long b, long h, long w,
                             int count, int activeRadius, int maskRadius) {
        check(hrda_cpu_active_select(dt(score), b, h, w, count, activeRadius, maskRadius, addr(score), addr(active), addr(selected),
                                     addr(picks), addr(pickScore)), "active_select");
    }

    @Override
    public void activeReveal(Tensor selected, Tensor gt, Tensor mask, int ignoreIndex) {
        check(hrda_cpu_active_reveal(selected.numel(), addr(selected), addr(gt), ignoreIndex, addr(mask)), "active_reveal");
    }

    // ---- GEMM ----
    @Override
    public void gemm(boolean ta, boolean tb, int batch, int m, int n, int k, double alpha,
                     Tensor a, long offA, long strideA, Tensor b, long offB, long strideB,
                     double beta, Tensor c, long offC, long strideC) {
        DType d = c.dtype();
        if (a.dtype() != d || b.dtype() != d) throw new IllegalArgumentException("gemm dtypes differ: " + a + ", " + b + ", " + c);
        int lda = ta ? m : k, ldb = tb ? k : n, es = d.bytes;
        for (int i = 0; i < batch; i++) {
            long pa = a.address() + (offA + i * strideA) * es, pb = b.address() + (offB + i * strideB) * es;
            long pc = c.address() + (offC + i * strideC) * es;
            if (d == DType.F32) {
                openblas_nolapack.cblas_sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, (float) alpha,
                                     Ptr.f32(pa), lda, Ptr.f32(pb), ldb, (float) beta, Ptr.f32(pc), n);
            } else if (d == DType.F64) {
                openblas_nolapack.cblas_dgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, alpha,
                                     Ptr.f64(pa), lda, Ptr.f64(pb), ldb, beta, Ptr.f64(pc), n);
            } else {
                throw new UnsupportedOperationException("cpu gemm supports f32 and f64, not " + d);
            }
        }
    }

    // ---- convolution: f32 on oneDNN (DnnlConv); f64, and what oneDNN has no kernel for, as
    //      im2col + GEMM per image and group (Im2colConv; depthwise: direct kernels) ----
    private final DnnlConv dnnl;
    private boolean onDnnl(ConvSpec s, DType d) {
        return dnnl != null && d == DType.F32;
    }

    /** oneDNN's implementation for a geometry ("brg_conv_fwd:avx512_core", ...), or null where the fallback runs. */
    String dnnlImplementation(ConvSpec s, DnnlConv.Dir d) {
        return dnnl == null || !onDnnl(s, DType.F32) ? null : dnnl.implementation(s, d, false);
    }

    /**
     * What runs a convolution direction ("fwd", "bwd" = backward-data, "bww" = backward-weights)
     * in f32: oneDNN's implementation name, or the fallback's (for benchmarks and logs).
     */
    public String convImplementation(ConvSpec s, String dir) {
        DnnlConv.Dir d = switch (dir) {
            case "fwd" -> DnnlConv.Dir.FORWARD;
            case "bwd" -> DnnlConv.Dir.BACKWARD_DATA;
            case "bww" -> DnnlConv.Dir.BACKWARD_WEIGHTS;
            default -> throw new IllegalArgumentException("direction fwd, bwd or bww, not " + dir);
        };
        String impl = dnnlImplementation(s, d);
        return impl != null ? "oneDNN " + impl : s.depthwise() ? "direct depthwise kernel" : "im2col + OpenBLAS";
    }

    private final Im2colConv im2colConv = new Im2colConv(this, CpuKernels::hrda_cpu_im2col, CpuKernels::hrda_cpu_col2im,
                                                         CpuBackend::check);

    @Override
    public void conv2d(ConvSpec s, Tensor x, Tensor w, Tensor bias, Tensor y) {
        if (onDnnl(s, x.dtype()) && dnnl.forward(s, x, w, bias, y)) return;
        if (s.depthwise()) {
            check(hrda_cpu_dwconv_forward(dt(x), s.n(), s.c(), s.h(), s.w(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                                          s.padH(), s.padW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                          addr(x), addr(w), addr(bias), addr(y)), "dwconv_forward");
            return;
        }
        im2colConv.forward(s, x, w, y);
        if (bias != null) addBias(y, bias, s.n(), s.k(), (long) s.outH() * s.outW());
    }

    @Override
    public void conv2dBackwardData(ConvSpec s, Tensor dy, Tensor w, Tensor dx, boolean acc) {
        if (onDnnl(s, dy.dtype()) && dnnl.backwardData(s, dy, w, dx, acc)) return;
        if (s.depthwise()) {
            check(hrda_cpu_dwconv_backward_data(dt(dy), s.n(), s.c(), s.h(), s.w(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                                                s.padH(), s.padW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                                addr(dy), addr(w), addr(dx), acc(acc)), "dwconv_backward_data");
            return;
        }
        im2colConv.backwardData(s, dy, w, dx, acc);
    }

    @Override
    public void conv2dBackwardWeight(ConvSpec s, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
        if (onDnnl(s, x.dtype()) && dnnl.backwardWeights(s, x, dy, dw, dbias)) return;
        if (s.depthwise()) {
            check(hrda_cpu_dwconv_backward_weight(dt(x), s.n(), s.c(), s.h(), s.w(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                                                  s.padH(), s.padW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                                  addr(x), addr(dy), addr(dw), addr(dbias)), "dwconv_backward_weight");
            return;
        }
        im2colConv.backwardWeight(s, x, dy, dw);
        if (dbias != null) channelSum(dy, dbias, s.n(), s.k(), (long) s.outH() * s.outW(), true);
    }

    // ---- optimizer ----
    @Override
    public void adamw(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v,
                      float[] lr, float[] wd, float beta1, float beta2, float eps, long step) {
        int n = params.size();
        if (n == 0) return;
        check(hrda_cpu_adamw_step(dt(params.get(0)), n, TensorLists.addresses(params), TensorLists.addresses(grads),
                                  TensorLists.addresses(m), TensorLists.addresses(v), TensorLists.sizes(params),
                                  lr, wd, beta1, beta2, eps, step), "adamw_step");
    }

    @Override
    public void ema(List<Tensor> ema, List<Tensor> params, float alpha) {
        if (params.isEmpty()) return;
        check(hrda_cpu_ema_update(dt(params.get(0)), params.size(), TensorLists.addresses(ema), TensorLists.addresses(params),
                                  TensorLists.sizes(params), alpha), "ema_update");
    }

    @Override
    public void close() {
        if (dnnl != null) dnnl.close();
    }
}
