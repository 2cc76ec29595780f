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

/* pool.h: positive sizes, a pad smaller than the kernel, and floor-mode output sizes */
#define HRDA_POOL_CHECKS(name)                                                                          \
  HRDA_CHECK(NC >= 0 && H > 0 && W > 0 && Ho > 0 && Wo > 0,                                            \
             name ": sizes must be positive (NC %ld, in %ldx%ld, out %ldx%ld)", NC, H, W, Ho, Wo);        \
  HRDA_CHECK(kernel > 0 && stride > 0 && pad >= 0 && 2 * pad <= kernel,                                \
             name ": kernel %ld and stride %ld must be positive, pad %ld at most half the kernel", kernel, stride, pad); \
  HRDA_CHECK(Ho == (H + 2 * pad - kernel) / stride + 1 && Wo == (W + 2 * pad - kernel) / stride + 1,   \
             name ": output %ldx%ld does not match input %ldx%ld with kernel %ld, stride %ld, pad %ld",  \
             Ho, Wo, H, W, kernel, stride, pad)

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

/* augment.h */
#define HRDA_COLOR_JITTER_CHECKS(name)                                                                       \
  HRDA_CHECK(B >= 0 && H >= 0 && W >= 0, name ": sizes B %ld, H %ld, W %ld must not be negative", B, H, W); \
  HRDA_CHECK(std::isfinite(mean_r) && std::isfinite(mean_g) && std::isfinite(mean_b),                      \
             name ": mean (%g, %g, %g) must be finite", (double)mean_r, (double)mean_g, (double)mean_b);   \
  HRDA_CHECK(std_r != 0 && std_g != 0 && std_b != 0 && std::isfinite(std_r) && std::isfinite(std_g) &&     \
             std::isfinite(std_b), name ": std (%g, %g, %g) must be finite and non-zero",                  \
             (double)std_r, (double)std_g, (double)std_b)

/* kornia's get_gaussian_kernel1d wants odd positive sizes; PyTorch's reflect padding a radius
 * below the image size */
#define HRDA_GAUSSIAN_BLUR_CHECKS(name)                                                                       \
  HRDA_CHECK(B >= 0 && C >= 0, name ": sizes B %ld and C %ld must not be negative", B, C);                   \
  HRDA_CHECK(H >= 1 && W >= 1, name ": image size %ld x %ld must be positive", H, W);                        \
  HRDA_CHECK(kh >= 1 && kw >= 1 && kh % 2 == 1 && kw % 2 == 1,                                               \
             name ": kernel size %ld x %ld must be odd and positive (kornia's get_gaussian_kernel1d)", kh, kw); \
  HRDA_CHECK((kh - 1) / 2 < H && (kw - 1) / 2 < W,                                                           \
             name ": kernel %ld x %ld is too large for a %ld x %ld image: reflect padding needs the radius "   \
             "(%ld, %ld) below the image size (PyTorch's F.pad refuses it too)", kh, kw, H, W, (kh - 1) / 2,   \
             (kw - 1) / 2)

#define HRDA_CLASS_MIX_CHECKS(name)                                                                       \
  HRDA_CHECK(B >= 0 && C >= 0 && H >= 0 && W >= 0, name ": sizes B %ld, C %ld, H %ld, W %ld must not be "  \
             "negative", B, C, H, W)

/* the confident count is an int32 */
#define HRDA_PSEUDO_LABEL_CHECKS(name)                                                                     \
  HRDA_CHECK(B >= 0 && HW >= 0, name ": sizes B %ld and HW %ld must not be negative", B, HW);              \
  HRDA_CHECK(K >= 1, name ": K (classes) = %ld must be at least 1", K);                                    \
  HRDA_CHECK(B * HW <= 2147483647L, name ": %ld pixels do not fit the int32 count", B * HW);               \
  HRDA_CHECK(std::isfinite(threshold), name ": threshold %g must be finite", threshold)

