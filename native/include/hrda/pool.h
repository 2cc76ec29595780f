/* Max pooling as torch.nn.functional.max_pool2d (ResNet's stem: 3x3, stride 2, padding 1), on
 * planes [NC, H, W]: out [NC, Ho, Wo] with Ho = (H + 2*pad - k) / stride + 1 (floor mode).
 * Padding is -inf (a window never takes a padded value). The forward records the arg-max of
 * each window as an int32 index into its input plane (the first maximum in row-major window
 * order, as PyTorch's CPU kernel: a later equal value does not replace it; NaN wins), which the
 * backward routes the gradient to: dx (+)= sum over the windows whose arg-max is that input. */
#ifndef HRDA_POOL_H
#define HRDA_POOL_H
#include "common.h"

HRDA_OP(max_pool2d_forward, int dtype, long NC, long H, long W, long Ho, long Wo, long kernel, long stride, long pad,
        const void* x, void* y, void* argmax)
HRDA_OP(max_pool2d_backward, int dtype, long NC, long H, long W, long Ho, long Wo, long kernel, long stride, long pad,
        const void* dy, const void* argmax, void* dx, int accumulate)

#endif
