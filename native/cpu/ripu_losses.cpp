// RIPU's negative learning and local consistency losses (CPU reference, f64 arithmetic).
// Reductions: one partial per task (a block of pixels or of rows), summed in index order
// afterwards, so the result does not depend on the number of threads.
#include "cpu_common.hpp"
#include "hrda/detail/op_checks.h"
#include <vector>

using namespace hrda_cpu;

namespace {

constexpr long kPixels = 1024;  // negative learning: pixels per task
constexpr long kRows = 8;       // local consistency: rows per task

// p[0..C) = softmax of one pixel whose channel c sits at s[c * stride]
template <typename T>
void pixel_probs(const T* s, long C, long stride, double* p) {
  double m = (double)s[0];
  for (long c = 1; c < C; c++) m = std::max(m, (double)s[c * stride]);
  double z = 0;
  for (long c = 0; c < C; c++) { p[c] = std::exp((double)s[c * stride] - m); z += p[c]; }
  for (long c = 0; c < C; c++) p[c] /= z;
}

// the mask of negative learning, compared in the data dtype as torch's `predict < threshold`
template <typename T>
bool negative(double p, double tau) { return (T)p < (T)tau; }

long clampl(long v, long hi) { return v < 0 ? 0 : (v > hi ? hi : v); }

// boundary.py's DetectSPBoundary (8-neighbour Laplacian of the label values, zero padding) and
// local_consistent_loss.py's `& (label != 255)`, at (i, j) of one [H, W] label map
bool on_boundary(const int* lab, long H, long W, long i, long j, int ignore) {
  const long l = lab[i * W + j];
  if (l == ignore) return false;
  long lap = 8 * l;
  for (long u = i - 1; u <= i + 1; u++)
    for (long v = j - 1; v <= j + 1; v++)
      if ((u != i || v != j) && u >= 0 && u < H && v >= 0 && v < W) lap -= lab[u * W + v];
  return lap != 0;
}

// How often row (or column) a appears in the replicate-padded 3-window centred on i.
long multiplicity(long a, long i, long n) {
  long k = 0;
  for (long d = -1; d <= 1; d++) k += clampl(i + d, n - 1) == a;
  return k;
}

// Softmax of rows [r0, r1] of one sample [C, H, W] into buf[((r - r0) * C + c) * W + x].
template <typename T>
void softmax_rows(const T* sample, long C, long H, long W, long r0, long r1, double* buf, double* tmp) {
  for (long r = r0; r <= r1; r++)
    for (long x = 0; x < W; x++) {
      pixel_probs(sample + r * W + x, C, H * W, tmp);
      for (long c = 0; c < C; c++) buf[((r - r0) * C + c) * W + x] = tmp[c];
    }
}

// pbar_c(i, j): the 3x3 mean with replicate padding, from rows buffered from r0
double window_mean(const double* buf, long r0, long C, long H, long W, long c, long i, long j) {
  double s = 0;
  for (long u = i - 1; u <= i + 1; u++) {
    const double* row = buf + ((clampl(u, H - 1) - r0) * C + c) * W;
    for (long v = j - 1; v <= j + 1; v++) s += row[clampl(v, W - 1)];
  }
  return s / 9.0;
}

double sign(double v) { return (double)((v > 0) - (v < 0)); }

// loss = (sum of the task partials) / (their count), 0 for an empty selection; both summed in
// task order
template <typename T>
void finish(const std::vector<double>& part, const std::vector<long>& part_cnt, void* loss, int* count) {
  double total = 0;
  long k = 0;
  for (size_t t = 0; t < part.size(); t++) { total += part[t]; k += part_cnt[t]; }
  *(T*)loss = (T)(k ? total / (double)k : 0.0);
  if (count) *count = (int)k;
}

}  // namespace