#define HRDA_PSEUDO_WEIGHT_MAP_CHECKS(name)                                                                 \
  HRDA_CHECK(B >= 0 && H >= 0 && W >= 0, name ": sizes B %ld, H %ld, W %ld must not be negative", B, H, W); \
  HRDA_CHECK(ignore_top >= 0 && ignore_bottom >= 0, name ": ignored rows (top %ld, bottom %ld) must not be " \
             "negative", ignore_top, ignore_bottom);                                                        \
  HRDA_CHECK(std::isfinite(weight), name ": weight %g must be finite", weight)

/* the histogram has num_classes + 1 bins (ignore last); avg_pool2d needs a whole block */
#define HRDA_DOWNSCALE_LABEL_CHECKS(name)                                                                   \
  HRDA_CHECK(B >= 0, name ": batch %ld must not be negative", B);                                           \
  HRDA_CHECK(scale > 1, name ": scale %ld must be above 1 (downscale_label_ratio asserts it)", scale);      \
  HRDA_CHECK(H >= scale && W >= scale, name ": labels %ld x %ld are smaller than one %ld x %ld block",      \
             H, W, scale, scale);                                                                           \
  HRDA_CHECK(num_classes >= 1 && num_classes <= 1024, name ": num_classes %ld must be in 1..1024",          \
             num_classes);                                                                                  \
  HRDA_CHECK(std::isfinite(min_ratio), name ": min_ratio %g must be finite", (double)min_ratio)

#define HRDA_BLOCK_MASK_CHECKS(name)                                                                        \
  HRDA_CHECK(B >= 0 && C >= 0, name ": sizes B %ld and C %ld must not be negative", B, C);                  \
  HRDA_CHECK(H >= 1 && W >= 1 && gh >= 1 && gw >= 1, name ": image %ld x %ld and grid %ld x %ld must be "   \
             "positive", H, W, gh, gw)

/* losses.h: positive sizes, counts that fit int32, upsampling only (HRDA_ERR_UNSUPPORTED) */
#define HRDA_SEG_CE_CHECKS(name)                                                                              \
  HRDA_CHECK(N >= 1 && C >= 1, name ": batch N = %ld and classes C = %ld must be positive", N, C);          \
  HRDA_CHECK(h >= 1 && w >= 1 && H >= 1 && W >= 1, name ": logits %ld x %ld and labels %ld x %ld must be "  \
             "positive", h, w, H, W);                                                                       \
  HRDA_CHECK(N * H * W <= 2147483647L, name ": %ld label pixels do not fit the int32 counts", N * H * W);   \
  if (H < h || W < w)                                                                                        \
    return ::HRDA_NS::fail(HRDA_ERR_UNSUPPORTED, name ": labels %ld x %ld are smaller than the logits %ld x "  \
                           "%ld; the fused loss only upsamples the logits (H >= h, W >= w) as mmseg does for " \
                           "a decode head; resize the labels or use resize + cross_entropy", H, W, h, w);   \
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(labels)

#define HRDA_FEATURE_DISTANCE_CHECKS(name)                                                                    \
  HRDA_CHECK(N >= 0 && HW >= 0, name ": sizes N = %ld and HW = %ld must not be negative", N, HW);           \
  HRDA_CHECK(C >= 1, name ": channels C = %ld must be positive", C);                                        \
  HRDA_CHECK(N * HW <= 2147483647L, name ": %ld pixels do not fit the int32 count", N * HW);                \
  HRDA_CHECK_PTR(fs); HRDA_CHECK_PTR(fi); HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(classes)

/* norm.h batchnorm_eval_backward */
#define HRDA_BN_EVAL_BACKWARD_CHECKS(name)                                                                    \
  HRDA_CHECK(N > 0 && C > 0 && HW > 0, name ": N %ld, C %ld, HW %ld must be positive", N, C, HW);           \
  HRDA_CHECK(eps >= 0 && std::isfinite(eps), name ": eps %g must be finite and not negative", (double)eps);  \
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(running_mean); HRDA_CHECK_PTR(running_var);       \
  HRDA_CHECK_PTR(dy)

