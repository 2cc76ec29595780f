// Fused segmentation loss at label resolution and masked feature distance (f32/bf16/f16 data,
// f32 arithmetic).
//
// Design:
//  - seg_cross_entropy_forward: one thread per output pixel (grid-stride), the C upsampled
//    logits computed from their 4 taps (bilinear.cuh: the resize op's taps and formula) into an
//    online softmax that also tracks the arg-max and the label's value; per-thread sums of the
//    weighted NLL, the correct and the valid pixels, reduced over the block in a fixed tree and
//    written as one partial per block; a one-block kernel adds the partials in a fixed order
//    and divides. Bad labels: one int atomic per warp into bad_labels (integer, exact).
//  - seg_cross_entropy_backward: a gather, one thread per logit pixel q (all its channels, in
//    chunks of CH held in registers). It walks the output pixels whose taps include q (a
//    contiguous range per axis, output_range) and recomputes each one's softmax, adding
//    tap_weight * weight * (softmax - onehot) to its accumulators. Each element of dlogits has
//    one owner: no atomics, no zero fill, deterministic. Each output pixel's softmax is
//    recomputed by up to 4 owners (the logits come from the L1/L2 cache: q's 3x3 neighbourhood).
//    A tiled variant that stages a tile's output-pixel gradients in shared memory would cut
//    that to ~1.5-2.5x; not done yet (docs/losses.md).
//  - feature_distance: blocks of 32 pixels (lanes, coalesced along HW) x 8 channel slices
//    (warps); the slices' sums of squares meet in shared memory and are added in slice order.
//    Forward: per-block partial (sum of distances, count), then the same fixed-order final
//    kernel. Backward: the same distance, then each warp writes its channel slice.
#include "bilinear.cuh"
#include "cross_entropy.cuh"
#include "loss_partials.cuh"
#include "hrda/detail/augment_math.h"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;

namespace {

struct SegGeom {
  long C, h, w, H, W;
  double sh, sw;  // (float)h / H and (float)w / W, widened: the resize op's scales
};

template <typename T>
__global__ void seg_ce_forward_kernel(long total, SegGeom g, DivMod dW, DivMod dH, const T* __restrict__ logits,
                                      const int* __restrict__ labels, const T* __restrict__ weight, int ignore,
                                      float* part_sum, int* part_cnt, int* bad_labels) {
  float loss[1] = {0.f};
  int cnt[2] = {0, 0};  // correct, valid
  const long stride = (long)gridDim.x * blockDim.x;
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < whole_warps(total); idx += stride) {
    bool bad = false;
    if (idx < total) {
      const int l = labels[idx];
      bad = is_bad_label(l, ignore, g.C);
      if (l != ignore && !bad) {
        long r, n;
        const long x = dW.divmod(idx, r);
        const long y = dH.divmod(r, n);
        const Tap th = source_tap(g.sh, y, g.h), tw = source_tap(g.sw, x, g.w);
        const long plane = g.h * g.w;
        const T* sample = logits + n * g.C * plane;
        Online st{-INFINITY, 0.f};
        float best = -INFINITY, vl = 0.f;
        int arg = 0;
        for (long c = 0; c < g.C; c++) {
          const float v = bilinear_at(sample + c * plane, g.w, th, tw);
          st.add(v);
          if (v > best) { best = v; arg = (int)c; }
          if (c == l) vl = v;
        }
        const float nll = logf(st.s) + st.m - vl;
        loss[0] += weight ? to_f(weight[idx]) * nll : nll;
        cnt[0] += arg == l;
        cnt[1] += 1;
      }
    }
    count_bad_labels(bad, bad_labels);
  }
  block_sum<1>(loss);
  block_sum<2, int>(cnt);
  if (threadIdx.x == 0) {
    part_sum[blockIdx.x] = loss[0];
    part_cnt[2 * blockIdx.x] = cnt[0];
    part_cnt[2 * blockIdx.x + 1] = cnt[1];
  }
}

