// DACS batch transforms and pseudo-labelling on the GPU (augment.h): f32/bf16/f16 data, f32
// arithmetic, the per-pixel rules of hrda/detail/augment_math.h (shared with the CPU twin).
//
// Design:
//  - colour jitter, ClassMix, pseudo weight map, block mask: one thread per pixel (grid-stride);
//    per-sample parameters are read from their small device tensors (cached).
//  - Gaussian blur, separable with an f32 workspace [B*C, H, W] from the stream-ordered pool:
//      1. one block per sample normalises the two 1-D kernels (a fixed-order sum by thread 0);
//      2. rows: a block covers 256 outputs of one row; the row segment plus its reflected halo
//         is staged in shared memory as f32 and each thread sums kw taps in tap order;
//      3. columns: one thread per output, consecutive threads on consecutive columns (coalesced
//         reads of the workspace rows), kh taps in tap order.
//    No atomics: the result does not depend on the launch shape.
//  - pseudo-labels: one thread per pixel (softmax max and arg-max over K, strided by HW); the
//    confident pixels are counted per block with __syncthreads_count and added to the int32
//    total with one integer atomicAdd per block (integer sums are order-independent).
//  - label presence: a 256-bit set per block in shared memory (atomicOr), or-ed into the result.
//  - downscale_label_ratio: one block per output pixel, its histogram in shared memory (integer
//    atomics), thread 0 applies the majority rule.
#include "cuda_common.cuh"
#include "hrda/detail/augment_math.h"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;
using namespace hrda_aug;

namespace {

// longest 1-D Gaussian kernel the row kernel stages in shared memory (DACS: 103 at 1024 pixels)
constexpr long kMaxTaps = 2047;
constexpr int kRowTile = 256;

struct Norm { float mean[3], std[3]; };

template <typename T>
__global__ void color_jitter_kernel(long B, long HW, const float* __restrict__ factors, const int* __restrict__ order,
                                    Norm nm, const T* x, T* y) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * HW; i += (long)gridDim.x * blockDim.x) {
    const long b = i / HW, p = i - b * HW;
    const long base = b * 3 * HW + p;
    float c[3];
#pragma unroll
    for (int k = 0; k < 3; k++) c[k] = (to_f(x[base + k * HW]) * nm.std[k] + nm.mean[k]) / 255.f;  // DACS denorm_
#pragma unroll
    for (int j = 0; j < 4; j++) {
      const int op = order[b * 4 + j];
      if (op >= 0 && op < 4) jitter_step<float>(op, factors[b * 4 + op], c[0], c[1], c[2]);
    }
#pragma unroll
    for (int k = 0; k < 3; k++) y[base + k * HW] = from_f<T>((c[k] * 255.f - nm.mean[k]) / nm.std[k]);  // renorm_
  }
}

// block b: weights[b * (kw + kh) + ...] = normalised kernel along W (kw taps), then along H (kh taps)
__global__ void gaussian_weights_kernel(long kh, long kw, const float* __restrict__ sigma, float* weights) {
  __shared__ float sums[2];
  const long b = blockIdx.x;
  float* w = weights + b * (kw + kh);
  const float s = sigma[b];
  for (long i = threadIdx.x; i < kw + kh; i += blockDim.x)
    w[i] = i < kw ? gaussian_tap<float>(i, kw, s) : gaussian_tap<float>(i - kw, kh, s);
  __syncthreads();
  if (threadIdx.x == 0) {  // fixed order: tap 0 first, as the CPU twin
    float sx = 0.f, sy = 0.f;
    for (long i = 0; i < kw; i++) sx += w[i];
    for (long i = 0; i < kh; i++) sy += w[kw + i];
    sums[0] = sx;
    sums[1] = sy;
  }
  __syncthreads();
  for (long i = threadIdx.x; i < kw + kh; i += blockDim.x) w[i] /= sums[i < kw ? 0 : 1];
}

