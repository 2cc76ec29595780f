/* Argument checks shared by the CPU twin and the CUDA kernels of the fused ops (internal: not
 * part of the ABI, not read by tools/gen_bindings.py). Each library defines HRDA_CHECK (return
 * HRDA_ERR_ARGUMENT with a message) before including this file; the macros use the entry
 * points' argument names. */
#ifndef HRDA_DETAIL_OP_CHECKS_H
#define HRDA_DETAIL_OP_CHECKS_H
#include <cmath>

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
