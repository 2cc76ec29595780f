// Pieces shared by the softmax and cross-entropy kernels (softmax.cu) and the fused segmentation
// loss (losses.cu): the online softmax state (running max m and sum s of exp(x - m)) and the
// device-side count of out-of-range labels.
#pragma once
#include "cuda_common.cuh"

namespace hrda_cuda {

struct Online {
  float m, s;
  __device__ __forceinline__ void add(float x) {
    if (x > m) { s = s * expf(m - x) + 1.f; m = x; }
    else if (m != -INFINITY) s += expf(x - m);  // (-inf, -inf) adds nothing instead of NaN
  }
  __device__ __forceinline__ void merge(float om, float os) {
    const float M = fmaxf(m, om);
    const float a = m == -INFINITY ? 0.f : s * expf(m - M);
    const float b = om == -INFINITY ? 0.f : os * expf(om - M);
    m = M;
    s = a + b;
  }
};

// a label outside [0, C) that is not the ignore index
__device__ __forceinline__ bool is_bad_label(int l, int ignore, long C) { return l != ignore && (l < 0 || (long)l >= C); }

// Adds the warp's bad labels to *count (may be NULL) with one integer atomic per warp; every lane
// of the warp must call it (grid-stride loops run to whole_warps(total)).
__device__ __forceinline__ void count_bad_labels(bool bad, int* count) {
  const unsigned int mask = __ballot_sync(0xffffffffu, bad);
  if (count && mask && (threadIdx.x & 31) == 0) atomicAdd(count, __popc(mask));
}
__host__ __device__ __forceinline__ long whole_warps(long total) { return (total + 31) / 32 * 32; }

}  // namespace hrda_cuda
