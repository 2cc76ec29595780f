// Fused multi-head attention (MiT efficient self-attention), flash-attention style.
//
// Design (SIMT, f32 accumulation for f32/bf16/f16 inputs; head dim D = 32 or 64):
//  - Every row (a query, or in the dk/dv kernel a key) is owned by TPR = D/32 adjacent threads,
//    each holding a 32-channel slice of the row in registers; a dot product is a 32-term FMA
//    chain plus one __shfl_xor when TPR = 2. A CTA has 128 threads = 128/TPR rows.
//  - The other side (keys/values in the forward and dq kernels, queries/dout in the dk/dv
//    kernel) is staged through shared memory in tiles of 64 rows, converted to f32, each
//    32-channel slice padded to 36 floats so that the two slices of a row sit in different
//    banks. All lanes of a warp read the same tile row: broadcasts, 4 FMAs per LDS.128.
//  - Forward: online softmax in base 2 (q pre-scaled by scale*log2 e), chunks of 16 keys share
//    one max update and one rescale of the accumulator; lse = (m + log2 l) ln 2 is saved (f32).
//    No N x M matrix exists anywhere.
//  - Backward: delta_i = dout_i . out_i (small kernel), then two kernels that recompute P from
//    q, k and lse: dq (query owners, loop over all keys) and dk/dv (key owners, loop over the
//    queries). dk/dv reduce over all N queries: to fill the GPU when B*H*ceil(M/rows) is small
//    (MiT stage 1: 8 CTAs), the queries are split into S ranges; each CTA writes f32 partials
//    part[S][B][M][2C] to a stream-ordered workspace and a reduction kernel sums the S
//    partials in a fixed order (deterministic, no atomics) into dkv with the accumulate rule.
//    With S = 1 the dk/dv kernel writes dkv directly. The cost is recomputing s and dP in both
//    kernels (7D FMAs per (i, j) instead of FlashAttention-2's 5D) in exchange for no atomics.
//  - Global loads are 16-byte packs when the base pointers are 16-byte aligned (rows of 32
//    channels are always 64-byte aligned relative to the base), else element by element.
#include "cuda_common.cuh"
#include "hrda/detail/op_checks.h"

#include <algorithm>
#include <cmath>

using namespace hrda_cuda;

