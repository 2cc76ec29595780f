/* Elementwise ops, activations, dropout, broadcasts and reductions. n = number of elements. */
#ifndef HRDA_ELEMENTWISE_H
#define HRDA_ELEMENTWISE_H
#include "common.h"

/* y[i] = value */
HRDA_OP(fill, int dtype, long n, double value, void* y)
/* out = alpha*x + beta*y (y may be NULL, meaning 0); out may alias x or y */
HRDA_OP(axpby, int dtype, long n, double alpha, const void* x, double beta, const void* y, void* out)
/* out = (accumulate ? out : 0) + a*b */
HRDA_OP(mul, int dtype, long n, const void* a, const void* b, void* out, int accumulate)
/* y[o,c,i] += bias[c] for y of shape [outer, C, inner] */
HRDA_OP(add_bias, int dtype, long outer, long C, long inner, void* y, const void* bias)
/* out[c] (+)= sum over o,i of x[o,c,i] */
HRDA_OP(channel_sum, int dtype, long outer, long C, long inner, const void* x, void* out, int accumulate)
/* out[0] = sum of x (one element of dtype; accumulated in double on CPU) */
HRDA_OP(sum, int dtype, long n, const void* x, void* out)
/* y = act(x), kind = hrda_activation. GELU is the erf form. */
HRDA_OP(activation_forward, int dtype, int kind, long n, const void* x, void* y)
/* dx (+)= dy * act'(x); sigmoid uses y (its output), relu and gelu use x */
HRDA_OP(activation_backward, int dtype, int kind, long n, const void* x, const void* y,
        const void* dy, void* dx, int accumulate)
/* Inverted dropout with a shared keep decision per group of `group` consecutive elements:
 * group 1 = dropout, H*W = dropout2d (NCHW), per-sample size = drop-path.
 * keep(i) = hrda_uniform(seed, i / group) >= p; y (+)= keep ? x / (1-p) : 0.
 * The backward pass is the same call on dy with the same seed. */
HRDA_OP(dropout, int dtype, long n, long group, float p, unsigned long long seed,
        const void* x, void* y, int accumulate)
/* y = convert(x) between any two of f32, f64, bf16, f16, i32, u8 (round to nearest even) */
HRDA_OP(convert, int src_dtype, int dst_dtype, long n, const void* x, void* y)

#endif
