// RIPU acquisition on the GPU (active.h): f32/bf16/f16 data, f32 arithmetic, the pick order and
// window rules of hrda/detail/active_math.h (shared with the CPU twin).
//
// Design:
//  - scores, workspace of 5 maps [B, H, W] (labels, vertical counts int32; entropy, impurity sum,
//    vertical entropy sum f32) from the stream-ordered pool:
//      1. one thread per pixel: arg-max label (lowest class on ties) and the pixel entropy;
//      2. per class c, streamed (O(H W) memory whatever K is): a thread per (column, band of 32
//         rows) slides the vertical window count of c down its band (exact integers), then a
//         thread per pixel sums the 2r+1 vertical counts of its row and adds -d log(d + 1e-6) to the
//         impurity sum; classes are added in order, so the sum does not depend on the launch;
//      3. RA: vertical entropy sums, direct and in row order; then one thread per pixel: the
//         horizontal sum, U = sum / |N|, P = impurity sum / norm, score = P * U.
//  - selection: one block per image runs the whole loop on the device (no host round trip per
//    pick). Each 32x32 tile's best (value, column-major key) is kept in a global workspace; a pick
//    is a block reduction over the tiles (warp shuffles, then one warp over the warp results),
//    then the block writes -inf / active / selected over the clamped squares and rescans only the
//    tiles the suppression square touched (a warp per tile). The order (value, then lowest key) is
//    total, so the reduction shape does not change the pick.
//  - reveal: one thread per pixel.
#include "cuda_common.cuh"
#include "hrda/detail/active_math.h"
#include "hrda/detail/op_checks.h"
#include <climits>

using namespace hrda_cuda;
using namespace hrda_active;

namespace {

constexpr long kBand = 32;            // rows per thread of the vertical class count
constexpr int kSelectThreads = 512;   // one block per image

template <typename T>
__global__ void label_entropy_kernel(long B, long K, long HW, const T* __restrict__ prob, float norm, int* label,
                                     float* ent) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * HW; i += (long)gridDim.x * blockDim.x) {
    const long b = i / HW, p = i - b * HW;
    const T* x = prob + b * K * HW + p;
    int best = 0;
    float bv = to_f(x[0]), e = 0.f;
    for (long c = 0; c < K; c++) {
      const float v = to_f(x[c * HW]);
      if (v > bv) { bv = v; best = (int)c; }
      e += -v * logf(v + 1e-6f);
    }
    label[i] = best;
    ent[i] = e / norm;
  }
}

// vc[b, h, w] = pixels labelled c in rows h-r..h+r (clipped) of column w
__global__ void vertical_count_kernel(long B, long H, long W, long r, int c, const int* __restrict__ label, int* vc) {
  const long bands = (H + kBand - 1) / kBand;
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * bands * W; i += (long)gridDim.x * blockDim.x) {
    const long w = i % W, band = (i / W) % bands, b = i / (W * bands);
    const int* lab = label + b * H * W + w;
    int* out = vc + b * H * W + w;
    const long h0 = band * kBand, h1 = h0 + kBand < H ? h0 + kBand : H;
    int n = 0;
    for (long u = window_lo(h0, r); u <= window_hi(h0, r, H); u++) n += lab[u * W] == c;
    for (long h = h0; h < h1; h++) {
      if (h > h0) {
        if (h + r < H) n += lab[(h + r) * W] == c;
        if (h - r - 1 >= 0) n -= lab[(h - r - 1) * W] == c;
      }
      out[h * W] = n;
    }
  }
}

// pacc += -d log(d + 1e-6) with d = n_c / |N| for the window count n_c of class c
__global__ void impurity_add_kernel(long B, long H, long W, long r, const int* __restrict__ vc, float* pacc) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * H * W; i += (long)gridDim.x * blockDim.x) {
    const long w = i % W, h = (i / W) % H;
    const int* row = vc + (i - w);
    const long lo = window_lo(w, r), hi = window_hi(w, r, W);
    int n = 0;
    for (long v = lo; v <= hi; v++) n += row[v];
    if (n > 0) {
      const float cnt = (float)((window_hi(h, r, H) - window_lo(h, r) + 1) * (hi - lo + 1));
      const float d = (float)n / cnt;
      pacc[i] += -d * logf(d + 1e-6f);
    }
  }
}

__global__ void vertical_sum_kernel(long B, long H, long W, long r, const float* __restrict__ ent, float* vs) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * H * W; i += (long)gridDim.x * blockDim.x) {
    const long h = (i / W) % H;
    const float* col = ent + (i - h * W);  // column w of image b
    float s = 0.f;
    for (long u = window_lo(h, r); u <= window_hi(h, r, H); u++) s += col[u * W];
    vs[i] = s;
  }
}

