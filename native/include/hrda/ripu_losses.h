/* Fused training losses of RIPU (Xie et al., CVPR 2022; BIT-DA/RIPU core/loss): negative
 * learning on the target and local consistency regularisation (LCR) on the source, both on
 * logits [N, C, H, W] already at label resolution (the caller upsamples, as RIPU's classifier
 * does with size=input size). Each reduces to a scalar in a fixed order (per-task or per-block
 * partials, then one fixed-order sum; no float atomics): a run is bit-for-bit repeatable on a
 * given device. Scalars are f64 for f64 data and f32 otherwise; counts are int32.
 * docs/losses.md ("RIPU losses") has the derivations and the official code's details. */
#ifndef HRDA_RIPU_LOSSES_H
#define HRDA_RIPU_LOSSES_H
#include "common.h"

/* Negative learning (negative_learning_loss.py, applied to softmax(tgt_out)) over every pixel:
 *   p       = softmax over C of logits [N, C, HW];
 *   M       = 1[p < tau] (detached; compared in f64 for f64 data, in f32 otherwise);
 *   loss[0] = -sum M * log(1 - p + 1e-6) / sum M over batch, class and space;
 *   count[0] = sum M, the (pixel, class) pairs pushed down (int32, may be NULL).
 * loss = 0 when count = 0 (our choice: the official 0/0 is NaN, and so is every gradient).
 * Cost, P = N*HW pixels: forward ~6 P*C FLOPs + 2 P*C exp + P*C log, P*C*s bytes; backward
 * ~10 P*C FLOPs + 3 P*C exp, 2 P*C*s bytes (+ P*C*s when accumulating). Unfused (softmax, compare,
 * log, mul, two sums, and their backwards) moves ~12 P*C*s. */
HRDA_OP(negative_learning_forward, int dtype, long N, long C, long HW, const void* logits, double tau,
        void* loss, int* count)
/* dlogits [N, C, HW] (+)= grad_scale * p * (g - sum_k p_k g_k) with g = M / (1 - p + 1e-6),
 * grad_scale = dL/dloss / count (0 when count = 0). accumulate: 0 overwrites, 1 adds. */
HRDA_OP(negative_learning_backward, int dtype, long N, long C, long HW, const void* logits, double tau,
        double grad_scale, void* dlogits, int accumulate)

/* Local consistency on the source GT boundaries (local_consistent_loss.py, boundary.py, 'l1'):
 *   p       = softmax over C of logits [N, C, H, W];
 *   pbar    = depthwise 3x3 mean of p (weights 1/9) with replicate padding;
 *   d       = sum_c |p - pbar| per pixel;
 *   B       = [8 l - sum of the 8 neighbours' labels != 0] (zero padding: out-of-image
 *             neighbours count 0; ignore_index pixels count with their value, as the official
 *             float conv of the label map) and l != ignore_index;
 *   loss[0] = sum_B d / |B|;  count[0] = |B| (int32, may be NULL); loss = 0 when |B| = 0 (the
 *   official mean of an empty selection is NaN).
 * labels int32 [N, H, W], any values (the boundary only compares them).
 * Cost, P = N*H*W: forward ~(9 + 6) P*C FLOPs + P*C exp (CUDA: halo tiles, ~1.1 P*C exp), P*C*s
 * + 4P bytes; backward ~45 P*C FLOPs + ~1.3 P*C exp, 2 P*C*s + 4P bytes. Unfused (softmax,
 * replicate pad, depthwise conv, sub, abs, channel sum, mask, mean, backwards) moves ~20 P*C*s. */
HRDA_OP(local_consistency_forward, int dtype, long N, long C, long H, long W, const void* logits,
        const int* labels, int ignore_index, void* loss, int* count)
/* dlogits [N, C, H, W] (+)= grad_scale * p * (G - sum_k p_k G_k), with s = sign(p - pbar) at
 * boundary pixels (sign(0) = 0 as torch's abs backward, 0 off B) and
 *   G(a) = s(a) - 1/9 sum over pixels i whose replicate-padded window holds a, counted with
 *          multiplicity, of s(i)
 * (the gradient flows through both p and pbar, as in the official code); grad_scale =
 * dL/dloss / count (0 when count = 0). */
HRDA_OP(local_consistency_backward, int dtype, long N, long C, long H, long W, const void* logits,
        const int* labels, int ignore_index, double grad_scale, void* dlogits, int accumulate)

#endif