extern "C" {

int hrda_cpu_negative_learning_forward(int dtype, long N, long C, long HW, const void* logits, double tau,
                                       void* loss, int* count) {
  HRDA_NEGATIVE_LEARNING_CHECKS("negative_learning_forward");
  HRDA_CHECK_PTR(loss);
  const long P = N * HW, tasks = (P + kPixels - 1) / kPixels;
  std::vector<double> part((size_t)tasks);
  std::vector<long> part_cnt((size_t)tasks);
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel if (P * C > 32768)")
    {
      std::vector<double> p((size_t)C);
      _Pragma("omp for schedule(static)")
      for (long t = 0; t < tasks; t++) {
        double s = 0;
        long k = 0;
        for (long m = t * kPixels; m < std::min(P, (t + 1) * kPixels); m++) {
          const long n = m / HW, x = m % HW;
          pixel_probs((const T*)logits + n * C * HW + x, C, HW, p.data());
          for (long c = 0; c < C; c++)
            if (negative<T>(p[(size_t)c], tau)) { s -= std::log(1.0 - p[(size_t)c] + 1e-6); k++; }
        }
        part[(size_t)t] = s;
        part_cnt[(size_t)t] = k;
      }
    }
    finish<T>(part, part_cnt, loss, count);)
  return HRDA_OK;
}

int hrda_cpu_negative_learning_backward(int dtype, long N, long C, long HW, const void* logits, double tau,
                                        double grad_scale, void* dlogits, int accumulate) {
  HRDA_NEGATIVE_LEARNING_CHECKS("negative_learning_backward");
  HRDA_CHECK_PTR(dlogits);
  const long P = N * HW;
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel if (P * C > 32768)")
    {
      std::vector<double> p((size_t)C), g((size_t)C);
      _Pragma("omp for schedule(static)")
      for (long m = 0; m < P; m++) {
        const long n = m / HW, x = m % HW;
        pixel_probs((const T*)logits + n * C * HW + x, C, HW, p.data());
        double dot = 0;
        for (long c = 0; c < C; c++) {
          const double pc = p[(size_t)c];
          g[(size_t)c] = negative<T>(pc, tau) ? 1.0 / (1.0 - pc + 1e-6) : 0.0;
          dot += pc * g[(size_t)c];
        }
        T* d = (T*)dlogits + n * C * HW + x;
        for (long c = 0; c < C; c++) {
          const T v = (T)(grad_scale * p[(size_t)c] * (g[(size_t)c] - dot));
          d[c * HW] = accumulate ? d[c * HW] + v : v;
        }
      }
    })
  return HRDA_OK;
}

int hrda_cpu_local_consistency_forward(int dtype, long N, long C, long H, long W, const void* logits,
                                       const int* labels, int ignore_index, void* loss, int* count) {
  HRDA_LOCAL_CONSISTENCY_CHECKS("local_consistency_forward");
  HRDA_CHECK_PTR(loss);
  const long blocks = (H + kRows - 1) / kRows, tasks = N * blocks;
  std::vector<double> part((size_t)tasks);
  std::vector<long> part_cnt((size_t)tasks);
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel if (N * H * W * C > 32768)")
    {
      std::vector<double> buf((size_t)((kRows + 2) * C * W)), tmp((size_t)C);
      std::vector<char> on((size_t)(kRows * W));
      _Pragma("omp for schedule(static)")
      for (long t = 0; t < tasks; t++) {
        const long n = t / blocks, y0 = (t % blocks) * kRows, y1 = std::min(H, y0 + kRows);
        const int* lab = labels + n * H * W;
        long k = 0;
        for (long i = y0; i < y1; i++)
          for (long j = 0; j < W; j++) k += (on[(size_t)((i - y0) * W + j)] = on_boundary(lab, H, W, i, j, ignore_index));
        double s = 0;
        if (k) {
          const long r0 = std::max(0L, y0 - 1), r1 = std::min(H - 1, y1);
          softmax_rows((const T*)logits + n * C * H * W, C, H, W, r0, r1, buf.data(), tmp.data());
          for (long i = y0; i < y1; i++)
            for (long j = 0; j < W; j++) {
              if (!on[(size_t)((i - y0) * W + j)]) continue;
              double d = 0;
              for (long c = 0; c < C; c++)
                d += std::fabs(buf[(size_t)(((i - r0) * C + c) * W + j)] - window_mean(buf.data(), r0, C, H, W, c, i, j));
              s += d;
            }
        }
        part[(size_t)t] = s;
        part_cnt[(size_t)t] = k;
      }
    }
    finish<T>(part, part_cnt, loss, count);)
  return HRDA_OK;
}

