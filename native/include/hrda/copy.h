/* Data movement: one box copy serves concat/split along channels, crop and insert, and each
 * other's backward. */
#ifndef HRDA_COPY_H
#define HRDA_COPY_H
#include "common.h"

/* For n < N, c < Cc, h < Hc, w < Wc:
 *   dst[n, cd+c, hd+h, wd+w] (+)= src[n, cs+c, hs+h, ws+w]
 * with src of shape [N, Cs, Hs, Ws] and dst of shape [N, Cd, Hd, Wd]. */
HRDA_OP(copy_box, int dtype, long N,
        const void* src, long Cs, long Hs, long Ws, long cs, long hs, long ws,
        void* dst, long Cd, long Hd, long Wd, long cd, long hd, long wd,
        long Cc, long Hc, long Wc, int accumulate)
/* y[b, c, r] (+)= x[b, r, c]; x is [batch, rows, cols]. NCHW -> NHWC is rows = C, cols = H*W. */
HRDA_OP(transpose, int dtype, long batch, long rows, long cols, const void* x, void* y, int accumulate)

#endif
