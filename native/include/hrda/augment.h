/* DACS batch transforms and pseudo-labelling (DAFormer mmseg/models/utils/dacs_transforms.py and
 * mmseg/models/uda/dacs.py, kornia 0.5.8, MIC masking_transforms.py). No gradients: these act on
 * inputs and labels. Random parameters are drawn by the caller (dev.hrda.uda) and passed in as
 * small per-sample tensors, so both libraries compute the same thing for the same draw.
 * Images are NCHW of the data dtype; labels int32 [B, H, W]; per-sample parameters f32/int32
 * tensors on the library's device. Conventions verified against the originals: docs/uda.md. */
#ifndef HRDA_AUGMENT_H
#define HRDA_AUGMENT_H
#include "common.h"

/* kornia.augmentation.ColorJitter (0.5.8) on normalised RGB images x, y [B, 3, H, W] (y may alias
 * x), between DACS's denorm_ and renorm_: v = (x * std_c + mean_c) / 255, jitter, x' = (255 v -
 * mean_c) / std_c (mean/std in 0..255 units, RGB order).
 * factors [B, 4] f32 per sample: brightness, contrast, saturation, hue (kornia's drawn values:
 * brightness/contrast/saturation around 1, hue in turns); order [B, 4] int32: a permutation of
 * 0 brightness, 1 contrast, 2 saturation, 3 hue, applied left to right:
 *   brightness: v = clamp(v + (factor - 1), 0, 1)      contrast: v = clamp(v * factor, 0, 1)
 *   saturation: HSV s = clamp(s * factor, 0, 1)        hue: HSV h = fmod(h + 2 pi factor, 2 pi)
 * with kornia's rgb_to_hsv (eps 1e-6, h in [0, 2 pi)) and hsv_to_rgb. The CPU library rejects
 * an order that is not a permutation; the CUDA library skips entries outside 0..3.
 * Sources: kornia augmentation.py ColorJitter.apply_transform (order, factor - 1, 2 pi hue),
 * enhance/adjust.py adjust_brightness/contrast/saturation/hue(_raw), color/hsv.py. */
HRDA_OP(color_jitter, int dtype, long B, long H, long W, const float* factors, const int* order,
        float mean_r, float mean_g, float mean_b, float std_r, float std_g, float std_b,
        const void* x, void* y)

/* kornia.filters.GaussianBlur2d((kh, kw), (sigma, sigma)) with its default border 'reflect'
 * (torch.nn.functional.pad mode 'reflect': the edge pixel is not repeated) on x, y [B, C, H, W]
 * (y may alias x). sigma [B] f32, one per sample, positive (the CPU library checks it). kh, kw
 * odd and positive; the radius (k - 1) / 2 must be below the image size (PyTorch's reflect
 * padding refuses it otherwise).
 * Separable: rows with the normalised 1-D kernel along W, then columns along H. */
HRDA_OP(gaussian_blur, int dtype, long B, long C, long H, long W, long kh, long kw, const float* sigma,
        const void* x, void* y)

/* Bitset of the label values present in labels[0..n): present[v / 32] bit v % 32 for v in
 * 0..255 (words 0..7); word 8 counts the labels outside 0..255. present [9] uint32 is overwritten. */
HRDA_OP(label_presence, long n, const int* labels, unsigned int* present)

/* ClassMix: mask[b, p] = chosen[b] contains src_label[b, p] (chosen [B, 8] uint32 bitsets of
 * label values 0..255; labels outside 0..255 are never chosen), then
 *   mixed_img = mask ? src_img : tgt_img        ([B, C, H, W], data dtype)
 *   mixed_label = mask ? src_label : pseudo_label  (int32 [B, H, W])
 *   mixed_weight = mask ? 1 : pseudo_weight      ([B, H, W], data dtype)
 * mask (uint8 [B, H, W]) may be NULL. */
HRDA_OP(class_mix, int dtype, long B, long C, long H, long W, const unsigned int* chosen,
        const void* src_img, const void* tgt_img, const int* src_label, const int* pseudo_label,
        const void* pseudo_weight, void* mixed_img, int* mixed_label, void* mixed_weight,
        unsigned char* mask)

/* Pseudo-labels from teacher logits [B, K, HW]: p = softmax over K, label = argmax (lowest index
 * on ties), prob = max p (may be NULL), confident[0] = number of pixels with prob >= threshold
 * (int32, overwritten; may be NULL). The comparison is made on the probability as stored for
 * f32/f64 (PyTorch's ge on the softmax output), in f32 for bf16/f16 data on CUDA. */
HRDA_OP(pseudo_label, int dtype, long B, long K, long HW, const void* logits, double threshold,
        int* label, void* prob, int* confident)

/* DACS pixel weights of the pseudo-labels, out [B, H, W]: weight (the confident fraction), 0 on
 * the first ignore_top and the last ignore_bottom rows, times valid [B, H, W] (HRDA's
 * valid_pseudo_mask, data dtype; NULL = 1). */
HRDA_OP(pseudo_weight_map, int dtype, long B, long H, long W, double weight, long ignore_top,
        long ignore_bottom, const void* valid, void* out)

/* DAFormer's downscale_label_ratio: labels [B, H, W] -> out [B, H / scale, W / scale]; per
 * scale x scale block the histogram of num_classes classes plus ignore as the last bin, the
 * majority bin (lowest index on ties), out = ignore_index where the majority is ignore or its
 * share (float count / scale^2) < min_ratio. Labels must be in [0, num_classes) or equal
 * ignore_index: the CPU library reports others, the CUDA library counts them as ignore. */
HRDA_OP(downscale_label_ratio, long B, long H, long W, long scale, float min_ratio, long num_classes,
        int ignore_index, const int* labels, int* out)

/* MIC's BlockMaskGenerator.mask_image: y = x * keep[b, gy, gx] for x, y [B, C, H, W] (y may
 * alias x) and keep [B, gh, gw] uint8 (0 or 1), the grid upsampled with PyTorch's 'nearest'
 * rule: gy = min(floor(y * ((float)gh / H)), gh - 1) in f32, likewise gx. */
HRDA_OP(block_mask, int dtype, long B, long C, long H, long W, long gh, long gw, const unsigned char* keep,
        const void* x, void* y)

#endif
