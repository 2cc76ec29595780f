// Fused segmentation loss at label resolution and masked feature distance (CPU reference, f64
// accumulation). Reductions: one partial per output row (loss) or pixel (distance), summed in
// index order afterwards, so the result does not depend on the number of threads.
#include "cpu_common.hpp"
#include "hrda/detail/augment_math.h"
#include "hrda/detail/op_checks.h"
#include <vector>

using namespace hrda_cpu;

namespace {

// log-softmax pieces of one output pixel from the upsampled values v[0..C): max, log-sum-exp,
// arg-max (lowest index on ties)
struct PixelSoftmax {
  double mx, lse;
  long arg;
};
PixelSoftmax pixel_softmax(const double* v, long C) {
  PixelSoftmax r{v[0], 0.0, 0};
  for (long c = 1; c < C; c++)
    if (v[c] > r.mx) { r.mx = v[c]; r.arg = c; }
  double s = 0;
  for (long c = 0; c < C; c++) s += std::exp(v[c] - r.mx);
  r.lse = std::log(s) + r.mx;
  return r;
}

// v[c] = bilinear value of channel c of one sample's logits [C, h, w] at taps (th, tw)
template <typename T>
void upsampled(const T* sample, long C, long h, long w, const Tap& th, const Tap& tw, double* v) {
  for (long c = 0; c < C; c++) v[c] = bilinear_at(sample + c * h * w, w, th, tw);
}

bool valid_label(int l, long C, int ignore) { return l != ignore && l >= 0 && l < C; }

std::vector<Tap> taps(long out, long in) {
  const double scale = (float)in / (float)out;  // F.resize's scale for an output size, in f32
  std::vector<Tap> t((size_t)out);
  for (long o = 0; o < out; o++) t[(size_t)o] = source_tap(scale, o, in);
  return t;
}

}  // namespace

