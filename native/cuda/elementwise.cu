// Elementwise ops, activations, dropout, bias broadcast, reductions and dtype conversion.
//
// Design: the maps are small functor structs run by the shared grid-stride map_kernel
// (cuda_common.cuh), which loads and stores 16-byte packs when every pointer is 16-byte
// aligned (scalar tail otherwise), converts to f32, computes and rounds once on store.
// Reductions are deterministic: channel_sum uses the two-stage per-channel reduction of
// reduce.cuh, sum uses per-block partials and a one-block second pass (no atomics, no memset).
// Dropout draws hrda_uniform(seed, i / group) exactly as the CPU twin, so masks are identical.
#include "cuda_common.cuh"
#include "reduce.cuh"
#include <type_traits>

using namespace hrda_cuda;

namespace {

// ---------------------------------------------------------------- kernels / functors

template <typename T> struct FillOp {
  T* y; float v;
  template <int V> __device__ void run(long i) const {
    float r[V];
#pragma unroll
    for (int j = 0; j < V; j++) r[j] = v;
    store_f<V>(y + i, r);
  }
};

template <typename E>
__global__ void fill_int_kernel(long n, E v, E* y) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) y[i] = v;
}

template <typename T> struct AxpbyOp {
  const T* x; const T* y; T* out; float a, b;
  template <int V> __device__ void run(long i) const {
    float xa[V], r[V];
    load_f<V>(x + i, xa);
    if (y) {
      float ya[V];
      load_f<V>(y + i, ya);
#pragma unroll
      for (int j = 0; j < V; j++) r[j] = a * xa[j] + b * ya[j];
    } else {
#pragma unroll
      for (int j = 0; j < V; j++) r[j] = a * xa[j];
    }
    store_f<V>(out + i, r);
  }
};

template <typename T> struct MulOp {
  const T* a; const T* b; T* out; int acc;
  template <int V> __device__ void run(long i) const {
    float x[V], y[V], r[V];
    load_f<V>(a + i, x);
    load_f<V>(b + i, y);
    if (acc) load_f<V>(out + i, r);
#pragma unroll
    for (int j = 0; j < V; j++) r[j] = acc ? r[j] + x[j] * y[j] : x[j] * y[j];
    store_f<V>(out + i, r);
  }
};

// y[o, c, i] += bias[c]; a pack never straddles two channels when inner % V == 0, and when
// inner == 1 (tokens) a V-aligned pack covers channels c0..c0+V-1 (C % V == 0).
template <typename T> struct AddBiasOp {
  T* y; const T* bias; DivMod d_inner, d_C;
  template <int V> __device__ void run(long i) const {
    long row, q;
    d_inner.divmod(i, row);
    const long c0 = d_C.divmod(row, q);
    float r[V];
    load_f<V>(y + i, r);
    if (d_inner.d == 1) {
#pragma unroll
      for (int j = 0; j < V; j++) r[j] += to_f(bias[c0 + j]);
    } else {
      const float b = to_f(bias[c0]);
#pragma unroll
      for (int j = 0; j < V; j++) r[j] += b;
    }
    store_f<V>(y + i, r);
  }
};

template <typename T> struct SumLoad {
  const T* x;
  __device__ void operator()(float (&acc)[1], long idx, long, long) const { acc[0] += to_f(x[idx]); }
};
template <typename T> struct ChannelSumFinal {
  T* out; int acc;
  __device__ void operator()(long c, const float (&tot)[1]) const {
    out[c] = from_f<T>(acc ? to_f(out[c]) + tot[0] : tot[0]);
  }
};

template <int V, typename T>
__global__ void sum_partial_kernel(long n, const T* x, float* part) {
  float s[1] = {0.f};
  const long stride = (long)gridDim.x * blockDim.x, t = (long)blockIdx.x * blockDim.x + threadIdx.x;
  const long nv = n / V;
  for (long j = t; j < nv; j += stride) {
    float v[V];
    load_f<V>(x + j * V, v);
#pragma unroll
    for (int k = 0; k < V; k++) s[0] += v[k];
  }
  for (long i = nv * V + t; i < n; i += stride) s[0] += to_f(x[i]);
  block_sum<1>(s);
  if (threadIdx.x == 0) part[blockIdx.x] = s[0];
}
template <typename T>
__global__ void sum_final_kernel(int parts, const float* part, T* out) {
  float s[1] = {0.f};
  for (int i = threadIdx.x; i < parts; i += blockDim.x) s[0] += part[i];
  block_sum<1>(s);
  if (threadIdx.x == 0) out[0] = from_f<T>(s[0]);
}

