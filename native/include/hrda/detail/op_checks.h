/* Argument checks shared by the CPU twin and the CUDA kernels of an op (internal: not part of
 * the ABI, not read by tools/gen_bindings.py). HRDA_CHECK (return HRDA_ERR_ARGUMENT with a
 * message) comes from errors.h, which each library includes first; the macros use the entry
 * points' argument names. */
#ifndef HRDA_DETAIL_OP_CHECKS_H
#define HRDA_DETAIL_OP_CHECKS_H
#include <cmath>

/* conv.h: positive sizes, strides and dilations, non-negative padding, and an output size that
 * matches the input, kernel, stride, padding and dilation */
#define HRDA_CONV_CHECKS(name)                                                                      \
  HRDA_CHECK(C > 0 && H > 0 && W > 0 && KH > 0 && KW > 0 && Ho > 0 && Wo > 0,                      \
             name ": sizes must be positive (C %ld, H %ld, W %ld, K %ldx%ld, out %ldx%ld)", C, H, W, KH, KW, Ho, Wo); \
  HRDA_CHECK(sh > 0 && sw > 0 && dh > 0 && dw > 0 && ph >= 0 && pw >= 0,                           \
             name ": stride %ldx%ld, dilation %ldx%ld must be positive, padding %ldx%ld non-negative", sh, sw, dh, dw, ph, pw); \
  HRDA_CHECK(Ho == (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1 && Wo == (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1, \
             name ": output %ldx%ld does not match input %ldx%ld with this kernel/stride/padding/dilation", Ho, Wo, H, W)

/* attention.h */
#define HRDA_ATTENTION_CHECKS(name)                                                                      \
  HRDA_CHECK(B >= 0 && N >= 0, name ": sizes B = %ld and N = %ld must not be negative", B, N);           \
  HRDA_CHECK(M >= 1, name ": M (keys) = %ld must be at least 1", M);                                     \
  HRDA_CHECK(H >= 1 && D >= 1, name ": heads H = %ld and head dim D = %ld must be positive", H, D);      \
  HRDA_CHECK(std::isfinite(scale), name ": scale %g is not finite", (double)scale)

/* fusion.h: the box must sit on even coordinates inside the fused grid [2h, 2w] */
#define HRDA_FUSION_CHECKS(name)                                                                             \
  HRDA_CHECK(B >= 0 && K >= 0, name ": sizes B = %ld and K = %ld must not be negative", B, K);               \
  HRDA_CHECK(h >= 1 && w >= 1, name ": LR size h x w = %ld x %ld must be positive", h, w);                   \
  HRDA_CHECK(hh >= 2 && ww >= 2 && hh % 2 == 0 && ww % 2 == 0,                                               \
             name ": HR size hh x ww = %ld x %ld must be even and positive", hh, ww);                       \
  HRDA_CHECK(top >= 0 && left >= 0 && top % 2 == 0 && left % 2 == 0,                                         \
             name ": box corner (top %ld, left %ld) must be even and not negative", top, left);             \
  HRDA_CHECK(top + hh <= 2 * h && left + ww <= 2 * w,                                                        \
             name ": HR box rows %ld..%ld, cols %ld..%ld does not fit the fused grid %ld x %ld",             \
             top, top + hh, left, left + ww, 2 * h, 2 * w)

#endif
