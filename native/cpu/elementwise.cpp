// Elementwise ops, activations, dropout, bias broadcast and reductions (CPU reference).
#include <vector>
#include "cpu_common.hpp"

using namespace hrda_cpu;
#define PAR _Pragma("omp parallel for schedule(static) if (n > 32768)")

namespace {
// f32 activations, vectorised (HRDA_CLONES); y may be x.
HRDA_CLONES void act_forward_f32(int kind, long n, const float* x, float* y) {
  switch (kind) {
    case HRDA_RELU: for (long i = 0; i < n; i++) y[i] = x[i] > 0.f ? x[i] : 0.f; break;
    case HRDA_GELU: for (long i = 0; i < n; i++) y[i] = x[i] * normal_cdf_f32(x[i]); break;
    default: for (long i = 0; i < n; i++) y[i] = 1.0f / (1.0f + exp_f32(-x[i])); break;
  }
}

// dx (+)= dy * act'(x): gelu' = Phi(x) + x phi(x).
HRDA_CLONES void act_backward_f32(int kind, long n, const float* x, const float* y, const float* dy, float* dx, int acc) {
  switch (kind) {
    case HRDA_RELU:
      if (acc) for (long i = 0; i < n; i++) dx[i] += x[i] > 0.f ? dy[i] : 0.f;
      else for (long i = 0; i < n; i++) dx[i] = x[i] > 0.f ? dy[i] : 0.f;
      break;
    case HRDA_GELU: {
      for (long i = 0; i < n; i++) {
        const float v = x[i];
        const float g = dy[i] * (normal_cdf_f32(v) + v * 0.39894228040143267794f * exp_f32(-0.5f * v * v));
        dx[i] = acc ? dx[i] + g : g;
      }
      break;
    }
    default:
      if (acc) for (long i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1.0f - y[i]);
      else for (long i = 0; i < n; i++) dx[i] = dy[i] * y[i] * (1.0f - y[i]);
      break;
  }
}

// y (+)= x * s over n contiguous f32 values (s = 0: zeros): one dropout group.
HRDA_CLONES void scaled_run_f32(const float* x, float* y, long n, float s, int acc) {
  if (acc) for (long i = 0; i < n; i++) y[i] += x[i] * s;
  else for (long i = 0; i < n; i++) y[i] = x[i] * s;
}

HRDA_CLONES void axpby_f32(long n, float a, const float* x, float b, const float* y, float* o) {
  if (y) for (long i = 0; i < n; i++) o[i] = a * x[i] + b * y[i];
  else for (long i = 0; i < n; i++) o[i] = a * x[i];
}

HRDA_CLONES void add_const_f32(float* row, long n, float v) {
  for (long i = 0; i < n; i++) row[i] += v;
}

HRDA_CLONES void add_row_f32(float* row, const float* b, long n) {
  for (long i = 0; i < n; i++) row[i] += b[i];
}

// acc[c] += row[c] in f64 (the per-thread partial sums of channel_sum over tokens)
HRDA_CLONES void accumulate_row_f64(double* acc, const float* row, long n) {
  for (long i = 0; i < n; i++) acc[i] += row[i];
}

// channel_sum's row reductions: vectorised for f32, plain f64 sums for f64 (same order as before)
inline void acc_row(double* acc, const float* row, long n) { accumulate_row_f64(acc, row, n); }
inline void acc_row(double* acc, const double* row, long n) { for (long i = 0; i < n; i++) acc[i] += row[i]; }
inline double row_sum(const float* row, long n) { return sum16(row, n); }
inline double row_sum(const double* row, long n) { double s = 0; for (long i = 0; i < n; i++) s += row[i]; return s; }

// Splits [0, n) into chunks of at least 16k elements over the threads (fixed bounds: static).
template <typename F> void chunked(long n, F body) {
  const long chunk = 16384, nchunks = (n + chunk - 1) / chunk;
  _Pragma("omp parallel for schedule(static) if (nchunks > 1)")
  for (long k = 0; k < nchunks; k++) body(k * chunk, std::min(n, (k + 1) * chunk));
}
}  // namespace

extern "C" {

int hrda_cpu_fill(int dtype, long n, double value, void* y) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || y, "fill: y is NULL");
  switch (dtype) {
    case HRDA_I32: { int32_t* p = (int32_t*)y; int32_t v = (int32_t)value; PAR for (long i = 0; i < n; i++) p[i] = v; return HRDA_OK; }
    case HRDA_U8: std::memset(y, (int)(uint8_t)value, (size_t)n); return HRDA_OK;
    default: break;
  }
  HRDA_DISPATCH_FLOAT(dtype, T* p = (T*)y; const T v = (T)value; PAR for (long i = 0; i < n; i++) p[i] = v;)
  return HRDA_OK;
}

