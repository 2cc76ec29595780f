// Layer norm (last dim) and batch norm 2d (CPU reference, f64 accumulation).
#include "cpu_common.hpp"
#include "hrda/detail/op_checks.h"
#include <vector>

using namespace hrda_cpu;

namespace {
// f32 batch-norm planes: sums in 16 f32 lanes per plane, planes summed in f64 (fixed order).
HRDA_CLONES double sq_dev16(const float* a, long n, float m) {
  float p[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) { const float d = a[i + j] - m; p[j] += d * d; }
  double s = 0;
  for (; i < n; i++) { const double d = (double)a[i] - m; s += d * d; }
  for (int j = 0; j < 16; j++) s += p[j];
  return s;
}

HRDA_CLONES double sum16_f32(const float* a, long n) { return sum16(a, n); }

HRDA_CLONES void scale_shift_f32(const float* x, float* y, long n, float a, float b) {
  for (long i = 0; i < n; i++) y[i] = x[i] * a + b;
}

// {sum dy, sum dy * (x - m)} of one plane
HRDA_CLONES void bn_grad_sums_f32(const float* x, const float* dy, long n, float m, double* sg, double* sgx) {
  float p[16] = {0}, q[16] = {0};
  long i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; j++) { p[j] += dy[i + j]; q[j] += dy[i + j] * (x[i + j] - m); }
  double a = 0, b = 0;
  for (; i < n; i++) { a += dy[i]; b += (double)dy[i] * ((double)x[i] - m); }
  for (int j = 0; j < 16; j++) { a += p[j]; b += q[j]; }
  *sg += a;
  *sgx += b;
}

// dx (+)= gm * (dy - mg - (x - m) * k)
HRDA_CLONES void bn_dx_f32(const float* x, const float* dy, float* dx, long n, float gm, float mg, float m, float k, int acc) {
  if (acc) for (long i = 0; i < n; i++) dx[i] += gm * (dy[i] - mg - (x[i] - m) * k);
  else for (long i = 0; i < n; i++) dx[i] = gm * (dy[i] - mg - (x[i] - m) * k);
}

int batchnorm_forward_f32(long N, long C, long HW, float eps, float momentum, int training, const float* xp, const float* g,
                          const float* b, float* yp, float* rm, float* rv, float* save_mean, float* save_rstd) {
  _Pragma("omp parallel for schedule(static) if (N * C * HW > 32768)")
  for (long c = 0; c < C; c++) {
    double m, rs;
    if (training) {
      const double cnt = (double)N * HW;
      double s = 0;
      for (long n = 0; n < N; n++) s += sum16_f32(xp + (n * C + c) * HW, HW);
      m = s / cnt;
      double v = 0;
      for (long n = 0; n < N; n++) v += sq_dev16(xp + (n * C + c) * HW, HW, (float)m);
      rs = 1.0 / std::sqrt(v / cnt + eps);
      save_mean[c] = (float)m; save_rstd[c] = (float)rs;
      rm[c] = (float)((1.0 - momentum) * rm[c] + momentum * m);
      rv[c] = (float)((1.0 - momentum) * rv[c] + momentum * v / (cnt - 1.0));
    } else {
      m = rm[c]; rs = 1.0 / std::sqrt((double)rv[c] + eps);
      if (save_mean) save_mean[c] = (float)m;
      if (save_rstd) save_rstd[c] = (float)rs;
    }
    const double a = rs * g[c], sh = b[c] - m * a;
    for (long n = 0; n < N; n++) scale_shift_f32(xp + (n * C + c) * HW, yp + (n * C + c) * HW, HW, (float)a, (float)sh);
  }
  return HRDA_OK;
}

int batchnorm_backward_f32(long N, long C, long HW, const float* xp, const float* gamma, const float* save_mean,
                           const float* save_rstd, const float* gp, float* dx, float* dgamma, float* dbeta, int accumulate) {
  _Pragma("omp parallel for schedule(static) if (N * C * HW > 32768)")
  for (long c = 0; c < C; c++) {
    const double m = save_mean[c], rs = save_rstd[c], cnt = (double)N * HW;
    double sg = 0, sgxm = 0;  // sum dy, sum dy * (x - m)
    for (long n = 0; n < N; n++) bn_grad_sums_f32(xp + (n * C + c) * HW, gp + (n * C + c) * HW, HW, (float)m, &sg, &sgxm);
    const double sgx = sgxm * rs;
    if (dgamma) dgamma[c] += (float)sgx;
    if (dbeta) dbeta[c] += (float)sg;
    if (dx) {
      const double gm = gamma[c] * rs;
      for (long n = 0; n < N; n++)
        bn_dx_f32(xp + (n * C + c) * HW, gp + (n * C + c) * HW, dx + (n * C + c) * HW, HW, (float)gm, (float)(sg / cnt),
                  (float)m, (float)(rs * sgx / cnt), accumulate);
    }
  }
  return HRDA_OK;
}
}  // namespace

