package dev.hrda.backend;

import dev.hrda.kernels.CudaRuntime;
import dev.hrda.kernels.NativeException;
import dev.hrda.kernels.Ptr;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Device;
import dev.hrda.tensor.Tensor;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static dev.hrda.kernels.CudaKernels.*;

/**
 * The CUDA backend: libhrda_cuda (our kernels, one stream) for every elementwise/norm/loss op,
 * cuBLAS for GEMM, cuDNN (legacy convolution API) for dense and grouped convolutions, our own
 * kernels for depthwise convolutions. Computes in f32, bf16 and f16 (accumulating in f32); f64 is
 * CPU-only.
 *
 * <p>All work is queued on one stream; device memory comes from the stream-ordered pool
 * (hrda_cuda_malloc/free), so freeing a tensor whose last use is still queued is safe. Only the
 * device-to-host copy waits for the stream.
 *
 * <p>cuBLAS (libcublas.so.13) and cuDNN (libcudnn.so.9) are loaded on first use, not at
 * construction, so that the elementwise path works without them; a missing library becomes an
 * {@link IllegalStateException} that names it and the places searched, never a JVM crash.
 *
 * <p>Numerics: f32 GEMMs and convolutions run without TF32 (cuBLAS default math, cuDNN FMA math),
 * so they match {@link CpuBackend} to f32 rounding; {@code -Dhrda.cuda.tf32=true} allows TF32
 * (what PyTorch does for convolutions by default). {@code -Dhrda.cudnn=false} replaces cuDNN by
 * im2col + cuBLAS (also used automatically where cuDNN has no algorithm for a shape/dtype).
 *
 * <p>Reproducibility: every kernel of ours gives bit-identical results run to run on a given GPU
 * (no float atomics), and cuDNN algorithms are restricted to deterministic ones;
 * {@code -Dhrda.cudnn.deterministic=false} admits cuDNN's non-deterministic algorithms too.
 */
@SuppressWarnings("deprecation")  // cuDNN 9 marks the legacy convolution API deprecated; it is still in libcudnn_cnn.so.9
public final class CudaBackend implements Backend {
    // direction indices of a convolution plan
    private static final int FWD = 0, BWD_DATA = 1, BWD_FILTER = 2;
    private static final String[] DIRECTION = {"forward", "backward data", "backward filter"};
    // hrda_cuda_memcpy kinds (device.h)
    private static final int H2D = 0, D2H = 1, D2D = 2;
    private static final int HRDA_ERR_CUDA = 3, HRDA_ERR_MEMORY = 5;

    private static final boolean TF32 = Boolean.getBoolean("hrda.cuda.tf32");
    private static final long WORKSPACE_LIMIT = Long.getLong("hrda.cudnn.workspaceLimit", 1L << 30);
    private static final boolean DETERMINISTIC = !"false".equalsIgnoreCase(System.getProperty("hrda.cudnn.deterministic"));

    private final int device;
    private final boolean useCudnn;
    private final boolean checkLabels = !"false".equalsIgnoreCase(System.getProperty("hrda.cuda.checkLabels"));
    private long stream;
    private boolean closed;

    private CUstream_st streamObj;
    private cublasContext cublasHandle;
    private cudnnContext cudnnHandle;
    private final FloatPointer gemmAlpha = new FloatPointer(1);
    private final FloatPointer gemmBeta = new FloatPointer(1);
    private final FloatPointer one = new FloatPointer(1f);
    private final FloatPointer zero = new FloatPointer(0f);
    private final Map<ConvKey, ConvPlan> convPlans = new HashMap<>();
    private long badLabels;                       // one int32 on the device (cross-entropy label check)
    private final IntPointer hostInt = new IntPointer(1);

    /** Uses cuDNN for dense/grouped convolutions. */
    public CudaBackend(int device) {
        this(device, !"false".equalsIgnoreCase(System.getProperty("hrda.cudnn")));
    }

    /**
     * @param useCudnn false: dense/grouped convolutions as im2col + cuBLAS (no cuDNN needed)
     * @throws IllegalStateException where CUDA is not usable, with the reason
     */
    public CudaBackend(int device, boolean useCudnn) {
        CudaRuntime.Probe probe = CudaRuntime.probe();
        if (!probe.usable()) throw new IllegalStateException("CUDA backend: " + probe.reason());
        if (device < 0 || device >= probe.deviceCount()) {
            throw new IllegalArgumentException("CUDA device " + device + " does not exist (" + probe.deviceCount() + " device(s))");
        }
        this.device = device;
        this.useCudnn = useCudnn;
        check(hrda_cuda_set_device(device), "set_device(" + device + ")");
        long[] s = new long[1];
        check(hrda_cuda_stream_create(s), "stream_create");
        stream = s[0];
    }

    @Override public Device device() { return Device.CUDA; }

    /** The stream all work of this backend is queued on (a cudaStream_t). */
    public long stream() { return stream; }

    public int deviceIndex() { return device; }

    @Override
    public String describe() {
        CudaRuntime.Probe p = CudaRuntime.probe();
        CudaRuntime.DeviceInfo d = CudaRuntime.deviceInfo(device);
        StringBuilder sb = new StringBuilder("cuda: ").append(d.name())
                .append(String.format(Locale.ROOT, ", %.1f GiB", d.totalMemory() / (double) (1L << 30)))
                .append(", sm_").append(d.ccMajor()).append(d.ccMinor())
                .append(", runtime ").append(CudaRuntime.version(p.runtimeVersion()))
                .append(", driver ").append(CudaRuntime.version(p.driverVersion()));
        try {
            CudaLibs.ensureCudnn();
            sb.append(", cuDNN ").append(libVersion(cudnn.cudnnGetVersion()));
        } catch (IllegalStateException e) {
            sb.append(", cuDNN not loadable");
        }
        try {
            int[] v = new int[1];
            if (cublas.cublasGetVersion_v2(cublas(), v) == 0) sb.append(", cuBLAS ").append(libVersion(v[0]));
        } catch (IllegalStateException e) {
            sb.append(", cuBLAS not loadable");
        }
        if (!useCudnn) sb.append(", convolutions: im2col + cuBLAS");
        String build = p.buildInfo();
        if (build != null && !build.isBlank()) sb.append(", kernels: ").append(build.trim());
        return sb.toString();
    }

    /** major*10000 + minor*100 + patch (cuDNN 9, cuBLAS 12+) -> "M.m.p". */
    private static String libVersion(long v) {
        return (v / 10000) + "." + (v % 10000) / 100 + "." + v % 100;
    }

    // ---- errors and small helpers ----
    static void check(int rc, String op) {
        if (rc != 0) throw new NativeException(op, rc, hrda_cuda_last_error().getString());
    }

    private static int acc(boolean a) { return a ? 1 : 0; }

    private static long addr(Tensor t) {
        if (t == null) return 0L;
        if (t.device() != Device.CUDA) throw new IllegalArgumentException("CUDA backend given a host tensor " + t.describe());
        return t.address();
    }

    private static int dt(Tensor t) { return t.dtype().code; }

    private long s() {
        if (closed) throw new IllegalStateException("CudaBackend is closed");
        return stream;
    }

    // ---- memory ----
    @Override
    public long malloc(long bytes) {
        long[] p = new long[1];
        int rc = hrda_cuda_malloc(p, Math.max(bytes, 1), s());
        if (rc == HRDA_ERR_MEMORY || (rc == HRDA_ERR_CUDA && hrda_cuda_last_error().getString().toLowerCase(Locale.ROOT).contains("out of memory"))) {
            String msg = hrda_cuda_last_error().getString();
            long[] free = new long[1], total = new long[1];
            String mem = hrda_cuda_mem_info(free, total) == 0
                    ? String.format(Locale.ROOT, " (%.2f GiB free of %.2f GiB)", free[0] / (double) (1L << 30), total[0] / (double) (1L << 30))
                    : "";
            throw new OutOfMemoryError("cuda: cannot allocate " + bytes + " bytes of device memory" + mem + ": " + msg);
        }
        check(rc, "malloc(" + bytes + ")");
        return p[0];
    }

