// Max pooling on the GPU (pool.h), the same rule as the CPU twin.
//
// Design: forward, one thread per output (window scan in row-major order, the first maximum
// and its plane index). Backward is a gather, one thread per input: the outputs whose windows
// cover input (i, j) are a small rectangle (at most ceil(k/s)^2), and the thread sums those
// whose recorded arg-max is (i, j), in output order. No atomics, no zero fill, deterministic.
#include "cuda_common.cuh"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;

namespace {

template <typename T>
__global__ void max_pool_forward_kernel(long total, long H, long W, long Ho, long Wo, long k, long s, long pad,
                                        DivMod dWo, DivMod dHo, const T* x, T* y, int32_t* argmax) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, p;
    const long ow = dWo.divmod(idx, r);
    const long oh = dHo.divmod(r, p);
    const T* plane = x + p * H * W;
    const long h0 = oh * s - pad, w0 = ow * s - pad;
    long best = -1;
    float m = 0.f;
    for (long i = max(h0, 0L); i < min(h0 + k, H); i++)
      for (long j = max(w0, 0L); j < min(w0 + k, W); j++) {
        const float v = to_f(plane[i * W + j]);
        if (best >= 0 && isnan(m)) continue;
        if (best < 0 || v > m || isnan(v)) { m = v; best = i * W + j; }
      }
    y[idx] = plane[best];
    argmax[idx] = (int32_t)best;
  }
}

template <typename T>
__global__ void max_pool_backward_kernel(long total, long H, long W, long Ho, long Wo, long k, long s, long pad,
                                         DivMod dW, DivMod dH, const T* dy, const int32_t* argmax, T* dx, int acc) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, p;
    const long j = dW.divmod(idx, r);
    const long i = dH.divmod(r, p);
    // outputs o with o*s - pad <= i < o*s - pad + k
    const long oh0 = max(0L, (i + pad - k + s) / s), oh1 = min(Ho - 1, (i + pad) / s);
    const long ow0 = max(0L, (j + pad - k + s) / s), ow1 = min(Wo - 1, (j + pad) / s);
    const int32_t self = (int32_t)(i * W + j);
    float g = 0.f;
    for (long oh = oh0; oh <= oh1; oh++)
      for (long ow = ow0; ow <= ow1; ow++) {
        const long o = (p * Ho + oh) * Wo + ow;
        if (argmax[o] == self) g += to_f(dy[o]);
      }
    dx[idx] = from_f<T>(acc ? to_f(dx[idx]) + g : g);
  }
}

}  // namespace

extern "C" {

int hrda_cuda_max_pool2d_forward(int dtype, long NC, long H, long W, long Ho, long Wo, long kernel, long stride, long pad,
                                 const void* x, void* y, void* argmax, void* stream) {
  HRDA_POOL_CHECKS("max_pool2d_forward"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(argmax);
  const long total = NC * Ho * Wo;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    max_pool_forward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        total, H, W, Ho, Wo, kernel, stride, pad, DivMod::make(Wo, total), DivMod::make(Ho, total / Wo),
        (const T*)x, (T*)y, (int32_t*)argmax));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_max_pool2d_backward(int dtype, long NC, long H, long W, long Ho, long Wo, long kernel, long stride, long pad,
                                  const void* dy, const void* argmax, void* dx, int accumulate, void* stream) {
  HRDA_POOL_CHECKS("max_pool2d_backward"); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(argmax); HRDA_CHECK_PTR(dx);
  const long total = NC * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    max_pool_backward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        total, H, W, Ho, Wo, kernel, stride, pad, DivMod::make(W, total), DivMod::make(H, total / W),
        (const T*)dy, (const int32_t*)argmax, (T*)dx, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
