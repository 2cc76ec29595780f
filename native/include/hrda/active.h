/* RIPU active acquisition (BIT-DA/RIPU core/active/floating_region.py, spatial_purity.py,
 * build.py): region impurity x prediction uncertainty scores, the greedy RA/PA selection loops and
 * the ground-truth reveal. No gradients. Maps are [B, H, W] row-major; docs/ripu.md "Acquisition"
 * gives the formulas, the tie order and how they were verified. */
#ifndef HRDA_ACTIVE_H
#define HRDA_ACTIVE_H
#include "common.h"

/* Acquisition scores from probabilities prob [B, K, H, W] (the softmax output; data dtype).
 * Per pixel: label = argmax_c prob (lowest class on ties, as torch.argmax), entropy
 * E = -sum_c p log(p + 1e-6) / norm. Over the window N of radius `radius` ((2r+1)^2, clipped at the
 * border, i.e. zero padding) with n_c the pixels labelled c and |N| the in-image count:
 *   impurity    P = -sum_{c: n_c > 0} (n_c/|N|) log(n_c/|N| + 1e-6) / norm
 *   uncertainty U = sum_N E / |N|     (pixel_uncertainty = 0: RA, FloatingRegionScore)
 *               U = E(pixel)          (pixel_uncertainty = 1: PA, entropy * SpatialPurity)
 *   score = P * U
 * RA uses norm = log(19), PA norm = 1. Class counts come from per-class box sums (integers, exact),
 * the entropy window sum from direct sums in a fixed order: no per-pixel window is materialised and
 * the result does not depend on the thread count. score, impurity, uncertainty [B, H, W] of the
 * data dtype; impurity and uncertainty may be NULL. The CPU library accumulates in f64. */
HRDA_OP(active_score, int dtype, long B, long K, long H, long W, long radius, int pixel_uncertainty, double norm,
        const void* prob, void* score, void* impurity, void* uncertainty)

/* One round of RIPU's greedy selection on each of B score maps score [B, H, W] (data dtype; consumed:
 * it ends with -inf where the round suppressed). active, selected uint8 [B, H, W] (0/1, in/out,
 * persisted across rounds). First score = -inf wherever active; then `count` times per image:
 *   (h, w) = the maximum, ties to the lowest w then the lowest h (build.py's two torch.max calls:
 *            over rows per column, then over the column maxima); NaN counts as the largest value
 *            and when everything is -inf the pick is (0, 0), as there
 *   score and active = -inf / 1 on rows h-mask_radius..h+mask_radius, columns likewise (clamped)
 *   selected = 1 on the square of radius active_radius around (h, w) (clamped)
 * RA (RegionSelection): active_radius = k, mask_radius = 2k. PA (PixelSelection): active_radius = 0,
 * mask_radius = K. picks int32 [B, count, 2] = (h, w) in pick order; pick_score [B, count] (data
 * dtype) the score each pick had, may be NULL. */
HRDA_OP(active_select, int dtype, long B, long H, long W, long count, long active_radius, long mask_radius,
        void* score, unsigned char* active, unsigned char* selected, int* picks, void* pick_score)

/* The revealed labels: mask[i] = selected[i] ? gt[i] : ignore_index for i < n (int32; pixels whose
 * ground truth is ignore_index stay so but count towards the budget). */
HRDA_OP(active_reveal, long n, const unsigned char* selected, const int* gt, int ignore_index, int* mask)

#endif
