// Layer norm over the last dimension and batch norm 2d over NCHW maps.
//
// Design (statistics in f32 for every CUDA dtype):
//  - layernorm_forward: one warp per row, warp-shuffle sums; the row is read three times
//    (mean, centred variance, output), the re-reads hit L1. 16-byte packs when cols allows.
//  - layernorm_backward: one warp per row for dx (sums of dy*gamma and dy*gamma*xhat); the
//    same pass accumulates dgamma/dbeta in shared memory, one slice per warp (a column of a
//    slice is only ever touched by the one lane that owns it, so no atomics), the block sums its
//    warps' slices in warp order into a workspace and a per-column pass adds the block partials
//    to dgamma/dbeta in block order: bit-identical results run to run on a given GPU. Wide rows
//    (kLnWarps*2*cols floats over 48 KiB, cols > 768) use the column reduction of reduce.cuh.
//  - batchnorm: per-channel sums by the two-stage reduction of reduce.cuh (forward: sums of
//    x - x[0,c,0] and its square, a shift that keeps the variance well conditioned); a
//    per-channel finalize writes save/running stats and the affine coefficients; then one
//    elementwise pass normalises (forward) or forms dx (backward).
//  - batchnorm_eval_backward (frozen statistics): dx = dy * gamma * rs is elementwise, so it is
//    written by the same pass that sums dgamma/dbeta (the reduction's load functor visits every
//    element exactly once); without parameter gradients, a plain elementwise pass.
#include "cuda_common.cuh"
#include "reduce.cuh"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;

namespace {

constexpr int kLnWarps = 8;  // rows per 256-thread block

template <int V, typename T>
__global__ void ln_forward_kernel(long rows, long cols, float eps, const T* x, const T* gamma, const T* beta,
                                  T* y, float* mean, float* rstd) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float inv = 1.f / (float)cols;
  for (long row = (long)blockIdx.x * kLnWarps + warp; row < rows; row += (long)gridDim.x * kLnWarps) {
    const T* xr = x + row * cols;
    float s = 0.f;
    for (long c = (long)lane * V; c < cols; c += 32 * V) {
      float v[V];
      load_f<V>(xr + c, v);
#pragma unroll
      for (int j = 0; j < V; j++) s += v[j];
    }
    const float m = warp_sum(s) * inv;
    float q = 0.f;
    for (long c = (long)lane * V; c < cols; c += 32 * V) {
      float v[V];
      load_f<V>(xr + c, v);
#pragma unroll
      for (int j = 0; j < V; j++) { const float d = v[j] - m; q += d * d; }
    }
    const float rs = 1.f / sqrtf(warp_sum(q) * inv + eps);
    T* yr = y + row * cols;
    for (long c = (long)lane * V; c < cols; c += 32 * V) {
      float v[V], g[V], b[V];
      load_f<V>(xr + c, v);
      load_f<V>(gamma + c, g);
      load_f<V>(beta + c, b);
#pragma unroll
      for (int j = 0; j < V; j++) v[j] = (v[j] - m) * rs * g[j] + b[j];
      store_f<V>(yr + c, v);
    }
    if (lane == 0) { mean[row] = m; rstd[row] = rs; }
  }
}

