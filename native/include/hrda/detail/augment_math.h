/* Per-pixel rules of the augment.h ops, shared by the CPU twin (S = double) and the CUDA kernels
 * (S = float), so that the two libraries implement one formula (internal: not part of the ABI,
 * not read by tools/gen_bindings.py). Each follows the original it names; docs/uda.md lists the
 * files and functions these were read from. */
#ifndef HRDA_DETAIL_AUGMENT_MATH_H
#define HRDA_DETAIL_AUGMENT_MATH_H
#include <math.h>
#include "hrda/common.h"  /* HRDA_HD */

namespace hrda_aug {

HRDA_HD float floor_of(float x) { return floorf(x); }
HRDA_HD double floor_of(double x) { return floor(x); }
HRDA_HD float exp_of(float x) { return expf(x); }
HRDA_HD double exp_of(double x) { return exp(x); }
HRDA_HD float fmod_of(float x, float y) { return fmodf(x, y); }
HRDA_HD double fmod_of(double x, double y) { return fmod(x, y); }

/* torch's float remainder (Python %): a - b * floor(a / b), the sign of b */
template <typename S> HRDA_HD S py_mod(S a, S b) { return a - b * floor_of(a / b); }
template <typename S> HRDA_HD S clamp01(S v) { return v < (S)0 ? (S)0 : (v > (S)1 ? (S)1 : v); }
template <typename S> HRDA_HD S two_pi() { return (S)6.283185307179586476925286766559; }

/* kornia.color.rgb_to_hsv (0.5.8, eps 1e-6): v = max, s = (max - min) / (v + eps), the hue from the
 * first channel (r, g, b order) holding the max, h = 2 pi ((h' / 6) % 1) in [0, 2 pi]. */
template <typename S> HRDA_HD void rgb_to_hsv(S r, S g, S b, S& h, S& s, S& v) {
  const S mx = r >= g ? (r >= b ? r : b) : (g >= b ? g : b);
  const S mn = r <= g ? (r <= b ? r : b) : (g <= b ? g : b);
  v = mx;
  const S delta = mx - mn;
  s = delta / (v + (S)1e-6);
  const S d = delta == (S)0 ? (S)1 : delta;  /* kornia avoids the division by zero so */
  const S rc = mx - r, gc = mx - g, bc = mx - b;
  S hh;
  if (r == mx) hh = bc - gc;
  else if (g == mx) hh = (S)2 * d + rc - bc;
  else hh = (S)4 * d + gc - rc;
  hh = hh / d;
  h = two_pi<S>() * py_mod(hh / (S)6, (S)1);
}

/* kornia.color.hsv_to_rgb (0.5.8): h in radians (any sign; reduced with Python's %), sector
 * hi = floor(6 h') % 6, f = (6 h') % 6 - hi, p = v (1 - s), q = v (1 - f s), t = v (1 - (1 - f) s). */
template <typename S> HRDA_HD void hsv_to_rgb(S h, S s, S v, S& r, S& g, S& b) {
  const S h6 = h / two_pi<S>() * (S)6;
  const S hi = py_mod(floor_of(h6), (S)6);
  const S f = py_mod(h6, (S)6) - hi;
  const S p = v * ((S)1 - s), q = v * ((S)1 - f * s), t = v * ((S)1 - ((S)1 - f) * s);
  const int sector = hi >= (S)5 ? 5 : (hi >= (S)0 ? (int)hi : 0);
  switch (sector) {
    case 0: r = v; g = t; b = p; break;
    case 1: r = q; g = v; b = p; break;
    case 2: r = p; g = v; b = t; break;
    case 3: r = p; g = q; b = v; break;
    case 4: r = t; g = p; b = v; break;
    default: r = v; g = p; b = q; break;
  }
}

/* One kornia ColorJitter adjustment (kornia.enhance.adjust, 0.5.8) on an RGB pixel in [0, 1]:
 * 0 brightness (additive: v + (factor - 1), clamped), 1 contrast (multiplicative, clamped),
 * 2 saturation (HSV s * factor clamped to [0, 1]), 3 hue (HSV h + 2 pi factor, fmod 2 pi).
 * Other values leave the pixel unchanged. */
template <typename S> HRDA_HD void jitter_step(int op, S factor, S& r, S& g, S& b) {
  if (op == 0 || op == 1) {
    const bool add = op == 0;
    const S k = add ? factor - (S)1 : factor;
    r = clamp01(add ? r + k : r * k);
    g = clamp01(add ? g + k : g * k);
    b = clamp01(add ? b + k : b * k);
  } else if (op == 2 || op == 3) {
    S h, s, v;
    rgb_to_hsv(r, g, b, h, s, v);
    if (op == 2) s = clamp01(s * factor);
    else h = fmod_of(h + two_pi<S>() * factor, two_pi<S>());
    hsv_to_rgb(h, s, v, r, g, b);
  }
}

/* kornia.filters.kernels.gaussian (0.5.8), before normalisation: exp(-x^2 / (2 sigma^2)) with
 * x = i - k // 2 for tap i of an odd kernel of k taps. */
template <typename S> HRDA_HD S gaussian_tap(long i, long k, S sigma) {
  const S x = (S)(i - k / 2);
  return exp_of(-(x * x) / ((S)2 * sigma * sigma));
}

/* torch.nn.functional.pad mode 'reflect' (edge not repeated), for -n < i < 2n - 1 */
HRDA_HD long reflect_index(long i, long n) { return i < 0 ? -i : (i >= n ? 2 * (n - 1) - i : i); }

/* PyTorch's 'nearest' source index for an output of out from an input of in:
 * min(floor(dst * (float)in / out), in - 1), all in f32 (UpSample nearest_neighbor_compute_source_index) */
HRDA_HD long nearest_source(long dst, long in, long out) {
  const float scale = (float)in / (float)out;
  const long src = (long)floorf((float)dst * scale);
  return src < in - 1 ? src : in - 1;
}

/* downscale_label_ratio's decision from a block histogram of bins = num_classes + 1 (ignore last):
 * torch.max picks the lowest index on ties; the share is avg_pool2d's f32 count / pixels. */
template <typename Count> HRDA_HD int majority_label(const Count* counts, long bins, long block_pixels, float min_ratio,
                                                   int ignore_index) {
  long best = 0;
  for (long c = 1; c < bins; c++)
    if (counts[c] > counts[best]) best = c;
  if (best == bins - 1) return ignore_index;
  const float share = (float)counts[best] / (float)block_pixels;
  return share < min_ratio ? ignore_index : (int)best;
}

/* ClassMix membership: label value v in the 256-bit set of one sample */
HRDA_HD bool in_class_set(const unsigned int* set, int v) {
  return v >= 0 && v < 256 && ((set[v >> 5] >> (v & 31)) & 1u) != 0;
}

}  // namespace hrda_aug

#endif