    @Override
    public void free(long address, long bytes) {
        if (address == 0) return;
        // after close() the stream is gone: free on the legacy default stream
        check(hrda_cuda_free(address, closed ? 0L : stream), "free");
    }

    /**
     * Queued on the stream. From pageable memory (JavaCPP pointers) the copy returns once the
     * host buffer has been staged, so p may be released right after; pinned memory
     * (hrda_cuda_host_alloc) must not be reused before {@link #synchronize()}.
     */
    @Override
    public void copyFromHost(Tensor dst, Pointer p) {
        if (dst.bytes() == 0) return;
        check(hrda_cuda_memcpy(addr(dst), p.address(), dst.bytes(), H2D, s()), "copyFromHost");
    }

    @Override
    public void copyToHost(Tensor src, Pointer p) {
        if (src.bytes() == 0) return;
        check(hrda_cuda_memcpy(p.address(), addr(src), src.bytes(), D2H, s()), "copyToHost");
        check(hrda_cuda_stream_sync(stream), "copyToHost (stream sync)");
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        if (src.bytes() != dst.bytes()) throw new IllegalArgumentException("copy " + src.describe() + " -> " + dst.describe());
        if (src.bytes() == 0) return;
        check(hrda_cuda_memcpy(addr(dst), addr(src), src.bytes(), D2D, s()), "copy");
    }

    @Override
    public void synchronize() {
        if (!closed) check(hrda_cuda_stream_sync(stream), "synchronize");
    }

    // ---- elementwise ----
    @Override public void fill(Tensor y, double value) { check(hrda_cuda_fill(dt(y), y.numel(), value, addr(y), s()), "fill"); }

    @Override
    public void axpby(double alpha, Tensor x, double beta, Tensor y, Tensor out) {
        check(hrda_cuda_axpby(dt(out), out.numel(), alpha, addr(x), beta, addr(y), addr(out), s()), "axpby");
    }

    @Override
    public void mul(Tensor a, Tensor b, Tensor out, boolean acc) {
        check(hrda_cuda_mul(dt(out), out.numel(), addr(a), addr(b), addr(out), acc(acc), s()), "mul");
    }

    @Override
    public void addBias(Tensor y, Tensor bias, long outer, long c, long inner) {
        check(hrda_cuda_add_bias(dt(y), outer, c, inner, addr(y), addr(bias), s()), "add_bias");
    }

    @Override
    public void channelSum(Tensor x, Tensor out, long outer, long c, long inner, boolean acc) {
        check(hrda_cuda_channel_sum(dt(x), outer, c, inner, addr(x), addr(out), acc(acc), s()), "channel_sum");
    }

    @Override public void sum(Tensor x, Tensor out) { check(hrda_cuda_sum(dt(x), x.numel(), addr(x), addr(out), s()), "sum"); }

    @Override
    public void activation(Activation kind, Tensor x, Tensor y) {
        check(hrda_cuda_activation_forward(dt(x), kind.code, x.numel(), addr(x), addr(y), s()), "activation_forward");
    }

    @Override
    public void activationBackward(Activation kind, Tensor x, Tensor y, Tensor dy, Tensor dx, boolean acc) {
        check(hrda_cuda_activation_backward(dt(dy), kind.code, dy.numel(), addr(x), addr(y), addr(dy), addr(dx), acc(acc), s()),
              "activation_backward");
    }

    @Override
    public void dropout(Tensor x, Tensor y, long group, float p, long seed, boolean acc) {
        check(hrda_cuda_dropout(dt(x), x.numel(), group, p, seed, addr(x), addr(y), acc(acc), s()), "dropout");
    }

    @Override
    public void convert(Tensor x, Tensor y) {
        if (x.numel() != y.numel()) throw new IllegalArgumentException("convert " + x.describe() + " -> " + y.describe());
        check(hrda_cuda_convert(dt(x), dt(y), x.numel(), addr(x), addr(y), s()), "convert");
    }

    // ---- data movement ----
    @Override
    public void copyBox(Tensor src, Tensor dst, Box b, boolean acc) {
        check(hrda_cuda_copy_box(dt(src), b.n(), addr(src), b.srcC(), b.srcH(), b.srcW(), b.cs(), b.hs(), b.ws(),
                                 addr(dst), b.dstC(), b.dstH(), b.dstW(), b.cd(), b.hd(), b.wd(),
                                 b.sizeC(), b.sizeH(), b.sizeW(), acc(acc), s()), "copy_box");
    }

    @Override
    public void transpose(Tensor x, Tensor y, long batch, long rows, long cols, boolean acc) {
        check(hrda_cuda_transpose(dt(x), batch, rows, cols, addr(x), addr(y), acc(acc), s()), "transpose");
    }

    // ---- pooling ----
    @Override
    public void maxPool2d(Tensor x, Tensor y, Tensor argmax, long nc, long h, long w, long ho, long wo, long kernel, long stride, long pad) {
        check(hrda_cuda_max_pool2d_forward(dt(x), nc, h, w, ho, wo, kernel, stride, pad, addr(x), addr(y), addr(argmax), s()), "max_pool2d_forward");
    }

    @Override
    public void maxPool2dBackward(Tensor dy, Tensor argmax, Tensor dx, long nc, long h, long w, long ho, long wo, long kernel,
                                  long stride, long pad, boolean acc) {
        check(hrda_cuda_max_pool2d_backward(dt(dy), nc, h, w, ho, wo, kernel, stride, pad, addr(dy), addr(argmax), addr(dx), acc(acc), s()),
              "max_pool2d_backward");
    }

    // ---- resize ----
    @Override
    public void resizeBilinear(Tensor x, Tensor y, long nc, long hi, long wi, long ho, long wo, float sh, float sw) {
        check(hrda_cuda_resize_bilinear_forward(dt(x), nc, hi, wi, ho, wo, sh, sw, addr(x), addr(y), s()), "resize_bilinear_forward");
    }

    @Override
    public void resizeBilinearBackward(Tensor dy, Tensor dx, long nc, long hi, long wi, long ho, long wo,
                                       float sh, float sw, boolean acc) {
        check(hrda_cuda_resize_bilinear_backward(dt(dy), nc, hi, wi, ho, wo, sh, sw, addr(dy), addr(dx), acc(acc), s()),
              "resize_bilinear_backward");
    }

    @Override
    public void resizeNearest(Tensor x, Tensor y, long nc, long hi, long wi, long ho, long wo, float sh, float sw) {
        check(hrda_cuda_resize_nearest(dt(x), nc, hi, wi, ho, wo, sh, sw, addr(x), addr(y), s()), "resize_nearest");
    }

    // ---- normalisation ----
    @Override
    public void layerNorm(Tensor x, Tensor g, Tensor b, Tensor y, Tensor mean, Tensor rstd, long rows, long cols, float eps) {
        check(hrda_cuda_layernorm_forward(dt(x), rows, cols, eps, addr(x), addr(g), addr(b), addr(y), addr(mean), addr(rstd), s()),
              "layernorm_forward");
    }

    @Override
    public void layerNormBackward(Tensor x, Tensor g, Tensor mean, Tensor rstd, Tensor dy, Tensor dx, Tensor dg, Tensor db,
                                  long rows, long cols, boolean acc) {
        check(hrda_cuda_layernorm_backward(dt(x), rows, cols, addr(x), addr(g), addr(mean), addr(rstd), addr(dy),
                                           addr(dx), addr(dg), addr(db), acc(acc), s()), "layernorm_backward");
    }

    @Override
    public void batchNorm(Tensor x, Tensor g, Tensor b, Tensor y, Tensor rm, Tensor rv, Tensor sm, Tensor sr,
                          long n, long c, long hw, float eps, float momentum, boolean training) {
        check(hrda_cuda_batchnorm_forward(dt(x), n, c, hw, eps, momentum, training ? 1 : 0, addr(x), addr(g), addr(b), addr(y),
                                          addr(rm), addr(rv), addr(sm), addr(sr), s()), "batchnorm_forward");
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor g, Tensor sm, Tensor sr, Tensor dy, Tensor dx, Tensor dg, Tensor db,
                                  long n, long c, long hw, boolean acc) {
        check(hrda_cuda_batchnorm_backward(dt(x), n, c, hw, addr(x), addr(g), addr(sm), addr(sr), addr(dy), addr(dx),
                                           addr(dg), addr(db), acc(acc), s()), "batchnorm_backward");
    }