extern "C" {

int hrda_cpu_layernorm_forward(int dtype, long rows, long cols, float eps,
                               const void* x, const void* gamma, const void* beta, void* y, void* mean, void* rstd) {
  HRDA_CHECK(rows >= 0 && cols > 0, "layernorm_forward: rows %ld, cols %ld", rows, cols);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(beta); HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(mean); HRDA_CHECK_PTR(rstd);
  HRDA_CHECK(eps > 0, "layernorm_forward: eps %g must be positive", (double)eps);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* g = (const T*)gamma; const T* b = (const T*)beta;
    _Pragma("omp parallel for schedule(static) if (rows * cols > 32768)")
    for (long r = 0; r < rows; r++) {
      const T* xr = (const T*)x + r * cols; T* yr = (T*)y + r * cols;
      double m = 0; for (long c = 0; c < cols; c++) m += xr[c]; m /= cols;
      double v = 0; for (long c = 0; c < cols; c++) { double d = xr[c] - m; v += d * d; } v /= cols;
      const double rs = 1.0 / std::sqrt(v + eps);
      for (long c = 0; c < cols; c++) yr[c] = (T)((xr[c] - m) * rs * g[c] + b[c]);
      ((T*)mean)[r] = (T)m; ((T*)rstd)[r] = (T)rs;
    })
  return HRDA_OK;
}

int hrda_cpu_layernorm_backward(int dtype, long rows, long cols,
                                const void* x, const void* gamma, const void* mean, const void* rstd, const void* dy,
                                void* dx, void* dgamma, void* dbeta, int accumulate) {
  HRDA_CHECK(rows >= 0 && cols > 0, "layernorm_backward: rows %ld, cols %ld", rows, cols);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(mean); HRDA_CHECK_PTR(rstd); HRDA_CHECK_PTR(dy);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* g = (const T*)gamma;
    const int nt = omp_get_max_threads();
    std::vector<double> pg(dgamma ? (size_t)nt * cols : 0, 0.0), pb(dbeta ? (size_t)nt * cols : 0, 0.0);
    _Pragma("omp parallel if (rows * cols > 32768)")
    {
      const int t = omp_get_thread_num();
      _Pragma("omp for schedule(static)")
      for (long r = 0; r < rows; r++) {
        const T* xr = (const T*)x + r * cols; const T* gr = (const T*)dy + r * cols;
        const double m = ((const T*)mean)[r], rs = ((const T*)rstd)[r];
        double sum_g = 0, sum_gx = 0;  // sums of dy*gamma and dy*gamma*xhat
        for (long c = 0; c < cols; c++) {
          const double xh = (xr[c] - m) * rs, gg = (double)gr[c] * g[c];
          sum_g += gg; sum_gx += gg * xh;
          if (dgamma) pg[(size_t)t * cols + c] += gr[c] * xh;
          if (dbeta) pb[(size_t)t * cols + c] += gr[c];
        }
        if (dx) {
          T* dr = (T*)dx + r * cols;
          for (long c = 0; c < cols; c++) {
            const double xh = (xr[c] - m) * rs;
            const double v = rs * ((double)gr[c] * g[c] - sum_g / cols - xh * sum_gx / cols);
            dr[c] = accumulate ? dr[c] + (T)v : (T)v;
          }
        }
      }
    }
    for (long c = 0; c < cols; c++) {
      double sg = 0, sb = 0;
      for (int t = 0; t < nt; t++) { if (dgamma) sg += pg[(size_t)t * cols + c]; if (dbeta) sb += pb[(size_t)t * cols + c]; }
      if (dgamma) ((T*)dgamma)[c] += (T)sg;
      if (dbeta) ((T*)dbeta)[c] += (T)sb;
    })
  return HRDA_OK;
}

int hrda_cpu_batchnorm_forward(int dtype, long N, long C, long HW, float eps, float momentum, int training,
                               const void* x, const void* gamma, const void* beta, void* y,
                               void* running_mean, void* running_var, void* save_mean, void* save_rstd) {
  HRDA_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_forward: N %ld, C %ld, HW %ld must be positive", N, C, HW);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(beta); HRDA_CHECK_PTR(y);
  HRDA_CHECK_PTR(running_mean); HRDA_CHECK_PTR(running_var);
  HRDA_CHECK(!training || (save_mean && save_rstd), "batchnorm_forward: training needs save_mean and save_rstd");
  HRDA_CHECK(!training || N * HW > 1, "batchnorm_forward: training needs more than 1 value per channel (N*HW = %ld)", N * HW);
  if (dtype == HRDA_F32)
    return batchnorm_forward_f32(N, C, HW, eps, momentum, training, (const float*)x, (const float*)gamma, (const float*)beta,
                                 (float*)y, (float*)running_mean, (float*)running_var, (float*)save_mean, (float*)save_rstd);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* xp = (const T*)x; T* yp = (T*)y; const T* g = (const T*)gamma; const T* b = (const T*)beta;
    T* rm = (T*)running_mean; T* rv = (T*)running_var;
    _Pragma("omp parallel for schedule(static) if (N * C * HW > 32768)")
    for (long c = 0; c < C; c++) {
      double m, rs;
      if (training) {
        const double cnt = (double)N * HW;
        double s = 0; for (long n = 0; n < N; n++) { const T* p = xp + (n * C + c) * HW; for (long i = 0; i < HW; i++) s += p[i]; }
        m = s / cnt;
        double v = 0; for (long n = 0; n < N; n++) { const T* p = xp + (n * C + c) * HW; for (long i = 0; i < HW; i++) { double d = p[i] - m; v += d * d; } }
        rs = 1.0 / std::sqrt(v / cnt + eps);
        ((T*)save_mean)[c] = (T)m; ((T*)save_rstd)[c] = (T)rs;
        rm[c] = (T)((1.0 - momentum) * rm[c] + momentum * m);
        rv[c] = (T)((1.0 - momentum) * rv[c] + momentum * v / (cnt - 1.0));
      } else {
        m = rm[c]; rs = 1.0 / std::sqrt((double)rv[c] + eps);
        if (save_mean) ((T*)save_mean)[c] = (T)m;
        if (save_rstd) ((T*)save_rstd)[c] = (T)rs;
      }
      const double a = rs * g[c], sh = b[c] - m * a;
      for (long n = 0; n < N; n++) { const T* p = xp + (n * C + c) * HW; T* q = yp + (n * C + c) * HW; for (long i = 0; i < HW; i++) q[i] = (T)(p[i] * a + sh); }
    })
  return HRDA_OK;
}