namespace {

constexpr int kAttnThreads = 128;
constexpr int kTile = 64;   // rows of a shared-memory tile
constexpr int kSlice = 32;  // channels per thread
constexpr int kPitch = 36;  // floats per slice in shared memory (32 + 4: no bank conflict between slices)
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

// Loads rows [0, rows) of a [kTile, D] tile (row r at base + r*stride, D contiguous channels) into
// shared memory as f32, sm[(r*TPR + slice)*kPitch + c]; rows >= rows are zero.
template <typename T, int D>
__device__ __forceinline__ void load_tile(float* sm, const T* base, long stride, int rows, bool vec) {
  constexpr int TPR = D / kSlice;
  if (vec) {
    constexpr int V = vec_width<T>();
    for (int e = threadIdx.x * V; e < kTile * D; e += blockDim.x * V) {
      const int r = e / D, d = e % D;
      float f[V];
      if (r < rows) load_f<V>(base + (long)r * stride + d, f);
      else {
#pragma unroll
        for (int v = 0; v < V; v++) f[v] = 0.f;
      }
      float* dst = sm + (r * TPR + d / kSlice) * kPitch + d % kSlice;
#pragma unroll
      for (int v = 0; v < V; v++) dst[v] = f[v];
    }
  } else {
    for (int e = threadIdx.x; e < kTile * D; e += blockDim.x) {
      const int r = e / D, d = e % D;
      sm[(r * TPR + d / kSlice) * kPitch + d % kSlice] = r < rows ? to_f(base[(long)r * stride + d]) : 0.f;
    }
  }
}

// This thread's 32-channel slice of a row in global memory -> registers (times mul); zeros if !valid.
template <typename T>
__device__ __forceinline__ void load_slice(const T* p, bool valid, float mul, bool vec, float (&x)[kSlice]) {
  if (!valid) {
#pragma unroll
    for (int d = 0; d < kSlice; d++) x[d] = 0.f;
    return;
  }
  if (vec) {
    constexpr int V = vec_width<T>();
#pragma unroll
    for (int d = 0; d < kSlice; d += V) {
      float f[V];
      load_f<V>(p + d, f);
#pragma unroll
      for (int v = 0; v < V; v++) x[d + v] = f[v] * mul;
    }
  } else {
#pragma unroll
    for (int d = 0; d < kSlice; d++) x[d] = to_f(p[d]) * mul;
  }
}

// p[d] = (acc ? p[d] : 0) + x[d] * mul for this thread's slice.
template <typename T>
__device__ __forceinline__ void store_slice(T* p, const float (&x)[kSlice], float mul, bool acc, bool vec) {
  if (vec) {
    constexpr int V = vec_width<T>();
#pragma unroll
    for (int d = 0; d < kSlice; d += V) {
      float f[V];
      if (acc) load_f<V>(p + d, f);
#pragma unroll
      for (int v = 0; v < V; v++) f[v] = (acc ? f[v] : 0.f) + x[d + v] * mul;
      store_f<V>(p + d, f);
    }
  } else {
#pragma unroll
    for (int d = 0; d < kSlice; d++) p[d] = from_f<T>((acc ? to_f(p[d]) : 0.f) + x[d] * mul);
  }
}

// Dot product of a register slice with a shared-memory slice (16-byte aligned).
__device__ __forceinline__ float dot_slice(const float (&x)[kSlice], const float* s) {
  const float4* s4 = reinterpret_cast<const float4*>(s);
  float a = 0.f;
#pragma unroll
  for (int d4 = 0; d4 < kSlice / 4; d4++) {
    const float4 v = s4[d4];
    a = fmaf(x[4 * d4], v.x, a);
    a = fmaf(x[4 * d4 + 1], v.y, a);
    a = fmaf(x[4 * d4 + 2], v.z, a);
    a = fmaf(x[4 * d4 + 3], v.w, a);
  }
  return a;
}

// acc += w * (shared-memory slice)
__device__ __forceinline__ void axpy_slice(float w, const float* s, float (&acc)[kSlice]) {
  const float4* s4 = reinterpret_cast<const float4*>(s);
#pragma unroll
  for (int d4 = 0; d4 < kSlice / 4; d4++) {
    const float4 v = s4[d4];
    acc[4 * d4] = fmaf(w, v.x, acc[4 * d4]);
    acc[4 * d4 + 1] = fmaf(w, v.y, acc[4 * d4 + 1]);
    acc[4 * d4 + 2] = fmaf(w, v.z, acc[4 * d4 + 2]);
    acc[4 * d4 + 3] = fmaf(w, v.w, acc[4 * d4 + 3]);
  }
}

// Shared-memory slice -> registers.
__device__ __forceinline__ void load_smem_slice(const float* s, float (&x)[kSlice]) {
  const float4* s4 = reinterpret_cast<const float4*>(s);
#pragma unroll
  for (int d4 = 0; d4 < kSlice / 4; d4++) {
    const float4 v = s4[d4];
    x[4 * d4] = v.x; x[4 * d4 + 1] = v.y; x[4 * d4 + 2] = v.z; x[4 * d4 + 3] = v.w;
  }
}

// Dot product of two register slices, four independent FMA chains.
__device__ __forceinline__ float dot_regs(const float (&a)[kSlice], const float (&b)[kSlice]) {
  float t[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
  for (int d = 0; d < kSlice; d++) t[d % 4] = fmaf(a[d], b[d], t[d % 4]);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

// Completes the partial dot products of the TPR threads of a row.
template <int TPR, int CH>
__device__ __forceinline__ void row_reduce(float (&s)[CH]) {
  if (TPR == 2) {
#pragma unroll
    for (int c = 0; c < CH; c++) s[c] += __shfl_xor_sync(0xffffffffu, s[c], 1);
  }
}

// The row of this thread (a query in the forward and dq kernels, a key in the dk/dv kernel):
// grid (ceil(rows / ROWS), B*H[, S]); TPR threads per row, sl = this thread's channel slice.
template <int D>
struct RowSlot {
  static constexpr int TPR = D / kSlice, ROWS = kAttnThreads / TPR;
  int b, h, sl;
  long r;
  bool valid;
  __device__ __forceinline__ RowSlot(long rows, int H)
      : b((int)blockIdx.y / H), h((int)blockIdx.y % H), sl((int)threadIdx.x % TPR),
        r((long)blockIdx.x * ROWS + threadIdx.x / TPR), valid(r < rows) {}
};

// Stages keys and values j0 .. j0+kn-1 of one (batch, head) (k_j at kbase + j*2C, v_j at + C)
// in Ks and Vs, once every thread is done with the previous tile.
template <typename T, int D>
__device__ __forceinline__ void stage_kv(float* Ks, float* Vs, const T* kbase, long j0, int kn, long C, bool vec) {
  __syncthreads();
  load_tile<T, D>(Ks, kbase + j0 * 2 * C, 2 * C, kn, vec);
  load_tile<T, D>(Vs, kbase + j0 * 2 * C + C, 2 * C, kn, vec);
  __syncthreads();
}

// ---- forward: grid (ceil(N / rows), B*H) ----
template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads)
attention_forward_kernel(long N, long M, int H, float scale_log2, const T* __restrict__ q, const T* __restrict__ kv,
                         T* __restrict__ out, float* __restrict__ lse, bool vec) {
  constexpr int TPR = D / kSlice, CH = 16;
  __shared__ __align__(16) float Ks[kTile * TPR * kPitch];
  __shared__ __align__(16) float Vs[kTile * TPR * kPitch];
  const RowSlot<D> t(N, H);
  const int sl = t.sl;
  const long C = (long)H * D, i = t.r, bh = blockIdx.y;
  const bool valid = t.valid;
  const long row = ((long)t.b * N + i) * C + t.h * D + sl * kSlice;

  float qr[kSlice], acc[kSlice];
  load_slice(q + (valid ? row : 0), valid, scale_log2, vec, qr);
#pragma unroll
  for (int d = 0; d < kSlice; d++) acc[d] = 0.f;
  float m = -INFINITY, l = 0.f;

  const T* kbase = kv + (long)t.b * M * 2 * C + t.h * D;
  for (long j0 = 0; j0 < M; j0 += kTile) {
    const int kn = (int)min((long)kTile, M - j0);
    stage_kv<T, D>(Ks, Vs, kbase, j0, kn, C, vec);
    for (int c0 = 0; c0 < kn; c0 += CH) {
      float s[CH];
#pragma unroll
      for (int c = 0; c < CH; c++) s[c] = dot_slice(qr, Ks + ((c0 + c) * TPR + sl) * kPitch);
      row_reduce<TPR, CH>(s);
      float cm = -INFINITY;
#pragma unroll
      for (int c = 0; c < CH; c++) {
        if (c0 + c >= kn) s[c] = -INFINITY;
        cm = fmaxf(cm, s[c]);
      }
      const float mn = fmaxf(m, cm);  // finite: the chunk has a valid key
      const float alpha = exp2f(m - mn);
      l *= alpha;
#pragma unroll
      for (int d = 0; d < kSlice; d++) acc[d] *= alpha;
#pragma unroll
      for (int c = 0; c < CH; c++) {
        const float p = exp2f(s[c] - mn);
        l += p;
        axpy_slice(p, Vs + ((c0 + c) * TPR + sl) * kPitch, acc);
      }
      m = mn;
    }
  }
  if (valid) {
    store_slice(out + row, acc, 1.f / l, false, vec);
    if (sl == 0) lse[(long)bh * N + i] = (m + log2f(l)) * kLn2;
  }
}

// ---- delta[b, h, i] = dout_i . out_i over the head's channels: one thread per (b, i, h) ----
template <typename T>
__global__ void attention_delta_kernel(long rows, long N, int H, int D, const T* __restrict__ dout,
                                       const T* __restrict__ out, float* __restrict__ delta) {
  for (long r = (long)blockIdx.x * blockDim.x + threadIdx.x; r < rows; r += (long)gridDim.x * blockDim.x) {
    const long bi = r / H;  // b*N + i
    const int h = (int)(r - bi * H);
    const T* a = dout + r * D;
    const T* o = out + r * D;
    float s = 0.f;
    for (int d = 0; d < D; d++) s = fmaf(to_f(a[d]), to_f(o[d]), s);
    const long b = bi / N, i = bi - b * N;
    delta[(b * H + h) * N + i] = s;
  }
}

// ---- dq: query owners, grid (ceil(N / rows), B*H) ----
template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads)
attention_dq_kernel(long N, long M, int H, float scale, const T* __restrict__ q, const T* __restrict__ kv,
                    const float* __restrict__ lse, const float* __restrict__ delta, const T* __restrict__ dout,
                    T* __restrict__ dq, bool acc, bool vec) {
  constexpr int TPR = D / kSlice, CH = 16;
  __shared__ __align__(16) float Ks[kTile * TPR * kPitch];
  __shared__ __align__(16) float Vs[kTile * TPR * kPitch];
  const RowSlot<D> t(N, H);
  const int sl = t.sl;
  const long C = (long)H * D, i = t.r, bh = blockIdx.y;
  const bool valid = t.valid;
  const long row = ((long)t.b * N + i) * C + t.h * D + sl * kSlice;
  const float scale_log2 = scale * kLog2e;

  float qr[kSlice], dor[kSlice], g[kSlice];
  load_slice(q + (valid ? row : 0), valid, 1.f, vec, qr);
  load_slice(dout + (valid ? row : 0), valid, 1.f, vec, dor);
#pragma unroll
  for (int d = 0; d < kSlice; d++) g[d] = 0.f;
  const float lse2 = valid ? lse[(long)bh * N + i] * kLog2e : 0.f;
  const float dl = valid ? delta[(long)bh * N + i] : 0.f;

  const T* kbase = kv + (long)t.b * M * 2 * C + t.h * D;
  for (long j0 = 0; j0 < M; j0 += kTile) {
    const int kn = (int)min((long)kTile, M - j0);
    stage_kv<T, D>(Ks, Vs, kbase, j0, kn, C, vec);
    for (int c0 = 0; c0 < kn; c0 += CH) {
      float s[CH], dp[CH];
#pragma unroll
      for (int c = 0; c < CH; c++) {
        s[c] = dot_slice(qr, Ks + ((c0 + c) * TPR + sl) * kPitch);
        dp[c] = dot_slice(dor, Vs + ((c0 + c) * TPR + sl) * kPitch);
      }
      row_reduce<TPR, CH>(s);
      row_reduce<TPR, CH>(dp);
#pragma unroll
      for (int c = 0; c < CH; c++) {
        const float p = c0 + c < kn ? exp2f(s[c] * scale_log2 - lse2) : 0.f;
        axpy_slice(p * (dp[c] - dl), Ks + ((c0 + c) * TPR + sl) * kPitch, g);
      }
    }
  }
  if (valid) store_slice(dq + row, g, scale, acc, vec);
}

// ---- dk, dv: key owners over one range of queries, grid (ceil(M / rows), B*H, S) ----
// S == 1: writes dkv (accumulate rule); else f32 partials part[s][b][j][2C] (part_stride = B*M*2C).
template <typename T, int D>
__global__ void __launch_bounds__(kAttnThreads)
attention_dkv_kernel(long N, long M, int H, float scale, long chunk, const T* __restrict__ q, const T* __restrict__ kv,
                     const float* __restrict__ lse, const float* __restrict__ delta, const T* __restrict__ dout,
                     T* __restrict__ dkv, float* __restrict__ part, long part_stride, bool acc, bool vec) {
  constexpr int TPR = D / kSlice;
  __shared__ __align__(16) float Qs[kTile * TPR * kPitch];
  __shared__ __align__(16) float Os[kTile * TPR * kPitch];  // dout
  __shared__ float lse2s[kTile], dls[kTile];
  const RowSlot<D> t(M, H);
  const int b = t.b, h = t.h, sl = t.sl;
  const long C = (long)H * D, j = t.r, bh = blockIdx.y;
  const bool valid = t.valid;
  const long krow = ((long)b * M + j) * 2 * C + h * D + sl * kSlice;  // k slice; v slice at + C
  const float scale_log2 = scale * kLog2e;

  float kr[kSlice], vr[kSlice], gk[kSlice], gv[kSlice];
  load_slice(kv + (valid ? krow : 0), valid, 1.f, vec, kr);
  load_slice(kv + (valid ? krow + C : 0), valid, 1.f, vec, vr);
#pragma unroll
  for (int d = 0; d < kSlice; d++) { gk[d] = 0.f; gv[d] = 0.f; }

  const long i_lo = (long)blockIdx.z * chunk, i_hi = min(N, i_lo + chunk);
  const T* qbase = q + (long)b * N * C + h * D;
  const T* obase = dout + (long)b * N * C + h * D;
  for (long i0 = i_lo; i0 < i_hi; i0 += kTile) {
    const int qn = (int)min((long)kTile, i_hi - i0);
    __syncthreads();
    load_tile<T, D>(Qs, qbase + i0 * C, C, qn, vec);
    load_tile<T, D>(Os, obase + i0 * C, C, qn, vec);
    for (int e = threadIdx.x; e < kTile; e += blockDim.x) {
      lse2s[e] = e < qn ? lse[bh * N + i0 + e] * kLog2e : 0.f;
      dls[e] = e < qn ? delta[bh * N + i0 + e] : 0.f;
    }
    __syncthreads();
    // one query row at a time: its q and dout slices are loaded once and serve both the dot
    // products and the updates (batching rows made the compiler keep every loaded row: spills)
#pragma unroll 2
    for (int c = 0; c < qn; c++) {
      float qrow[kSlice], orow[kSlice];
      load_smem_slice(Qs + (c * TPR + sl) * kPitch, qrow);
      load_smem_slice(Os + (c * TPR + sl) * kPitch, orow);
      float sd[2] = {dot_regs(kr, qrow), dot_regs(vr, orow)};
      row_reduce<TPR, 2>(sd);
      const float p = exp2f(sd[0] * scale_log2 - lse2s[c]);
      const float ds = p * (sd[1] - dls[c]);
#pragma unroll
      for (int d = 0; d < kSlice; d++) {
        gv[d] = fmaf(p, orow[d], gv[d]);
        gk[d] = fmaf(ds, qrow[d], gk[d]);
      }
    }
  }
  if (!valid) return;
  if (part == nullptr) {
    store_slice(dkv + krow, gk, scale, acc, vec);
    store_slice(dkv + krow + C, gv, 1.f, acc, vec);
  } else {
    float* pk = part + (long)blockIdx.z * part_stride + krow;
    store_slice(pk, gk, scale, false, true);
    store_slice(pk + C, gv, 1.f, false, true);
  }
}

// dkv[e] (+)= sum over s of part[s * total + e], in order of s.
template <typename T>
__global__ void attention_dkv_reduce_kernel(long total, int S, const float* __restrict__ part, T* __restrict__ dkv, bool acc) {
  for (long e = (long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long)gridDim.x * blockDim.x) {
    float s = 0.f;
    for (int k = 0; k < S; k++) s += part[(long)k * total + e];
    dkv[e] = from_f<T>(acc ? to_f(dkv[e]) + s : s);
  }
}

template <typename T, int D>
void launch_forward(long B, long N, long M, long H, float scale, const void* q, const void* kv, void* out, void* lse,
                    bool vec, cudaStream_t st) {
  constexpr int ROWS = kAttnThreads / (D / kSlice);
  const dim3 grid((unsigned int)ceil_div(N, ROWS), (unsigned int)(B * H));
  attention_forward_kernel<T, D><<<grid, kAttnThreads, 0, st>>>(N, M, (int)H, scale * kLog2e, (const T*)q, (const T*)kv,
                                                                 (T*)out, (float*)lse, vec);
}

// Splits of the query range for the dk/dv kernel: enough CTAs to fill the GPU, at least 4 tiles
// of queries per split, partials of at most 256 MiB.
inline int dkv_splits(long B, long N, long M, long H, long D, long& chunk) {
  const long rows = kAttnThreads / (D / kSlice);
  const long base = ceil_div(M, rows) * B * H;
  long S = ceil_div(4L * sm_count(), base);
  S = std::min(S, std::max(1L, ceil_div(N, 4L * kTile)));
  const long part_bytes = B * M * 2 * H * D * (long)sizeof(float);
  S = std::min(S, std::max(1L, (256L << 20) / std::max(1L, part_bytes)));
  S = std::max(S, 1L);
  chunk = std::max((long)kTile, ceil_div(ceil_div(N, S), kTile) * kTile);
  return (int)std::max(1L, ceil_div(N, chunk));
}

template <typename T, int D>
int launch_backward(long B, long N, long M, long H, float scale, const void* q, const void* kv, const void* out,
                    const void* lse, const void* dout, void* dq, void* dkv, bool acc_dq, bool acc_dkv, bool vec,
                    cudaStream_t st) {
  constexpr int ROWS = kAttnThreads / (D / kSlice);
  const long C = H * D;
  long chunk = 0;
  const int S = dkv ? dkv_splits(B, N, M, H, D, chunk) : 1;
  const size_t delta_bytes = (size_t)(B * H * N) * sizeof(float);
  const size_t part_off = (delta_bytes + 255) / 256 * 256;
  const size_t part_bytes = S > 1 ? (size_t)S * (size_t)(B * M * 2 * C) * sizeof(float) : 0;
  Workspace ws(st);
  const int rc = ws.alloc(part_off + part_bytes, "attention_backward");
  if (rc != HRDA_OK) return rc;
  float* delta = ws.as<float>();
  float* part = S > 1 ? ws.as<float>(part_off) : nullptr;
  if (N > 0) {
    attention_delta_kernel<T><<<grid_for(B * N * H), kThreads, 0, st>>>(B * N * H, N, (int)H, (int)D, (const T*)dout,
                                                                         (const T*)out, delta);
  }
  if (dq && N > 0) {
    const dim3 grid((unsigned int)ceil_div(N, ROWS), (unsigned int)(B * H));
    attention_dq_kernel<T, D><<<grid, kAttnThreads, 0, st>>>(N, M, (int)H, scale, (const T*)q, (const T*)kv,
                                                             (const float*)lse, delta, (const T*)dout, (T*)dq, acc_dq, vec);
  }
  if (dkv) {
    const dim3 grid((unsigned int)ceil_div(M, ROWS), (unsigned int)(B * H), (unsigned int)S);
    attention_dkv_kernel<T, D><<<grid, kAttnThreads, 0, st>>>(N, M, (int)H, scale, chunk, (const T*)q, (const T*)kv,
                                                              (const float*)lse, delta, (const T*)dout, (T*)dkv, part,
                                                              B * M * 2 * C, acc_dkv, vec);
    if (S > 1) {
      const long total = B * M * 2 * C;
      attention_dkv_reduce_kernel<T><<<grid_for(total), kThreads, 0, st>>>(total, S, part, (T*)dkv, acc_dkv);
    }
  }
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? HRDA_OK : cuda_fail(e, "attention_backward", "kernel launch");
}

}  // namespace