    @Override
    public void batchNormEvalBackward(Tensor x, Tensor g, Tensor rm, Tensor rv, Tensor dy, Tensor dx, Tensor dg, Tensor db,
                                      long n, long c, long hw, float eps, boolean acc) {
        LossChecks.batchNormEvalBackward(x, g, rm, rv, dy, dx, dg, db, n, c, hw);
        check(hrda_cuda_batchnorm_eval_backward(dt(x), n, c, hw, eps, addr(x), addr(g), addr(rm), addr(rv), addr(dy), addr(dx),
                                                addr(dg), addr(db), acc(acc), s()), "batchnorm_eval_backward");
    }

    // ---- softmax and loss ----
    @Override
    public void softmax(Tensor x, Tensor y, long outer, long c, long inner) {
        check(hrda_cuda_softmax_forward(dt(x), outer, c, inner, addr(x), addr(y), s()), "softmax_forward");
    }

    @Override
    public void softmaxBackward(Tensor y, Tensor dy, Tensor dx, long outer, long c, long inner, boolean acc) {
        check(hrda_cuda_softmax_backward(dt(y), outer, c, inner, addr(y), addr(dy), addr(dx), acc(acc), s()), "softmax_backward");
    }

    /**
     * As the CPU backend, throws on labels outside [0, c) other than the ignore index. The kernel
     * counts them on the device; reading the count back waits for the stream
     * ({@code -Dhrda.cuda.checkLabels=false} skips the check and the wait: bad labels are then ignored).
     */
    @Override
    public void crossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignore, Tensor loss, long n, long c, long hw) {
        if (labels.dtype() != DType.I32) throw new IllegalArgumentException("cross-entropy labels must be int32: " + labels.describe());
        long bad = resetBadLabels("cross_entropy_forward");
        check(hrda_cuda_cross_entropy_forward(dt(logits), n, c, hw, addr(logits), addr(labels), addr(weight), ignore,
                                              addr(loss), bad, s()), "cross_entropy_forward");
        throwOnBadLabels("cross_entropy_forward", labels, c, ignore);
    }

    /** The device label counter zeroed on the stream (0 when -Dhrda.cuda.checkLabels=false). */
    private long resetBadLabels(String op) {
        if (!checkLabels) return 0L;
        if (badLabels == 0) badLabels = malloc(4);
        hostInt.put(0, 0);
        check(hrda_cuda_memcpy(badLabels, hostInt.address(), 4, H2D, s()), op + " (reset label count)");
        return badLabels;
    }

    /** Reads the label counter back (waits for the stream) and throws when a label was out of range. */
    private void throwOnBadLabels(String op, Tensor labels, long c, int ignore) {
        if (!checkLabels) return;
        check(hrda_cuda_memcpy(hostInt.address(), badLabels, 4, D2H, s()), op + " (read label count)");
        check(hrda_cuda_stream_sync(stream), op + " (stream sync)");
        int count = hostInt.get(0);
        if (count != 0) {
            throw new NativeException(op, 1, count + " label(s) outside [0, " + c + ") and != ignore "
                                      + ignore + " (labels " + labels.describe() + ")");
        }
    }

    @Override
    public void crossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, int ignore, double gradScale,
                                     Tensor dlogits, long n, long c, long hw, boolean acc) {
        check(hrda_cuda_cross_entropy_backward(dt(logits), n, c, hw, addr(logits), addr(labels), addr(weight), ignore,
                                               gradScale, addr(dlogits), acc(acc), s()), "cross_entropy_backward");
    }

    // ---- fused training losses ----
    /** Labels outside [0, c) other than the ignore index throw as in {@link #crossEntropy} (the same counter and wait). */
    @Override
    public void segCrossEntropy(Tensor logits, Tensor labels, Tensor weight, int ignore, Tensor loss, Tensor counts,
                                long n, long c, long h, long w, long outH, long outW) {
        LossChecks.segCrossEntropy(logits, labels, weight, loss, counts, n, c, h, w, outH, outW);
        long bad = resetBadLabels("seg_cross_entropy_forward");
        check(hrda_cuda_seg_cross_entropy_forward(dt(logits), n, c, h, w, outH, outW, addr(logits), addr(labels), addr(weight),
                                                  ignore, addr(loss), addr(counts), bad, s()), "seg_cross_entropy_forward");
        throwOnBadLabels("seg_cross_entropy_forward", labels, c, ignore);
    }

    @Override
    public void segCrossEntropyBackward(Tensor logits, Tensor labels, Tensor weight, int ignore, double gradScale,
                                        Tensor dlogits, long n, long c, long h, long w, long outH, long outW, boolean acc) {
        LossChecks.segCrossEntropyBackward(logits, labels, weight, dlogits, n, c, h, w, outH, outW);
        check(hrda_cuda_seg_cross_entropy_backward(dt(logits), n, c, h, w, outH, outW, addr(logits), addr(labels), addr(weight),
                                                   ignore, gradScale, addr(dlogits), acc(acc), s()), "seg_cross_entropy_backward");
    }

    @Override
    public void featureDistance(Tensor fs, Tensor fi, Tensor labels, Tensor classes, Tensor out, Tensor count,
                                long n, long c, long hw) {
        LossChecks.featureDistance(fs, fi, labels, classes, out, count, n, c, hw);
        check(hrda_cuda_feature_distance_forward(dt(fs), n, c, hw, addr(fs), addr(fi), addr(labels), addr(classes), addr(out),
                                                 addr(count), s()), "feature_distance_forward");
    }

    @Override
    public void featureDistanceBackward(Tensor fs, Tensor fi, Tensor labels, Tensor classes, double gradScale, Tensor dfs,
                                        long n, long c, long hw, boolean acc) {
        LossChecks.featureDistanceBackward(fs, fi, labels, classes, dfs, n, c, hw);
        check(hrda_cuda_feature_distance_backward(dt(fs), n, c, hw, addr(fs), addr(fi), addr(labels), addr(classes), gradScale,
                                                  addr(dfs), acc(acc), s()), "feature_distance_backward");
    }

    // ---- RIPU: negative learning, local consistency, SGD ----
    @Override
    public void negativeLearning(Tensor logits, double tau, Tensor loss, Tensor count, long n, long c, long hw) {
        LossChecks.negativeLearning("negativeLearning", logits, loss, count, null, n, c, hw);
        check(hrda_cuda_negative_learning_forward(dt(logits), n, c, hw, addr(logits), tau, addr(loss), addr(count), s()),
              "negative_learning_forward");
    }

    @Override
    public void negativeLearningBackward(Tensor logits, double tau, double gradScale, Tensor dlogits, long n, long c, long hw,
                                         boolean acc) {
        LossChecks.negativeLearning("negativeLearningBackward", logits, null, null, dlogits, n, c, hw);
        check(hrda_cuda_negative_learning_backward(dt(logits), n, c, hw, addr(logits), tau, gradScale, addr(dlogits), acc(acc), s()),
              "negative_learning_backward");
    }

    @Override
    public void localConsistency(Tensor logits, Tensor labels, int ignore, Tensor loss, Tensor count, long n, long c, long h, long w) {
        LossChecks.localConsistency("localConsistency", logits, labels, loss, count, null, n, c, h, w);
        check(hrda_cuda_local_consistency_forward(dt(logits), n, c, h, w, addr(logits), addr(labels), ignore, addr(loss),
                                                addr(count), s()), "local_consistency_forward");
    }

    @Override
    public void localConsistencyBackward(Tensor logits, Tensor labels, int ignore, double gradScale, Tensor dlogits,
                                         long n, long c, long h, long w, boolean acc) {
        LossChecks.localConsistency("localConsistencyBackward", logits, labels, null, null, dlogits, n, c, h, w);
        check(hrda_cuda_local_consistency_backward(dt(logits), n, c, h, w, addr(logits), addr(labels), ignore, gradScale,
                                                 addr(dlogits), acc(acc), s()), "local_consistency_backward");
    }

    @Override
    public void sgd(List<Tensor> params, List<Tensor> grads, List<Tensor> buffers, double[] lr, double[] wd,
                    double momentum, double dampening, boolean nesterov, boolean firstStep) {
        int n = params.size();
        if (n == 0) return;
        LossChecks.sgd(params, grads, buffers, lr, wd, momentum);
        check(hrda_cuda_sgd_step(dt(params.get(0)), n, TensorLists.addresses(params), TensorLists.addresses(grads),
                                momentum == 0 ? null : TensorLists.addresses(buffers), TensorLists.sizes(params), lr, wd, momentum,
                                dampening, nesterov ? 1 : 0, firstStep ? 1 : 0, s()), "sgd_step");
    }

    // ---- fused attention ----
    @Override
    public void attention(Tensor q, Tensor kv, Tensor out, Tensor lse, long b, long n, long m, int heads, int headDim, float scale) {
        check(hrda_cuda_attention_forward(dt(q), b, n, m, heads, headDim, scale, addr(q), addr(kv), addr(out), addr(lse), s()),
              "attention_forward");
    }

    @Override
    public void attentionBackward(Tensor q, Tensor kv, Tensor out, Tensor lse, Tensor dout, Tensor dq, Tensor dkv,
                                  long b, long n, long m, int heads, int headDim, float scale, boolean accDq, boolean accDkv) {
        check(hrda_cuda_attention_backward(dt(q), b, n, m, heads, headDim, scale, addr(q), addr(kv), addr(out), addr(lse),
                                           addr(dout), addr(dq), addr(dkv), acc(accDq), acc(accDkv), s()), "attention_backward");
    }

    // ---- HRDA fusion ----
    @Override
    public void hrdaFuse(Tensor lrSeg, Tensor att, Tensor hrSeg, Tensor fused, long b, long k, long h, long w,
                         long hh, long ww, long top, long left) {
        check(hrda_cuda_hrda_fuse_forward(dt(lrSeg), b, k, h, w, hh, ww, top, left, addr(lrSeg), addr(att), addr(hrSeg),
                                          addr(fused), s()), "hrda_fuse_forward");
    }

    @Override
    public void hrdaFuseBackward(Tensor lrSeg, Tensor att, Tensor hrSeg, Tensor dfused, Tensor dlrSeg, Tensor datt, Tensor dhrSeg,
                                 long b, long k, long h, long w, long hh, long ww, long top, long left,
                                 boolean accLr, boolean accAtt, boolean accHr) {
        check(hrda_cuda_hrda_fuse_backward(dt(lrSeg), b, k, h, w, hh, ww, top, left, addr(lrSeg), addr(att), addr(hrSeg),
                                           addr(dfused), addr(dlrSeg), addr(datt), addr(dhrSeg), acc(accLr), acc(accAtt),
                                           acc(accHr), s()), "hrda_fuse_backward");
    }

    // ---- DACS transforms and pseudo-labels ----
    @Override
    public void colorJitter(Tensor x, Tensor y, Tensor factors, Tensor order, float[] mean, float[] std, long b, long h, long w) {
        check(hrda_cuda_color_jitter(dt(x), b, h, w, addr(factors), addr(order), mean[0], mean[1], mean[2], std[0], std[1], std[2],
                                     addr(x), addr(y), s()), "color_jitter");
    }

    @Override
    public void gaussianBlur(Tensor x, Tensor y, Tensor sigma, long b, long c, long h, long w, int kh, int kw) {
        check(hrda_cuda_gaussian_blur(dt(x), b, c, h, w, kh, kw, addr(sigma), addr(x), addr(y), s()), "gaussian_blur");
    }

    @Override
    public void labelPresence(Tensor labels, Tensor present) {
        check(hrda_cuda_label_presence(labels.numel(), addr(labels), addr(present), s()), "label_presence");
    }

    @Override
    public void classMix(Tensor chosen, Tensor srcImg, Tensor tgtImg, Tensor srcLabel, Tensor pseudoLabel, Tensor pseudoWeight,
                         Tensor mixedImg, Tensor mixedLabel, Tensor mixedWeight, Tensor mask, long b, long c, long h, long w) {
        check(hrda_cuda_class_mix(dt(srcImg), b, c, h, w, addr(chosen), addr(srcImg), addr(tgtImg), addr(srcLabel), addr(pseudoLabel),
                                  addr(pseudoWeight), addr(mixedImg), addr(mixedLabel), addr(mixedWeight), addr(mask), s()),
              "class_mix");
    }

    @Override
    public void pseudoLabel(Tensor logits, Tensor label, Tensor prob, Tensor confident, double threshold, long b, long k, long hw) {
        check(hrda_cuda_pseudo_label(dt(logits), b, k, hw, addr(logits), threshold, addr(label), addr(prob), addr(confident), s()),
              "pseudo_label");
    }

    @Override
    public void pseudoWeightMap(Tensor valid, Tensor out, double weight, long ignoreTop, long ignoreBottom, long b, long h, long w) {
        check(hrda_cuda_pseudo_weight_map(dt(out), b, h, w, weight, ignoreTop, ignoreBottom, addr(valid), addr(out), s()),
              "pseudo_weight_map");
    }

    @Override
    public void downscaleLabelRatio(Tensor labels, Tensor out, long b, long h, long w, int scale, float minRatio, int numClasses,
                                    int ignoreIndex) {
        check(hrda_cuda_downscale_label_ratio(b, h, w, scale, minRatio, numClasses, ignoreIndex, addr(labels), addr(out), s()),
              "downscale_label_ratio");
    }

    @Override
    public void blockMask(Tensor keep, Tensor x, Tensor y, long b, long c, long h, long w, long gh, long gw) {
        check(hrda_cuda_block_mask(dt(x), b, c, h, w, gh, gw, addr(keep), addr(x), addr(y), s()), "block_mask");
    }

    // RIPU
    @Override
    public void activeScore(Tensor prob, Tensor score, Tensor impurity, Tensor uncertainty, long b, long k, long h, long w,
                            int radius, boolean pixelUncertainty, double norm) {
        check(hrda_cuda_active_score(dt(prob), b, k, h, w, radius, pixelUncertainty ? 1 : 0, norm, addr(prob), addr(score),
                                    addr(impurity), addr(uncertainty), s()), "active_score");
    }

    @Override
    public void activeSelect(Tensor score, Tensor active, Tensor selected, Tensor picks, Tensor pickScore, long b, long h, long w,
                             int count, int activeRadius, int maskRadius) {
        check(hrda_cuda_active_select(dt(score), b, h, w, count, activeRadius, maskRadius, addr(score), addr(active), addr(selected),
                                     addr(picks), addr(pickScore), s()), "active_select");
    }

    @Override
    public void activeReveal(Tensor selected, Tensor gt, Tensor mask, int ignoreIndex) {
        check(hrda_cuda_active_reveal(selected.numel(), addr(selected), addr(gt), ignoreIndex, addr(mask), s()), "active_reveal");
    }

    // ---- GEMM (cuBLAS) ----

    /**
     * Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS is called with A and
     * B swapped and m and n swapped; the transposition flags stay with their matrices and the
     * leading dimensions are the row-major row lengths.
     */
    @Override
    public void gemm(boolean ta, boolean tb, int batch, int m, int n, int k, double alpha,
                     Tensor a, long offA, long strideA, Tensor b, long offB, long strideB,
                     double beta, Tensor c, long offC, long strideC) {
        DType d = c.dtype();
        if (a.dtype() != d || b.dtype() != d) throw new IllegalArgumentException("gemm dtypes differ: " + a + ", " + b + ", " + c);
        if (batch < 0 || m < 0 || n < 0 || k < 0) throw new IllegalArgumentException("gemm: negative size " + batch + "/" + m + "/" + n + "/" + k);
        if (batch == 0 || m == 0 || n == 0) return;
        int lda = Math.max(1, ta ? m : k), ldb = Math.max(1, tb ? k : n), ldc = Math.max(1, n);
        int es = d.bytes;
        Pointer pa = Ptr.raw(addr(a) + offA * es), pb = Ptr.raw(addr(b) + offB * es), pc = Ptr.raw(addr(c) + offC * es);
        int opA = ta ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N, opB = tb ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N;
        cublasContext h = cublas();
        gemmAlpha.put(0, (float) alpha);
        gemmBeta.put(0, (float) beta);
        int st;
        String op;
        if (d == DType.F32) {
            op = "cublasSgemmStridedBatched";
            st = cublas.cublasSgemmStridedBatched(h, opB, opA, n, m, k, gemmAlpha,
                                                  new FloatPointer(pb), ldb, strideB,
                                                  new FloatPointer(pa), lda, strideA,
                                                  gemmBeta, new FloatPointer(pc), ldc, strideC, batch);
        } else if (d == DType.BF16 || d == DType.F16) {
            op = "cublasGemmStridedBatchedEx";
            int type = d == DType.BF16 ? cudart.CUDA_R_16BF : cudart.CUDA_R_16F;
            st = cublas.cublasGemmStridedBatchedEx(h, opB, opA, n, m, k, gemmAlpha,
                                                   pb, type, ldb, strideB,
                                                   pa, type, lda, strideA,
                                                   gemmBeta, pc, type, ldc, strideC, batch,
                                                   cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT);
        } else {
            throw new UnsupportedOperationException("cuda gemm supports f32, bf16 and f16, not " + d
                                                    + " (f64 is computed by the CPU backend only: use --device cpu)");
        }
        checkCublas(st, op, "m=" + m + " n=" + n + " k=" + k + " batch=" + batch + " " + d);
    }

    private static void checkCublas(int st, String op, String what) {
        if (st == cublas.CUBLAS_STATUS_SUCCESS) return;
        String name;
        try {
            name = cublas.cublasGetStatusString(st).getString();
        } catch (Throwable t) {
            name = "status " + st;
        }
        throw new NativeException(op, HRDA_ERR_CUDA, "cuBLAS " + name + " (" + st + ") for " + what);
    }

    private static void checkCudnn(int st, String op, Object what) {
        if (st == cudnn.CUDNN_STATUS_SUCCESS) return;
        throw new NativeException(op, HRDA_ERR_CUDA, "cuDNN " + cudnnStatus(st) + " for " + what);
    }

    private static String cudnnStatus(int st) {
        try {
            return cudnn.cudnnGetErrorString(st).getString() + " (" + st + ")";
        } catch (Throwable t) {
            return "status " + st;
        }
    }

    private CUstream_st streamObj() {
        if (streamObj == null) streamObj = new CUstream_st(Ptr.raw(stream));
        return streamObj;
    }

    private cublasContext cublas() {
        s();
        if (cublasHandle == null) {
            CudaLibs.ensureCublas();
            check(hrda_cuda_set_device(device), "set_device(" + device + ")");
            cublasContext h = new cublasContext();
            int st = cublas.cublasCreate_v2(h);
            if (st != 0) {
                throw new IllegalStateException("cublasCreate failed (status " + st + "): cuBLAS 13 could not initialise on device " + device);
            }
            st = cublas.cublasSetStream_v2(h, streamObj());
            if (st == 0) st = cublas.cublasSetMathMode(h, TF32 ? cublas.CUBLAS_TF32_TENSOR_OP_MATH : cublas.CUBLAS_DEFAULT_MATH);
            if (st != 0) {
                cublas.cublasDestroy_v2(h);
                checkCublas(st, "cublasSetStream/SetMathMode", "device " + device);
            }
            cublasHandle = h;
        }
        return cublasHandle;
    }

    private cudnnContext cudnn() {
        s();
        if (cudnnHandle == null) {
            CudaLibs.ensureCudnn();
            check(hrda_cuda_set_device(device), "set_device(" + device + ")");
            cudnnContext h = new cudnnContext();
            int st = cudnn.cudnnCreate(h);
            if (st != 0) throw new IllegalStateException("cudnnCreate failed: " + cudnnStatus(st) + " on device " + device);
            st = cudnn.cudnnSetStream(h, streamObj());
            if (st != 0) {
                cudnn.cudnnDestroy(h);
                checkCudnn(st, "cudnnSetStream", "device " + device);
            }
            cudnnHandle = h;
        }
        return cudnnHandle;
    }

    // ---- convolution ----
    private record ConvKey(ConvSpec spec, DType dtype) {}

    /** cuDNN descriptors of one (shape, dtype) and the algorithm chosen per direction. */
    private static final class ConvPlan {
        cudnnTensorStruct x, y;
        cudnnFilterStruct w;
        cudnnConvolutionStruct conv;
        final int[] algo = {-1, -1, -1};        // -1: not chosen yet
        final int[] math = new int[3];
        final long[] workspace = new long[3];
        final boolean[] gemm = new boolean[3];  // true: cuDNN cannot do it, use im2col + cuBLAS

        void destroy() {
            if (conv != null) cudnn.cudnnDestroyConvolutionDescriptor(conv);
            if (w != null) cudnn.cudnnDestroyFilterDescriptor(w);
            if (y != null) cudnn.cudnnDestroyTensorDescriptor(y);
            if (x != null) cudnn.cudnnDestroyTensorDescriptor(x);
            conv = null;
            w = null;
            x = y = null;
        }
    }

    private static int cudnnType(DType d) {
        return switch (d) {
            case F32 -> cudnn.CUDNN_DATA_FLOAT;
            case BF16 -> cudnn.CUDNN_DATA_BFLOAT16;
            case F16 -> cudnn.CUDNN_DATA_HALF;
            default -> throw new UnsupportedOperationException("cuda convolution supports f32, bf16 and f16, not " + d
                                                              + " (f64 is computed by the CPU backend only)");
        };
    }

    private int baseMath(DType d) {
        if (d == DType.F32) return TF32 ? cudnn.CUDNN_DEFAULT_MATH : cudnn.CUDNN_FMA_MATH;
        return cudnn.CUDNN_TENSOR_OP_MATH;
    }

    /** Algorithms whose math would lose f32 precision (TF32 tensor cores) are refused for f32. */
    private boolean mathAllowed(DType d, int mathType) {
        if (d != DType.F32 || TF32) return true;
        return mathType != cudnn.CUDNN_TENSOR_OP_MATH && mathType != cudnn.CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
    }

    /** Math type to run an algorithm with: f32 stays FMA (no TF32) unless allowed. */
    private int runMath(DType d, int mathType) {
        return d == DType.F32 && !TF32 ? cudnn.CUDNN_FMA_MATH : mathType;
    }

    private static void warn(String msg) {
        System.err.println("[hrda] warning: " + msg);
    }

    /** The cached plan of (s, d) with descriptors made, or null where cuDNN is off or refuses the shape. */
    private ConvPlan plan(ConvSpec s, DType d) {
        if (!useCudnn) return null;
        ConvKey key = new ConvKey(s, d);
        ConvPlan p = convPlans.get(key);
        if (p != null) return p;
        int type = cudnnType(d);
        cudnn();
        p = new ConvPlan();
        int st = 0;
        String step = "";
        try {
            p.x = new cudnnTensorStruct();
            p.y = new cudnnTensorStruct();
            p.w = new cudnnFilterStruct();
            p.conv = new cudnnConvolutionStruct();
            // create each descriptor; on failure the struct stays null so destroy() skips it
            if ((st = cudnn.cudnnCreateTensorDescriptor(p.x)) != 0) { p.x = null; step = "cudnnCreateTensorDescriptor"; }
            else if ((st = cudnn.cudnnCreateTensorDescriptor(p.y)) != 0) { p.y = null; step = "cudnnCreateTensorDescriptor"; }
            else if ((st = cudnn.cudnnCreateFilterDescriptor(p.w)) != 0) { p.w = null; step = "cudnnCreateFilterDescriptor"; }
            else if ((st = cudnn.cudnnCreateConvolutionDescriptor(p.conv)) != 0) { p.conv = null; step = "cudnnCreateConvolutionDescriptor"; }
            else if ((st = cudnn.cudnnSetTensor4dDescriptor(p.x, cudnn.CUDNN_TENSOR_NCHW, type, s.n(), s.c(), s.h(), s.w())) != 0) step = "cudnnSetTensor4dDescriptor(x)";
            else if ((st = cudnn.cudnnSetTensor4dDescriptor(p.y, cudnn.CUDNN_TENSOR_NCHW, type, s.n(), s.k(), s.outH(), s.outW())) != 0) step = "cudnnSetTensor4dDescriptor(y)";
            else if ((st = cudnn.cudnnSetFilter4dDescriptor(p.w, type, cudnn.CUDNN_TENSOR_NCHW, s.k(), s.c() / s.groups(), s.kh(), s.kw())) != 0) step = "cudnnSetFilter4dDescriptor";
            else if ((st = cudnn.cudnnSetConvolution2dDescriptor(p.conv, s.padH(), s.padW(), s.strideH(), s.strideW(), s.dilH(), s.dilW(),
                                                                 cudnn.CUDNN_CROSS_CORRELATION, cudnn.CUDNN_DATA_FLOAT)) != 0) step = "cudnnSetConvolution2dDescriptor";
            else if ((st = cudnn.cudnnSetConvolutionGroupCount(p.conv, s.groups())) != 0) step = "cudnnSetConvolutionGroupCount";
            else if ((st = cudnn.cudnnSetConvolutionMathType(p.conv, baseMath(d))) != 0) step = "cudnnSetConvolutionMathType";
        } catch (RuntimeException e) {
            p.destroy();
            throw e;
        }
        if (st != 0) {
            p.destroy();
            warn(step + " refused " + s + " " + d + ": " + cudnnStatus(st) + "; using im2col + cuBLAS for it");
            p.gemm[FWD] = p.gemm[BWD_DATA] = p.gemm[BWD_FILTER] = true;
        }
        convPlans.put(key, p);
        return p;
    }

    /** Chooses the algorithm of one direction (heuristics, first that works within the workspace limit). */
    private void choose(ConvPlan p, int dir, ConvSpec s, DType d) {
        if (p.algo[dir] >= 0 || p.gemm[dir]) return;
        cudnnContext h = cudnn();
        final int req = 16;
        int[] count = new int[1];
        int st;
        Pointer perfs;
        if (dir == FWD) {
            cudnnConvolutionFwdAlgoPerf_t r = new cudnnConvolutionFwdAlgoPerf_t(req);
            perfs = r;
            st = cudnn.cudnnGetConvolutionForwardAlgorithm_v7(h, p.x, p.w, p.conv, p.y, req, count, r);
        } else if (dir == BWD_DATA) {
            cudnnConvolutionBwdDataAlgoPerf_t r = new cudnnConvolutionBwdDataAlgoPerf_t(req);
            perfs = r;
            st = cudnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(h, p.w, p.y, p.conv, p.x, req, count, r);
        } else {
            cudnnConvolutionBwdFilterAlgoPerf_t r = new cudnnConvolutionBwdFilterAlgoPerf_t(req);
            perfs = r;
            st = cudnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, p.x, p.y, p.conv, p.w, req, count, r);
        }
        String why = st != 0 ? "heuristics failed: " + cudnnStatus(st) : "no algorithm";
        try (SizeTPointer ws = new SizeTPointer(1)) {
            for (int i = 0; st == 0 && i < Math.min(count[0], req); i++) {
                int status, algo, mathType, determinism;
                if (dir == FWD) {
                    cudnnConvolutionFwdAlgoPerf_t r = ((cudnnConvolutionFwdAlgoPerf_t) perfs).getPointer(i);
                    status = r.status(); algo = r.algo(); mathType = r.mathType(); determinism = r.determinism();
                } else if (dir == BWD_DATA) {
                    cudnnConvolutionBwdDataAlgoPerf_t r = ((cudnnConvolutionBwdDataAlgoPerf_t) perfs).getPointer(i);
                    status = r.status(); algo = r.algo(); mathType = r.mathType(); determinism = r.determinism();
                } else {
                    cudnnConvolutionBwdFilterAlgoPerf_t r = ((cudnnConvolutionBwdFilterAlgoPerf_t) perfs).getPointer(i);
                    status = r.status(); algo = r.algo(); mathType = r.mathType(); determinism = r.determinism();
                }
                if (status != cudnn.CUDNN_STATUS_SUCCESS || !mathAllowed(d, mathType)) continue;
                if (DETERMINISTIC && determinism != cudnn.CUDNN_DETERMINISTIC) { why = "no deterministic algorithm"; continue; }
                int mt = runMath(d, mathType);
                if (cudnn.cudnnSetConvolutionMathType(p.conv, mt) != 0) continue;
                ws.put(0, 0L);
                int wst = dir == FWD ? cudnn.cudnnGetConvolutionForwardWorkspaceSize(h, p.x, p.w, p.conv, p.y, algo, ws)
                        : dir == BWD_DATA ? cudnn.cudnnGetConvolutionBackwardDataWorkspaceSize(h, p.w, p.y, p.conv, p.x, algo, ws)
                        : cudnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(h, p.x, p.y, p.conv, p.w, algo, ws);
                if (wst != 0) { why = "workspace query failed: " + cudnnStatus(wst); continue; }
                if (ws.get(0) > WORKSPACE_LIMIT) { why = "workspace of " + ws.get(0) + " bytes over -Dhrda.cudnn.workspaceLimit"; continue; }
                p.algo[dir] = algo;
                p.math[dir] = mt;
                p.workspace[dir] = ws.get(0);
                return;
            }
        } finally {
            perfs.close();
        }
        warn("cuDNN " + DIRECTION[dir] + " has no usable algorithm for " + s + " " + d + " (" + why + "); using im2col + cuBLAS");
        p.gemm[dir] = true;
    }

    /** Runs one cuDNN convolution call; false where cuDNN reports the configuration unsupported. */
    private boolean runCudnn(ConvSpec s, DType d, int dir, Tensor in1, Tensor in2, Tensor out, boolean accumulate) {
        ConvPlan p = plan(s, d);
        if (p == null || p.gemm[dir]) return false;
        choose(p, dir, s, d);
        if (p.gemm[dir]) return false;
        cudnnContext h = cudnn();
        checkCudnn(cudnn.cudnnSetConvolutionMathType(p.conv, p.math[dir]), "cudnnSetConvolutionMathType", s);
        long wsBytes = p.workspace[dir];
        long ws = wsBytes > 0 ? malloc(wsBytes) : 0L;
        int st;
        String op;
        try {
            Pointer wsPtr = ws == 0 ? null : Ptr.raw(ws);
            FloatPointer beta = accumulate ? one : zero;
            if (dir == FWD) {          // in1 = x, in2 = w, out = y
                op = "cudnnConvolutionForward";
                st = cudnn.cudnnConvolutionForward(h, one, p.x, Ptr.raw(addr(in1)), p.w, Ptr.raw(addr(in2)), p.conv, p.algo[dir],
                                                   wsPtr, wsBytes, beta, p.y, Ptr.raw(addr(out)));
            } else if (dir == BWD_DATA) {  // in1 = dy, in2 = w, out = dx
                op = "cudnnConvolutionBackwardData";
                st = cudnn.cudnnConvolutionBackwardData(h, one, p.w, Ptr.raw(addr(in2)), p.y, Ptr.raw(addr(in1)), p.conv, p.algo[dir],
                                                        wsPtr, wsBytes, beta, p.x, Ptr.raw(addr(out)));
            } else {                   // in1 = x, in2 = dy, out = dw
                op = "cudnnConvolutionBackwardFilter";
                st = cudnn.cudnnConvolutionBackwardFilter(h, one, p.x, Ptr.raw(addr(in1)), p.y, Ptr.raw(addr(in2)), p.conv, p.algo[dir],
                                                          wsPtr, wsBytes, beta, p.w, Ptr.raw(addr(out)));
            }
        } finally {
            if (ws != 0) free(ws, wsBytes);
        }
        if (st / 1000 == cudnn.CUDNN_STATUS_NOT_SUPPORTED / 1000) {  // 3000..3999: not supported
            warn(op + " " + DIRECTION[dir] + " algorithm " + p.algo[dir] + " refused " + s + " " + d + ": " + cudnnStatus(st)
                 + "; using im2col + cuBLAS");
            p.gemm[dir] = true;
            return false;
        }
        checkCudnn(st, op, s + " " + d + " algo " + p.algo[dir]);
        return true;
    }

    private static void sameDtype(String op, Tensor... ts) {
        DType d = ts[0].dtype();
        for (Tensor t : ts) {
            if (t != null && t.dtype() != d) throw new IllegalArgumentException(op + ": dtypes differ: " + t.describe() + " vs " + d);
        }
    }

    @Override
    public void conv2d(ConvSpec s, Tensor x, Tensor w, Tensor bias, Tensor y) {
        sameDtype("conv2d", x, w, y, bias);
        if (s.depthwise()) {
            check(hrda_cuda_dwconv_forward(dt(x), s.n(), s.c(), s.h(), s.w(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                                           s.padH(), s.padW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                           addr(x), addr(w), addr(bias), addr(y), s()), "dwconv_forward");
            return;
        }
        if (!runCudnn(s, x.dtype(), FWD, x, w, y, false)) gemmConv.forward(s, x, w, y);
        if (bias != null) addBias(y, bias, s.n(), s.k(), (long) s.outH() * s.outW());
    }

    @Override
    public void conv2dBackwardData(ConvSpec s, Tensor dy, Tensor w, Tensor dx, boolean acc) {
        sameDtype("conv2dBackwardData", dy, w, dx);
        if (s.depthwise()) {
            check(hrda_cuda_dwconv_backward_data(dt(dy), s.n(), s.c(), s.h(), s.w(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                                                 s.padH(), s.padW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                                 addr(dy), addr(w), addr(dx), acc(acc), s()), "dwconv_backward_data");
            return;
        }
        if (!runCudnn(s, dy.dtype(), BWD_DATA, dy, w, dx, acc)) gemmConv.backwardData(s, dy, w, dx, acc);
    }

    @Override
    public void conv2dBackwardWeight(ConvSpec s, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
        sameDtype("conv2dBackwardWeight", x, dy, dw, dbias);
        if (s.depthwise()) {
            check(hrda_cuda_dwconv_backward_weight(dt(x), s.n(), s.c(), s.h(), s.w(), s.kh(), s.kw(), s.strideH(), s.strideW(),
                                                   s.padH(), s.padW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                                   addr(x), addr(dy), addr(dw), addr(dbias), s()), "dwconv_backward_weight");
            return;
        }
        if (!runCudnn(s, x.dtype(), BWD_FILTER, x, dy, dw, true)) gemmConv.backwardWeight(s, x, dy, dw);
        if (dbias != null) channelSum(dy, dbias, s.n(), s.k(), (long) s.outH() * s.outW(), true);
    }

    // ---- convolution as im2col + cuBLAS (fallback; CpuBackend's routine, Im2colConv) ----
    private final Im2colConv gemmConv = new Im2colConv(this,
        (d, c, h, w, kh, kw, ph, pw, sh, sw, dh, dw, ho, wo, x, col) ->
            hrda_cuda_im2col(d, c, h, w, kh, kw, ph, pw, sh, sw, dh, dw, ho, wo, x, col, s()),
        (d, c, h, w, kh, kw, ph, pw, sh, sw, dh, dw, ho, wo, col, x, acc) ->
            hrda_cuda_col2im(d, c, h, w, kh, kw, ph, pw, sh, sw, dh, dw, ho, wo, col, x, acc, s()),
        CudaBackend::check);

    // ---- optimizer ----
    @Override
    public void adamw(List<Tensor> params, List<Tensor> grads, List<Tensor> m, List<Tensor> v,
                      float[] lr, float[] wd, float beta1, float beta2, float eps, long step) {
        int n = params.size();
        if (n == 0) return;
        if (grads.size() != n || m.size() != n || v.size() != n || lr.length < n || wd.length < n) {
            throw new IllegalArgumentException("adamw: list sizes differ (" + n + " params, " + grads.size() + " grads, "
                                               + m.size() + "/" + v.size() + " moments, " + lr.length + " lr, " + wd.length + " wd)");
        }
        check(hrda_cuda_adamw_step(dt(params.get(0)), n, TensorLists.addresses(params), TensorLists.addresses(grads),
                                   TensorLists.addresses(m), TensorLists.addresses(v), TensorLists.sizes(params),
                                   lr, wd, beta1, beta2, eps, step, s()), "adamw_step");
    }

    @Override
    public void ema(List<Tensor> ema, List<Tensor> params, float alpha) {
        if (params.isEmpty()) return;
        if (ema.size() != params.size()) throw new IllegalArgumentException("ema: " + ema.size() + " ema tensors for " + params.size() + " params");
        check(hrda_cuda_ema_update(dt(params.get(0)), params.size(), TensorLists.addresses(ema), TensorLists.addresses(params),
                                   TensorLists.sizes(params), alpha, s()), "ema_update");
    }

    // ---- lifetime ----
    @Override
    public void close() {
        if (closed) return;
        RuntimeException first = null;
        try {
            check(hrda_cuda_stream_sync(stream), "close (stream sync)");
        } catch (RuntimeException e) {
            first = e;
        }
        for (ConvPlan p : convPlans.values()) p.destroy();
        convPlans.clear();
        if (cudnnHandle != null) {
            cudnn.cudnnDestroy(cudnnHandle);
            cudnnHandle = null;
        }
        if (cublasHandle != null) {
            cublas.cublasDestroy_v2(cublasHandle);
            cublasHandle = null;
        }
        if (badLabels != 0) {
            hrda_cuda_free(badLabels, stream);
            badLabels = 0;
        }
        hrda_cuda_stream_sync(stream);
        int rc = hrda_cuda_stream_destroy(stream);
        if (rc != 0 && first == null) first = new NativeException("stream_destroy", rc, hrda_cuda_last_error().getString());
        stream = 0;
        closed = true;
        streamObj = null;
        gemmAlpha.close();
        gemmBeta.close();
        one.close();
        zero.close();
        hostInt.close();
        if (first != null) throw first;
    }

    // ---- loading cuBLAS and cuDNN ----

    /**
     * Loads the cuBLAS and cuDNN presets once per JVM. Before JavaCPP loads its JNI wrappers
     * (whose NEEDED entries are libcublas.so.13 / libcudnn*.so.9), the libraries are looked up in
     * {@code -Dhrda.cuda.libpath}, LD_LIBRARY_PATH, CUDA_HOME, /usr/local/cuda*, the pip wheel
     * layouts (site-packages/nvidia/{cu13,cublas,cudnn}/lib) and the system library directories,
     * and loaded by absolute path: the dynamic linker then resolves the wrappers' dependencies
     * by soname to these already-loaded copies.
     */
    static final class CudaLibs {
        private static boolean cublasLoaded, cudnnLoaded;
        private static String cublasError, cudnnError;

        private static final String[] CUBLAS_LIBS = {"libcublasLt.so.13", "libcublas.so.13"};
        private static final String[] CUDNN_LIBS = {
            "libcudnn_graph.so.9", "libcudnn_engines_precompiled.so.9", "libcudnn_engines_runtime_compiled.so.9",
            "libcudnn_heuristic.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9", "libcudnn_adv.so.9", "libcudnn.so.9"};
        private static final String[] PIP_SUBDIRS = {
            "nvidia/cu13/lib", "nvidia/cublas/lib", "nvidia/cudnn/lib", "nvidia/cuda_runtime/lib", "nvidia/cuda_nvrtc/lib",
            "nvidia/nvjitlink/lib"};

        private CudaLibs() {}

        static synchronized void ensureCublas() {
            if (cublasLoaded) return;
            if (cublasError != null) throw new IllegalStateException(cublasError);
            List<Path> dirs = searchDirs();
            List<String> loaded = preload(dirs, CUBLAS_LIBS, "libcublas.so.13");
            try {
                Loader.load(cublas.class);
                cublasLoaded = true;
            } catch (Throwable t) {
                cublasError = "cannot load cuBLAS for CUDA 13 (libcublas.so.13, libcublasLt.so.13): " + rootMessage(t)
                              + where(dirs, loaded) + ". Install cuBLAS 13 (pip install nvidia-cublas, or the CUDA 13 toolkit)"
                              + " and put its lib directory on LD_LIBRARY_PATH or pass -Dhrda.cuda.libpath=DIR";
                throw new IllegalStateException(cublasError, t);
            }
        }

        static synchronized void ensureCudnn() {
            if (cudnnLoaded) return;
            if (cudnnError != null) throw new IllegalStateException(cudnnError);
            try {
                ensureCublas();  // the cuDNN preset inherits the cuBLAS one
            } catch (IllegalStateException e) {
                cudnnError = "cannot load cuDNN because cuBLAS is missing: " + e.getMessage();
                throw new IllegalStateException(cudnnError, e);
            }
            List<Path> dirs = cuda12WheelsLast(searchDirs());
            List<String> loaded = preload(dirs, CUDNN_LIBS, "libcudnn.so.9");
            try {
                Loader.load(cudnn.class);
                cudnnLoaded = true;
            } catch (Throwable t) {
                cudnnError = "cannot load cuDNN 9 (libcudnn.so.9 and its sub-libraries libcudnn_{graph,ops,cnn,...}.so.9): "
                             + rootMessage(t) + where(dirs, loaded)
                             + ". Install cuDNN 9 for CUDA 13 (pip install nvidia-cudnn-cu13, or the system package) and put its lib"
                             + " directory on LD_LIBRARY_PATH or pass -Dhrda.cuda.libpath=DIR; or run convolutions without cuDNN"
                             + " (im2col + cuBLAS) with -Dhrda.cudnn=false";
                throw new IllegalStateException(cudnnError, t);
            }
        }

        private static String rootMessage(Throwable t) {
            Throwable r = t;
            while (r.getCause() != null && r.getCause() != r) r = r.getCause();
            String m = r.getMessage() != null ? r.getMessage() : r.toString();
            return r == t ? m : t.getClass().getSimpleName() + ": " + m;
        }

        private static String where(List<Path> dirs, List<String> loaded) {
            return "; searched -Dhrda.cuda.libpath, LD_LIBRARY_PATH=" + System.getenv("LD_LIBRARY_PATH")
                   + ", CUDA_HOME, /usr/local/cuda*/lib64, pip site-packages nvidia/*/lib and system lib dirs (existing: "
                   + dirs + ")" + (loaded.isEmpty() ? "" : "; loaded " + loaded);
        }

        /**
         * Loads each library, preferring the first directory that holds {@code primary} (so that one
         * family comes from one install), else the first directory holding it; returns what was
         * loaded or failed.
         */
        private static List<String> preload(List<Path> dirs, String[] libs, String primary) {
            List<Path> order = new ArrayList<>(dirs);
            for (Path d : dirs) {
                if (Files.isRegularFile(d.resolve(primary))) {
                    order.remove(d);
                    order.add(0, d);
                    break;
                }
            }
            List<String> notes = new ArrayList<>();
            for (String lib : libs) {
                for (Path d : order) {
                    Path f = d.resolve(lib);
                    if (!Files.isRegularFile(f)) continue;  // follows symlinks
                    try {
                        System.load(f.toAbsolutePath().toString());
                        notes.add(f.toString());
                        break;
                    } catch (Throwable t) {
                        notes.add(f + " (failed: " + t.getMessage() + ")");
                    }
                }
            }
            return notes;
        }

        /**
         * libcudnn.so.9 exists for CUDA 12 and CUDA 13; a pip nvidia/cudnn/lib installed by
         * nvidia-cudnn-cu12 only (no nvidia_cudnn_cu13 dist-info beside it) goes last.
         */
        private static List<Path> cuda12WheelsLast(List<Path> dirs) {
            List<Path> first = new ArrayList<>(), last = new ArrayList<>();
            for (Path d : dirs) {
                boolean cu12Only = false;
                if (d.endsWith(Paths.get("nvidia", "cudnn", "lib")) && d.getParent().getParent().getParent() != null) {
                    Path sp = d.getParent().getParent().getParent();
                    boolean cu12 = false, cu13 = false;
                    try (Stream<Path> ls = Files.list(sp)) {
                        for (Path e : (Iterable<Path>) ls::iterator) {
                            String n = e.getFileName().toString();
                            cu12 |= n.startsWith("nvidia_cudnn_cu12");
                            cu13 |= n.startsWith("nvidia_cudnn_cu13");
                        }
                    } catch (Exception ignored) {
                        // unreadable: keep its place
                    }
                    cu12Only = cu12 && !cu13;
                }
                (cu12Only ? last : first).add(d);
            }
            first.addAll(last);
            return first;
        }

        static List<Path> searchDirs() {
            LinkedHashSet<Path> dirs = new LinkedHashSet<>();
            addPathList(dirs, System.getProperty("hrda.cuda.libpath"));
            addPathList(dirs, System.getenv("LD_LIBRARY_PATH"));
            for (String env : new String[] {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"}) {
                String v = System.getenv(env);
                if (v == null || v.isBlank()) continue;
                dirs.add(Paths.get(v, "lib64"));
                dirs.add(Paths.get(v, "lib"));
                dirs.add(Paths.get(v, "targets", "x86_64-linux", "lib"));
            }
            for (String d : new String[] {"/usr/local/cuda/lib64", "/usr/local/cuda-13.0/lib64", "/usr/local/cuda-13/lib64",
                                          "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda-13.0/targets/x86_64-linux/lib"}) {
                dirs.add(Paths.get(d));
            }
            for (Path sp : sitePackages()) {
                for (String sub : PIP_SUBDIRS) dirs.add(sp.resolve(sub));
            }
            for (String d : new String[] {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/lib/x86_64-linux-gnu", "/usr/local/lib"}) {
                dirs.add(Paths.get(d));
            }
            List<Path> out = new ArrayList<>();
            for (Path p : dirs) {
                if (Files.isDirectory(p)) out.add(p);
            }
            return out;
        }

        private static void addPathList(LinkedHashSet<Path> dirs, String list) {
            if (list == null) return;
            for (String s : list.split(File.pathSeparator)) {
                if (!s.isBlank()) dirs.add(Paths.get(s.trim()));
            }
        }

        /** site-packages / dist-packages of the usual Python environments (venvs, conda, system, user). */
        private static List<Path> sitePackages() {
            LinkedHashSet<Path> roots = new LinkedHashSet<>();
            for (String env : new String[] {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
                String v = System.getenv(env);
                if (v != null && !v.isBlank()) roots.add(Paths.get(v));
            }
            roots.add(Paths.get("/opt/torch/.venv"));
            roots.add(Paths.get("/opt/conda"));
            roots.add(Paths.get("/opt/venv"));
            roots.add(Paths.get("/usr/local"));
            roots.add(Paths.get("/usr"));
            roots.add(Paths.get(System.getProperty("user.home", "/root"), ".local"));
            try (Stream<Path> opt = Files.list(Paths.get("/opt"))) {
                opt.filter(Files::isDirectory).forEach(p -> {
                    roots.add(p);
                    roots.add(p.resolve(".venv"));
                    roots.add(p.resolve("venv"));
                });
            } catch (Exception ignored) {
                // no /opt
            }
            List<Path> out = new ArrayList<>();
            out.add(Paths.get("/usr/lib/python3/dist-packages"));
            for (Path root : roots) {
                Path lib = root.resolve("lib");
                if (!Files.isDirectory(lib)) continue;
                try (Stream<Path> ls = Files.list(lib)) {
                    ls.filter(p -> p.getFileName().toString().startsWith("python3")).sorted().forEach(py -> {
                        out.add(py.resolve("site-packages"));
                        out.add(py.resolve("dist-packages"));
                    });
                } catch (Exception ignored) {
                    // unreadable
                }
            }
            out.removeIf(p -> !Files.isDirectory(p));
            return out;
        }
    }
}
