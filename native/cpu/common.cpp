// libhrda_cpu: errors, memory, dtype conversion.
#include "cpu_common.hpp"
#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace hrda_cpu {
float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) u = sign;
    else {  // subnormal: renormalise
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) { man <<= 1; exp--; }
      u = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) u = sign | 0x7f800000u | (man << 13);
  else u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  float f; std::memcpy(&f, &u, 4); return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t u; std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000; int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15; uint32_t man = u & 0x7fffff;
  if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    man |= 0x800000; uint32_t shift = (uint32_t)(14 - exp);
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;  // may carry into the exponent: correct
  return (uint16_t)half;
}
}  // namespace hrda_cpu

using namespace hrda_cpu;

extern "C" {
const char* hrda_cpu_last_error(void) { return error_message(); }
const char* hrda_cpu_version(void) { return "hrda_cpu 0.1.0 (C++17, OpenMP " HRDA_STR(_OPENMP) ")"; }
int hrda_cpu_num_threads(void) { return omp_get_max_threads(); }
void* hrda_cpu_alloc(size_t bytes) {
  size_t rounded = (bytes + 63) / 64 * 64;
  return std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
}
void hrda_cpu_free(void* p) { std::free(p); }
int hrda_cpu_memcpy(void* dst, const void* src, size_t bytes) {
  HRDA_CHECK(bytes == 0 || (dst && src), "hrda_cpu_memcpy: NULL pointer for %zu bytes", bytes);
  std::memmove(dst, src, bytes);
  return HRDA_OK;
}

int hrda_cpu_convert(int src_dtype, int dst_dtype, long n, const void* x, void* y) {
  HRDA_CHECK_SIZE(n);
  HRDA_CHECK(n == 0 || (x && y), "convert: NULL pointer");
  HRDA_CHECK(dtype_size(src_dtype) && dtype_size(dst_dtype), "convert: unknown dtype %d -> %d", src_dtype, dst_dtype);
  auto load = [&](long i) -> double {
    switch (src_dtype) {
      case HRDA_F32: return ((const float*)x)[i];
      case HRDA_F64: return ((const double*)x)[i];
      case HRDA_BF16: return bf16_to_f32(((const uint16_t*)x)[i]);
      case HRDA_F16: return f16_to_f32(((const uint16_t*)x)[i]);
      case HRDA_I32: return ((const int32_t*)x)[i];
      default: return ((const uint8_t*)x)[i];
    }
  };
#pragma omp parallel for schedule(static) if (n > 65536)
  for (long i = 0; i < n; i++) {
    double v = load(i);
    switch (dst_dtype) {
      case HRDA_F32: ((float*)y)[i] = (float)v; break;
      case HRDA_F64: ((double*)y)[i] = v; break;
      case HRDA_BF16: ((uint16_t*)y)[i] = f32_to_bf16((float)v); break;
      case HRDA_F16: ((uint16_t*)y)[i] = f32_to_f16((float)v); break;
      case HRDA_I32: ((int32_t*)y)[i] = (int32_t)std::lrint(v); break;
      default: ((uint8_t*)y)[i] = (uint8_t)std::lrint(v); break;
    }
  }
  return HRDA_OK;
}
}