// One logit pixel q = (n, i, j) per thread; channels [c0, c0 + CH) in registers per round.
template <int CH, typename T>
__global__ void seg_ce_backward_kernel(long total, SegGeom g, DivMod dw, DivMod dh, const T* __restrict__ logits,
                                       const int* __restrict__ labels, const T* __restrict__ weight, int ignore,
                                       float grad_scale, T* dlogits, int acc) {
  const long plane = g.h * g.w;
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, n;
    const long j = dw.divmod(idx, r);
    const long i = dh.divmod(r, n);
    long y0, y1, x0, x1;
    output_range(g.sh, i, g.h, g.H, y0, y1);
    output_range(g.sw, j, g.w, g.W, x0, x1);
    const T* sample = logits + n * g.C * plane;
    const int* lab = labels + n * g.H * g.W;
    const T* wt = weight ? weight + n * g.H * g.W : nullptr;
    for (long c0 = 0; c0 < g.C; c0 += CH) {
      float a[CH];
#pragma unroll
      for (int k = 0; k < CH; k++) a[k] = 0.f;
      for (long y = y0; y <= y1; y++) {
        const Tap th = source_tap(g.sh, y, g.h);
        const float wy = weight_of(th, i);
        if (wy == 0.f) continue;
        for (long x = x0; x <= x1; x++) {
          const Tap tw = source_tap(g.sw, x, g.w);
          const float wx = weight_of(tw, j);
          const long p = y * g.W + x;
          const int l = lab[p];
          if (wx == 0.f || l == ignore || is_bad_label(l, ignore, g.C)) continue;
          // softmax of output pixel p: the chunk's values kept, the others recomputed
          float e[CH];
          float m = -INFINITY;
#pragma unroll
          for (int k = 0; k < CH; k++) {
            e[k] = c0 + k < g.C ? bilinear_at(sample + (c0 + k) * plane, g.w, th, tw) : -INFINITY;
            m = fmaxf(m, e[k]);
          }
          for (long c = 0; c < g.C; c++)
            if (c < c0 || c >= c0 + CH) m = fmaxf(m, bilinear_at(sample + c * plane, g.w, th, tw));
          float s = 0.f;
#pragma unroll
          for (int k = 0; k < CH; k++) {
            e[k] = c0 + k < g.C ? expf(e[k] - m) : 0.f;
            s += e[k];
          }
          for (long c = 0; c < g.C; c++)
            if (c < c0 || c >= c0 + CH) s += expf(bilinear_at(sample + c * plane, g.w, th, tw) - m);
          const float inv = 1.f / s;
          const float kw = wy * wx * (wt ? to_f(wt[p]) : 1.f);
#pragma unroll
          for (int k = 0; k < CH; k++) a[k] += kw * (e[k] * inv - (c0 + k == l ? 1.f : 0.f));
        }
      }
#pragma unroll
      for (int k = 0; k < CH; k++) {
        if (c0 + k >= g.C) break;
        T* d = dlogits + ((n * g.C + c0 + k) * g.h + i) * g.w + j;
        const float v = grad_scale * a[k];
        *d = from_f<T>(acc ? to_f(*d) + v : v);
      }
    }
  }
}

// ---- feature distance: 32 pixels x 8 channel slices per block ----
constexpr int kFdSlices = 8;

// Distance of the lane's pixel m (all lanes of all warps get it); false when not masked or
// m >= M. Contains __syncthreads: every thread of the block must call it.
template <typename T>
__device__ __forceinline__ bool pixel_distance(long m, long M, long C, long HW, const T* fs, const T* fi,
                                               const int* labels, const unsigned int* classes, float& dist) {
  __shared__ float part[kFdSlices][32];
  const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
  const bool on = m < M && hrda_aug::in_class_set(classes, labels[m]);
  float s = 0.f;
  if (on) {
    const long n = m / HW, p = m - n * HW;
    const T* a = fs + n * C * HW + p;
    const T* b = fi + n * C * HW + p;
    for (long c = slice; c < C; c += kFdSlices) {
      const float d = to_f(a[c * HW]) - to_f(b[c * HW]);
      s = fmaf(d, d, s);
    }
  }
  part[slice][lane] = s;
  __syncthreads();
  float t = 0.f;
#pragma unroll
  for (int k = 0; k < kFdSlices; k++) t += part[k][lane];  // slice order, the same in every warp
  __syncthreads();  // part is reused by the next call
  dist = sqrtf(t);
  return on;
}

template <typename T>
__global__ void fd_forward_kernel(long M, long C, long HW, const T* fs, const T* fi, const int* labels,
                                  const unsigned int* classes, float* part_sum, int* part_cnt) {
  float sum[1] = {0.f};
  int cnt[1] = {0};
  const int lane = threadIdx.x & 31;
  for (long base = (long)blockIdx.x * 32; base < M; base += (long)gridDim.x * 32) {
    float d;
    const bool on = pixel_distance(base + lane, M, C, HW, fs, fi, labels, classes, d);
    if (threadIdx.x < 32 && on) { sum[0] += d; cnt[0] += 1; }  // warp 0 holds the block's sums
  }
  block_sum<1>(sum);
  block_sum<1, int>(cnt);
  if (threadIdx.x == 0) {
    part_sum[blockIdx.x] = sum[0];
    part_cnt[blockIdx.x] = cnt[0];
  }
}

template <typename T>
__global__ void fd_backward_kernel(long M, long C, long HW, const T* fs, const T* fi, const int* labels,
                                   const unsigned int* classes, float grad_scale, T* dfs, int acc) {
  const int lane = threadIdx.x & 31, slice = threadIdx.x >> 5;
  for (long base = (long)blockIdx.x * 32; base < M; base += (long)gridDim.x * 32) {
    const long m = base + lane;
    float d;
    const bool on = pixel_distance(m, M, C, HW, fs, fi, labels, classes, d);
    if (m >= M) continue;
    const float k = on && d > 0.f ? grad_scale / d : 0.f;
    const long n = m / HW, p = m - n * HW;
    const T* a = fs + n * C * HW + p;
    const T* b = fi + n * C * HW + p;
    T* o = dfs + n * C * HW + p;
    for (long c = slice; c < C; c += kFdSlices) {
      const float v = k == 0.f ? 0.f : k * (to_f(a[c * HW]) - to_f(b[c * HW]));
      o[c * HW] = from_f<T>(acc ? to_f(o[c * HW]) + v : v);
    }
  }
}