template <typename T>
__global__ void score_kernel(long B, long H, long W, long r, int pixel_u, float norm, const float* __restrict__ pacc,
                             const float* __restrict__ ent, const float* __restrict__ vs, T* score, T* impurity,
                             T* uncertainty) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * H * W; i += (long)gridDim.x * blockDim.x) {
    const long w = i % W, h = (i / W) % H;
    const float P = pacc[i] / norm;
    float U;
    if (pixel_u) {
      U = ent[i];
    } else {
      const float* row = vs + (i - w);
      const long lo = window_lo(w, r), hi = window_hi(w, r, W);
      float s = 0.f;
      for (long v = lo; v <= hi; v++) s += row[v];
      U = s / (float)((window_hi(h, r, H) - window_lo(h, r) + 1) * (hi - lo + 1));
    }
    score[i] = from_f<T>(P * U);
    if (impurity) impurity[i] = from_f<T>(P);
    if (uncertainty) uncertainty[i] = from_f<T>(U);
  }
}

// ---- selection ----
__device__ __forceinline__ void warp_best(float& v, int& k) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float ov = __shfl_down_sync(0xffffffffu, v, o);
    const int ok = __shfl_down_sync(0xffffffffu, k, o);
    if (picked_before(ov, (long)ok, v, (long)k)) { v = ov; k = ok; }
  }
}

// one warp: the best (value, key) of tile (ty, tx) into tv/tk
template <typename T>
__device__ void tile_scan(long H, long W, const T* s, long ty, long tx, long tiles_w, float* tv, int* tk) {
  const int lane = threadIdx.x & 31;
  float bv = -INFINITY;
  int bk = INT_MAX;
  const long hlo = ty * kTileH, wlo = tx * kTileW;
  for (long e = lane; e < kTileH * kTileW; e += 32) {
    const long h = hlo + e / kTileW, w = wlo + e % kTileW;
    if (h < H && w < W) {
      const float v = to_f(s[h * W + w]);
      const int k = (int)(w * H + h);
      if (picked_before(v, (long)k, bv, (long)bk)) { bv = v; bk = k; }
    }
  }
  warp_best(bv, bk);
  if (lane == 0) { tv[ty * tiles_w + tx] = bv; tk[ty * tiles_w + tx] = bk; }
}

template <typename T>
__global__ void __launch_bounds__(kSelectThreads) select_kernel(long H, long W, long count, long ar, long mr, T* score,
                                                                unsigned char* active, unsigned char* selected,
                                                                int* picks, T* pick_score, float* tiles_v,
                                                                int* tiles_k) {
  __shared__ float warp_v[32];
  __shared__ int warp_k[32];
  __shared__ int pick[2];
  const long HW = H * W, b = blockIdx.x;
  const long tiles_h = (H + kTileH - 1) / kTileH, tiles_w = (W + kTileW - 1) / kTileW, ntiles = tiles_h * tiles_w;
  T* s = score + b * HW;
  unsigned char* act = active + b * HW;
  unsigned char* sel = selected + b * HW;
  float* tv = tiles_v + b * ntiles;
  int* tk = tiles_k + b * ntiles;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;
  const T ninf = from_f<T>(-INFINITY);
  for (long i = tid; i < HW; i += blockDim.x)
    if (act[i]) s[i] = ninf;
  __syncthreads();
  for (long t = warp; t < ntiles; t += nwarps) tile_scan(H, W, s, t / tiles_w, t % tiles_w, tiles_w, tv, tk);
  __syncthreads();
  for (long j = 0; j < count; j++) {
    float bv = -INFINITY;
    int bk = INT_MAX;
    for (long t = tid; t < ntiles; t += blockDim.x)
      if (picked_before(tv[t], (long)tk[t], bv, (long)bk)) { bv = tv[t]; bk = tk[t]; }
    warp_best(bv, bk);
    if (lane == 0) { warp_v[warp] = bv; warp_k[warp] = bk; }
    __syncthreads();
    if (warp == 0) {
      bv = lane < nwarps ? warp_v[lane] : -INFINITY;
      bk = lane < nwarps ? warp_k[lane] : INT_MAX;
      warp_best(bv, bk);
      if (lane == 0) {
        const int w = (int)(bk / H), h = (int)(bk - (long)w * H);
        pick[0] = h;
        pick[1] = w;
        picks[2 * (b * count + j)] = h;
        picks[2 * (b * count + j) + 1] = w;
        if (pick_score) pick_score[b * count + j] = from_f<T>(bv);
      }
    }
    __syncthreads();
    const long h = pick[0], w = pick[1];
    const long h0 = window_lo(h, mr), h1 = window_hi(h, mr, H), w0 = window_lo(w, mr), w1 = window_hi(w, mr, W);
    const long mw = w1 - w0 + 1;
    for (long e = tid; e < (h1 - h0 + 1) * mw; e += blockDim.x) {
      const long at = (h0 + e / mw) * W + w0 + e % mw;
      s[at] = ninf;
      act[at] = 1;
    }
    const long a0 = window_lo(h, ar), a1 = window_hi(h, ar, H), c0 = window_lo(w, ar), c1 = window_hi(w, ar, W);
    const long aw = c1 - c0 + 1;
    for (long e = tid; e < (a1 - a0 + 1) * aw; e += blockDim.x) sel[(a0 + e / aw) * W + c0 + e % aw] = 1;
    __syncthreads();
    const long ty0 = h0 / kTileH, tx0 = w0 / kTileW, ny = h1 / kTileH - ty0 + 1, nx = w1 / kTileW - tx0 + 1;
    for (long t = warp; t < ny * nx; t += nwarps) tile_scan(H, W, s, ty0 + t / nx, tx0 + t % nx, tiles_w, tv, tk);
    __syncthreads();
  }
}