/* active.h (RIPU): the selection's column-major keys are int32 */
#define HRDA_ACTIVE_SCORE_CHECKS(name)                                                                       \
  HRDA_CHECK(B >= 0, name ": batch B = %ld must not be negative", B);                                       \
  HRDA_CHECK(K >= 1 && K <= 65536, name ": K (classes) = %ld must be in 1..65536", K);                      \
  HRDA_CHECK(H >= 1 && W >= 1, name ": map size H x W = %ld x %ld must be positive", H, W);                 \
  HRDA_CHECK(B * H * W <= 2147483647L, name ": %ld pixels do not fit the int32 labels", B * H * W);          \
  HRDA_CHECK(radius >= 0, name ": radius %ld must not be negative", radius);                                \
  HRDA_CHECK(pixel_uncertainty == 0 || pixel_uncertainty == 1,                                               \
             name ": pixel_uncertainty %d must be 0 (RA: window mean) or 1 (PA: pixel entropy)",            \
             pixel_uncertainty);                                                                            \
  HRDA_CHECK(std::isfinite(norm) && norm > 0, name ": norm %g must be finite and positive (RA log(19), PA 1)", norm); \
  HRDA_CHECK_PTR(prob); HRDA_CHECK_PTR(score)

#define HRDA_ACTIVE_SELECT_CHECKS(name)                                                                      \
  HRDA_CHECK(B >= 0, name ": batch B = %ld must not be negative", B);                                       \
  HRDA_CHECK(H >= 1 && W >= 1, name ": score map H x W = %ld x %ld must be positive", H, W);                \
  HRDA_CHECK(H * W <= 2147483647L, name ": %ld pixels per map do not fit the int32 keys", H * W);           \
  HRDA_CHECK(count >= 0 && count <= 2147483647L, name ": count %ld must be in 0..2^31-1", count);           \
  HRDA_CHECK(active_radius >= 0 && mask_radius >= 0,                                                        \
             name ": active_radius %ld and mask_radius %ld must not be negative", active_radius, mask_radius); \
  HRDA_CHECK_PTR(score); HRDA_CHECK_PTR(active); HRDA_CHECK_PTR(selected); HRDA_CHECK_PTR(picks)

#define HRDA_ACTIVE_REVEAL_CHECKS(name)                                                                      \
  HRDA_CHECK(n >= 0, name ": size n = %ld must not be negative", n);                                        \
  HRDA_CHECK_PTR(selected); HRDA_CHECK_PTR(gt); HRDA_CHECK_PTR(mask)

/* ripu_losses.h (RIPU): positive sizes, counts that fit int32, tau in (0, 1] */
#define HRDA_NEGATIVE_LEARNING_CHECKS(name)                                                                   \
  HRDA_CHECK(N >= 1 && C >= 1 && HW >= 1, name ": sizes N %ld, C %ld, HW %ld must be positive", N, C, HW);  \
  HRDA_CHECK(N * C * HW <= 2147483647L, name ": %ld (pixel, class) pairs do not fit the int32 count",       \
             N * C * HW);                                                                                   \
  HRDA_CHECK(tau > 0 && tau <= 1, name ": threshold tau %g must be in (0, 1]", tau);                       \
  HRDA_CHECK_PTR(logits)

#define HRDA_LOCAL_CONSISTENCY_CHECKS(name)                                                                   \
  HRDA_CHECK(N >= 1 && C >= 1 && H >= 1 && W >= 1, name ": sizes N %ld, C %ld, H %ld, W %ld must be "       \
             "positive", N, C, H, W);                                                                       \
  HRDA_CHECK(N * H * W <= 2147483647L, name ": %ld pixels do not fit the int32 count", N * H * W);          \
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(labels)

#endif