unsigned int fd_grid(long M) { return grid_for(ceil_div(M, 32) * kThreads); }

}  // namespace

extern "C" {

int hrda_cuda_seg_cross_entropy_forward(int dtype, long N, long C, long h, long w, long H, long W,
                                        const void* logits, const int* labels, const void* weight, int ignore_index,
                                        void* loss, int* counts, int* bad_labels, void* stream) {
  HRDA_SEG_CE_CHECKS("seg_cross_entropy_forward");
  HRDA_CHECK_PTR(loss);
  cudaStream_t st = as_stream(stream);
  const long total = N * H * W;
  const SegGeom g{C, h, w, H, W, (double)((float)h / (float)H), (double)((float)w / (float)W)};
  HRDA_DISPATCH_FLOAT(dtype,
    const unsigned int grid = grid_for(total);
    const Partials parts{(int)grid, 2};
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, parts.bytes());
    seg_ce_forward_kernel<T><<<grid, kThreads, 0, st>>>(total, g, DivMod::make(W, total), DivMod::make(H, total / W),
        (const T*)logits, labels, (const T*)weight, ignore_index, parts.sums(ws), parts.counts(ws), bad_labels);
    finalize_kernel<2><<<1, kThreads, 0, st>>>(parts.G, parts.sums(ws), parts.counts(ws), (double)total,
                                               (float*)loss, counts));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_seg_cross_entropy_backward(int dtype, long N, long C, long h, long w, long H, long W,
                                         const void* logits, const int* labels, const void* weight, int ignore_index,
                                         double grad_scale, void* dlogits, int accumulate, void* stream) {
  HRDA_SEG_CE_CHECKS("seg_cross_entropy_backward");
  HRDA_CHECK_PTR(dlogits);
  cudaStream_t st = as_stream(stream);
  const long total = N * h * w;
  const SegGeom g{C, h, w, H, W, (double)((float)h / (float)H), (double)((float)w / (float)W)};
  const DivMod dw = DivMod::make(w, total), dh = DivMod::make(h, total / w);
  const unsigned int grid = grid_for(total);
  const int acc = accumulate != 0;
  HRDA_DISPATCH_FLOAT(dtype,
    const T* lg = (const T*)logits;
    const T* wt = (const T*)weight;
    T* d = (T*)dlogits;
    const float gs = (float)grad_scale;
    if (C <= 8) seg_ce_backward_kernel<8, T><<<grid, kThreads, 0, st>>>(total, g, dw, dh, lg, labels, wt, ignore_index, gs, d, acc);
    else if (C <= 16) seg_ce_backward_kernel<16, T><<<grid, kThreads, 0, st>>>(total, g, dw, dh, lg, labels, wt, ignore_index, gs, d, acc);
    else seg_ce_backward_kernel<32, T><<<grid, kThreads, 0, st>>>(total, g, dw, dh, lg, labels, wt, ignore_index, gs, d, acc));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_feature_distance_forward(int dtype, long N, long C, long HW, const void* fs, const void* fi,
                                       const int* labels, const unsigned int* classes, void* out, int* count,
                                       void* stream) {
  HRDA_FEATURE_DISTANCE_CHECKS("feature_distance_forward");
  HRDA_CHECK_PTR(out);
  cudaStream_t st = as_stream(stream);
  const long M = N * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    const unsigned int grid = fd_grid(M);
    const Partials parts{(int)grid, 1};
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, parts.bytes());
    fd_forward_kernel<T><<<grid, 32 * kFdSlices, 0, st>>>(M, C, HW, (const T*)fs, (const T*)fi, labels, classes,
                                                           parts.sums(ws), parts.counts(ws));
    finalize_kernel<1><<<1, kThreads, 0, st>>>(parts.G, parts.sums(ws), parts.counts(ws), 0.0, (float*)out, count));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_feature_distance_backward(int dtype, long N, long C, long HW, const void* fs, const void* fi,
                                        const int* labels, const unsigned int* classes, double grad_scale, void* dfs,
                                        int accumulate, void* stream) {
  HRDA_FEATURE_DISTANCE_CHECKS("feature_distance_backward");
  HRDA_CHECK_PTR(dfs);
  cudaStream_t st = as_stream(stream);
  const long M = N * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    if (M == 0) return HRDA_OK;
    fd_backward_kernel<T><<<fd_grid(M), 32 * kFdSlices, 0, st>>>(M, C, HW, (const T*)fs, (const T*)fi, labels, classes,
                                                                  (float)grad_scale, (T*)dfs, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