__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.f + erff(x * 0.70710678118654752440f)); }
__device__ __forceinline__ float gelu_grad_f(float x) {
  const float cdf = 0.5f * (1.f + erff(x * 0.70710678118654752440f));
  const float pdf = expf(-0.5f * x * x) * 0.39894228040143267794f;
  return cdf + x * pdf;
}

template <typename T> struct ActForwardOp {
  const T* x; T* y; int kind;
  template <int V> __device__ void run(long i) const {
    float a[V];
    load_f<V>(x + i, a);
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float v = a[j];
      a[j] = kind == HRDA_RELU ? (v > 0.f ? v : 0.f) : kind == HRDA_GELU ? gelu_f(v) : 1.f / (1.f + expf(-v));
    }
    store_f<V>(y + i, a);
  }
};

template <typename T> struct ActBackwardOp {
  const T* x; const T* y; const T* dy; T* dx; int kind, acc;
  template <int V> __device__ void run(long i) const {
    float in[V], g[V], d[V];
    load_f<V>((kind == HRDA_SIGMOID ? y : x) + i, in);
    load_f<V>(dy + i, g);
    if (acc) load_f<V>(dx + i, d);
#pragma unroll
    for (int j = 0; j < V; j++) {
      const float v = in[j];
      const float local = kind == HRDA_RELU ? (v > 0.f ? 1.f : 0.f) : kind == HRDA_GELU ? gelu_grad_f(v) : v * (1.f - v);
      const float r = g[j] * local;
      d[j] = acc ? d[j] + r : r;
    }
    store_f<V>(dx + i, d);
  }
};

template <typename T> struct DropoutOp {
  const T* x; T* y; DivMod d_group; unsigned long long seed; float p, scale; int acc;
  template <int V> __device__ void run(long i) const {
    float a[V], o[V];
    load_f<V>(x + i, a);
    if (acc) load_f<V>(y + i, o);
#pragma unroll
    for (int j = 0; j < V; j++) {
      const long g = d_group.d == 1 ? i + j : d_group.div(i + j);
      const float v = hrda_uniform(seed, (unsigned long long)g) >= p ? a[j] * scale : 0.f;
      o[j] = acc ? o[j] + v : v;
    }
    store_f<V>(y + i, o);
  }
};

// ---- convert: through f32, or f64 when either side is f64 (as the CPU twin's double path
// gives the same values: int -> float and double -> float both round once) ----
template <typename M> __device__ __forceinline__ M load_mid(float v) { return (M)v; }
template <typename M> __device__ __forceinline__ M load_mid(double v) { return (M)v; }
template <typename M> __device__ __forceinline__ M load_mid(__nv_bfloat16 v) { return (M)__bfloat162float(v); }
template <typename M> __device__ __forceinline__ M load_mid(__half v) { return (M)__half2float(v); }
template <typename M> __device__ __forceinline__ M load_mid(int32_t v) { return (M)v; }
template <typename M> __device__ __forceinline__ M load_mid(uint8_t v) { return (M)v; }

template <typename D> struct StoreMid;
template <> struct StoreMid<float> { template <typename M> __device__ static float go(M v) { return (float)v; } };
template <> struct StoreMid<double> { template <typename M> __device__ static double go(M v) { return (double)v; } };
template <> struct StoreMid<__nv_bfloat16> { template <typename M> __device__ static __nv_bfloat16 go(M v) { return __float2bfloat16_rn((float)v); } };
template <> struct StoreMid<__half> { template <typename M> __device__ static __half go(M v) { return __float2half_rn((float)v); } };
// round half to even, then wrap like the CPU's (int32_t)lrint / (uint8_t)lrint
__device__ __forceinline__ long long rint_ll(float v) { return (long long)rintf(v); }
__device__ __forceinline__ long long rint_ll(double v) { return (long long)rint(v); }
template <> struct StoreMid<int32_t> { template <typename M> __device__ static int32_t go(M v) { return (int32_t)rint_ll(v); } };
template <> struct StoreMid<uint8_t> { template <typename M> __device__ static uint8_t go(M v) { return (uint8_t)rint_ll(v); } };

// f64 intermediate when either side is f64, and for i32 -> u8 (f32 would round large ints)
template <typename S, typename D> struct MidOf {
  static constexpr bool wide = std::is_same<D, double>::value || std::is_same<S, double>::value ||
                               (std::is_same<S, int32_t>::value && std::is_same<D, uint8_t>::value);
  using type = typename std::conditional<wide, double, float>::type;
};

template <typename S, typename D>
__global__ void convert_kernel(long n, const S* x, D* y) {
  using M = typename MidOf<S, D>::type;
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    y[i] = StoreMid<D>::go(load_mid<M>(x[i]));
}