extern "C" {

int hrda_cpu_seg_cross_entropy_forward(int dtype, long N, long C, long h, long w, long H, long W,
                                       const void* logits, const int* labels, const void* weight, int ignore_index,
                                       void* loss, int* counts, int* bad_labels) {
  HRDA_SEG_CE_CHECKS("seg_cross_entropy_forward");
  HRDA_CHECK_PTR(loss);
  const long HWo = H * W;
  long bad = -1, bad_count = 0;
  for (long i = 0; i < N * HWo; i++) {
    const int l = labels[i];
    if (l != ignore_index && (l < 0 || l >= C)) { if (bad < 0) bad = i; bad_count++; }
  }
  if (bad_labels) *bad_labels = (int)bad_count;
  if (bad >= 0)
    return fail(HRDA_ERR_ARGUMENT, "seg_cross_entropy_forward: %ld label(s) outside [0, %ld) and != ignore %d; first "
                "at sample %ld row %ld column %ld has value %d", bad_count, C, ignore_index, bad / HWo,
                (bad % HWo) / W, bad % W, labels[bad]);
  const std::vector<Tap> th = taps(H, h), tw = taps(W, w);
  std::vector<double> row_loss((size_t)(N * H));
  std::vector<long> row_correct((size_t)(N * H)), row_valid((size_t)(N * H));
  HRDA_DISPATCH_FLOAT(dtype,
    const T* wt = (const T*)weight;
    _Pragma("omp parallel if (N * HWo * C > 32768)")
    {
      std::vector<double> v((size_t)C);
      _Pragma("omp for schedule(static)")
      for (long r = 0; r < N * H; r++) {
        const long n = r / H, y = r % H;
        const T* sample = (const T*)logits + n * C * h * w;
        const int* lab = labels + r * W;
        double s = 0;
        long correct = 0, valid = 0;
        for (long x = 0; x < W; x++) {
          const int l = lab[x];
          if (l == ignore_index) continue;
          upsampled(sample, C, h, w, th[(size_t)y], tw[(size_t)x], v.data());
          const PixelSoftmax sm = pixel_softmax(v.data(), C);
          const double nll = sm.lse - v[(size_t)l];
          s += wt ? (double)wt[r * W + x] * nll : nll;
          valid++;
          correct += sm.arg == l;
        }
        row_loss[(size_t)r] = s; row_correct[(size_t)r] = correct; row_valid[(size_t)r] = valid;
      }
    }
    double total = 0;
    long correct = 0, valid = 0;
    for (long r = 0; r < N * H; r++) {
      total += row_loss[(size_t)r]; correct += row_correct[(size_t)r]; valid += row_valid[(size_t)r];
    }
    *(T*)loss = (T)(total / (double)(N * HWo));
    if (counts) { counts[0] = (int)correct; counts[1] = (int)valid; })
  return HRDA_OK;
}

int hrda_cpu_seg_cross_entropy_backward(int dtype, long N, long C, long h, long w, long H, long W,
                                        const void* logits, const int* labels, const void* weight, int ignore_index,
                                        double grad_scale, void* dlogits, int accumulate) {
  HRDA_SEG_CE_CHECKS("seg_cross_entropy_backward");
  HRDA_CHECK_PTR(dlogits);
  const std::vector<Tap> th = taps(H, h), tw = taps(W, w);
  // One task per logit row (n, i): it sums the gradients of the output rows whose taps include
  // row i, each output row's softmax - onehot computed into a row buffer g[C][W] and spread over
  // the columns with the column taps into the task's own accumulator acc[C][w].
  HRDA_DISPATCH_FLOAT(dtype,
    const T* wt = (const T*)weight;
    _Pragma("omp parallel if (N * H * W * C > 32768)")
    {
      std::vector<double> v((size_t)C), g((size_t)(C * W)), acc((size_t)(C * w));
      std::vector<char> live((size_t)W);
      _Pragma("omp for schedule(static)")
      for (long r = 0; r < N * h; r++) {
        const long n = r / h, i = r % h;
        const T* sample = (const T*)logits + n * C * h * w;
        std::fill(acc.begin(), acc.end(), 0.0);
        for (long y = 0; y < H; y++) {
          const double wy = weight_of(th[(size_t)y], i);
          if (wy == 0) continue;
          const int* lab = labels + (n * H + y) * W;
          for (long x = 0; x < W; x++) {
            const int l = lab[x];
            live[(size_t)x] = valid_label(l, C, ignore_index);
            if (!live[(size_t)x]) continue;
            upsampled(sample, C, h, w, th[(size_t)y], tw[(size_t)x], v.data());
            const PixelSoftmax sm = pixel_softmax(v.data(), C);
            const double k = wy * (wt ? (double)wt[(n * H + y) * W + x] : 1.0);
            for (long c = 0; c < C; c++) g[(size_t)(c * W + x)] = k * (std::exp(v[(size_t)c] - sm.lse) - (c == l ? 1.0 : 0.0));
          }
          for (long c = 0; c < C; c++) {
            double* a = acc.data() + c * w;
            const double* gc = g.data() + c * W;
            for (long x = 0; x < W; x++) {
              if (!live[(size_t)x]) continue;
              const Tap& t = tw[(size_t)x];
              a[t.i0] += t.l0 * gc[x];
              a[t.i1] += t.l1 * gc[x];
            }
          }
        }
        for (long c = 0; c < C; c++) {
          T* d = (T*)dlogits + ((n * C + c) * h + i) * w;
          const double* a = acc.data() + c * w;
          for (long j = 0; j < w; j++) {
            const T val = (T)(grad_scale * a[j]);
            d[j] = accumulate ? d[j] + val : val;
          }
        }
      }
    })
  return HRDA_OK;
}

int hrda_cpu_feature_distance_forward(int dtype, long N, long C, long HW, const void* fs, const void* fi,
                                      const int* labels, const unsigned int* classes, void* out, int* count) {
  HRDA_FEATURE_DISTANCE_CHECKS("feature_distance_forward");
  HRDA_CHECK_PTR(out);
  const long M = N * HW;
  std::vector<double> dist((size_t)M, -1.0);  // -1: not masked
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel for schedule(static) if (M * C > 32768)")
    for (long m = 0; m < M; m++) {
      if (!hrda_aug::in_class_set(classes, labels[m])) continue;
      const long n = m / HW, p = m % HW;
      const T* a = (const T*)fs + n * C * HW + p; const T* b = (const T*)fi + n * C * HW + p;
      double s = 0;
      for (long c = 0; c < C; c++) { const double d = (double)a[c * HW] - b[c * HW]; s += d * d; }
      dist[(size_t)m] = std::sqrt(s);
    }
    double total = 0;
    long masked = 0;
    for (long m = 0; m < M; m++)
      if (dist[(size_t)m] >= 0) { total += dist[(size_t)m]; masked++; }
    *(T*)out = (T)(masked ? total / (double)masked : 0.0);
    if (count) *count = (int)masked;)
  return HRDA_OK;
}

int hrda_cpu_feature_distance_backward(int dtype, long N, long C, long HW, const void* fs, const void* fi,
                                       const int* labels, const unsigned int* classes, double grad_scale, void* dfs,
                                       int accumulate) {
  HRDA_FEATURE_DISTANCE_CHECKS("feature_distance_backward");
  HRDA_CHECK_PTR(dfs);
  const long M = N * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel for schedule(static) if (M * C > 32768)")
    for (long m = 0; m < M; m++) {
      const long n = m / HW, p = m % HW;
      const T* a = (const T*)fs + n * C * HW + p; const T* b = (const T*)fi + n * C * HW + p;
      T* d = (T*)dfs + n * C * HW + p;
      double k = 0;  // grad_scale / dist at masked pixels with dist > 0
      if (hrda_aug::in_class_set(classes, labels[m])) {
        double s = 0;
        for (long c = 0; c < C; c++) { const double e = (double)a[c * HW] - b[c * HW]; s += e * e; }
        if (s > 0) k = grad_scale / std::sqrt(s);
      }
      for (long c = 0; c < C; c++) {
        const T v = k == 0 ? (T)0 : (T)(k * ((double)a[c * HW] - b[c * HW]));  // +0 off the mask
        d[c * HW] = accumulate ? d[c * HW] + v : v;
      }
    })
  return HRDA_OK;
}

}  // extern "C"
