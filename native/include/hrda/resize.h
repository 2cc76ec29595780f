/* Resizing as torch.nn.functional.interpolate does it, on planes [NC, H, W].
 * Bilinear uses align_corners=False: src = max(0, scale*(dst+0.5) - 0.5) where scale is
 * in/out (pass 1/scale_factor when the caller gave a scale factor, as PyTorch does). */
#ifndef HRDA_RESIZE_H
#define HRDA_RESIZE_H
#include "common.h"

HRDA_OP(resize_bilinear_forward, int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
        float scale_h, float scale_w, const void* x, void* y)
/* dx (+)= adjoint of the forward applied to dy */
HRDA_OP(resize_bilinear_backward, int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
        float scale_h, float scale_w, const void* dy, void* dx, int accumulate)
/* Nearest (PyTorch 'nearest': src = min(floor(dst*scale), in-1)), for label maps (u8, i32) and
 * any other dtype */
HRDA_OP(resize_nearest, int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
        float scale_h, float scale_w, const void* x, void* y)

#endif
