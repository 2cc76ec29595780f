package dev.hrda.backend;

import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;

/**
 * Dense and grouped convolution as im2col + GEMM, one GEMM per image and group; 1x1 convolutions
 * with stride 1 and no padding skip im2col (one batched GEMM per group). {@link CpuBackend}
 * computes every dense convolution this way, {@link CudaBackend} where cuDNN is off or has no
 * algorithm for a shape. The backend supplies its GEMM ({@link Backend#gemm}), its im2col/col2im
 * kernels (the CUDA ones with the stream bound) and its status check.
 */
final class Im2colConv {
    /** hrda_{cpu,cuda}_im2col: col [C*KH*KW, Ho*Wo] = the patches of the C channels at x. */
    @FunctionalInterface
    interface Im2col {
        int call(int dtype, long C, long H, long W, long KH, long KW, long ph, long pw, long sh, long sw,
                 long dh, long dw, long Ho, long Wo, long x, long col);
    }

    /** hrda_{cpu,cuda}_col2im: x (+)= col's patches scattered back. */
    @FunctionalInterface
    interface Col2im {
        int call(int dtype, long C, long H, long W, long KH, long KW, long ph, long pw, long sh, long sw,
                 long dh, long dw, long Ho, long Wo, long col, long x, int accumulate);
    }

    /** The backend's status check (throws with the library's message). */
    @FunctionalInterface
    interface Check {
        void check(int rc, String op);
    }

    private final Backend be;
    private final Im2col im2col;
    private final Col2im col2im;
    private final Check check;

    Im2colConv(Backend be, Im2col im2col, Col2im col2im, Check check) {
        this.be = be;
        this.im2col = im2col;
        this.col2im = col2im;
        this.check = check;
    }

    /** col = im2col of the c/groups channels of x starting at element xOff. */
    private void im2col(ConvSpec s, Tensor x, long xOff, Tensor col) {
        check.check(im2col.call(x.dtype().code, s.c() / s.groups(), s.h(), s.w(), s.kh(), s.kw(), s.padH(), s.padW(),
                                s.strideH(), s.strideW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                x.address() + xOff * x.dtype().bytes, col.address()), "im2col");
    }

    /** dx from element xOff (+)= col2im(col). */
    private void col2im(ConvSpec s, Tensor col, Tensor dx, long xOff, boolean acc) {
        check.check(col2im.call(col.dtype().code, s.c() / s.groups(), s.h(), s.w(), s.kh(), s.kw(), s.padH(), s.padW(),
                                s.strideH(), s.strideW(), s.dilH(), s.dilW(), s.outH(), s.outW(),
                                col.address(), dx.address() + xOff * dx.dtype().bytes, acc ? 1 : 0), "col2im");
    }

    static boolean pointwise(ConvSpec s) {
        return s.kh() == 1 && s.kw() == 1 && s.strideH() == 1 && s.strideW() == 1 && s.padH() == 0 && s.padW() == 0;
    }

    private Tensor colBuffer(ConvSpec s, DType d) {
        int cg = s.c() / s.groups();
        return Tensor.empty(be, d, cg * s.kh() * s.kw(), s.outH() * s.outW());
    }

    /** y = conv(x, w), no bias. */
    void forward(ConvSpec s, Tensor x, Tensor w, Tensor y) {
        int g = s.groups(), cg = s.c() / g, kg = s.k() / g, hw = s.outH() * s.outW(), ckk = cg * s.kh() * s.kw();
        long inImg = (long) s.c() * s.h() * s.w(), outImg = (long) s.k() * hw;
        if (pointwise(s)) {  // one batched GEMM per group over the images
            for (int gi = 0; gi < g; gi++) {
                be.gemm(false, false, s.n(), kg, hw, ckk, 1.0, w, (long) gi * kg * ckk, 0,
                        x, (long) gi * cg * s.h() * s.w(), inImg, 0.0, y, (long) gi * kg * hw, outImg);
            }
            return;
        }
        try (Tensor col = colBuffer(s, x.dtype())) {
            for (int n = 0; n < s.n(); n++) {
                for (int gi = 0; gi < g; gi++) {
                    im2col(s, x, n * inImg + (long) gi * cg * s.h() * s.w(), col);
                    be.gemm(false, false, 1, kg, hw, ckk, 1.0, w, (long) gi * kg * ckk, 0, col, 0, 0,
                            0.0, y, n * outImg + (long) gi * kg * hw, 0);
                }
            }
        }
    }

    /** dx (+)= conv^T(dy, w). */
    void backwardData(ConvSpec s, Tensor dy, Tensor w, Tensor dx, boolean acc) {
        int g = s.groups(), cg = s.c() / g, kg = s.k() / g, hw = s.outH() * s.outW(), ckk = cg * s.kh() * s.kw();
        long inImg = (long) s.c() * s.h() * s.w(), outImg = (long) s.k() * hw;
        if (pointwise(s)) {  // dx_g (+)= W_g^T dy_g directly
            for (int gi = 0; gi < g; gi++) {
                be.gemm(true, false, s.n(), ckk, hw, kg, 1.0, w, (long) gi * kg * ckk, 0, dy, (long) gi * kg * hw, outImg,
                        acc ? 1.0 : 0.0, dx, (long) gi * cg * s.h() * s.w(), inImg);
            }
            return;
        }
        try (Tensor col = colBuffer(s, dy.dtype())) {
            for (int n = 0; n < s.n(); n++) {
                for (int gi = 0; gi < g; gi++) {
                    be.gemm(true, false, 1, ckk, hw, kg, 1.0, w, (long) gi * kg * ckk, 0, dy, n * outImg + (long) gi * kg * hw, 0,
                            0.0, col, 0, 0);
                    col2im(s, col, dx, n * inImg + (long) gi * cg * s.h() * s.w(), acc);
                }
            }
        }
    }

    /** dw += the weight gradient (no bias gradient). */
    void backwardWeight(ConvSpec s, Tensor x, Tensor dy, Tensor dw) {
        int g = s.groups(), cg = s.c() / g, kg = s.k() / g, hw = s.outH() * s.outW(), ckk = cg * s.kh() * s.kw();
        long inImg = (long) s.c() * s.h() * s.w(), outImg = (long) s.k() * hw;
        try (Tensor col = pointwise(s) ? null : colBuffer(s, x.dtype())) {
            for (int n = 0; n < s.n(); n++) {
                for (int gi = 0; gi < g; gi++) {
                    long xOff = n * inImg + (long) gi * cg * s.h() * s.w();
                    Tensor bMat = x;
                    long bOff = xOff;
                    if (col != null) {
                        im2col(s, x, xOff, col);
                        bMat = col;
                        bOff = 0;
                    }
                    // dW_g [kg, ckk] += dy_g [kg, hw] * col^T [hw, ckk]
                    be.gemm(false, true, 1, kg, ckk, hw, 1.0, dy, n * outImg + (long) gi * kg * hw, 0, bMat, bOff, 0,
                            1.0, dw, (long) gi * kg * ckk, 0);
                }
            }
        }
    }
}