int hrda_cpu_axpby(int dtype, long n, double alpha, const void* x, double beta, const void* y, void* out) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (x && out), "axpby: x or out is NULL");
  if (dtype == HRDA_F32) {
    const float* xs = (const float*)x; const float* ys = (const float*)y; float* o = (float*)out;
    chunked(n, [&](long a, long b) { axpby_f32(b - a, (float)alpha, xs + a, (float)beta, ys ? ys + a : nullptr, o + a); });
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    const T* a = (const T*)x; const T* b = (const T*)y; T* o = (T*)out;
    const T al = (T)alpha, be = (T)beta;
    if (b) { PAR for (long i = 0; i < n; i++) o[i] = al * a[i] + be * b[i]; }
    else   { PAR for (long i = 0; i < n; i++) o[i] = al * a[i]; })
  return HRDA_OK;
}

int hrda_cpu_mul(int dtype, long n, const void* a, const void* b, void* out, int accumulate) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (a && b && out), "mul: NULL pointer");
  HRDA_DISPATCH_FLOAT(dtype,
    const T* x = (const T*)a; const T* y = (const T*)b; T* o = (T*)out;
    if (accumulate) { PAR for (long i = 0; i < n; i++) o[i] += x[i] * y[i]; }
    else            { PAR for (long i = 0; i < n; i++) o[i] = x[i] * y[i]; })
  return HRDA_OK;
}

int hrda_cpu_add_bias(int dtype, long outer, long C, long inner, void* y, const void* bias) {
  HRDA_CHECK_SIZE(outer); HRDA_CHECK_SIZE(C); HRDA_CHECK_SIZE(inner); HRDA_CHECK_PTR(y); HRDA_CHECK_PTR(bias);
  if (dtype == HRDA_F32) {
    float* p = (float*)y; const float* b = (const float*)bias;
    if (inner == 1) {
      _Pragma("omp parallel for schedule(static) if (outer * C > 32768)")
      for (long o = 0; o < outer; o++) add_row_f32(p + o * C, b, C);
    } else {
      _Pragma("omp parallel for collapse(2) schedule(static) if (outer * C * inner > 32768)")
      for (long o = 0; o < outer; o++)
        for (long c = 0; c < C; c++) add_const_f32(p + (o * C + c) * inner, inner, b[c]);
    }
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    T* p = (T*)y; const T* b = (const T*)bias;
    if (inner == 1) {  // tokens [rows, C] (a Linear's bias): rows of C contiguous values
      _Pragma("omp parallel for schedule(static) if (outer * C > 32768)")
      for (long o = 0; o < outer; o++) {
        T* row = p + o * C;
        for (long c = 0; c < C; c++) row[c] += b[c];
      }
    } else {
      _Pragma("omp parallel for collapse(2) schedule(static) if (outer * C * inner > 32768)")
      for (long o = 0; o < outer; o++)
        for (long c = 0; c < C; c++) {
          T* row = p + (o * C + c) * inner; const T v = b[c];
          for (long i = 0; i < inner; i++) row[i] += v;
        }
    })
  return HRDA_OK;
}

int hrda_cpu_channel_sum(int dtype, long outer, long C, long inner, const void* x, void* out, int accumulate) {
  HRDA_CHECK_SIZE(outer); HRDA_CHECK_SIZE(C); HRDA_CHECK_SIZE(inner); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(out);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* p = (const T*)x; T* o = (T*)out;
    if (inner == 1) {
      // tokens [rows, C]: walking a column per channel would touch a cache line per value, so each
      // thread sums whole rows into its own C partial sums, then the partials are added in order
      const int nt = omp_get_max_threads();
      std::vector<double> part((size_t)nt * C, 0.0);
      _Pragma("omp parallel num_threads(nt) if (outer * C > 32768)")
      {
        double* mine = part.data() + (size_t)omp_get_thread_num() * C;
        _Pragma("omp for schedule(static)")
        for (long k = 0; k < outer; k++) {
          const T* row = p + k * C;
          acc_row(mine, row, C);
        }
      }
      for (long c = 0; c < C; c++) {
        double s = 0;
        for (int t = 0; t < nt; t++) s += part[(size_t)t * C + c];
        o[c] = accumulate ? o[c] + (T)s : (T)s;
      }
    } else {
      _Pragma("omp parallel for schedule(static) if (outer * C * inner > 32768)")
      for (long c = 0; c < C; c++) {
        double s = 0;
        for (long k = 0; k < outer; k++) {
          const T* row = p + (k * C + c) * inner;
          s += row_sum(row, inner);
        }
        o[c] = accumulate ? o[c] + (T)s : (T)s;
      }
    })
  return HRDA_OK;
}