// one block per (plane, row, tile of kRowTile columns); dynamic shared: kw weights + the row segment
template <typename T>
__global__ void blur_rows_kernel(long C, long H, long W, long kh, long kw, long tiles_per_row,
                                 const float* __restrict__ weights, const T* __restrict__ x, float* __restrict__ rows) {
  extern __shared__ float sh[];
  float* w = sh;
  float* seg = sh + kw;
  const long rx = kw / 2;
  const long tile = blockIdx.x % tiles_per_row, pr = blockIdx.x / tiles_per_row;  // pr = plane * H + row
  const long b = (pr / H) / C;
  const long c0 = tile * kRowTile;
  const long n = min((long)kRowTile, W - c0) + 2 * rx;
  for (long j = threadIdx.x; j < kw; j += blockDim.x) w[j] = weights[b * (kw + kh) + j];
  const T* in = x + pr * W;
  for (long j = threadIdx.x; j < n; j += blockDim.x) seg[j] = to_f(in[reflect_index(c0 - rx + j, W)]);
  __syncthreads();
  const long c = c0 + threadIdx.x;
  if (c < W) {
    float acc = 0.f;
    for (long j = 0; j < kw; j++) acc = fmaf(w[j], seg[threadIdx.x + j], acc);
    rows[pr * W + c] = acc;
  }
}

template <typename T>
__global__ void blur_cols_kernel(long total, long C, long H, long W, long kh, long kw, const float* __restrict__ weights,
                                 const float* __restrict__ rows, T* y) {
  const long ry = kh / 2;
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    const long c = i % W, pr = i / W;
    const long r = pr % H, plane = pr / H;
    const float* w = weights + (plane / C) * (kw + kh) + kw;
    const float* col = rows + plane * H * W + c;
    float acc = 0.f;
    for (long j = 0; j < kh; j++) acc = fmaf(w[j], col[reflect_index(r + j - ry, H) * W], acc);
    y[i] = from_f<T>(acc);
  }
}

__global__ void label_presence_kernel(long n, const int* __restrict__ labels, unsigned int* present) {
  __shared__ unsigned int words[9];
  if (threadIdx.x < 9) words[threadIdx.x] = 0u;
  __syncthreads();
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
    const int v = labels[i];
    if (v >= 0 && v < 256) atomicOr(&words[v >> 5], 1u << (v & 31));
    else atomicAdd(&words[8], 1u);
  }
  __syncthreads();
  if (threadIdx.x < 8 && words[threadIdx.x]) atomicOr(&present[threadIdx.x], words[threadIdx.x]);
  if (threadIdx.x == 8 && words[8]) atomicAdd(&present[8], words[8]);
}

template <typename T>
__global__ void class_mix_kernel(long B, long C, long HW, const unsigned int* __restrict__ chosen,
                                 const T* __restrict__ src_img, const T* __restrict__ tgt_img,
                                 const int* __restrict__ src_label, const int* __restrict__ pseudo_label,
                                 const T* __restrict__ pseudo_weight, T* __restrict__ mixed_img,
                                 int* __restrict__ mixed_label, T* __restrict__ mixed_weight, unsigned char* mask) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < B * HW; i += (long)gridDim.x * blockDim.x) {
    const long b = i / HW, p = i - b * HW;
    const int l = src_label[i];
    const bool m = in_class_set(chosen + b * 8, l);
    for (long c = 0; c < C; c++) {
      const long e = (b * C + c) * HW + p;
      mixed_img[e] = m ? src_img[e] : tgt_img[e];
    }
    mixed_label[i] = m ? l : pseudo_label[i];
    mixed_weight[i] = m ? from_f<T>(1.f) : pseudo_weight[i];
    if (mask) mask[i] = m ? 1 : 0;
  }
}

// the loop bounds are uniform over the block so that every thread reaches __syncthreads_count
template <typename T>
__global__ void pseudo_label_kernel(long B, long K, long HW, const T* __restrict__ logits, float threshold,
                                    int* __restrict__ label, T* __restrict__ prob, int* confident) {
  const long total = B * HW;
  int count = 0;
  for (long base = (long)blockIdx.x * blockDim.x; base < total; base += (long)gridDim.x * blockDim.x) {
    const long i = base + threadIdx.x;
    bool sure = false;
    if (i < total) {
      const long b = i / HW, p = i - b * HW;
      const T* xs = logits + b * K * HW + p;
      long best = 0;
      float mx = to_f(xs[0]);
      for (long k = 1; k < K; k++) {
        const float v = to_f(xs[k * HW]);
        if (v > mx) { mx = v; best = k; }
      }
      float sum = 0.f;
      for (long k = 0; k < K; k++) sum += expf(to_f(xs[k * HW]) - mx);
      const float pmax = 1.f / sum;
      label[i] = (int)best;
      if (prob) prob[i] = from_f<T>(pmax);
      sure = pmax >= threshold;
    }
    count += __syncthreads_count(sure);
  }
  if (confident && threadIdx.x == 0 && count) atomicAdd(confident, count);
}

