// Max pooling (pool.h): the window's first maximum in row-major order, its index kept for the
// backward, which scatters each output gradient to that input (one plane per thread: no race).
#include "cpu_common.hpp"
#include "hrda/detail/op_checks.h"

using namespace hrda_cpu;

extern "C" {

int hrda_cpu_max_pool2d_forward(int dtype, long NC, long H, long W, long Ho, long Wo, long kernel, long stride, long pad,
                                const void* x, void* y, void* argmax) {
  HRDA_POOL_CHECKS("max_pool2d_forward"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(argmax);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* in = (const T*)x; T* out = (T*)y; int32_t* idx = (int32_t*)argmax;
    _Pragma("omp parallel for collapse(2) schedule(static) if (NC * Ho * Wo > 32768)")
    for (long p = 0; p < NC; p++)
      for (long oh = 0; oh < Ho; oh++) {
        const T* plane = in + p * H * W;
        const long h0 = oh * stride - pad;
        for (long ow = 0; ow < Wo; ow++) {
          const long w0 = ow * stride - pad;
          long best = -1;
          T m = 0;
          for (long i = std::max(h0, 0L); i < std::min(h0 + kernel, H); i++)
            for (long j = std::max(w0, 0L); j < std::min(w0 + kernel, W); j++) {
              const T v = plane[i * W + j];
              if (best < 0 || v > m || std::isnan(v)) {
                if (best >= 0 && std::isnan(m)) continue;  // the first NaN stays
                m = v;
                best = i * W + j;
              }
            }
          out[(p * Ho + oh) * Wo + ow] = m;
          idx[(p * Ho + oh) * Wo + ow] = (int32_t)best;
        }
      })
  return HRDA_OK;
}

int hrda_cpu_max_pool2d_backward(int dtype, long NC, long H, long W, long Ho, long Wo, long kernel, long stride, long pad,
                                 const void* dy, const void* argmax, void* dx, int accumulate) {
  HRDA_POOL_CHECKS("max_pool2d_backward"); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(argmax); HRDA_CHECK_PTR(dx);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* g = (const T*)dy; const int32_t* idx = (const int32_t*)argmax; T* d = (T*)dx;
    _Pragma("omp parallel for schedule(static) if (NC * Ho * Wo > 32768)")
    for (long p = 0; p < NC; p++) {
      T* dp = d + p * H * W;
      if (!accumulate) std::fill(dp, dp + H * W, (T)0);
      for (long o = 0; o < Ho * Wo; o++) dp[idx[p * Ho * Wo + o]] += g[p * Ho * Wo + o];
    })
  return HRDA_OK;
}

}  // extern "C"