int hrda_cpu_sum(int dtype, long n, const void* x, void* out) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK_PTR(out); HRDA_CHECK(n == 0 || x, "sum: x is NULL");
  HRDA_DISPATCH_FLOAT(dtype,
    const T* p = (const T*)x; double s = 0;
    _Pragma("omp parallel for reduction(+ : s) schedule(static) if (n > 32768)")
    for (long i = 0; i < n; i++) s += p[i];
    *(T*)out = (T)s;)
  return HRDA_OK;
}

int hrda_cpu_activation_forward(int dtype, int kind, long n, const void* x, void* y) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (x && y), "activation_forward: NULL pointer");
  HRDA_CHECK(kind >= HRDA_RELU && kind <= HRDA_SIGMOID, "activation_forward: unknown kind %d", kind);
  if (dtype == HRDA_F32) {
    chunked(n, [&](long a, long b) { act_forward_f32(kind, b - a, (const float*)x + a, (float*)y + a); });
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    const T* a = (const T*)x; T* o = (T*)y;
    switch (kind) {
      case HRDA_RELU: PAR for (long i = 0; i < n; i++) o[i] = a[i] > 0 ? a[i] : (T)0; break;
      case HRDA_GELU: PAR for (long i = 0; i < n; i++) o[i] = gelu(a[i]); break;
      default:        PAR for (long i = 0; i < n; i++) o[i] = (T)1 / ((T)1 + std::exp(-a[i])); break;
    })
  return HRDA_OK;
}

int hrda_cpu_activation_backward(int dtype, int kind, long n, const void* x, const void* y,
                                 const void* dy, void* dx, int accumulate) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(n == 0 || (dy && dx), "activation_backward: NULL dy or dx");
  HRDA_CHECK(kind >= HRDA_RELU && kind <= HRDA_SIGMOID, "activation_backward: unknown kind %d", kind);
  HRDA_CHECK(n == 0 || (kind == HRDA_SIGMOID ? y != nullptr : x != nullptr),
             "activation_backward: kind %d needs %s", kind, kind == HRDA_SIGMOID ? "y" : "x");
  if (dtype == HRDA_F32) {
    const float* xs = (const float*)x; const float* ys = (const float*)y;
    chunked(n, [&](long a, long b) {
      act_backward_f32(kind, b - a, xs ? xs + a : nullptr, ys ? ys + a : nullptr, (const float*)dy + a, (float*)dx + a, accumulate);
    });
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    const T* a = (const T*)x; const T* o = (const T*)y; const T* g = (const T*)dy; T* d = (T*)dx;
    PAR for (long i = 0; i < n; i++) {
      T local;
      switch (kind) {
        case HRDA_RELU: local = a[i] > 0 ? (T)1 : (T)0; break;
        case HRDA_GELU: local = gelu_grad(a[i]); break;
        default: local = o[i] * ((T)1 - o[i]); break;
      }
      const T v = g[i] * local;
      d[i] = accumulate ? d[i] + v : v;
    })
  return HRDA_OK;
}

int hrda_cpu_dropout(int dtype, long n, long group, float p, unsigned long long seed,
                     const void* x, void* y, int accumulate) {
  HRDA_CHECK_SIZE(n); HRDA_CHECK(group >= 1, "dropout: group %ld < 1", group);
  HRDA_CHECK(p >= 0.f && p < 1.f, "dropout: probability %g outside [0, 1)", (double)p);
  HRDA_CHECK(n == 0 || (x && y), "dropout: NULL pointer");
  if (dtype == HRDA_F32) {  // the same draws, one per group of `group` contiguous values, without a division per value
    const float scale = 1.0f / (1.0f - p);
    const long groups = (n + group - 1) / group;
    _Pragma("omp parallel for schedule(static) if (n > 32768)")
    for (long g = 0; g < groups; g++) {
      const long a = g * group, len = std::min(group, n - a);
      scaled_run_f32((const float*)x + a, (float*)y + a, len, hrda_uniform(seed, (unsigned long long)g) >= p ? scale : 0.0f, accumulate);
    }
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    const T* a = (const T*)x; T* o = (T*)y; const T scale = (T)1 / ((T)1 - (T)p);
    PAR for (long i = 0; i < n; i++) {
      const T v = hrda_uniform(seed, (unsigned long long)(i / group)) >= p ? a[i] * scale : (T)0;
      o[i] = accumulate ? o[i] + v : v;
    })
  return HRDA_OK;
}

}  // extern "C"