template <typename S>
int convert_from(int dst_dtype, long n, const S* x, void* y, cudaStream_t st) {
  const unsigned int g = grid_for(n);
  switch (dst_dtype) {
    case HRDA_F32: convert_kernel<<<g, kThreads, 0, st>>>(n, x, (float*)y); break;
    case HRDA_F64: convert_kernel<<<g, kThreads, 0, st>>>(n, x, (double*)y); break;
    case HRDA_BF16: convert_kernel<<<g, kThreads, 0, st>>>(n, x, (__nv_bfloat16*)y); break;
    case HRDA_F16: convert_kernel<<<g, kThreads, 0, st>>>(n, x, (__half*)y); break;
    case HRDA_I32: convert_kernel<<<g, kThreads, 0, st>>>(n, x, (int32_t*)y); break;
    default: convert_kernel<<<g, kThreads, 0, st>>>(n, x, (uint8_t*)y); break;
  }
  return HRDA_OK;
}

inline size_t dtype_size(int dtype) {
  switch (dtype) {
    case HRDA_F32: case HRDA_I32: return 4;
    case HRDA_F64: return 8;
    case HRDA_BF16: case HRDA_F16: return 2;
    case HRDA_U8: return 1;
    default: return 0;
  }
}

}  // namespace

// ---------------------------------------------------------------- host launchers

