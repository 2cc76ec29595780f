// Softmax over the middle axis and the segmentation cross-entropy (CPU reference).
#include "cpu_common.hpp"
#include <atomic>
#include <vector>

using namespace hrda_cpu;

extern "C" {

int hrda_cpu_softmax_forward(int dtype, long outer, long C, long inner, const void* x, void* y) {
  HRDA_CHECK(outer >= 0 && C > 0 && inner > 0, "softmax_forward: outer %ld, C %ld, inner %ld", outer, C, inner);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel for collapse(2) schedule(static) if (outer * C * inner > 32768)")
    for (long o = 0; o < outer; o++)
      for (long i = 0; i < inner; i++) {
        const T* xp = (const T*)x + o * C * inner + i; T* yp = (T*)y + o * C * inner + i;
        double mx = -INFINITY; for (long c = 0; c < C; c++) mx = std::max(mx, (double)xp[c * inner]);
        double s = 0; for (long c = 0; c < C; c++) s += std::exp(xp[c * inner] - mx);
        for (long c = 0; c < C; c++) yp[c * inner] = (T)(std::exp(xp[c * inner] - mx) / s);
      })
  return HRDA_OK;
}

int hrda_cpu_softmax_backward(int dtype, long outer, long C, long inner, const void* y, const void* dy,
                              void* dx, int accumulate) {
  HRDA_CHECK(outer >= 0 && C > 0 && inner > 0, "softmax_backward: outer %ld, C %ld, inner %ld", outer, C, inner);
  HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(dx);
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel for collapse(2) schedule(static) if (outer * C * inner > 32768)")
    for (long o = 0; o < outer; o++)
      for (long i = 0; i < inner; i++) {
        const long base = o * C * inner + i;
        const T* yp = (const T*)y + base; const T* gp = (const T*)dy + base; T* dp = (T*)dx + base;
        double dot = 0; for (long c = 0; c < C; c++) dot += (double)yp[c * inner] * gp[c * inner];
        for (long c = 0; c < C; c++) {
          const T v = (T)(yp[c * inner] * (gp[c * inner] - dot));
          dp[c * inner] = accumulate ? dp[c * inner] + v : v;
        }
      })
  return HRDA_OK;
}

int hrda_cpu_cross_entropy_forward(int dtype, long N, long C, long HW, const void* logits,
                                   const int* labels, const void* weight, int ignore_index, void* loss, int* bad_labels) {
  HRDA_CHECK(N >= 0 && C > 0 && HW >= 0, "cross_entropy_forward: N %ld, C %ld, HW %ld", N, C, HW);
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(loss);
  // Labels are checked first so the error names the pixel, as mmseg would fail on it.
  long bad = -1; int bad_value = 0; long bad_count = 0;
  for (long i = 0; i < N * HW; i++) {
    const int l = labels[i];
    if (l != ignore_index && (l < 0 || l >= C)) { if (bad < 0) { bad = i; bad_value = l; } bad_count++; }
  }
  if (bad_labels) *bad_labels = (int)bad_count;
  if (bad >= 0)
    return fail(HRDA_ERR_ARGUMENT, "cross_entropy_forward: %ld label(s) outside [0, %ld) and != ignore %d; first at "
                "sample %ld pixel %ld has value %d", bad_count, C, ignore_index, bad / (HW ? HW : 1), bad % (HW ? HW : 1), bad_value);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* w = (const T*)weight;
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * C * HW > 32768)")
    for (long n = 0; n < N; n++)
      for (long p = 0; p < HW; p++) {
        const int l = labels[n * HW + p]; T* out = (T*)loss + n * HW + p;
        if (l == ignore_index) { *out = 0; continue; }
        const T* xp = (const T*)logits + n * C * HW + p;
        double mx = -INFINITY; for (long c = 0; c < C; c++) mx = std::max(mx, (double)xp[c * HW]);
        double s = 0; for (long c = 0; c < C; c++) s += std::exp(xp[c * HW] - mx);
        const double nll = std::log(s) + mx - xp[l * HW];
        *out = (T)(w ? w[n * HW + p] * nll : nll);
      })
  return HRDA_OK;
}

int hrda_cpu_cross_entropy_backward(int dtype, long N, long C, long HW, const void* logits,
                                    const int* labels, const void* weight, int ignore_index, double grad_scale,
                                    void* dlogits, int accumulate) {
  HRDA_CHECK(N >= 0 && C > 0 && HW >= 0, "cross_entropy_backward: N %ld, C %ld, HW %ld", N, C, HW);
  HRDA_CHECK_PTR(logits); HRDA_CHECK_PTR(labels); HRDA_CHECK_PTR(dlogits);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* w = (const T*)weight;
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * C * HW > 32768)")
    for (long n = 0; n < N; n++)
      for (long p = 0; p < HW; p++) {
        const int l = labels[n * HW + p];
        const T* xp = (const T*)logits + n * C * HW + p; T* dp = (T*)dlogits + n * C * HW + p;
        const bool valid = l != ignore_index && l >= 0 && l < C;
        const double scale = valid ? grad_scale * (w ? (double)w[n * HW + p] : 1.0) : 0.0;
        double mx = -INFINITY; for (long c = 0; c < C; c++) mx = std::max(mx, (double)xp[c * HW]);
        double s = 0; for (long c = 0; c < C; c++) s += std::exp(xp[c * HW] - mx);
        for (long c = 0; c < C; c++) {
          const double pr = std::exp(xp[c * HW] - mx) / s;
          const T v = (T)(scale * (pr - (c == l ? 1.0 : 0.0)));
          dp[c * HW] = accumulate ? dp[c * HW] + v : v;
        }
      })
  return HRDA_OK;
}

}  // extern "C"
