/* HRDA scale-attention fusion (hrda_head.py), one pass each way.
 *   lr_seg [B, K, h, w]    context logits at LR output resolution
 *   att    [B, K, h, w]    scale attention (sigmoid already applied)
 *   hr_seg [B, K, hh, ww]  detail logits, placed at rows top..top+hh-1, cols left..left+ww-1 of the
 *                          fused grid [B, K, 2h, 2w] (top, left, hh, ww even; the box must fit)
 *   attm  = att * mask, mask = 1 on LR rows [top/2, (top+hh)/2) x cols [left/2, (left+ww)/2)
 *   fused = up2(attm) * hr_ins + up2((1 - attm) * lr)
 * up2: bilinear x2, align_corners=False (resize_bilinear_forward with scale 0.5); hr_ins: zeros
 * with hr inserted at the box. Inference: hh = 2h, ww = 2w, top = left = 0. */
#ifndef HRDA_FUSION_H
#define HRDA_FUSION_H
#include "common.h"

HRDA_OP(hrda_fuse_forward, int dtype, long B, long K, long h, long w, long hh, long ww, long top, long left,
        const void* lr_seg, const void* att, const void* hr_seg, void* fused)
/* dlr_seg, datt (zero outside the mask), dhr_seg from dfused; each may be NULL (not needed);
 * accumulate_*: 0 overwrites, 1 adds. */
HRDA_OP(hrda_fuse_backward, int dtype, long B, long K, long h, long w, long hh, long ww, long top, long left,
        const void* lr_seg, const void* att, const void* hr_seg, const void* dfused,
        void* dlr_seg, void* datt, void* dhr_seg, int accumulate_dlr, int accumulate_datt, int accumulate_dhr)

#endif