extern "C" {

int hrda_cuda_fill(int dtype, long n, double value, void* y, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || y, "fill: y is NULL");
  if (n == 0) return HRDA_OK;
  cudaStream_t st = as_stream(stream);
  switch (dtype) {
    case HRDA_I32: {
      const int32_t v = (int32_t)value;
      if (v == 0) HRDA_CUDA_TRY(cudaMemsetAsync(y, 0, (size_t)n * 4, st));
      else fill_int_kernel<<<grid_for(n), kThreads, 0, st>>>(n, v, (int32_t*)y);
      HRDA_LAUNCH_CHECK();
      return HRDA_OK;
    }
    case HRDA_U8:
      HRDA_CUDA_TRY(cudaMemsetAsync(y, (int)(uint8_t)value, (size_t)n, st));
      return HRDA_OK;
    default: break;
  }
  HRDA_DISPATCH_FLOAT(dtype, launch_map<T>(n, FillOp<T>{(T*)y, (float)value}, aligned16(y), 0, st));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_axpby(int dtype, long n, double alpha, const void* x, double beta, const void* y, void* out, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (x && out), "axpby: x or out is NULL");
  if (n == 0) return HRDA_OK;
  HRDA_DISPATCH_FLOAT(dtype,
    launch_map<T>(n, AxpbyOp<T>{(const T*)x, (const T*)y, (T*)out, (float)alpha, (float)beta},
                  aligned16(x) && aligned16(y) && aligned16(out), 0, as_stream(stream)));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_mul(int dtype, long n, const void* a, const void* b, void* out, int accumulate, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (a && b && out), "mul: NULL pointer");
  if (n == 0) return HRDA_OK;
  HRDA_DISPATCH_FLOAT(dtype,
    launch_map<T>(n, MulOp<T>{(const T*)a, (const T*)b, (T*)out, accumulate != 0},
                  aligned16(a) && aligned16(b) && aligned16(out), 0, as_stream(stream)));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_add_bias(int dtype, long outer, long C, long inner, void* y, const void* bias, void* stream) {
  HRDA_CHECK_SIZE(outer); HRDA_CHECK_SIZE(C); HRDA_CHECK_SIZE(inner); HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(bias);
  const long n = outer * C * inner;
  if (n == 0) return HRDA_OK;
  HRDA_DISPATCH_FLOAT(dtype,
    constexpr int V = vec_width<T>();
    const bool vec = aligned16(y) && (inner % V == 0 || (inner == 1 && C % V == 0));
    const AddBiasOp<T> op{(T*)y, (const T*)bias, DivMod::make(inner, n), DivMod::make(C, outer * C)};
    launch_map<T>(n, op, vec, 0, as_stream(stream)));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_channel_sum(int dtype, long outer, long C, long inner, const void* x, void* out, int accumulate, void* stream) {
  HRDA_CHECK_SIZE(outer); HRDA_CHECK_SIZE(C); HRDA_CHECK_SIZE(inner); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(out);
  if (C == 0) return HRDA_OK;
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    const ChanPlan plan = chan_plan(outer, C, inner);
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, plan.part_floats(1) * sizeof(float));
    chan_partials<1>(plan, SumLoad<T>{(const T*)x}, ws.as<float>(), st);
    chan_finalize<1>(plan, ws.as<float>(), ChannelSumFinal<T>{(T*)out, accumulate != 0}, st));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_sum(int dtype, long n, const void* x, void* out, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK_PTR(out); HRDA_CHECK(n == 0 || x, "sum: x is NULL");
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    constexpr int V = vec_width<T>();
    const bool vec = aligned16(x);
    unsigned int parts = n == 0 ? 0u : grid_for(vec ? n / V + 1 : n);
    if (parts > 1024) parts = 1024;
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, (parts + 1) * sizeof(float));
    if (parts > 0) {
      if (vec) sum_partial_kernel<V, T><<<parts, kThreads, 0, st>>>(n, (const T*)x, ws.as<float>());
      else sum_partial_kernel<1, T><<<parts, kThreads, 0, st>>>(n, (const T*)x, ws.as<float>());
    }
    sum_final_kernel<T><<<1, 1024, 0, st>>>((int)parts, ws.as<float>(), (T*)out));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_activation_forward(int dtype, int kind, long n, const void* x, void* y, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (x && y), "activation_forward: NULL pointer");
  HRDA_CHECK(kind >= HRDA_RELU && kind <= HRDA_SIGMOID, "activation_forward: unknown kind %d", kind);
  if (n == 0) return HRDA_OK;
  HRDA_DISPATCH_FLOAT(dtype,
    launch_map<T>(n, ActForwardOp<T>{(const T*)x, (T*)y, kind}, aligned16(x) && aligned16(y), 0, as_stream(stream)));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_activation_backward(int dtype, int kind, long n, const void* x, const void* y,
                                  const void* dy, void* dx, int accumulate, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (dy && dx), "activation_backward: NULL dy or dx");
  HRDA_CHECK(kind >= HRDA_RELU && kind <= HRDA_SIGMOID, "activation_backward: unknown kind %d", kind);
  HRDA_CHECK(n == 0 || (kind == HRDA_SIGMOID ? y != nullptr : x != nullptr),
             "activation_backward: kind %d needs %s", kind, kind == HRDA_SIGMOID ? "y" : "x");
  if (n == 0) return HRDA_OK;
  const void* in = kind == HRDA_SIGMOID ? y : x;
  HRDA_DISPATCH_FLOAT(dtype,
    launch_map<T>(n, ActBackwardOp<T>{(const T*)x, (const T*)y, (const T*)dy, (T*)dx, kind, accumulate != 0},
                  aligned16(in) && aligned16(dy) && aligned16(dx), 0, as_stream(stream)));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_dropout(int dtype, long n, long group, float p, unsigned long long seed,
                      const void* x, void* y, int accumulate, void* stream) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(group >= 1, "dropout: group %ld < 1", group);
  HRDA_CHECK(p >= 0.f && p < 1.f, "dropout: probability %g outside [0, 1)", (double)p);
  HRDA_CHECK(n == 0 || (x && y), "dropout: NULL pointer");
  if (n == 0) return HRDA_OK;
  HRDA_DISPATCH_FLOAT(dtype,
    const DropoutOp<T> op{(const T*)x, (T*)y, DivMod::make(group, n), seed, p, 1.f / (1.f - p), accumulate != 0};
    launch_map<T>(n, op, aligned16(x) && aligned16(y), 0, as_stream(stream)));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_convert(int src_dtype, int dst_dtype, long n, const void* x, void* y, void* stream) {
  HRDA_CHECK_SIZE(n);
  HRDA_CHECK(n == 0 || (x && y), "convert: NULL pointer");
  HRDA_CHECK(dtype_size(src_dtype) && dtype_size(dst_dtype), "convert: unknown dtype %d -> %d", src_dtype, dst_dtype);
  if (n == 0) return HRDA_OK;
  cudaStream_t st = as_stream(stream);
  if (src_dtype == dst_dtype) {
    if (x != y) HRDA_CUDA_TRY(cudaMemcpyAsync(y, x, (size_t)n * dtype_size(src_dtype), cudaMemcpyDeviceToDevice, st));
    return HRDA_OK;
  }
  switch (src_dtype) {
    case HRDA_F32: convert_from(dst_dtype, n, (const float*)x, y, st); break;
    case HRDA_F64: convert_from(dst_dtype, n, (const double*)x, y, st); break;
    case HRDA_BF16: convert_from(dst_dtype, n, (const __nv_bfloat16*)x, y, st); break;
    case HRDA_F16: convert_from(dst_dtype, n, (const __half*)x, y, st); break;
    case HRDA_I32: convert_from(dst_dtype, n, (const int32_t*)x, y, st); break;
    default: convert_from(dst_dtype, n, (const uint8_t*)x, y, st); break;
  }
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
