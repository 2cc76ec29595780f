// RIPU's negative learning and local consistency losses (f32/bf16/f16 data, f32 arithmetic).
//
// Design:
//  - negative learning: one thread per pixel (grid-stride; channels strided by HW, so a warp's
//    loads are coalesced), an online softmax pass for max and sum, then one pass that thresholds
//    p and sums -log(1 - p + 1e-6) (forward) or two passes for sum_k p_k g_k and the gradient
//    (backward). Forward: per-block partial (sum, count), then finalize_kernel's fixed-order sum.
//  - local consistency: 32x8 output tiles, one thread per output pixel, tiles grid-strided over
//    the blocks. The softmax statistics (max, 1/sum) of the tile plus a halo (1 pixel forward,
//    2 backward; replicate padding is clamped coordinates) go to shared memory once; then per
//    channel the halo's p_c is staged in shared memory and each thread reads its 3x3 window
//    from there. Tiles without a boundary pixel (forward) or without one within 1 pixel
//    (backward) are skipped after a block-wide vote (the backward writes their zeros). The
//    backward stages s_c = sign(p_c - pbar_c) of the halo-1 boundary pixels, then each thread
//    forms G_c = s_c - 1/9 sum (window multiplicity) s_c of its 3x3 neighbours and
//    p_c (G_c - sum_k p_k G_k) in two channel passes (the first for the dot product). Each
//    element of dlogits has one owner: no atomics, no zero fill, deterministic.
#include "cross_entropy.cuh"
#include "loss_partials.cuh"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;