int hrda_cpu_batchnorm_backward(int dtype, long N, long C, long HW,
                                const void* x, const void* gamma, const void* save_mean, const void* save_rstd,
                                const void* dy, void* dx, void* dgamma, void* dbeta, int accumulate) {
  HRDA_CHECK(N > 0 && C > 0 && HW > 0, "batchnorm_backward: N %ld, C %ld, HW %ld must be positive", N, C, HW);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(gamma); HRDA_CHECK_PTR(save_mean); HRDA_CHECK_PTR(save_rstd); HRDA_CHECK_PTR(dy);
  if (dtype == HRDA_F32)
    return batchnorm_backward_f32(N, C, HW, (const float*)x, (const float*)gamma, (const float*)save_mean, (const float*)save_rstd,
                                  (const float*)dy, (float*)dx, (float*)dgamma, (float*)dbeta, accumulate);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* xp = (const T*)x; const T* gp = (const T*)dy;
    _Pragma("omp parallel for schedule(static) if (N * C * HW > 32768)")
    for (long c = 0; c < C; c++) {
      const double m = ((const T*)save_mean)[c], rs = ((const T*)save_rstd)[c], cnt = (double)N * HW;
      double sg = 0, sgx = 0;
      for (long n = 0; n < N; n++) {
        const T* p = xp + (n * C + c) * HW; const T* q = gp + (n * C + c) * HW;
        for (long i = 0; i < HW; i++) { sg += q[i]; sgx += q[i] * (p[i] - m) * rs; }
      }
      if (dgamma) ((T*)dgamma)[c] += (T)sgx;
      if (dbeta) ((T*)dbeta)[c] += (T)sg;
      if (dx) {
        const double gm = ((const T*)gamma)[c] * rs;
        for (long n = 0; n < N; n++) {
          const T* p = xp + (n * C + c) * HW; const T* q = gp + (n * C + c) * HW; T* d = (T*)dx + (n * C + c) * HW;
          for (long i = 0; i < HW; i++) {
            const double v = gm * (q[i] - sg / cnt - (p[i] - m) * rs * sgx / cnt);
            d[i] = accumulate ? d[i] + (T)v : (T)v;
          }
        }
      }
    })
  return HRDA_OK;
}

int hrda_cpu_batchnorm_eval_backward(int dtype, long N, long C, long HW, float eps,
                                     const void* x, const void* gamma, const void* running_mean, const void* running_var,
                                     const void* dy, void* dx, void* dgamma, void* dbeta, int accumulate) {
  HRDA_BN_EVAL_BACKWARD_CHECKS("batchnorm_eval_backward");
  HRDA_DISPATCH_FLOAT(dtype,
    const T* xp = (const T*)x; const T* gp = (const T*)dy;
    _Pragma("omp parallel for schedule(static) if (N * C * HW > 32768)")
    for (long c = 0; c < C; c++) {
      const double m = ((const T*)running_mean)[c], rs = 1.0 / std::sqrt((double)((const T*)running_var)[c] + eps);
      const double k = ((const T*)gamma)[c] * rs;
      double sg = 0, sgx = 0;
      for (long n = 0; n < N; n++) {
        const T* p = xp + (n * C + c) * HW; const T* q = gp + (n * C + c) * HW;
        T* d = dx ? (T*)dx + (n * C + c) * HW : nullptr;
        for (long i = 0; i < HW; i++) {
          sg += q[i];
          sgx += q[i] * (p[i] - m) * rs;
          if (d) { const T v = (T)(k * q[i]); d[i] = accumulate ? d[i] + v : v; }
        }
      }
      if (dgamma) ((T*)dgamma)[c] += (T)sgx;
      if (dbeta) ((T*)dbeta)[c] += (T)sg;
    })
  return HRDA_OK;
}

}  // extern "C"