int hrda_cpu_local_consistency_backward(int dtype, long N, long C, long H, long W, const void* logits,
                                        const int* labels, int ignore_index, double grad_scale, void* dlogits,
                                        int accumulate) {
  HRDA_LOCAL_CONSISTENCY_CHECKS("local_consistency_backward");
  HRDA_CHECK_PTR(dlogits);
  const long blocks = (H + kRows - 1) / kRows, tasks = N * blocks;
  // One task per block of rows [y0, y1): the signs s at rows [y0 - 1, y1] (the pixels whose
  // windows reach the block), from the softmax of rows [y0 - 2, y1 + 1].
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel if (N * H * W * C > 32768)")
    {
      std::vector<double> prob((size_t)((kRows + 4) * C * W)), sgn((size_t)((kRows + 2) * C * W));
      std::vector<double> tmp((size_t)C), G((size_t)C);
      std::vector<char> on((size_t)((kRows + 2) * W));
      _Pragma("omp for schedule(static)")
      for (long t = 0; t < tasks; t++) {
        const long n = t / blocks, y0 = (t % blocks) * kRows, y1 = std::min(H, y0 + kRows);
        const int* lab = labels + n * H * W;
        const T* sample = (const T*)logits + n * C * H * W;
        T* dsample = (T*)dlogits + n * C * H * W;
        const long s0 = std::max(0L, y0 - 1), s1 = std::min(H - 1, y1);  // rows of s
        long k = 0;
        for (long i = s0; i <= s1; i++)
          for (long j = 0; j < W; j++) k += (on[(size_t)((i - s0) * W + j)] = on_boundary(lab, H, W, i, j, ignore_index));
        if (k == 0 || grad_scale == 0) {  // no boundary pixel sees this block: a zero gradient
          if (!accumulate)
            for (long c = 0; c < C; c++)
              for (long i = y0; i < y1; i++) std::fill(dsample + (c * H + i) * W, dsample + (c * H + i + 1) * W, (T)0);
          continue;
        }
        const long r0 = std::max(0L, y0 - 2), r1 = std::min(H - 1, y1 + 1);  // rows of p
        softmax_rows(sample, C, H, W, r0, r1, prob.data(), tmp.data());
        for (long i = s0; i <= s1; i++)
          for (long c = 0; c < C; c++)
            for (long j = 0; j < W; j++) {
              const bool b = on[(size_t)((i - s0) * W + j)];
              sgn[(size_t)(((i - s0) * C + c) * W + j)] =
                  b ? sign(prob[(size_t)(((i - r0) * C + c) * W + j)] - window_mean(prob.data(), r0, C, H, W, c, i, j)) : 0.0;
            }
        for (long a = y0; a < y1; a++)
          for (long b = 0; b < W; b++) {
            double dot = 0;
            for (long c = 0; c < C; c++) {
              double spread = 0;  // sum over the windows holding (a, b) of their centre's sign
              for (long i = std::max(0L, a - 1); i <= std::min(H - 1, a + 1); i++) {
                const long mi = multiplicity(a, i, H);
                const double* srow = sgn.data() + ((i - s0) * C + c) * W;
                for (long j = std::max(0L, b - 1); j <= std::min(W - 1, b + 1); j++)
                  spread += (double)(mi * multiplicity(b, j, W)) * srow[j];
              }
              G[(size_t)c] = sgn[(size_t)(((a - s0) * C + c) * W + b)] - spread / 9.0;
              dot += prob[(size_t)(((a - r0) * C + c) * W + b)] * G[(size_t)c];
            }
            for (long c = 0; c < C; c++) {
              T* d = dsample + (c * H + a) * W + b;
              const T v = (T)(grad_scale * prob[(size_t)(((a - r0) * C + c) * W + b)] * (G[(size_t)c] - dot));
              *d = accumulate ? *d + v : v;
            }
          }
      }
    })
  return HRDA_OK;
}

}  // extern "C"