namespace {

// max and 1/sum of exp(x - max) over the C channels of one pixel (stride HW)
template <typename T>
__device__ __forceinline__ void pixel_stats(const T* __restrict__ x, long C, long HW, float& m, float& inv) {
  Online st{-INFINITY, 0.f};
  for (long c = 0; c < C; c++) st.add(to_f(x[c * HW]));
  m = st.m;
  inv = 1.f / st.s;
}

// ---- negative learning ----

__device__ __forceinline__ float nl_grad(float p, float tau) { return p < tau ? 1.f / (1.f - p + 1e-6f) : 0.f; }

template <typename T>
__global__ void nl_forward_kernel(long P, long C, long HW, const T* __restrict__ x, float tau, float* part_sum,
                                  int* part_cnt) {
  float s[1] = {0.f};
  int k[1] = {0};
  for (long m = (long)blockIdx.x * blockDim.x + threadIdx.x; m < P; m += (long)gridDim.x * blockDim.x) {
    const long n = m / HW;
    const T* px = x + n * C * HW + (m - n * HW);
    float mx, inv;
    pixel_stats(px, C, HW, mx, inv);
    for (long c = 0; c < C; c++) {
      const float p = expf(to_f(px[c * HW]) - mx) * inv;
      if (p < tau) { s[0] -= logf(1.f - p + 1e-6f); k[0]++; }
    }
  }
  block_sum<1>(s);
  block_sum<1, int>(k);
  if (threadIdx.x == 0) {
    part_sum[blockIdx.x] = s[0];
    part_cnt[blockIdx.x] = k[0];
  }
}

template <typename T>
__global__ void nl_backward_kernel(long P, long C, long HW, const T* __restrict__ x, float tau, float gs, T* dx, int acc) {
  for (long m = (long)blockIdx.x * blockDim.x + threadIdx.x; m < P; m += (long)gridDim.x * blockDim.x) {
    const long n = m / HW, off = n * C * HW + (m - n * HW);
    const T* px = x + off;
    float mx, inv;
    pixel_stats(px, C, HW, mx, inv);
    float dot = 0.f;
    for (long c = 0; c < C; c++) {
      const float p = expf(to_f(px[c * HW]) - mx) * inv;
      dot += p * nl_grad(p, tau);
    }
    T* d = dx + off;
    for (long c = 0; c < C; c++) {
      const float p = expf(to_f(px[c * HW]) - mx) * inv;
      const float v = gs * p * (nl_grad(p, tau) - dot);
      d[c * HW] = from_f<T>(acc ? to_f(d[c * HW]) + v : v);
    }
  }
}

// ---- local consistency ----

constexpr int TX = 32, TY = 8;              // output tile, one thread per pixel (kThreads = 256)
constexpr int FX = TX + 2, FY = TY + 2;     // halo 1: the forward's p, the backward's s
constexpr int BX = TX + 4, BY = TY + 4;     // halo 2: the backward's p
static_assert(TX * TY == kThreads, "one thread per output pixel");

struct LcrGeom {
  long N, C, H, W, tiles_x, tiles_y;
  __device__ long tiles() const { return N * tiles_y * tiles_x; }
};

__device__ __forceinline__ long clampl(long v, long hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

// boundary.py's 8-neighbour Laplacian of the label values (zero padding) != 0, and not ignored
__device__ bool on_boundary(const int* __restrict__ lab, long H, long W, long i, long j, int ignore) {
  const long long l = lab[i * W + j];
  if (l == ignore) return false;
  long long lap = 8 * l;
  for (long u = i - 1; u <= i + 1; u++)
    for (long v = j - 1; v <= j + 1; v++)
      if ((u != i || v != j) && u >= 0 && u < H && v >= 0 && v < W) lap -= lab[u * W + v];
  return lap != 0;
}

// how often row a appears in the replicate-padded 3-window of row i (0 when i is outside [0, n))
__device__ __forceinline__ float multiplicity(long a, long i, long n) {
  if (i < 0 || i >= n) return 0.f;
  int k = 0;
  for (long d = -1; d <= 1; d++) k += clampl(i + d, n - 1) == a;
  return (float)k;
}

// Softmax statistics of a (rows x cols) halo whose corner is image pixel (y, x), clamped.
template <typename T>
__device__ void stage_stats(const T* xs, const LcrGeom& g, long y, long x, int rows, int cols, float* sm, float* sinv) {
  for (int k = threadIdx.x; k < rows * cols; k += blockDim.x) {
    const long u = clampl(y + k / cols, g.H - 1), v = clampl(x + k % cols, g.W - 1);
    pixel_stats(xs + u * g.W + v, g.C, g.H * g.W, sm[k], sinv[k]);
  }
}

// p of channel plane xc over the same halo
template <typename T>
__device__ void stage_probs(const T* xc, const LcrGeom& g, long y, long x, int rows, int cols, const float* sm,
                            const float* sinv, float* sp) {
  for (int k = threadIdx.x; k < rows * cols; k += blockDim.x) {
    const long u = clampl(y + k / cols, g.H - 1), v = clampl(x + k % cols, g.W - 1);
    sp[k] = expf(to_f(xc[u * g.W + v]) - sm[k]) * sinv[k];
  }
}

// sum of the 3x3 window with top-left corner k0 in a halo of `cols` columns
__device__ __forceinline__ float window_sum(const float* sp, int k0, int cols) {
  float s = 0.f;
#pragma unroll
  for (int a = 0; a < 3; a++)
#pragma unroll
    for (int b = 0; b < 3; b++) s += sp[k0 + a * cols + b];
  return s;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) lcr_forward_kernel(LcrGeom g, const T* __restrict__ x,
                                                               const int* __restrict__ labels, int ignore,
                                                               float* part_sum, int* part_cnt) {
  __shared__ float sm[FY * FX], sinv[FY * FX], sp[FY * FX];
  const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
  float acc[1] = {0.f};
  int cnt[1] = {0};
  for (long t = blockIdx.x; t < g.tiles(); t += gridDim.x) {
    const long n = t / (g.tiles_y * g.tiles_x), r = t % (g.tiles_y * g.tiles_x);
    const long y0 = r / g.tiles_x * TY, x0 = r % g.tiles_x * TX, i = y0 + ty, j = x0 + tx;
    const bool on = i < g.H && j < g.W && on_boundary(labels + n * g.H * g.W, g.H, g.W, i, j, ignore);
    if (!__syncthreads_or(on)) continue;  // block-uniform
    const T* xs = x + n * g.C * g.H * g.W;
    stage_stats(xs, g, y0 - 1, x0 - 1, FY, FX, sm, sinv);
    __syncthreads();
    float d = 0.f;
    for (long c = 0; c < g.C; c++) {
      stage_probs(xs + c * g.H * g.W, g, y0 - 1, x0 - 1, FY, FX, sm, sinv, sp);
      __syncthreads();
      if (on) d += fabsf(sp[(ty + 1) * FX + tx + 1] - window_sum(sp, ty * FX + tx, FX) / 9.f);
      __syncthreads();
    }
    if (on) { acc[0] += d; cnt[0]++; }
  }
  block_sum<1>(acc);
  block_sum<1, int>(cnt);
  if (threadIdx.x == 0) {
    part_sum[blockIdx.x] = acc[0];
    part_cnt[blockIdx.x] = cnt[0];
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) lcr_backward_kernel(LcrGeom g, const T* __restrict__ x,
                                                                const int* __restrict__ labels, int ignore, float gs,
                                                                T* dx, int accumulate) {
  __shared__ float sm[BY * BX], sinv[BY * BX], sp[BY * BX], ss[FY * FX];
  __shared__ unsigned char sb[FY * FX];
  const int tx = threadIdx.x % TX, ty = threadIdx.x / TX;
  const long plane = g.H * g.W;
  for (long t = blockIdx.x; t < g.tiles(); t += gridDim.x) {
    const long n = t / (g.tiles_y * g.tiles_x), r = t % (g.tiles_y * g.tiles_x);
    const long y0 = r / g.tiles_x * TY, x0 = r % g.tiles_x * TX, i = y0 + ty, j = x0 + tx;
    const bool inside = i < g.H && j < g.W;
    const int* lab = labels + n * plane;
    bool any = false;
    for (int k = threadIdx.x; k < FY * FX; k += blockDim.x) {  // boundary pixels within 1 of the tile
      const long u = y0 - 1 + k / FX, v = x0 - 1 + k % FX;
      const bool b = u >= 0 && u < g.H && v >= 0 && v < g.W && on_boundary(lab, g.H, g.W, u, v, ignore);
      sb[k] = b;
      any = any || b;
    }
    T* ds = dx + n * g.C * plane + (inside ? i * g.W + j : 0);
    if (!__syncthreads_or(any) || gs == 0.f) {  // no boundary pixel sees the tile: a zero gradient
      if (inside && !accumulate)
        for (long c = 0; c < g.C; c++) ds[c * plane] = from_f<T>(0.f);
      continue;
    }
    const T* xs = x + n * g.C * plane;
    stage_stats(xs, g, y0 - 2, x0 - 2, BY, BX, sm, sinv);
    float w[3][3];  // multiplicity / 9 of this pixel in the window of its neighbour (a - 1, b - 1)
#pragma unroll
    for (int a = 0; a < 3; a++)
#pragma unroll
      for (int b = 0; b < 3; b++) w[a][b] = multiplicity(i, i - 1 + a, g.H) * multiplicity(j, j - 1 + b, g.W) / 9.f;
    __syncthreads();
    float dot = 0.f;
    for (int pass = 0; pass < 2; pass++) {
      for (long c = 0; c < g.C; c++) {
        stage_probs(xs + c * plane, g, y0 - 2, x0 - 2, BY, BX, sm, sinv, sp);
        __syncthreads();
        for (int k = threadIdx.x; k < FY * FX; k += blockDim.x) {
          const int hy = k / FX, hx = k % FX;  // halo-1 (hy, hx) is halo-2 (hy + 1, hx + 1)
          float s = 0.f;
          if (sb[k]) {
            const float e = sp[(hy + 1) * BX + hx + 1] - window_sum(sp, hy * BX + hx, BX) / 9.f;
            s = (float)((e > 0.f) - (e < 0.f));
          }
          ss[k] = s;
        }
        __syncthreads();
        if (inside) {
          float G = ss[(ty + 1) * FX + tx + 1];
#pragma unroll
          for (int a = 0; a < 3; a++)
#pragma unroll
            for (int b = 0; b < 3; b++) G -= w[a][b] * ss[(ty + a) * FX + tx + b];
          const float p = sp[(ty + 2) * BX + tx + 2];
          if (pass == 0) dot += p * G;
          else {
            const float v = gs * p * (G - dot);
            ds[c * plane] = from_f<T>(accumulate ? to_f(ds[c * plane]) + v : v);
          }
        }
        __syncthreads();
      }
    }
  }
}

LcrGeom lcr_geom(long N, long C, long H, long W) { return LcrGeom{N, C, H, W, ceil_div(W, TX), ceil_div(H, TY)}; }

unsigned int lcr_grid(const LcrGeom& g) { return grid_for(g.N * g.tiles_x * g.tiles_y * kThreads); }

}  // namespace

extern "C" {

int hrda_cuda_negative_learning_forward(int dtype, long N, long C, long HW, const void* logits, double tau, void* loss,
                                        int* count, void* stream) {
  HRDA_NEGATIVE_LEARNING_CHECKS("negative_learning_forward");
  HRDA_CHECK_PTR(loss);
  cudaStream_t st = as_stream(stream);
  const long P = N * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    const unsigned int grid = grid_for(P);
    const Partials parts{(int)grid, 1};
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, parts.bytes());
    nl_forward_kernel<T><<<grid, kThreads, 0, st>>>(P, C, HW, (const T*)logits, (float)tau, parts.sums(ws), parts.counts(ws));
    finalize_kernel<1><<<1, kThreads, 0, st>>>(parts.G, parts.sums(ws), parts.counts(ws), 0.0, (float*)loss, count));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_negative_learning_backward(int dtype, long N, long C, long HW, const void* logits, double tau,
                                         double grad_scale, void* dlogits, int accumulate, void* stream) {
  HRDA_NEGATIVE_LEARNING_CHECKS("negative_learning_backward");
  HRDA_CHECK_PTR(dlogits);
  cudaStream_t st = as_stream(stream);
  const long P = N * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    nl_backward_kernel<T><<<grid_for(P), kThreads, 0, st>>>(P, C, HW, (const T*)logits, (float)tau, (float)grad_scale,
                                                            (T*)dlogits, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_local_consistency_forward(int dtype, long N, long C, long H, long W, const void* logits, const int* labels,
                                        int ignore_index, void* loss, int* count, void* stream) {
  HRDA_LOCAL_CONSISTENCY_CHECKS("local_consistency_forward");
  HRDA_CHECK_PTR(loss);
  cudaStream_t st = as_stream(stream);
  const LcrGeom g = lcr_geom(N, C, H, W);
  HRDA_DISPATCH_FLOAT(dtype,
    const unsigned int grid = lcr_grid(g);
    const Partials parts{(int)grid, 1};
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, parts.bytes());
    lcr_forward_kernel<T><<<grid, kThreads, 0, st>>>(g, (const T*)logits, labels, ignore_index, parts.sums(ws),
                                                     parts.counts(ws));
    finalize_kernel<1><<<1, kThreads, 0, st>>>(parts.G, parts.sums(ws), parts.counts(ws), 0.0, (float*)loss, count));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_local_consistency_backward(int dtype, long N, long C, long H, long W, const void* logits, const int* labels,
                                         int ignore_index, double grad_scale, void* dlogits, int accumulate,
                                         void* stream) {
  HRDA_LOCAL_CONSISTENCY_CHECKS("local_consistency_backward");
  HRDA_CHECK_PTR(dlogits);
  cudaStream_t st = as_stream(stream);
  const LcrGeom g = lcr_geom(N, C, H, W);
  HRDA_DISPATCH_FLOAT(dtype,
    lcr_backward_kernel<T><<<lcr_grid(g), kThreads, 0, st>>>(g, (const T*)logits, labels, ignore_index, (float)grad_scale,
                                                             (T*)dlogits, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