// part != nullptr: dgamma/dbeta block partials, part[(blockIdx.x*2 + {0,1})*cols + c]
// (shared memory kLnWarps*2*cols floats: warp w's sums of dy*xhat at [w*2*cols + c], of dy at
// [w*2*cols + cols + c])
template <int V, typename T>
__global__ void ln_backward_kernel(long rows, long cols, const T* x, const T* gamma, const float* mean,
                                   const float* rstd, const T* dy, T* dx, int acc, float* part) {
  extern __shared__ float sh[];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float* mine = sh + (long)warp * 2 * cols;
  if (part) {
    for (long c = threadIdx.x; c < kLnWarps * 2 * cols; c += blockDim.x) sh[c] = 0.f;
    __syncthreads();
  }
  const float inv = 1.f / (float)cols;
  for (long row = (long)blockIdx.x * kLnWarps + warp; row < rows; row += (long)gridDim.x * kLnWarps) {
    const T* xr = x + row * cols;
    const T* gr = dy + row * cols;
    const float m = mean[row], rs = rstd[row];
    float sg = 0.f, sgx = 0.f;
    for (long c = (long)lane * V; c < cols; c += 32 * V) {
      float xv[V], gv[V], wv[V];
      load_f<V>(xr + c, xv);
      load_f<V>(gr + c, gv);
      load_f<V>(gamma + c, wv);
#pragma unroll
      for (int j = 0; j < V; j++) {
        const float xh = (xv[j] - m) * rs, gg = gv[j] * wv[j];
        sg += gg;
        sgx += gg * xh;
        if (part) {
          mine[c + j] += gv[j] * xh;  // this lane owns columns c..c+V-1 of its warp's slice
          mine[cols + c + j] += gv[j];
        }
      }
    }
    if (dx) {
      sg = warp_sum(sg) * inv;
      sgx = warp_sum(sgx) * inv;
      T* dr = dx + row * cols;
      for (long c = (long)lane * V; c < cols; c += 32 * V) {
        float xv[V], gv[V], wv[V], dv[V];
        load_f<V>(xr + c, xv);
        load_f<V>(gr + c, gv);
        load_f<V>(gamma + c, wv);
        if (acc) load_f<V>(dr + c, dv);
#pragma unroll
        for (int j = 0; j < V; j++) {
          const float xh = (xv[j] - m) * rs;
          const float v = rs * (gv[j] * wv[j] - sg - xh * sgx);
          dv[j] = acc ? dv[j] + v : v;
        }
        store_f<V>(dr + c, dv);
      }
    }
  }
  if (part) {
    __syncthreads();
    float* out = part + (long)blockIdx.x * 2 * cols;
    for (long c = threadIdx.x; c < 2 * cols; c += blockDim.x) {
      float t = 0.f;
#pragma unroll
      for (int w = 0; w < kLnWarps; w++) t += sh[(long)w * 2 * cols + c];  // fixed order
      out[c] = t;
    }
  }
}

// dgamma[c] += tot[0], dbeta[c] += tot[1]
template <typename T> struct AddParamGrads {
  T* dgamma; T* dbeta;
  __device__ void operator()(long c, const float (&tot)[2]) const {
    if (dgamma) dgamma[c] = from_f<T>(to_f(dgamma[c]) + tot[0]);
    if (dbeta) dbeta[c] = from_f<T>(to_f(dbeta[c]) + tot[1]);
  }
};
// sums of dy*xhat and dy over rows, for the wide-row fallback
template <typename T> struct LnParamLoad {
  const T* x; const T* dy; const float* mean; const float* rstd;
  __device__ void operator()(float (&acc)[2], long idx, long r, long) const {
    const float g = to_f(dy[idx]);
    acc[0] += g * (to_f(x[idx]) - mean[r]) * rstd[r];
    acc[1] += g;
  }
};

// ---- batch norm ----
template <typename T> struct BnStatLoad {  // shifted sums of x over (n, hw)
  const T* x; long HW;
  __device__ void operator()(float (&acc)[2], long idx, long, long c) const {
    const float d = to_f(x[idx]) - to_f(x[c * HW]);
    acc[0] += d;
    acc[1] += d * d;
  }
};
template <typename T> struct BnStatFinal {
  const T* x; const T* gamma; const T* beta; long HW; float cnt, eps, momentum;
  float* running_mean; float* running_var; float* save_mean; float* save_rstd; float2* coef;
  __device__ void operator()(long c, const float (&tot)[2]) const {
    const float ms = tot[0] / cnt;
    const float var = fmaxf(tot[1] / cnt - ms * ms, 0.f);
    const float m = to_f(x[c * HW]) + ms;
    const float rs = 1.f / sqrtf(var + eps);
    save_mean[c] = m;
    save_rstd[c] = rs;
    running_mean[c] = (1.f - momentum) * running_mean[c] + momentum * m;
    running_var[c] = (1.f - momentum) * running_var[c] + momentum * var * cnt / (cnt - 1.f);
    const float a = rs * to_f(gamma[c]);
    coef[c] = make_float2(a, to_f(beta[c]) - m * a);
  }
};
template <typename T>
__global__ void bn_eval_coef_kernel(long C, float eps, const T* gamma, const T* beta, const float* running_mean,
                                    const float* running_var, float* save_mean, float* save_rstd, float2* coef) {
  for (long c = (long)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (long)gridDim.x * blockDim.x) {
    const float m = running_mean[c], rs = 1.f / sqrtf(running_var[c] + eps);
    if (save_mean) save_mean[c] = m;
    if (save_rstd) save_rstd[c] = rs;
    const float a = rs * to_f(gamma[c]);
    coef[c] = make_float2(a, to_f(beta[c]) - m * a);
  }
}
template <typename T> struct BnApplyOp {  // y = x*a[c] + b[c]
  const T* x; T* y; const float2* coef; DivMod dHW, dC;
  template <int V> __device__ void run(long i) const {
    long row, q;
    dHW.divmod(i, row);
    const float2 k = coef[dC.divmod(row, q)];
    float v[V];
    load_f<V>(x + i, v);
#pragma unroll
    for (int j = 0; j < V; j++) v[j] = v[j] * k.x + k.y;
    store_f<V>(y + i, v);
  }
};

