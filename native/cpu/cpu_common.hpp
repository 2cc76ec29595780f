// Internal helpers of libhrda_cpu: error reporting, argument checks, dtype dispatch.
#pragma once
#include "hrda/hrda.h"
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <omp.h>
#define HRDA_XSTR(x) #x
#define HRDA_STR(x) HRDA_XSTR(x)

// fail() (sets the thread-local message, returns the code), HRDA_CHECK, HRDA_CHECK_PTR, HRDA_CHECK_SIZE
#define HRDA_NS hrda_cpu
#include "hrda/detail/errors.h"

namespace hrda_cpu {

// Runs body with T = float or double for the float dtypes the CPU library computes in.
#define HRDA_DISPATCH_FLOAT(dtype, ...)                                                          \
  switch (dtype) {                                                                               \
    case HRDA_F32: { using T = float; __VA_ARGS__; } break;                                      \
    case HRDA_F64: { using T = double; __VA_ARGS__; } break;                                     \
    default: return ::hrda_cpu::fail(HRDA_ERR_UNSUPPORTED,                                        \
                                     "%s: dtype %d not supported on the CPU (f32 or f64)", __func__, (int)(dtype)); \
  }

// Accumulator type: double for both (the CPU twin is the reference, so it sums in f64).
template <typename T> using Acc = double;

inline size_t dtype_size(int dtype) {
  switch (dtype) {
    case HRDA_F32: case HRDA_I32: return 4;
    case HRDA_F64: return 8;
    case HRDA_BF16: case HRDA_F16: return 2;
    case HRDA_U8: return 1;
    default: return 0;
  }
}

inline float bf16_to_f32(uint16_t h) { uint32_t u = (uint32_t)h << 16; float f; std::memcpy(&f, &u, 4); return f; }
inline uint16_t f32_to_bf16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);                                            // round to nearest even
  return (uint16_t)(u >> 16);
}
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// Bilinear source taps (align_corners=False), PyTorch's area_pixel_compute_source_index + the
// neighbour/lambda computation: output dst reads inputs i0, i1 with weights l0, l1 (i1 = i0 at
// the last input). Shared by resize and the HRDA fusion (scale 0.5 = x2 upsampling).
struct Tap { long i0, i1; double l0, l1; };
inline Tap source_tap(double scale, long dst, long in) {
  double src = scale * (dst + 0.5) - 0.5;
  if (src < 0) src = 0;
  long i0 = (long)src;
  if (i0 > in - 1) i0 = in - 1;
  long i1 = i0 + (i0 < in - 1 ? 1 : 0);
  double l1 = src - i0;
  return {i0, i1, 1.0 - l1, l1};
}
// The forward value at taps (th, tw) of one plane [.., Wi] (f64): rows first weighted by the
// column taps, then by the row taps. The resize op and the fused segmentation loss both use it.
template <typename T> inline double bilinear_at(const T* plane, long Wi, const Tap& th, const Tap& tw) {
  const T* r0 = plane + th.i0 * Wi;
  const T* r1 = plane + th.i1 * Wi;
  return th.l0 * (tw.l0 * r0[tw.i0] + tw.l1 * r0[tw.i1]) + th.l1 * (tw.l0 * r1[tw.i0] + tw.l1 * r1[tw.i1]);
}
// Weight of input i in a forward value whose taps are t (the adjoint's coefficient).
inline double weight_of(const Tap& t, long i) { return (t.i0 == i ? t.l0 : 0.0) + (t.i1 == i ? t.l1 : 0.0); }

template <typename T> inline T gelu(T x) { return (T)0.5 * x * ((T)1 + std::erf(x * (T)0.70710678118654752440)); }
template <typename T> inline T gelu_grad(T x) {
  const T cdf = (T)0.5 * ((T)1 + std::erf(x * (T)0.70710678118654752440));
  const T pdf = std::exp((T)-0.5 * x * x) * (T)0.39894228040143267794;
  return cdf + x * pdf;
}

}  // namespace hrda_cpu