template <typename T>
__global__ void pseudo_weight_map_kernel(long total, long H, long W, float weight, long top, long bottom,
                                         const T* __restrict__ valid, T* __restrict__ out) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    const long r = (i / W) % H;
    const bool ignored = r < top || r >= H - bottom;
    out[i] = from_f<T>(ignored ? 0.f : (valid ? weight * to_f(valid[i]) : weight));
  }
}

// one block per output pixel; counts[bins] in dynamic shared memory
__global__ void downscale_label_kernel(long B, long H, long W, long scale, float min_ratio, long num_classes,
                                       int ignore_index, const int* __restrict__ labels, int* __restrict__ out) {
  extern __shared__ int counts[];
  const long Ho = H / scale, Wo = W / scale, bins = num_classes + 1, block = scale * scale;
  for (long o = blockIdx.x; o < B * Ho * Wo; o += gridDim.x) {
    const long ox = o % Wo, oy = (o / Wo) % Ho, b = o / (Wo * Ho);
    for (long j = threadIdx.x; j < bins; j += blockDim.x) counts[j] = 0;
    __syncthreads();
    const int* origin = labels + (b * H + oy * scale) * W + ox * scale;
    for (long j = threadIdx.x; j < block; j += blockDim.x) {
      const int v = origin[(j / scale) * W + j % scale];
      atomicAdd(&counts[(v >= 0 && v < num_classes && v != ignore_index) ? v : num_classes], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) out[o] = majority_label(counts, bins, block, min_ratio, ignore_index);
    __syncthreads();
  }
}

template <typename T>
__global__ void block_mask_kernel(long total, long C, long H, long W, long gh, long gw,
                                  const unsigned char* __restrict__ keep, const T* x, T* y) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long)gridDim.x * blockDim.x) {
    const long c = i % W, r = (i / W) % H, b = i / (W * H * C);
    const unsigned char k = keep[(b * gh + nearest_source(r, gh, H)) * gw + nearest_source(c, gw, W)];
    y[i] = from_f<T>(to_f(x[i]) * (float)k);
  }
}

}  // namespace

