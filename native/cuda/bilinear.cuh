// Bilinear source taps (align_corners=False) on the device, shared by the resize kernels and the
// fused segmentation loss (losses.cu): one rule, so both pick the same neighbours and weights.
// Source positions are computed in f64 exactly as the CPU twin (cpu_common.hpp source_tap):
// src = max(0, scale*(dst+0.5) - 0.5); the interpolation itself runs in f32.
#pragma once
#include "cuda_common.cuh"

namespace hrda_cuda {

struct Tap { long i0, i1; float l0, l1; };

__device__ __forceinline__ Tap source_tap(double scale, long dst, long in) {
  double src = scale * ((double)dst + 0.5) - 0.5;
  if (src < 0) src = 0;
  long i0 = (long)src;
  if (i0 > in - 1) i0 = in - 1;
  const long i1 = i0 + (i0 < in - 1 ? 1 : 0);
  const double l1 = src - (double)i0;
  return {i0, i1, (float)(1.0 - l1), (float)l1};
}
__device__ __forceinline__ long source_i0(double scale, long dst, long in) {
  double src = scale * ((double)dst + 0.5) - 0.5;
  if (src < 0) src = 0;
  const long i0 = (long)src;
  return i0 > in - 1 ? in - 1 : i0;
}
// weight of input i in a forward value whose taps are t
__device__ __forceinline__ float weight_of(const Tap& t, long i) {
  return (t.i0 == i ? t.l0 : 0.f) + (t.i1 == i ? t.l1 : 0.f);
}
// weight of input i in the forward value of output o
__device__ __forceinline__ float tap_weight(double scale, long o, long i, long in) {
  return weight_of(source_tap(scale, o, in), i);
}
// [lo, hi] = outputs o with i-1 <= i0(o) <= i, i.e. those whose taps include input i
__device__ __forceinline__ void output_range(double scale, long i, long in, long out, long& lo, long& hi) {
  if (i <= 1) lo = 0;  // i0(o) >= 0 always holds
  else {
    double e = floor(((double)i - 0.5) / scale - 0.5);
    lo = e < 0 ? 0 : e > (double)out ? out : (long)e;
    while (lo > 0 && source_i0(scale, lo - 1, in) >= i - 1) lo--;
    while (lo < out && source_i0(scale, lo, in) < i - 1) lo++;
  }
  double e = ceil(((double)i + 1.5) / scale - 0.5) - 1;
  hi = e < -1 ? -1 : e > (double)(out - 1) ? out - 1 : (long)e;
  while (hi + 1 < out && source_i0(scale, hi + 1, in) <= i) hi++;
  while (hi >= 0 && source_i0(scale, hi, in) > i) hi--;
}
// The forward value at taps (th, tw) of one plane [.., Wi]: rows first weighted by the column
// taps, then by the row taps (the order of resize_bilinear_forward, in f32).
template <typename T>
__device__ __forceinline__ float bilinear_at(const T* plane, long Wi, const Tap& th, const Tap& tw) {
  const T* r0 = plane + th.i0 * Wi;
  const T* r1 = plane + th.i1 * Wi;
  return th.l0 * (tw.l0 * to_f(r0[tw.i0]) + tw.l1 * to_f(r0[tw.i1])) +
         th.l1 * (tw.l0 * to_f(r1[tw.i0]) + tw.l1 * to_f(r1[tw.i1]));
}

}  // namespace hrda_cuda
