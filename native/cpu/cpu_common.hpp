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

// The f32 hot loops are compiled for AVX-512, AVX2 + FMA and the baseline (x86-64-v2), and the
// loader picks the best the CPU has (GCC function multiversioning, resolved once): the library
// stays portable and still uses the wide units. Put it on helpers without OpenMP pragmas (the
// outlined parallel bodies are not cloned). Same machine, same clone, same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HRDA_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HRDA_CLONES
#endif

// Dot product of two f32 rows in 16 fixed lanes (vectorisable without reassociation flags), the
// lanes then summed in order: a fixed summation order for a given n.
inline float dot16(const float* a, const float* b, long n) {
  float p[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) p[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < n; i++) s += a[i] * b[i];
  for (int j = 0; j < 16; j++) s += p[j];
  return s;
}

// Sum of an f32 row in 16 fixed lanes, then the lanes in order, in f64.
inline double sum16(const float* a, long n) {
  float p[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) p[j] += a[i + j];
  double s = 0;
  for (; i < n; i++) s += a[i];
  for (int j = 0; j < 16; j++) s += p[j];
  return s;
}

// f32 exp and erfc written so that a loop over them vectorises (no libm calls), for the f32
// activations; the f64 paths keep std::exp / std::erf (the finite-difference tests' reference).
// exp: Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, Cephes' degree-6 polynomial; about 1 ulp
// on [-87.3, 88.7], clamped outside (0 below -87.3: no subnormals).
inline float exp_f32(float x) {
  const float lo = -87.3f, hi = 88.7f;
  const float keep = x < lo ? 0.0f : 1.0f;
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  // k = round(x / ln2) by the 1.5 * 2^23 trick (std::floor does not vectorise without -fno-trapping-math)
  const float k = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  float r = x - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const float scale = __builtin_bit_cast(float, ((int32_t)k + 127) << 23);
  return y * scale * keep;
}

// erfc(z) for z >= 0 (Numerical Recipes' erfcc Chebyshev fit): fractional error below 1.2e-7
// everywhere, so 0.5 x erfc(|x|/sqrt 2) keeps GELU's relative accuracy in the far negative tail.
inline float erfc_pos_f32(float z) {
  const float t = 1.0f / (1.0f + 0.5f * z);
  const float p = -1.26551223f + t * (1.00002368f + t * (0.37409196f + t * (0.09678418f + t * (-0.18628806f +
                  t * (0.27886807f + t * (-1.13520398f + t * (1.48851587f + t * (-0.82215223f + t * 0.17087277f))))))));
  return t * exp_f32(-z * z + p);
}

// Phi(x) = 0.5 (1 + erf(x / sqrt 2)), the normal CDF: 0.5 erfc(-x / sqrt 2).
inline float normal_cdf_f32(float x) {
  const float z = std::fabs(x) * 0.70710678118654752f;
  const float half_erfc = 0.5f * erfc_pos_f32(z);
  return x < 0 ? half_erfc : 1.0f - half_erfc;
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
