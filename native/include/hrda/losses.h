/* Fused training losses of DAFormer/HRDA: the decode head's segmentation loss at label resolution
 * and DAFormer's masked ImageNet feature distance. Both reduce to a scalar in a fixed order
 * (per-row or per-block partial sums, then one fixed-order sum; no float atomics), so a run is
 * bit-for-bit repeatable on a given device. Scalars are f64 for f64 data and f32 otherwise
 * (also for bf16/f16 data on CUDA); counts are int32. docs/losses.md has the derivations. */
#ifndef HRDA_LOSSES_H
#define HRDA_LOSSES_H
#include "common.h"

/* Segmentation cross-entropy of mmseg 0.16's decode head (BaseDecodeHead.losses) as DAFormer and
 * HRDA use it, without materialising the upsampled logits:
 *   up      = bilinear resize of logits [N, C, h, w] to [N, C, H, W], align_corners=False, with
 *             scale (float)h / H and (float)w / W: the taps and weights of resize_bilinear_forward
 *             (resize.h), bit for bit (what F.resize passes for an output size);
 *   ce[p]   = weight[p] * -log softmax(up[:, p])[label[p]], 0 where label[p] == ignore_index
 *             (weight [N, H, W] of the data dtype; NULL = 1);
 *   loss[0] = sum_p ce[p] / (N*H*W): the mean over ALL pixels, ignored ones included (mmseg 0.16);
 *   counts[0] = non-ignored pixels whose arg-max of up (lowest index on ties) equals the label,
 *   counts[1] = non-ignored pixels (int32; counts may be NULL). mmseg 0.16's acc_seg is
 *   100 * counts[0] / (N*H*W) (its accuracy() divides by target.numel()).
 * Only upsampling or equal sizes (H >= h, W >= w); a smaller label map is HRDA_ERR_UNSUPPORTED.
 * Labels outside [0, C) other than ignore_index: the CPU library reports the first (sample, row,
 * column, value); the CUDA library counts them into bad_labels[0] (a device int32, may be NULL)
 * and treats them as ignored. One pass over the output pixels.
 *
 * Cost, P = N*H*W output pixels, Q = N*h*w logit pixels, s = bytes per element:
 *   forward  ~13 P*C FLOPs (9 for the 4-tap interpolation, 4 for max/exp-sum/arg-max) + P*C exp;
 *            bytes Q*C*s (logits, read once through the cache) + 4P (labels) + P*s (weight);
 *            the unfused resize + cross_entropy + sum moves ~(2 P*C + 2 P)*s + 4P + Q*C*s and
 *            keeps the P*C upsampled logits alive for the backward.
 *   backward ~16 P'*C FLOPs + P'*C exp with P' <= 4P the (output pixel, logit pixel) tap pairs
 *            (each logit pixel recomputes the softmax of every output pixel in its support);
 *            bytes Q*C*s read + Q*C*s written (+ Q*C*s read when accumulating) + (4 + s) P'
 *            label/weight reads, mostly cache hits (each output pixel is read by its <= 4 logit
 *            pixels). Unfused: cross_entropy_backward + resize backward move ~3 P*C*s + (4 + s) P
 *            + Q*C*s.
 *   HRDA (logits [2, 19, 256, 256] -> labels [2, 1024, 1024], weighted, f32; P' ~ 4P): forward
 *   ~0.52 GFLOP + 40 M exp, ~27 MB (unfused ~360 MB, and 160 MB of upsampled logits kept);
 *   backward ~2.6 GFLOP + 160 M exp, ~37 MB from DRAM (unfused ~500 MB). */
HRDA_OP(seg_cross_entropy_forward, int dtype, long N, long C, long h, long w, long H, long W,
        const void* logits, const int* labels, const void* weight, int ignore_index,
        void* loss, int* counts, int* bad_labels)
/* dlogits [N, C, h, w] (+)= grad_scale * sum over output pixels p whose bilinear taps include
 * the logit pixel q of tap_weight(p, q) * weight[p] * (softmax(up[:, p]) - onehot(label[p])),
 * 0 from ignored (and out-of-range) pixels; grad_scale = dL/dloss / (N*H*W). A gather: each
 * element of dlogits is written by one thread (CPU: one logit row per task), no atomics.
 * accumulate: 0 overwrites, 1 adds. */
HRDA_OP(seg_cross_entropy_backward, int dtype, long N, long C, long h, long w, long H, long W,
        const void* logits, const int* labels, const void* weight, int ignore_index, double grad_scale,
        void* dlogits, int accumulate)

/* DAFormer's masked ImageNet feature distance (dacs.py masked_feat_dist on calc_feat_dist's
 * class mask): fs, fi [N, C, HW] (student and frozen ImageNet features, NCHW with HW = h*w),
 * labels int32 [N, HW] (already at feature resolution: downscale_label_ratio), classes uint32[8]
 * a 256-bit set of label values (class_mix's bitset; labels outside 0..255 are never in it):
 *   mask[p] = labels[p] in classes, dist[p] = ||fs[:, p] - fi[:, p]||_2 over the C channels,
 *   out[0] = sum over masked p of dist[p] / count, count[0] = masked pixels (int32, may be NULL);
 *   out = 0 when count = 0 (our choice: the original's mean of an empty selection is NaN).
 * Cost, M = N*HW pixels: forward 3 M*C FLOPs + M sqrt, 2 M*C*s + 4M bytes. */
HRDA_OP(feature_distance_forward, int dtype, long N, long C, long HW, const void* fs, const void* fi,
        const int* labels, const unsigned int* classes, void* out, int* count)
/* dfs (+)= grad_scale * (fs - fi) / dist at masked pixels with dist > 0, 0 elsewhere (torch's
 * norm backward is 0 at 0); grad_scale = dL/dout / count. fi receives no gradient.
 * Cost: 5 M*C FLOPs (distance recomputed), 3 M*C*s bytes (+ M*C*s when accumulating). */
HRDA_OP(feature_distance_backward, int dtype, long N, long C, long HW, const void* fs, const void* fi,
        const int* labels, const unsigned int* classes, double grad_scale, void* dfs, int accumulate)

#endif
