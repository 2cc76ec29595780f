// Bilinear (align_corners=False) and nearest resize, as torch.nn.functional.interpolate.
#include "cpu_common.hpp"

using namespace hrda_cpu;

#define RESIZE_CHECKS(name)                                                                       \
  HRDA_CHECK(NC >= 0 && Hi > 0 && Wi > 0 && Ho > 0 && Wo > 0,                                      \
             name ": sizes must be positive (NC %ld, in %ldx%ld, out %ldx%ld)", NC, Hi, Wi, Ho, Wo); \
  HRDA_CHECK(scale_h > 0 && scale_w > 0, name ": scales must be positive (%g, %g)", (double)scale_h, (double)scale_w)

extern "C" {

int hrda_cpu_resize_bilinear_forward(int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
                                     float scale_h, float scale_w, const void* x, void* y) {
  RESIZE_CHECKS("resize_bilinear_forward"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* in = (const T*)x; T* out = (T*)y;
    _Pragma("omp parallel for collapse(2) schedule(static) if (NC * Ho * Wo > 32768)")
    for (long p = 0; p < NC; p++)
      for (long oh = 0; oh < Ho; oh++) {
        const Tap th = source_tap(scale_h, oh, Hi);
        const T* plane = in + p * Hi * Wi;
        T* o = out + (p * Ho + oh) * Wo;
        for (long ow = 0; ow < Wo; ow++) o[ow] = (T)bilinear_at(plane, Wi, th, source_tap(scale_w, ow, Wi));
      })
  return HRDA_OK;
}

int hrda_cpu_resize_bilinear_backward(int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
                                      float scale_h, float scale_w, const void* dy, void* dx, int accumulate) {
  RESIZE_CHECKS("resize_bilinear_backward"); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(dx);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* g = (const T*)dy; T* d = (T*)dx;
    // One plane per thread: the scatter never races.
    _Pragma("omp parallel for schedule(static) if (NC * Ho * Wo > 32768)")
    for (long p = 0; p < NC; p++) {
      T* dp = d + p * Hi * Wi;
      if (!accumulate) std::fill(dp, dp + Hi * Wi, (T)0);
      for (long oh = 0; oh < Ho; oh++) {
        const Tap th = source_tap(scale_h, oh, Hi);
        const T* go = g + (p * Ho + oh) * Wo;
        for (long ow = 0; ow < Wo; ow++) {
          const Tap tw = source_tap(scale_w, ow, Wi);
          const double v = go[ow];
          dp[th.i0 * Wi + tw.i0] += (T)(th.l0 * tw.l0 * v);
          dp[th.i0 * Wi + tw.i1] += (T)(th.l0 * tw.l1 * v);
          dp[th.i1 * Wi + tw.i0] += (T)(th.l1 * tw.l0 * v);
          dp[th.i1 * Wi + tw.i1] += (T)(th.l1 * tw.l1 * v);
        }
      }
    })
  return HRDA_OK;
}

}  // extern "C"

template <typename E>
static void nearest_t(long NC, long Hi, long Wi, long Ho, long Wo, float sh, float sw, const E* in, E* out) {
#pragma omp parallel for collapse(2) schedule(static) if (NC * Ho * Wo > 32768)
  for (long p = 0; p < NC; p++)
    for (long oh = 0; oh < Ho; oh++) {
      // in float, as PyTorch's nearest_idx (floorf(dst * scale)): e.g. 50 * (2/100.f) rounds to 1
      const long ih = std::min((long)std::floor((float)oh * sh), Hi - 1);
      const E* r = in + (p * Hi + ih) * Wi;
      E* o = out + (p * Ho + oh) * Wo;
      for (long ow = 0; ow < Wo; ow++) o[ow] = r[std::min((long)std::floor((float)ow * sw), Wi - 1)];
    }
}

extern "C" int hrda_cpu_resize_nearest(int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
                                       float scale_h, float scale_w, const void* x, void* y) {
  RESIZE_CHECKS("resize_nearest"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  switch (dtype) {
    case HRDA_U8: nearest_t(NC, Hi, Wi, Ho, Wo, scale_h, scale_w, (const uint8_t*)x, (uint8_t*)y); return HRDA_OK;
    case HRDA_I32: nearest_t(NC, Hi, Wi, Ho, Wo, scale_h, scale_w, (const int32_t*)x, (int32_t*)y); return HRDA_OK;
    default: break;
  }
  HRDA_DISPATCH_FLOAT(dtype, nearest_t(NC, Hi, Wi, Ho, Wo, scale_h, scale_w, (const T*)x, (T*)y);)
  return HRDA_OK;
}
