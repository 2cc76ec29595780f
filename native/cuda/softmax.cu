// Softmax over the middle axis of [outer, C, inner] and the segmentation cross-entropy.
//
// Design: two layouts, two kernels.
//  - inner == 1 (token rows): one warp per row. Each lane keeps an online (max, sum of exp)
//    over its columns; lanes merge with shuffles; a second pass writes. 16-byte packs when the
//    row length allows.
//  - inner > 1 (NCHW logits): one thread per pixel (o, i) walks the C channels with stride
//    inner; neighbouring threads read neighbouring pixels, so every load is coalesced. One
//    online pass for (max, sum), one pass to write.
// Cross-entropy is per pixel (the NCHW kernel shape); labels outside [0, C) other than
// ignore_index are counted into bad_labels[0] with one atomic per warp and treated as ignored,
// so the forward never synchronises with the host.
#include "cuda_common.cuh"
#include "cross_entropy.cuh"

using namespace hrda_cuda;

namespace {

template <int V, typename T>
__global__ void softmax_rows_kernel(long rows, long C, const T* x, T* y) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpb = blockDim.x >> 5;
  for (long row = (long)blockIdx.x * wpb + warp; row < rows; row += (long)gridDim.x * wpb) {
    const T* xr = x + row * C;
    Online st{-INFINITY, 0.f};
    for (long c = (long)lane * V; c < C; c += 32 * V) {
      float v[V];
      load_f<V>(xr + c, v);
#pragma unroll
      for (int j = 0; j < V; j++) st.add(v[j]);
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
      const float om = __shfl_xor_sync(0xffffffffu, st.m, o), os = __shfl_xor_sync(0xffffffffu, st.s, o);
      st.merge(om, os);
    }
    const float inv = 1.f / st.s;
    T* yr = y + row * C;
    for (long c = (long)lane * V; c < C; c += 32 * V) {
      float v[V];
      load_f<V>(xr + c, v);
#pragma unroll
      for (int j = 0; j < V; j++) v[j] = expf(v[j] - st.m) * inv;
      store_f<V>(yr + c, v);
    }
  }
}

template <typename T>
__global__ void softmax_pixels_kernel(long total, long C, long inner, DivMod d_inner, const T* x, T* y) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long o;
    const long i = d_inner.divmod(idx, o);
    const long base = o * C * inner + i;
    const T* xp = x + base;
    Online st{-INFINITY, 0.f};
    for (long c = 0; c < C; c++) st.add(to_f(xp[c * inner]));
    const float inv = 1.f / st.s;
    T* yp = y + base;
    for (long c = 0; c < C; c++) yp[c * inner] = from_f<T>(expf(to_f(xp[c * inner]) - st.m) * inv);
  }
}

template <int V, typename T>
__global__ void softmax_bwd_rows_kernel(long rows, long C, const T* y, const T* dy, T* dx, int acc) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, wpb = blockDim.x >> 5;
  for (long row = (long)blockIdx.x * wpb + warp; row < rows; row += (long)gridDim.x * wpb) {
    const T* yr = y + row * C;
    const T* gr = dy + row * C;
    float dot = 0.f;
    for (long c = (long)lane * V; c < C; c += 32 * V) {
      float a[V], b[V];
      load_f<V>(yr + c, a);
      load_f<V>(gr + c, b);
#pragma unroll
      for (int j = 0; j < V; j++) dot += a[j] * b[j];
    }
    dot = warp_sum(dot);
    T* dr = dx + row * C;
    for (long c = (long)lane * V; c < C; c += 32 * V) {
      float a[V], b[V], d[V];
      load_f<V>(yr + c, a);
      load_f<V>(gr + c, b);
      if (acc) load_f<V>(dr + c, d);
#pragma unroll
      for (int j = 0; j < V; j++) {
        const float v = a[j] * (b[j] - dot);
        d[j] = acc ? d[j] + v : v;
      }
      store_f<V>(dr + c, d);
    }
  }
}

template <typename T>
__global__ void softmax_bwd_pixels_kernel(long total, long C, long inner, DivMod d_inner, const T* y, const T* dy,
                                          T* dx, int acc) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long o;
    const long i = d_inner.divmod(idx, o);
    const long base = o * C * inner + i;
    float dot = 0.f;
    for (long c = 0; c < C; c++) dot += to_f(y[base + c * inner]) * to_f(dy[base + c * inner]);
    for (long c = 0; c < C; c++) {
      const long k = base + c * inner;
      const float v = to_f(y[k]) * (to_f(dy[k]) - dot);
      dx[k] = from_f<T>(acc ? to_f(dx[k]) + v : v);
    }
  }
}

template <typename T>
__global__ void ce_forward_kernel(long total, long C, long HW, DivMod d_hw, const T* logits, const int* labels,
                                  const T* weight, int ignore, T* loss, int* bad_labels) {
  const long stride = (long)gridDim.x * blockDim.x;
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < whole_warps(total); idx += stride) {
    bool bad = false;
    if (idx < total) {
      const int l = labels[idx];
      bad = is_bad_label(l, ignore, C);
      if (l == ignore || bad) loss[idx] = from_f<T>(0.f);
      else {
        long n;
        const long p = d_hw.divmod(idx, n);
        const T* xp = logits + n * C * HW + p;
        Online st{-INFINITY, 0.f};
        for (long c = 0; c < C; c++) st.add(to_f(xp[c * HW]));
        const float nll = logf(st.s) + st.m - to_f(xp[(long)l * HW]);
        loss[idx] = from_f<T>(weight ? to_f(weight[idx]) * nll : nll);
      }
    }
    count_bad_labels(bad, bad_labels);
  }
}