template <typename T> struct BnBwdLoad {  // sums of dy and dy*xhat
  const T* x; const T* dy; const float* mean; const float* rstd;
  __device__ void operator()(float (&acc)[2], long idx, long, long c) const {
    const float g = to_f(dy[idx]);
    acc[0] += g;
    acc[1] += g * (to_f(x[idx]) - mean[c]) * rstd[c];
  }
};
template <typename T> struct BnBwdFinal {
  const T* gamma; const float* mean; const float* rstd; T* dgamma; T* dbeta; float cnt; float4* coef;
  __device__ void operator()(long c, const float (&tot)[2]) const {
    if (dgamma) dgamma[c] = from_f<T>(to_f(dgamma[c]) + tot[1]);
    if (dbeta) dbeta[c] = from_f<T>(to_f(dbeta[c]) + tot[0]);
    if (coef) {
      const float rs = rstd[c];
      coef[c] = make_float4(to_f(gamma[c]) * rs, tot[0] / cnt, mean[c], rs * tot[1] / cnt);
    }
  }
};
template <typename T> struct BnDxOp {  // dx = gamma*rs * (dy - mean(dy) - (x - m)*rs*mean(dy*xhat))
  const T* x; const T* dy; T* dx; const float4* coef; DivMod dHW, dC; int acc;
  template <int V> __device__ void run(long i) const {
    long row, q;
    dHW.divmod(i, row);
    const float4 k = coef[dC.divmod(row, q)];
    float xv[V], gv[V], d[V];
    load_f<V>(x + i, xv);
    load_f<V>(dy + i, gv);
    if (acc) load_f<V>(dx + i, d);
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float v = k.x * (gv[j] - k.y - (xv[j] - k.z) * k.w);
      d[j] = acc ? d[j] + v : v;
    }
    store_f<V>(dx + i, d);
  }
};

// eval-mode backward: rs = 1 / sqrt(running_var + eps) as the eval forward computes it
struct BnEvalCoef {
  const float* rm; const float* rv; float eps;
  __device__ __forceinline__ float rs(long c) const { return 1.f / sqrtf(rv[c] + eps); }
};
template <typename T> struct BnEvalBwdLoad {  // sums of dy and dy*(x - rm)*rs; writes dx when dx != NULL
  const T* x; const T* dy; const T* gamma; BnEvalCoef k; T* dx; int acc;
  __device__ void operator()(float (&a)[2], long idx, long, long c) const {
    const float g = to_f(dy[idx]), rs = k.rs(c);
    a[0] += g;
    a[1] += g * (to_f(x[idx]) - k.rm[c]) * rs;
    if (dx) {
      const float v = g * to_f(gamma[c]) * rs;
      dx[idx] = from_f<T>(acc ? to_f(dx[idx]) + v : v);
    }
  }
};
template <typename T> struct BnEvalDxOp {  // dx (+)= dy * gamma * rs
  const T* dy; const T* gamma; BnEvalCoef k; T* dx; DivMod dHW, dC; int acc;
  template <int V> __device__ void run(long i) const {
    long row, q;
    dHW.divmod(i, row);
    const long c = dC.divmod(row, q);
    const float s = to_f(gamma[c]) * k.rs(c);
    float g[V], d[V];
    load_f<V>(dy + i, g);
    if (acc) load_f<V>(dx + i, d);
#pragma unroll
    for (int j = 0; j < V; j++) d[j] = acc ? d[j] + g[j] * s : g[j] * s;
    store_f<V>(dx + i, d);
  }
};

}  // namespace

