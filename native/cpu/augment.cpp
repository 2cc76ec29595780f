// DACS batch transforms and pseudo-labelling, the reference for the CUDA kernels (augment.h).
//
// Every pixel rule lives in hrda/detail/augment_math.h and runs here in f64 (the CUDA kernels run
// the same rule in f32):
//  - colour jitter: denormalise, the four kornia adjustments in the sample's order, renormalise;
//  - Gaussian blur: separable, rows (along W) into an f64 buffer, then columns (along H), with
//    the 1-D kernels of each sample normalised in f64 and reflect borders;
//  - ClassMix, label presence, pseudo-labels, the pseudo weight map, downscale_label_ratio and
//    MIC's block mask: one pass each; counts are integers.
// OpenMP regions open only above ~32k elements of work, as elsewhere in the library.
#include "cpu_common.hpp"
#include "hrda/detail/augment_math.h"
#include "hrda/detail/op_checks.h"
#include <vector>

using namespace hrda_cpu;
using namespace hrda_aug;

namespace {

constexpr long kParallelWork = 32768;

template <typename T>
void color_jitter_t(long B, long H, long W, const float* factors, const int* order, const double (&mean)[3],
                    const double (&stdv)[3], const T* x, T* y) {
  const long HW = H * W;
#pragma omp parallel for collapse(2) schedule(static) if (B * HW > kParallelWork)
  for (long b = 0; b < B; b++)
    for (long p = 0; p < HW; p++) {
      const T* xs = x + b * 3 * HW + p;
      T* ys = y + b * 3 * HW + p;
      double c[3];
      for (int k = 0; k < 3; k++) c[k] = ((double)xs[k * HW] * stdv[k] + mean[k]) / 255.0;  // DACS denorm_
      for (int j = 0; j < 4; j++) {
        const int op = order[b * 4 + j];
        jitter_step<double>(op, (double)factors[b * 4 + op], c[0], c[1], c[2]);
      }
      for (int k = 0; k < 3; k++) ys[k * HW] = (T)((c[k] * 255.0 - mean[k]) / stdv[k]);  // DACS renorm_
    }
}

// 1-D kernel of k taps for sigma, normalised in f64
void gaussian_kernel(long k, double sigma, std::vector<double>& w) {
  w.resize(k);
  double sum = 0;
  for (long i = 0; i < k; i++) sum += (w[i] = gaussian_tap<double>(i, k, sigma));
  for (long i = 0; i < k; i++) w[i] /= sum;
}

template <typename T>
void gaussian_blur_t(long B, long C, long H, long W, long kh, long kw, const float* sigma, const T* x, T* y) {
  std::vector<std::vector<double>> wx(B), wy(B);
  for (long b = 0; b < B; b++) {
    gaussian_kernel(kw, sigma[b], wx[b]);
    gaussian_kernel(kh, sigma[b], wy[b]);
  }
  const long rx = kw / 2, ry = kh / 2, P = B * C;
  std::vector<double> rows((size_t)(P * H * W));
  // rows: along W; x is read completely before y is written, so y may alias x
#pragma omp parallel for collapse(2) schedule(static) if (P * H * W * kw > kParallelWork)
  for (long p = 0; p < P; p++)
    for (long r = 0; r < H; r++) {
      const T* in = x + (p * H + r) * W;
      double* out = rows.data() + (p * H + r) * W;
      const double* w = wx[p / C].data();
      for (long c = 0; c < W; c++) {
        double acc = 0;
        for (long j = 0; j < kw; j++) acc += w[j] * (double)in[reflect_index(c + j - rx, W)];
        out[c] = acc;
      }
    }
  // columns: along H
#pragma omp parallel for collapse(2) schedule(static) if (P * H * W * kh > kParallelWork)
  for (long p = 0; p < P; p++)
    for (long r = 0; r < H; r++) {
      const double* plane = rows.data() + p * H * W;
      const double* w = wy[p / C].data();
      T* out = y + (p * H + r) * W;
      for (long c = 0; c < W; c++) {
        double acc = 0;
        for (long i = 0; i < kh; i++) acc += w[i] * plane[reflect_index(r + i - ry, H) * W + c];
        out[c] = (T)acc;
      }
    }
}

template <typename T>
void class_mix_t(long B, long C, long HW, const unsigned int* chosen, const T* src_img, const T* tgt_img,
                 const int* src_label, const int* pseudo_label, const T* pseudo_weight, T* mixed_img,
                 int* mixed_label, T* mixed_weight, unsigned char* mask) {
#pragma omp parallel for collapse(2) schedule(static) if (B * C * HW > kParallelWork)
  for (long b = 0; b < B; b++)
    for (long p = 0; p < HW; p++) {
      const long i = b * HW + p;
      const bool m = in_class_set(chosen + b * 8, src_label[i]);
      for (long c = 0; c < C; c++) {
        const long e = (b * C + c) * HW + p;
        mixed_img[e] = m ? src_img[e] : tgt_img[e];
      }
      mixed_label[i] = m ? src_label[i] : pseudo_label[i];
      mixed_weight[i] = m ? (T)1 : pseudo_weight[i];
      if (mask) mask[i] = m ? 1 : 0;
    }
}

template <typename T>
long pseudo_label_t(long B, long K, long HW, const T* logits, double threshold, int* label, T* prob) {
  long confident = 0;
  const T thr = (T)threshold;
#pragma omp parallel for collapse(2) schedule(static) reduction(+ : confident) if (B * K * HW > kParallelWork)
  for (long b = 0; b < B; b++)
    for (long p = 0; p < HW; p++) {
      const T* xs = logits + b * K * HW + p;
      long best = 0;
      for (long k = 1; k < K; k++)
        if (xs[k * HW] > xs[best * HW]) best = k;
      const double mx = (double)xs[best * HW];
      double sum = 0;
      for (long k = 0; k < K; k++) sum += std::exp((double)xs[k * HW] - mx);
      const T pmax = (T)(1.0 / sum);  // softmax at the arg-max, rounded as PyTorch stores it
      label[b * HW + p] = (int)best;
      if (prob) prob[b * HW + p] = pmax;
      if (pmax >= thr) confident++;
    }
  return confident;
}

template <typename T>
void pseudo_weight_map_t(long B, long H, long W, double weight, long top, long bottom, const T* valid, T* out) {
  const T w = (T)weight;  // DACS: a Python float times a tensor of ones of the data dtype
#pragma omp parallel for collapse(2) schedule(static) if (B * H * W > kParallelWork)
  for (long b = 0; b < B; b++)
    for (long r = 0; r < H; r++) {
      const bool ignored = r < top || r >= H - bottom;
      const long row = (b * H + r) * W;
      for (long c = 0; c < W; c++) out[row + c] = ignored ? (T)0 : (valid ? w * valid[row + c] : w);
    }
}

template <typename T>
void block_mask_t(long B, long C, long H, long W, long gh, long gw, const unsigned char* keep, const T* x, T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (B * C * H * W > kParallelWork)
  for (long p = 0; p < B * C; p++)
    for (long r = 0; r < H; r++) {
      const unsigned char* krow = keep + ((p / C) * gh + nearest_source(r, gh, H)) * gw;
      const long row = (p * H + r) * W;
      for (long c = 0; c < W; c++) y[row + c] = x[row + c] * (T)krow[nearest_source(c, gw, W)];
    }
}

}  // namespace

