/* Softmax over the middle axis of [outer, C, inner] (channels of NCHW maps: inner = H*W;
 * last axis of tokens: inner = 1) and the segmentation cross-entropy. */
#ifndef HRDA_SOFTMAX_H
#define HRDA_SOFTMAX_H
#include "common.h"

HRDA_OP(softmax_forward, int dtype, long outer, long C, long inner, const void* x, void* y)
/* dx (+)= y * (dy - sum_c(dy*y)) */
HRDA_OP(softmax_backward, int dtype, long outer, long C, long inner, const void* y, const void* dy,
        void* dx, int accumulate)

/* Per-pixel cross-entropy of logits [N, C, HW] against int32 labels [N, HW]:
 * loss[n,p] = weight[n,p] * -log softmax(logits[n,:,p])[label], 0 where label == ignore_index.
 * weight may be NULL (1). Labels outside [0, C) other than ignore_index are an error: the
 * CPU library reports the first one; the CUDA library counts them into bad_labels[0] (an
 * int32 on the device, may be NULL) and treats them as ignored. */
HRDA_OP(cross_entropy_forward, int dtype, long N, long C, long HW, const void* logits,
        const int* labels, const void* weight, int ignore_index, void* loss, int* bad_labels)
/* dlogits (+)= grad_scale * weight * (softmax - onehot(label)), 0 on ignored pixels.
 * For a mean over all N*HW pixels (mmseg 0.16), grad_scale = dL/dmean / (N*HW). */
HRDA_OP(cross_entropy_backward, int dtype, long N, long C, long HW, const void* logits,
        const int* labels, const void* weight, int ignore_index, double grad_scale, void* dlogits,
        int accumulate)

#endif
