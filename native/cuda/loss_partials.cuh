// Block partials of the fused losses (losses.cu, ripu_losses.cu): each block of a forward kernel
// writes one float sum and K int counts; one block then adds them in a fixed order (no float
// atomics), so a loss is bit-for-bit repeatable on a given device.
#pragma once
#include "cuda_common.cuh"

namespace hrda_cuda {

// Adds G block partials (sum[g], cnt[g*K + j]) in a fixed order (one block): out[0] = total /
// denom when denom > 0, else total / cnt_0 (0 when cnt_0 == 0); counts[j] = total of cnt_j.
template <int K>
__global__ void finalize_kernel(int G, const float* part_sum, const int* part_cnt, double denom, float* out,
                                int* counts) {
  float s[1] = {0.f};
  int c[K];
#pragma unroll
  for (int j = 0; j < K; j++) c[j] = 0;
  for (int g = threadIdx.x; g < G; g += blockDim.x) {
    s[0] += part_sum[g];
#pragma unroll
    for (int j = 0; j < K; j++) c[j] += part_cnt[(long)g * K + j];
  }
  block_sum<1>(s);
  block_sum<K, int>(c);
  if (threadIdx.x == 0) {
    out[0] = denom > 0 ? (float)((double)s[0] / denom) : (c[0] ? (float)((double)s[0] / c[0]) : 0.f);
    if (counts) {
#pragma unroll
      for (int j = 0; j < K; j++) counts[j] = c[j];
    }
  }
}

// Workspace of G float partials followed by G*K int partials.
struct Partials {
  int G, K;
  size_t bytes() const { return ((size_t)G * sizeof(float) + 255) / 256 * 256 + (size_t)G * K * sizeof(int); }
  float* sums(const Workspace& ws) const { return ws.as<float>(); }
  int* counts(const Workspace& ws) const { return ws.as<int>(((size_t)G * sizeof(float) + 255) / 256 * 256); }
};

}  // namespace hrda_cuda
