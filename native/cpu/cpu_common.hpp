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

template <typename T> inline T gelu(T x) { return (T)0.5 * x * ((T)1 + std::erf(x * (T)0.70710678118654752440)); }
template <typename T> inline T gelu_grad(T x) {
  const T cdf = (T)0.5 * ((T)1 + std::erf(x * (T)0.70710678118654752440));
  const T pdf = std::exp((T)-0.5 * x * x) * (T)0.39894228040143267794;
  return cdf + x * pdf;
}

}  // namespace hrda_cpu