extern "C" {

int hrda_cuda_layernorm_forward(int dtype, long rows, long cols, float eps, const void* x, const void* gamma,
                                const void* beta, void* y, void* mean, void* rstd, void* stream) {
  HRDA_CHECK(rows >= 0 && cols > 0, "layernorm_forward: rows %ld, cols %ld", rows, cols);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(beta); HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(mean); HRDA_CHECK_PTR(rstd);
  HRDA_CHECK(eps > 0, "layernorm_forward: eps %g must be positive", (double)eps);
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (rows == 0) return HRDA_OK;
    constexpr int V = vec_width<T>();
    const bool vec = cols % V == 0 && aligned16(x) && aligned16(gamma) && aligned16(beta) && aligned16(y);
    const unsigned int g = grid_for(rows * 32);
    if (vec) ln_forward_kernel<V, T><<<g, kLnWarps * 32, 0, st>>>(rows, cols, eps, (const T*)x, (const T*)gamma,
                                                                   (const T*)beta, (T*)y, (float*)mean, (float*)rstd);
    else ln_forward_kernel<1, T><<<g, kLnWarps * 32, 0, st>>>(rows, cols, eps, (const T*)x, (const T*)gamma,
                                                               (const T*)beta, (T*)y, (float*)mean, (float*)rstd));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_layernorm_backward(int dtype, long rows, long cols, const void* x, const void* gamma, const void* mean,
                                 const void* rstd, const void* dy, void* dx, void* dgamma, void* dbeta, int accumulate,
                                 void* stream) {
  HRDA_CHECK(rows >= 0 && cols > 0, "layernorm_backward: rows %ld, cols %ld", rows, cols);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(mean); HRDA_CHECK_PTR(rstd); HRDA_CHECK_PTR(dy);
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (rows == 0 || (!dx && !dgamma && !dbeta)) return HRDA_OK;
    constexpr int V = vec_width<T>();
    const bool vec = cols % V == 0 && aligned16(x) && aligned16(gamma) && aligned16(dy) && aligned16(dx);
    const bool params = dgamma || dbeta;
    const size_t part_bytes = 2 * (size_t)cols * sizeof(float);  // one block's partials
    const size_t smem = kLnWarps * part_bytes;                     // one slice per warp
    const bool fused = params && smem <= 48 * 1024;
    unsigned int g = grid_for(rows * 32);
    if (fused) {
      const long cap = 2L * sm_count();
      if (g > cap) g = (unsigned int)cap;
    }
    Workspace ws(st);
    if (fused) HRDA_WS_ALLOC(ws, (size_t)g * part_bytes);
    float* part = fused ? ws.as<float>() : nullptr;
    if (dx || fused) {
      const size_t sm = fused ? smem : 0;
      if (vec) ln_backward_kernel<V, T><<<g, kLnWarps * 32, sm, st>>>(rows, cols, (const T*)x, (const T*)gamma,
          (const float*)mean, (const float*)rstd, (const T*)dy, (T*)dx, accumulate != 0, part);
      else ln_backward_kernel<1, T><<<g, kLnWarps * 32, sm, st>>>(rows, cols, (const T*)x, (const T*)gamma,
          (const float*)mean, (const float*)rstd, (const T*)dy, (T*)dx, accumulate != 0, part);
    }
    const AddParamGrads<T> fin{(T*)dgamma, (T*)dbeta};
    if (fused) {
      ChanPlan plan{rows, cols, 1, (int)g, 0};
      chan_finalize<2>(plan, part, fin, st);
    } else if (params) {
      const ChanPlan plan = chan_plan(rows, cols, 1);
      Workspace ws2(st);
      HRDA_WS_ALLOC(ws2, plan.part_floats(2) * sizeof(float));
      chan_partials<2>(plan, LnParamLoad<T>{(const T*)x, (const T*)dy, (const float*)mean, (const float*)rstd},
                       ws2.as<float>(), st);
      chan_finalize<2>(plan, ws2.as<float>(), fin, st);
    });
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_batchnorm_forward(int dtype, long N, long C, long HW, float eps, float momentum, int training,
                                const void* x, const void* gamma, const void* beta, void* y,
                                void* running_mean, void* running_var, void* save_mean, void* save_rstd, void* stream) {
  HRDA_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_forward: N %ld, C %ld, HW %ld must be positive", N, C, HW);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(beta); HRDA_CHECK_PTR(y);
  HRDA_CHECK_PTR(running_mean); HRDA_CHECK_PTR(running_var);
  HRDA_CHECK(!training || (save_mean && save_rstd), "batchnorm_forward: training needs save_mean and save_rstd");
  HRDA_CHECK(!training || N * HW > 1, "batchnorm_forward: training needs more than 1 value per channel (N*HW = %ld)", N * HW);
  cudaStream_t st = as_stream(stream);
  const long n = N * C * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    const ChanPlan plan = chan_plan(N, C, HW);
    const size_t coef_bytes = ((size_t)C * sizeof(float2) + 255) / 256 * 256;
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, coef_bytes + (training ? plan.part_floats(2) * sizeof(float) : 0));
    float2* coef = ws.as<float2>();
    if (training) {
      float* part = ws.as<float>(coef_bytes);
      chan_partials<2>(plan, BnStatLoad<T>{(const T*)x, HW}, part, st);
      const BnStatFinal<T> fin{(const T*)x, (const T*)gamma, (const T*)beta, HW, (float)(N * HW), eps, momentum,
                               (float*)running_mean, (float*)running_var, (float*)save_mean, (float*)save_rstd, coef};
      chan_finalize<2>(plan, part, fin, st);
    } else {
      bn_eval_coef_kernel<T><<<grid_for(C), kThreads, 0, st>>>(C, eps, (const T*)gamma, (const T*)beta,
          (const float*)running_mean, (const float*)running_var, (float*)save_mean, (float*)save_rstd, coef);
    }
    const BnApplyOp<T> op{(const T*)x, (T*)y, coef, DivMod::make(HW, n), DivMod::make(C, N * C)};
    launch_map<T>(n, op, aligned16(x) && aligned16(y), HW, st));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_batchnorm_backward(int dtype, long N, long C, long HW, const void* x, const void* gamma,
                                 const void* save_mean, const void* save_rstd, const void* dy, void* dx, void* dgamma,
                                 void* dbeta, int accumulate, void* stream) {
  HRDA_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_backward: N %ld, C %ld, HW %ld must be positive", N, C, HW);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(save_mean); HRDA_CHECK_PTR(save_rstd); HRDA_CHECK_PTR(dy);
  cudaStream_t st = as_stream(stream);
  const long n = N * C * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    if (!dx && !dgamma && !dbeta) return HRDA_OK;
    const ChanPlan plan = chan_plan(N, C, HW);
    const size_t coef_bytes = ((size_t)C * sizeof(float4) + 255) / 256 * 256;
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, coef_bytes + plan.part_floats(2) * sizeof(float));
    float4* coef = dx ? ws.as<float4>() : nullptr;
    float* part = ws.as<float>(coef_bytes);
    chan_partials<2>(plan, BnBwdLoad<T>{(const T*)x, (const T*)dy, (const float*)save_mean, (const float*)save_rstd},
                     part, st);
    const BnBwdFinal<T> fin{(const T*)gamma, (const float*)save_mean, (const float*)save_rstd, (T*)dgamma, (T*)dbeta,
                            (float)(N * HW), coef};
    chan_finalize<2>(plan, part, fin, st);
    if (dx) {
      const BnDxOp<T> op{(const T*)x, (const T*)dy, (T*)dx, coef, DivMod::make(HW, n), DivMod::make(C, N * C),
                         accumulate != 0};
      launch_map<T>(n, op, aligned16(x) && aligned16(dy) && aligned16(dx), HW, st);
    });
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_batchnorm_eval_backward(int dtype, long N, long C, long HW, float eps, const void* x, const void* gamma,
                                      const void* running_mean, const void* running_var, const void* dy, void* dx,
                                      void* dgamma, void* dbeta, int accumulate, void* stream) {
  HRDA_BN_EVAL_BACKWARD_CHECKS("batchnorm_eval_backward");
  cudaStream_t st = as_stream(stream);
  const long n = N * C * HW;
  const BnEvalCoef k{(const float*)running_mean, (const float*)running_var, eps};
  HRDA_DISPATCH_FLOAT(dtype,
    if (!dgamma && !dbeta) {
      if (!dx) return HRDA_OK;
      const BnEvalDxOp<T> op{(const T*)dy, (const T*)gamma, k, (T*)dx, DivMod::make(HW, n), DivMod::make(C, N * C),
                             accumulate != 0};
      launch_map<T>(n, op, aligned16(dy) && aligned16(dx), HW, st);
    } else {
      const ChanPlan plan = chan_plan(N, C, HW);
      Workspace ws(st);
      HRDA_WS_ALLOC(ws, plan.part_floats(2) * sizeof(float));
      chan_partials<2>(plan, BnEvalBwdLoad<T>{(const T*)x, (const T*)dy, (const T*)gamma, k, (T*)dx, accumulate != 0},
                       ws.as<float>(), st);
      const BnBwdFinal<T> fin{nullptr, nullptr, nullptr, (T*)dgamma, (T*)dbeta, 0.f, nullptr};
      chan_finalize<2>(plan, ws.as<float>(), fin, st);
    });
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