__global__ void reveal_kernel(long n, const unsigned char* __restrict__ selected, const int* __restrict__ gt,
                              int ignore_index, int* mask) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
    mask[i] = selected[i] ? gt[i] : ignore_index;
}

}  // namespace

extern "C" {

int hrda_cuda_active_score(int dtype, long B, long K, long H, long W, long radius, int pixel_uncertainty, double norm,
                           const void* prob, void* score, void* impurity, void* uncertainty, void* stream) {
  HRDA_ACTIVE_SCORE_CHECKS("active_score");
  cudaStream_t s = as_stream(stream);
  const long n = B * H * W;
  if (n == 0) return HRDA_OK;
  Workspace ws(s);
  HRDA_WS_ALLOC(ws, 5 * n * sizeof(float));
  int* label = ws.as<int>();
  int* vc = ws.as<int>(n * sizeof(int));
  float* ent = ws.as<float>(2 * n * sizeof(float));
  float* pacc = ws.as<float>(3 * n * sizeof(float));
  float* vs = ws.as<float>(4 * n * sizeof(float));
  const float fnorm = (float)norm;
  HRDA_DISPATCH_FLOAT(dtype, {
    label_entropy_kernel<T><<<grid_for(n), kThreads, 0, s>>>(B, K, H * W, (const T*)prob, fnorm, label, ent);
    HRDA_LAUNCH_CHECK();
  });
  HRDA_CUDA_TRY(cudaMemsetAsync(pacc, 0, n * sizeof(float), s));
  const long columns = B * ((H + kBand - 1) / kBand) * W;
  for (long c = 0; c < K; c++) {
    vertical_count_kernel<<<grid_for(columns), kThreads, 0, s>>>(B, H, W, radius, (int)c, label, vc);
    HRDA_LAUNCH_CHECK();
    impurity_add_kernel<<<grid_for(n), kThreads, 0, s>>>(B, H, W, radius, vc, pacc);
    HRDA_LAUNCH_CHECK();
  }
  if (!pixel_uncertainty) {
    vertical_sum_kernel<<<grid_for(n), kThreads, 0, s>>>(B, H, W, radius, ent, vs);
    HRDA_LAUNCH_CHECK();
  }
  HRDA_DISPATCH_FLOAT(dtype, {
    score_kernel<T><<<grid_for(n), kThreads, 0, s>>>(B, H, W, radius, pixel_uncertainty, fnorm, pacc, ent, vs, (T*)score,
                                                     (T*)impurity, (T*)uncertainty);
    HRDA_LAUNCH_CHECK();
  });
  return HRDA_OK;
}

int hrda_cuda_active_select(int dtype, long B, long H, long W, long count, long active_radius, long mask_radius,
                            void* score, unsigned char* active, unsigned char* selected, int* picks, void* pick_score,
                            void* stream) {
  HRDA_ACTIVE_SELECT_CHECKS("active_select");
  HRDA_CHECK(B <= 2147483647L, "active_select: batch %ld does not fit the grid", B);
  if (B == 0) return HRDA_OK;
  cudaStream_t s = as_stream(stream);
  const long ntiles = ((H + kTileH - 1) / kTileH) * ((W + kTileW - 1) / kTileW);
  Workspace ws(s);
  HRDA_WS_ALLOC(ws, B * ntiles * (sizeof(float) + sizeof(int)));
  float* tv = ws.as<float>();
  int* tk = ws.as<int>(B * ntiles * sizeof(float));
  HRDA_DISPATCH_FLOAT(dtype, {
    select_kernel<T><<<(unsigned int)B, kSelectThreads, 0, s>>>(H, W, count, active_radius, mask_radius, (T*)score,
                                                                active, selected, picks, (T*)pick_score, tv, tk);
    HRDA_LAUNCH_CHECK();
  });
  return HRDA_OK;
}

int hrda_cuda_active_reveal(long n, const unsigned char* selected, const int* gt, int ignore_index, int* mask,
                            void* stream) {
  HRDA_ACTIVE_REVEAL_CHECKS("active_reveal");
  if (n == 0) return HRDA_OK;
  reveal_kernel<<<grid_for(n), kThreads, 0, as_stream(stream)>>>(n, selected, gt, ignore_index, mask);
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
