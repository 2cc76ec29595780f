// Per-channel reductions of a [outer, C, inner] tensor over outer and inner, shared by
// channel_sum, batch norm (statistics and backward sums) and the layer-norm parameter
// gradients. Deterministic two-stage scheme, no atomics:
//   stage 1: grid (channel blocks, S splits); each block sums K values per channel over one
//            split of the outer*inner domain and writes partials part[(s*K + j)*C + c];
//   stage 2: one thread per channel adds the S partials and hands the K totals to the op's
//            finalize functor (which writes the result with the op's own rule).
// Layouts: inner > 1 (NCHW maps): one block per (channel, split), threads walk the flattened
// (o, i) domain; inner == 1 ([rows, C] tokens): 32x8 blocks, lanes over adjacent channels so
// loads stay coalesced. The functor F is called as f(acc, idx, o, c) with idx the flat element
// index (o*C + c)*inner + i.
#pragma once
#include "cuda_common.cuh"

namespace hrda_cuda {

template <int K, typename F>
__global__ void chan_partial_kernel(long outer, long C, long inner, long chunk, DivMod div_inner, F f, float* part) {
  const long c = blockIdx.x, s = blockIdx.y;
  const long total = outer * inner;
  const long k0 = s * chunk;
  const long k1 = k0 + chunk < total ? k0 + chunk : total;
  float acc[K];
#pragma unroll
  for (int j = 0; j < K; j++) acc[j] = 0.f;
  long k = k0 + threadIdx.x, o;
  long i = div_inner.divmod(k, o);
  const long so = blockDim.x / inner, si = blockDim.x - so * inner;  // step of (o, i) per iteration
#pragma unroll 4
  for (; k < k1; k += blockDim.x) {
    f(acc, (o * C + c) * inner + i, o, c);
    i += si; o += so;
    if (i >= inner) { i -= inner; o++; }
  }
  block_sum<K>(acc);
  if (threadIdx.x == 0) {
#pragma unroll
    for (int j = 0; j < K; j++) part[(s * K + j) * C + c] = acc[j];
  }
}

template <int K, typename F>
__global__ void col_partial_kernel(long rows, long C, long chunk, F f, float* part) {
  __shared__ float sh[K][8][33];
  const long c = (long)blockIdx.x * 32 + threadIdx.x, s = blockIdx.y;
  const long r0 = s * chunk;
  const long r1 = r0 + chunk < rows ? r0 + chunk : rows;
  float acc[K];
#pragma unroll
  for (int j = 0; j < K; j++) acc[j] = 0.f;
  if (c < C) {
#pragma unroll 4
    for (long r = r0 + threadIdx.y; r < r1; r += 8) f(acc, r * C + c, r, c);
  }
#pragma unroll
  for (int j = 0; j < K; j++) sh[j][threadIdx.y][threadIdx.x] = acc[j];
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
#pragma unroll
    for (int j = 0; j < K; j++) {
      float t = 0.f;
#pragma unroll
      for (int y = 0; y < 8; y++) t += sh[j][y][threadIdx.x];
      part[(s * K + j) * C + c] = t;
    }
  }
}

// g(c, tot) with tot[K] the channel totals
template <int K, typename G>
__global__ void chan_finalize_kernel(long C, int S, const float* part, G g) {
  for (long c = (long)blockIdx.x * blockDim.x + threadIdx.x; c < C; c += (long)gridDim.x * blockDim.x) {
    float tot[K];
#pragma unroll
    for (int j = 0; j < K; j++) tot[j] = 0.f;
    for (int s = 0; s < S; s++) {
#pragma unroll
      for (int j = 0; j < K; j++) tot[j] += part[((long)s * K + j) * C + c];
    }
    g(c, tot);
  }
}

struct ChanPlan {
  long outer, C, inner;
  int S;      // splits
  long chunk; // flattened elements (inner > 1) or rows (inner == 1) per split
  size_t part_floats(int K) const { return (size_t)S * K * (size_t)C; }
};

inline ChanPlan chan_plan(long outer, long C, long inner) {
  ChanPlan p{outer, C, inner, 1, 0};
  const long target = 8L * sm_count();  // blocks in flight
  long domain, bx, per_split_min;
  if (inner == 1) { domain = outer; bx = ceil_div(C, 32); per_split_min = 8 * 16; }
  else { domain = outer * inner; bx = C; per_split_min = (long)kThreads * 8; }
  long S = ceil_div(target, bx < 1 ? 1 : bx);
  const long max_s = ceil_div(domain, per_split_min);
  if (S > max_s) S = max_s;
  if (S > 4096) S = 4096;
  if (S < 1) S = 1;
  p.chunk = ceil_div(domain, S);
  if (p.chunk < 1) p.chunk = 1;
  p.S = (int)ceil_div(domain, p.chunk);
  if (p.S < 1) p.S = 1;
  return p;
}

// Stage 1 (C must be > 0).
template <int K, typename F>
inline void chan_partials(const ChanPlan& p, const F& f, float* part, cudaStream_t st) {
  if (p.inner == 1) {
    dim3 grid((unsigned int)ceil_div(p.C, 32), (unsigned int)p.S);
    col_partial_kernel<K, F><<<grid, dim3(32, 8), 0, st>>>(p.outer, p.C, p.chunk, f, part);
  } else {
    dim3 grid((unsigned int)p.C, (unsigned int)p.S);
    const DivMod d = DivMod::make(p.inner, p.outer * p.inner + kThreads);
    chan_partial_kernel<K, F><<<grid, kThreads, 0, st>>>(p.outer, p.C, p.inner, p.chunk, d, f, part);
  }
}

// Stage 2.
template <int K, typename G>
inline void chan_finalize(const ChanPlan& p, const float* part, const G& g, cudaStream_t st) {
  chan_finalize_kernel<K, G><<<grid_for(p.C), kThreads, 0, st>>>(p.C, p.S, part, g);
}

}  // namespace hrda_cuda