// the shared checks, then what only the CUDA kernels need
#define ATTENTION_CHECKS(name)                                                                           \
  HRDA_ATTENTION_CHECKS(name);                                                                           \
  HRDA_CHECK(B * H <= 65535, name ": B * H = %ld exceeds 65535 (grid limit)", B * H);                    \
  if (D != 32 && D != 64)                                                                                \
    return fail(HRDA_ERR_UNSUPPORTED, name ": head dim D = %ld has no CUDA kernel (32 or 64; the CPU "   \
                "library takes any D)", D)

// Runs body with the compile-time head dim D.
#define ATTENTION_DISPATCH_D(...)                         \
  if (D == 32) { constexpr int HD = 32; __VA_ARGS__; }    \
  else { constexpr int HD = 64; __VA_ARGS__; }

extern "C" {

int hrda_cuda_attention_forward(int dtype, long B, long N, long M, long H, long D, float scale,
                                const void* q, const void* kv, void* out, void* lse, void* stream) {
  ATTENTION_CHECKS("attention_forward");
  HRDA_CHECK_PTR(q); HRDA_CHECK_PTR(kv); HRDA_CHECK_PTR(out); HRDA_CHECK_PTR(lse);
  const bool vec = aligned16(q) && aligned16(kv) && aligned16(out);
  HRDA_DISPATCH_FLOAT(dtype,
    if (B * N == 0) return HRDA_OK;
    ATTENTION_DISPATCH_D(launch_forward<T, HD>(B, N, M, H, scale, q, kv, out, lse, vec, as_stream(stream))));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_attention_backward(int dtype, long B, long N, long M, long H, long D, float scale,
                                 const void* q, const void* kv, const void* out, const void* lse, const void* dout,
                                 void* dq, void* dkv, int accumulate_dq, int accumulate_dkv, void* stream) {
  ATTENTION_CHECKS("attention_backward");
  HRDA_CHECK_PTR(q); HRDA_CHECK_PTR(kv); HRDA_CHECK_PTR(out); HRDA_CHECK_PTR(lse); HRDA_CHECK_PTR(dout);
  const bool vec = aligned16(q) && aligned16(kv) && aligned16(out) && aligned16(dout) && (!dq || aligned16(dq)) &&
                   (!dkv || aligned16(dkv));
  HRDA_DISPATCH_FLOAT(dtype,
    if (B == 0 || (!dq && !dkv)) return HRDA_OK;
    ATTENTION_DISPATCH_D(return launch_backward<T, HD>(B, N, M, H, scale, q, kv, out, lse, dout, dq, dkv,
                                                       accumulate_dq != 0, accumulate_dkv != 0, vec, as_stream(stream))));
  return HRDA_OK;
}

}  // extern "C"