extern "C" {

int hrda_cuda_color_jitter(int dtype, long B, long H, long W, const float* factors, const int* order, float mean_r,
                           float mean_g, float mean_b, float std_r, float std_g, float std_b, const void* x, void* y,
                           void* stream) {
  HRDA_COLOR_JITTER_CHECKS("color_jitter");
  HRDA_CHECK_PTR(factors); HRDA_CHECK_PTR(order); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  const Norm nm{{mean_r, mean_g, mean_b}, {std_r, std_g, std_b}};
  const long total = B * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    color_jitter_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(B, H * W, factors, order, nm,
                                                                               (const T*)x, (T*)y));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_gaussian_blur(int dtype, long B, long C, long H, long W, long kh, long kw, const float* sigma,
                            const void* x, void* y, void* stream) {
  HRDA_GAUSSIAN_BLUR_CHECKS("gaussian_blur");
  HRDA_CHECK_PTR(sigma); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  if (kh > kMaxTaps || kw > kMaxTaps)
    return fail(HRDA_ERR_UNSUPPORTED, "gaussian_blur: kernel %ld x %ld exceeds the CUDA limit of %ld taps per axis",
                kh, kw, kMaxTaps);
  const long P = B * C, total = P * H * W;
  if (total == 0) return HRDA_OK;
  cudaStream_t s = as_stream(stream);
  Workspace ws(s);
  const size_t weight_bytes = (size_t)(B * (kw + kh)) * sizeof(float);
  const size_t weight_pad = (weight_bytes + 255) / 256 * 256;
  HRDA_WS_ALLOC(ws, weight_pad + (size_t)total * sizeof(float));
  float* weights = ws.as<float>();
  float* rows = ws.as<float>(weight_pad);
  const long tiles = ceil_div(W, kRowTile);
  if (P * H * tiles > 2147483647L)
    return fail(HRDA_ERR_UNSUPPORTED, "gaussian_blur: %ld row tiles exceed one CUDA grid", P * H * tiles);
  const size_t row_shared = (size_t)(kw + kRowTile + 2 * (kw / 2)) * sizeof(float);
  HRDA_DISPATCH_FLOAT(dtype,
    gaussian_weights_kernel<<<(unsigned int)B, 128, 0, s>>>(kh, kw, sigma, weights);
    blur_rows_kernel<T><<<(unsigned int)(P * H * tiles), kRowTile, row_shared, s>>>(C, H, W, kh, kw, tiles, weights,
                                                                                    (const T*)x, rows);
    blur_cols_kernel<T><<<grid_for(total), kThreads, 0, s>>>(total, C, H, W, kh, kw, weights, rows, (T*)y));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_label_presence(long n, const int* labels, unsigned int* present, void* stream) {
  HRDA_CHECK_SIZE(n);
  HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(present);
  cudaStream_t s = as_stream(stream);
  HRDA_CUDA_TRY(cudaMemsetAsync(present, 0, 9 * sizeof(unsigned int), s));
  if (n == 0) return HRDA_OK;
  label_presence_kernel<<<grid_for(n), kThreads, 0, s>>>(n, labels, present);
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_class_mix(int dtype, long B, long C, long H, long W, const unsigned int* chosen, const void* src_img,
                        const void* tgt_img, const int* src_label, const int* pseudo_label, const void* pseudo_weight,
                        void* mixed_img, int* mixed_label, void* mixed_weight, unsigned char* mask, void* stream) {
  HRDA_CLASS_MIX_CHECKS("class_mix");
  HRDA_CHECK_PTR(chosen); HRDA_CHECK_PTR(src_img); HRDA_CHECK_PTR(tgt_img); HRDA_CHECK_PTR(src_label);
  HRDA_CHECK_PTR(pseudo_label); HRDA_CHECK_PTR(pseudo_weight); HRDA_CHECK_PTR(mixed_img);
  HRDA_CHECK_PTR(mixed_label); HRDA_CHECK_PTR(mixed_weight);
  const long total = B * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    class_mix_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        B, C, H * W, chosen, (const T*)src_img, (const T*)tgt_img, src_label, pseudo_label, (const T*)pseudo_weight,
        (T*)mixed_img, mixed_label, (T*)mixed_weight, mask));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_pseudo_label(int dtype, long B, long K, long HW, const void* logits, double threshold, int* label,
                           void* prob, int* confident, void* stream) {
  HRDA_PSEUDO_LABEL_CHECKS("pseudo_label");
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(label);
  cudaStream_t s = as_stream(stream);
  if (confident) HRDA_CUDA_TRY(cudaMemsetAsync(confident, 0, sizeof(int), s));
  const long total = B * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    pseudo_label_kernel<T><<<grid_for(total), kThreads, 0, s>>>(B, K, HW, (const T*)logits, (float)threshold, label,
                                                                 (T*)prob, confident));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_pseudo_weight_map(int dtype, long B, long H, long W, double weight, long ignore_top, long ignore_bottom,
                                const void* valid, void* out, void* stream) {
  HRDA_PSEUDO_WEIGHT_MAP_CHECKS("pseudo_weight_map");
  HRDA_CHECK_PTR(out);
  const long total = B * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    pseudo_weight_map_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        total, H, W, (float)weight, ignore_top, ignore_bottom, (const T*)valid, (T*)out));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_downscale_label_ratio(long B, long H, long W, long scale, float min_ratio, long num_classes,
                                    int ignore_index, const int* labels, int* out, void* stream) {
  HRDA_DOWNSCALE_LABEL_CHECKS("downscale_label_ratio");
  HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(out);
  const long outputs = B * (H / scale) * (W / scale);
  if (outputs == 0) return HRDA_OK;
  downscale_label_kernel<<<grid_for(outputs * kThreads), kThreads, (num_classes + 1) * sizeof(int), as_stream(stream)>>>(
      B, H, W, scale, min_ratio, num_classes, ignore_index, labels, out);
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_block_mask(int dtype, long B, long C, long H, long W, long gh, long gw, const unsigned char* keep,
                         const void* x, void* y, void* stream) {
  HRDA_BLOCK_MASK_CHECKS("block_mask");
  HRDA_CHECK_PTR(keep); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  const long total = B * C * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    block_mask_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(total, C, H, W, gh, gw, keep,
                                                                             (const T*)x, (T*)y));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
