/* Convolution helpers. Dense and grouped convs are im2col + GEMM (GEMM from OpenBLAS on the CPU,
 * cuBLAS/cuDNN on CUDA); depthwise convs (groups == C) have direct kernels. */
#ifndef HRDA_CONV_H
#define HRDA_CONV_H
#include "common.h"

/* x: one image [C, H, W] -> col [C*KH*KW, Ho*Wo] (zero padding) */
HRDA_OP(im2col, int dtype, long C, long H, long W, long KH, long KW, long ph, long pw,
        long sh, long sw, long dh, long dw, long Ho, long Wo, const void* x, void* col)
/* adjoint: x (+)= col2im(col) */
HRDA_OP(col2im, int dtype, long C, long H, long W, long KH, long KW, long ph, long pw,
        long sh, long sw, long dh, long dw, long Ho, long Wo, const void* col, void* x, int accumulate)

/* Depthwise conv: x [N, C, H, W], w [C, 1, KH, KW], bias [C] or NULL -> y [N, C, Ho, Wo] */
HRDA_OP(dwconv_forward, int dtype, long N, long C, long H, long W, long KH, long KW,
        long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
        const void* x, const void* w, const void* bias, void* y)
HRDA_OP(dwconv_backward_data, int dtype, long N, long C, long H, long W, long KH, long KW,
        long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
        const void* dy, const void* w, void* dx, int accumulate)
/* dweight += ..., dbias += ... (dbias may be NULL) */
HRDA_OP(dwconv_backward_weight, int dtype, long N, long C, long H, long W, long KH, long KW,
        long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
        const void* x, const void* dy, void* dweight, void* dbias)

#endif