extern "C" {

int hrda_cpu_color_jitter(int dtype, long B, long H, long W, const float* factors, const int* order, float mean_r,
                          float mean_g, float mean_b, float std_r, float std_g, float std_b, const void* x, void* y) {
  HRDA_COLOR_JITTER_CHECKS("color_jitter");
  HRDA_CHECK_PTR(factors); HRDA_CHECK_PTR(order); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  for (long b = 0; b < B; b++) {
    int seen = 0;
    for (int j = 0; j < 4; j++) {
      const int op = order[b * 4 + j];
      if (op >= 0 && op < 4) seen |= 1 << op;
    }
    HRDA_CHECK(seen == 15, "color_jitter: order of sample %ld (%d %d %d %d) is not a permutation of 0..3", b,
               order[b * 4], order[b * 4 + 1], order[b * 4 + 2], order[b * 4 + 3]);
  }
  const double mean[3] = {mean_r, mean_g, mean_b}, stdv[3] = {std_r, std_g, std_b};
  HRDA_DISPATCH_FLOAT(dtype, color_jitter_t<T>(B, H, W, factors, order, mean, stdv, (const T*)x, (T*)y));
  return HRDA_OK;
}

int hrda_cpu_gaussian_blur(int dtype, long B, long C, long H, long W, long kh, long kw, const float* sigma,
                           const void* x, void* y) {
  HRDA_GAUSSIAN_BLUR_CHECKS("gaussian_blur");
  HRDA_CHECK_PTR(sigma); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  for (long b = 0; b < B; b++)
    HRDA_CHECK(sigma[b] > 0 && std::isfinite(sigma[b]), "gaussian_blur: sigma of sample %ld is %g (must be positive)",
               b, (double)sigma[b]);
  HRDA_DISPATCH_FLOAT(dtype, gaussian_blur_t<T>(B, C, H, W, kh, kw, sigma, (const T*)x, (T*)y));
  return HRDA_OK;
}

int hrda_cpu_label_presence(long n, const int* labels, unsigned int* present) {
  HRDA_CHECK_SIZE(n);
  HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(present);
  unsigned int words[9] = {0};
  for (long i = 0; i < n; i++) {
    const int v = labels[i];
    if (v >= 0 && v < 256) words[v >> 5] |= 1u << (v & 31);
    else words[8]++;
  }
  for (int j = 0; j < 9; j++) present[j] = words[j];
  return HRDA_OK;
}

int hrda_cpu_class_mix(int dtype, long B, long C, long H, long W, const unsigned int* chosen, const void* src_img,
                       const void* tgt_img, const int* src_label, const int* pseudo_label, const void* pseudo_weight,
                       void* mixed_img, int* mixed_label, void* mixed_weight, unsigned char* mask) {
  HRDA_CLASS_MIX_CHECKS("class_mix");
  HRDA_CHECK_PTR(chosen); HRDA_CHECK_PTR(src_img); HRDA_CHECK_PTR(tgt_img); HRDA_CHECK_PTR(src_label);
  HRDA_CHECK_PTR(pseudo_label); HRDA_CHECK_PTR(pseudo_weight); HRDA_CHECK_PTR(mixed_img);
  HRDA_CHECK_PTR(mixed_label); HRDA_CHECK_PTR(mixed_weight);
  HRDA_DISPATCH_FLOAT(dtype,
    class_mix_t<T>(B, C, H * W, chosen, (const T*)src_img, (const T*)tgt_img, src_label, pseudo_label,
                   (const T*)pseudo_weight, (T*)mixed_img, mixed_label, (T*)mixed_weight, mask));
  return HRDA_OK;
}

int hrda_cpu_pseudo_label(int dtype, long B, long K, long HW, const void* logits, double threshold, int* label,
                          void* prob, int* confident) {
  HRDA_PSEUDO_LABEL_CHECKS("pseudo_label");
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(label);
  long count = 0;
  HRDA_DISPATCH_FLOAT(dtype, count = pseudo_label_t<T>(B, K, HW, (const T*)logits, threshold, label, (T*)prob));
  if (confident) *confident = (int)count;
  return HRDA_OK;
}

int hrda_cpu_pseudo_weight_map(int dtype, long B, long H, long W, double weight, long ignore_top, long ignore_bottom,
                               const void* valid, void* out) {
  HRDA_PSEUDO_WEIGHT_MAP_CHECKS("pseudo_weight_map");
  HRDA_CHECK_PTR(out);
  HRDA_DISPATCH_FLOAT(dtype,
    pseudo_weight_map_t<T>(B, H, W, weight, ignore_top, ignore_bottom, (const T*)valid, (T*)out));
  return HRDA_OK;
}

int hrda_cpu_downscale_label_ratio(long B, long H, long W, long scale, float min_ratio, long num_classes,
                                   int ignore_index, const int* labels, int* out) {
  HRDA_DOWNSCALE_LABEL_CHECKS("downscale_label_ratio");
  HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(out);
  for (long i = 0; i < B * H * W; i++) {
    const int v = labels[i];
    HRDA_CHECK(v == ignore_index || (v >= 0 && v < num_classes),
               "downscale_label_ratio: label %d at sample %ld pixel %ld is outside [0, %ld) and not the ignore index %d",
               v, i / (H * W), i % (H * W), num_classes, ignore_index);
  }
  const long Ho = H / scale, Wo = W / scale, bins = num_classes + 1;
#pragma omp parallel for collapse(2) schedule(static) if (B * Ho * Wo * scale * scale > kParallelWork)
  for (long b = 0; b < B; b++)
    for (long oy = 0; oy < Ho; oy++) {
      std::vector<long> counts(bins);
      for (long ox = 0; ox < Wo; ox++) {
        std::fill(counts.begin(), counts.end(), 0L);
        for (long dy = 0; dy < scale; dy++) {
          const int* row = labels + (b * H + oy * scale + dy) * W + ox * scale;
          for (long dx = 0; dx < scale; dx++) counts[row[dx] == ignore_index ? num_classes : row[dx]]++;
        }
        out[(b * Ho + oy) * Wo + ox] = majority_label(counts.data(), bins, scale * scale, min_ratio, ignore_index);
      }
    }
  return HRDA_OK;
}

int hrda_cpu_block_mask(int dtype, long B, long C, long H, long W, long gh, long gw, const unsigned char* keep,
                        const void* x, void* y) {
  HRDA_BLOCK_MASK_CHECKS("block_mask");
  HRDA_CHECK_PTR(keep); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  HRDA_DISPATCH_FLOAT(dtype, block_mask_t<T>(B, C, H, W, gh, gw, keep, (const T*)x, (T*)y));
  return HRDA_OK;
}

}  // extern "C"
