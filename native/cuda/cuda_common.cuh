// Internal helpers of libhrda_cuda: error reporting, argument checks, dtype dispatch, element
// conversion to and from f32, vector packs, fast index division, block reductions, launch sizing
// and a stream-ordered scratch workspace. Every .cu file of the library includes this first.
#pragma once
#include "hrda/hrda.h"
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cstdint>
// fail() (sets the thread-local message read by hrda_cuda_last_error, returns the code),
// HRDA_CHECK, HRDA_CHECK_PTR, HRDA_CHECK_SIZE: shared with libhrda_cpu
#define HRDA_NS hrda_cuda
#include "hrda/detail/errors.h"

namespace hrda_cuda {

// A failed CUDA runtime call: HRDA_ERR_MEMORY for allocation failures, HRDA_ERR_CUDA otherwise.
int cuda_fail(cudaError_t e, const char* op, const char* what);
// Multiprocessor count of the current device (cached per device).
int sm_count();
// Makes the current device's default memory pool keep freed memory (release threshold = max).
int ensure_pool(const char* op);
const char* dtype_name(int dtype);

inline cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace hrda_cuda

// A CUDA runtime call inside an op.
#define HRDA_CUDA_TRY(call)                                                             \
  do {                                                                                  \
    cudaError_t e_ = (call);                                                            \
    if (e_ != cudaSuccess) return ::hrda_cuda::cuda_fail(e_, __func__, #call);          \
  } while (0)
// After a kernel launch: launch configuration errors (and sticky errors of earlier work).
#define HRDA_LAUNCH_CHECK()                                                             \
  do {                                                                                  \
    cudaError_t e_ = cudaGetLastError();                                                \
    if (e_ != cudaSuccess) return ::hrda_cuda::cuda_fail(e_, __func__, "kernel launch"); \
  } while (0)

// Runs the body with T = float, __nv_bfloat16 or __half; f64 and the integer dtypes are refused.
#define HRDA_DISPATCH_FLOAT(dtype, ...)                                                              \
  switch (dtype) {                                                                                   \
    case HRDA_F32: { using T = float; __VA_ARGS__; } break;                                          \
    case HRDA_BF16: { using T = __nv_bfloat16; __VA_ARGS__; } break;                                 \
    case HRDA_F16: { using T = __half; __VA_ARGS__; } break;                                         \
    case HRDA_F64:                                                                                   \
      return ::hrda_cuda::fail(HRDA_ERR_UNSUPPORTED,                                                  \
                               "%s: f64 is not supported by the CUDA library (use f32, bf16 or f16; " \
                               "the CPU library computes in f64)", __func__);                         \
    default:                                                                                         \
      return ::hrda_cuda::fail(HRDA_ERR_UNSUPPORTED, "%s: dtype %d (%s) not supported on CUDA "       \
                               "(f32, bf16 or f16)", __func__, (int)(dtype),                          \
                               ::hrda_cuda::dtype_name(dtype));                                       \
  }

namespace hrda_cuda {

// ---- element conversion: every float op loads to f32, computes, and rounds once on store ----
__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }

// ---- 16-byte vector packs (V = 16 / sizeof(T) elements) ----
template <typename T, int V> struct alignas(sizeof(T) * V) Pack { T v[V]; };
template <typename T> constexpr int vec_width() { return (int)(16 / sizeof(T)); }

template <int V, typename T>
__device__ __forceinline__ void load_f(const T* p, float (&out)[V]) {
  const Pack<T, V> pk = *reinterpret_cast<const Pack<T, V>*>(p);
#pragma unroll
  for (int j = 0; j < V; j++) out[j] = to_f(pk.v[j]);
}
template <int V, typename T>
__device__ __forceinline__ void store_f(T* p, const float (&in)[V]) {
  Pack<T, V> pk;
#pragma unroll
  for (int j = 0; j < V; j++) pk.v[j] = from_f<T>(in[j]);
  *reinterpret_cast<Pack<T, V>*>(p) = pk;
}
inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// ---- division by a runtime constant: multiply-high when the numerators fit in 31 bits ----
// (round-up reciprocal method: q = (umulhi(n, m) + n) >> s with s = ceil(log2 d),
//  m = floor(2^32 (2^s - d) / d) + 1; exact for n, d < 2^31)
struct DivMod {
  long d;
  unsigned int m, s;
  int fast;
  static DivMod make(long divisor, long max_numerator) {
    DivMod r{divisor < 1 ? 1 : divisor, 0u, 0u, 0};
    if (r.d < (1L << 31) && max_numerator < (1L << 31)) {
      unsigned int s = 0;
      while ((1L << s) < r.d) s++;
      const unsigned long long one = 1;
      r.m = (unsigned int)(((one << 32) * ((one << s) - (unsigned long long)r.d)) / (unsigned long long)r.d + 1);
      r.s = s;
      r.fast = 1;
    }
    return r;
  }
  __device__ __forceinline__ long div(long n) const {
    if (fast) return (long)((__umulhi((unsigned int)n, m) + (unsigned int)n) >> s);
    return n / d;
  }
  // q = n / d, returns n % d
  __device__ __forceinline__ long divmod(long n, long& q) const { q = div(n); return n - q * d; }
};

// ---- reductions ----
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ int warp_sum(int v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
// Sums K values (float or int) over the block (blockDim.x a multiple of 32, at most 1024; 1-D
// blocks) in a fixed tree; the totals are valid in thread 0. Contains __syncthreads: every thread
// must call it. Each (K, V) has its own shared array: a kernel calling it twice with the same
// types must synchronise between the calls.
template <int K, typename V = float>
__device__ __forceinline__ void block_sum(V (&v)[K]) {
  __shared__ V sh[K][32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
#pragma unroll
  for (int j = 0; j < K; j++) v[j] = warp_sum(v[j]);
  if (lane == 0) {
#pragma unroll
    for (int j = 0; j < K; j++) sh[j][warp] = v[j];
  }
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int j = 0; j < K; j++) v[j] = warp_sum(lane < nw ? sh[j][lane] : V(0));
  }
}

// ---- launch sizing ----
constexpr int kThreads = 256;
// Blocks for a grid-stride loop over `work` items: enough to fill the GPU, no more.
inline unsigned int grid_for(long work, int threads = kThreads) {
  long b = (work + threads - 1) / threads;
  const long cap = (long)sm_count() * (2048 / threads) * 4;
  if (b > cap) b = cap;
  return (unsigned int)(b < 1 ? 1 : b);
}
inline long ceil_div(long a, long b) { return (a + b - 1) / b; }

// ---- stream-ordered scratch memory from the device pool, freed when the op returns ----
struct Workspace {
  void* ptr = nullptr;
  cudaStream_t stream;
  explicit Workspace(cudaStream_t s) : stream(s) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() { if (ptr) cudaFreeAsync(ptr, stream); }
  // returns HRDA_OK or an error code with the message set
  int alloc(size_t bytes, const char* op) {
    int rc = ensure_pool(op);
    if (rc != HRDA_OK) return rc;
    cudaError_t e = cudaMallocAsync(&ptr, bytes < 256 ? 256 : bytes, stream);
    if (e != cudaSuccess) { ptr = nullptr; return cuda_fail(e, op, "cudaMallocAsync (workspace)"); }
    return HRDA_OK;
  }
  template <typename U> U* as(size_t offset_bytes = 0) const {
    return reinterpret_cast<U*>(static_cast<char*>(ptr) + offset_bytes);
  }
};
#define HRDA_WS_ALLOC(ws, bytes)                         \
  do {                                                   \
    int rc_ = (ws).alloc((bytes), __func__);             \
    if (rc_ != HRDA_OK) return rc_;                      \
  } while (0)

// ---- generic elementwise map: Op::run<V>(i0) handles elements [i0, i0+V) (V-aligned) ----
template <int V, typename Op>
__global__ void map_kernel(long n, Op op) {
  const long stride = (long)gridDim.x * blockDim.x;
  const long t = (long)blockIdx.x * blockDim.x + threadIdx.x;
  const long nv = n / V;
  for (long j = t; j < nv; j += stride) op.template run<V>(j * V);
  if (V > 1)
    for (long i = nv * V + t; i < n; i += stride) op.template run<1>(i);
}
// Vectorised (16-byte packs) when `vec` holds and row_len (elements that share per-row state;
// 0 = none) is a multiple of the pack width.
template <typename T, typename Op>
inline void launch_map(long n, const Op& op, bool vec, long row_len, cudaStream_t s) {
  constexpr int V = vec_width<T>();
  if (vec && (row_len == 0 || row_len % V == 0) && n >= V)
    map_kernel<V, Op><<<grid_for(n / V), kThreads, 0, s>>>(n, op);
  else
    map_kernel<1, Op><<<grid_for(n), kThreads, 0, s>>>(n, op);
}

}  // namespace hrda_cuda