template <typename T>
__global__ void ce_backward_kernel(long total, long C, long HW, DivMod d_hw, const T* logits, const int* labels,
                                   const T* weight, int ignore, float grad_scale, T* dlogits, int acc) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long n;
    const long p = d_hw.divmod(idx, n);
    const int l = labels[idx];
    const bool valid = l != ignore && l >= 0 && (long)l < C;
    const float scale = valid ? grad_scale * (weight ? to_f(weight[idx]) : 1.f) : 0.f;
    const long base = n * C * HW + p;
    const T* xp = logits + base;
    T* dp = dlogits + base;
    Online st{-INFINITY, 0.f};
    for (long c = 0; c < C; c++) st.add(to_f(xp[c * HW]));
    const float inv = 1.f / st.s;
    for (long c = 0; c < C; c++) {
      const float pr = expf(to_f(xp[c * HW]) - st.m) * inv;
      const float v = scale * (pr - (c == l ? 1.f : 0.f));
      dp[c * HW] = from_f<T>(acc ? to_f(dp[c * HW]) + v : v);
    }
  }
}

}  // namespace

extern "C" {

int hrda_cuda_softmax_forward(int dtype, long outer, long C, long inner, const void* x, void* y, void* stream) {
  HRDA_CHECK(outer >= 0 && C > 0 && inner > 0, "softmax_forward: outer %ld, C %ld, inner %ld", outer, C, inner);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (outer == 0) return HRDA_OK;
    if (inner == 1) {
      constexpr int V = vec_width<T>();
      const unsigned int g = grid_for(outer * 32);
      if (C % V == 0 && aligned16(x) && aligned16(y))
        softmax_rows_kernel<V, T><<<g, kThreads, 0, st>>>(outer, C, (const T*)x, (T*)y);
      else softmax_rows_kernel<1, T><<<g, kThreads, 0, st>>>(outer, C, (const T*)x, (T*)y);
    } else {
      const long total = outer * inner;
      softmax_pixels_kernel<T><<<grid_for(total), kThreads, 0, st>>>(total, C, inner, DivMod::make(inner, total),
                                                                     (const T*)x, (T*)y);
    });
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_softmax_backward(int dtype, long outer, long C, long inner, const void* y, const void* dy, void* dx,
                               int accumulate, void* stream) {
  HRDA_CHECK(outer >= 0 && C > 0 && inner > 0, "softmax_backward: outer %ld, C %ld, inner %ld", outer, C, inner);
  HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(dx);
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (outer == 0) return HRDA_OK;
    if (inner == 1) {
      constexpr int V = vec_width<T>();
      const unsigned int g = grid_for(outer * 32);
      if (C % V == 0 && aligned16(y) && aligned16(dy) && aligned16(dx))
        softmax_bwd_rows_kernel<V, T><<<g, kThreads, 0, st>>>(outer, C, (const T*)y, (const T*)dy, (T*)dx, accumulate != 0);
      else softmax_bwd_rows_kernel<1, T><<<g, kThreads, 0, st>>>(outer, C, (const T*)y, (const T*)dy, (T*)dx, accumulate != 0);
    } else {
      const long total = outer * inner;
      softmax_bwd_pixels_kernel<T><<<grid_for(total), kThreads, 0, st>>>(total, C, inner, DivMod::make(inner, total),
          (const T*)y, (const T*)dy, (T*)dx, accumulate != 0);
    });
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_cross_entropy_forward(int dtype, long N, long C, long HW, const void* logits, const int* labels,
                                    const void* weight, int ignore_index, void* loss, int* bad_labels, void* stream) {
  HRDA_CHECK(N >= 0 && C > 0 && HW >= 0, "cross_entropy_forward: N %ld, C %ld, HW %ld", N, C, HW);
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(loss);
  const long total = N * HW;
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    ce_forward_kernel<T><<<grid_for(total), kThreads, 0, st>>>(total, C, HW, DivMod::make(HW, total),
        (const T*)logits, labels, (const T*)weight, ignore_index, (T*)loss, bad_labels));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_cross_entropy_backward(int dtype, long N, long C, long HW, const void* logits, const int* labels,
                                     const void* weight, int ignore_index, double grad_scale, void* dlogits,
                                     int accumulate, void* stream) {
  HRDA_CHECK(N >= 0 && C > 0 && HW >= 0, "cross_entropy_backward: N %ld, C %ld, HW %ld", N, C, HW);
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(dlogits);
  const long total = N * HW;
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    ce_backward_kernel<T><<<grid_for(total), kThreads, 0, st>>>(total, C, HW, DivMod::make(HW, total),
        (const T*)logits, labels, (const T*)weight, ignore_index, (float)grad_scale, (T*)dlogits, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
