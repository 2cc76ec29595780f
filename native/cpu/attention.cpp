// Fused multi-head attention (MiT efficient self-attention), the reference for the CUDA kernels.
//
// Forward: one score row at a time (per batch, head and query), max-subtracted softmax in f64,
// out = P v / l, lse = max + log(l). No N x M matrix: a row of M scores per thread.
// Backward (P recomputed from lse, delta_i = dout_i . out_i):
//   dS_ij = P_ij (dout_i . v_j - delta_i),  dq_i = scale sum_j dS_ij k_j,
//   dk_j = scale sum_i dS_ij q_i,           dv_j = sum_i P_ij dout_i.
// dq is computed by the owner of each query row and dk/dv by the owner of each key row (the
// scores are recomputed in both passes): no races, no atomics, deterministic. f64 accumulation.
#include "cpu_common.hpp"
#include "hrda/detail/op_checks.h"

#include <limits>
#include <vector>

using namespace hrda_cpu;

namespace {

// Dot product of two rows of length D, in f64.
template <typename T>
inline double dot(const T* a, const T* b, long D) {
  double s = 0;
  for (long e = 0; e < D; e++) s += (double)a[e] * (double)b[e];
  return s;
}

template <typename T>
void attention_forward_t(long B, long N, long M, long H, long D, double scale, const T* q, const T* kv, T* out, T* lse) {
  const long C = H * D, C2 = 2 * C;
#pragma omp parallel
  {
    std::vector<double> s(M), acc(D);
#pragma omp for collapse(3) schedule(static)
    for (long b = 0; b < B; b++)
      for (long h = 0; h < H; h++)
        for (long i = 0; i < N; i++) {
          const T* qi = q + (b * N + i) * C + h * D;
          const T* kb = kv + b * M * C2 + h * D;  // k_j = kb + j*C2, v_j = kb + j*C2 + C
          double mx = -std::numeric_limits<double>::infinity();
          for (long j = 0; j < M; j++) {
            s[j] = scale * dot(qi, kb + j * C2, D);
            mx = std::max(mx, s[j]);
          }
          std::fill(acc.begin(), acc.end(), 0.0);
          double l = 0;
          for (long j = 0; j < M; j++) {
            const double p = std::exp(s[j] - mx);
            l += p;
            const T* vj = kb + j * C2 + C;
            for (long e = 0; e < D; e++) acc[e] += p * (double)vj[e];
          }
          T* oi = out + (b * N + i) * C + h * D;
          for (long e = 0; e < D; e++) oi[e] = (T)(acc[e] / l);
          lse[(b * H + h) * N + i] = (T)(mx + std::log(l));
        }
  }
}

template <typename T>
void attention_backward_t(long B, long N, long M, long H, long D, double scale, const T* q, const T* kv, const T* out,
                          const T* lse, const T* dout, T* dq, T* dkv, int acc_dq, int acc_dkv) {
  const long C = H * D, C2 = 2 * C;
  // delta[b, h, i] = dout_i . out_i over the head's channels
  std::vector<double> delta((size_t)(B * H * N));
#pragma omp parallel for collapse(3) schedule(static)
  for (long b = 0; b < B; b++)
    for (long h = 0; h < H; h++)
      for (long i = 0; i < N; i++) {
        const long row = (b * N + i) * C + h * D;
        delta[(b * H + h) * N + i] = dot(dout + row, out + row, D);
      }
  // dS_ij of query row i (of batch b, head h) and key j; p_out receives P_ij
  auto dscore = [&](long b, long h, long i, long j, double* p_out) {
    const T* qi = q + (b * N + i) * C + h * D;
    const T* di = dout + (b * N + i) * C + h * D;
    const T* kj = kv + (b * M + j) * C2 + h * D;
    const long bhi = (b * H + h) * N + i;
    const double p = std::exp(scale * dot(qi, kj, D) - (double)lse[bhi]);
    *p_out = p;
    return p * (dot(di, kj + C, D) - delta[bhi]);
  };
  if (dq) {
#pragma omp parallel
    {
      std::vector<double> g(D);
#pragma omp for collapse(3) schedule(static)
      for (long b = 0; b < B; b++)
        for (long h = 0; h < H; h++)
          for (long i = 0; i < N; i++) {
            std::fill(g.begin(), g.end(), 0.0);
            for (long j = 0; j < M; j++) {
              double p;
              const double ds = dscore(b, h, i, j, &p);
              const T* kj = kv + (b * M + j) * C2 + h * D;
              for (long e = 0; e < D; e++) g[e] += ds * (double)kj[e];
            }
            T* o = dq + (b * N + i) * C + h * D;
            for (long e = 0; e < D; e++) o[e] = (T)((acc_dq ? (double)o[e] : 0.0) + scale * g[e]);
          }
    }
  }
  if (dkv) {
#pragma omp parallel
    {
      std::vector<double> gk(D), gv(D);
#pragma omp for collapse(3) schedule(static)
      for (long b = 0; b < B; b++)
        for (long h = 0; h < H; h++)
          for (long j = 0; j < M; j++) {
            std::fill(gk.begin(), gk.end(), 0.0);
            std::fill(gv.begin(), gv.end(), 0.0);
            for (long i = 0; i < N; i++) {
              double p;
              const double ds = dscore(b, h, i, j, &p);
              const T* qi = q + (b * N + i) * C + h * D;
              const T* di = dout + (b * N + i) * C + h * D;
              for (long e = 0; e < D; e++) {
                gk[e] += ds * (double)qi[e];
                gv[e] += p * (double)di[e];
              }
            }
            T* ok = dkv + (b * M + j) * C2 + h * D;
            T* ov = ok + C;
            for (long e = 0; e < D; e++) {
              ok[e] = (T)((acc_dkv ? (double)ok[e] : 0.0) + scale * gk[e]);
              ov[e] = (T)((acc_dkv ? (double)ov[e] : 0.0) + gv[e]);
            }
          }
    }
  }
}

}  // namespace

extern "C" {

int hrda_cpu_attention_forward(int dtype, long B, long N, long M, long H, long D, float scale,
                               const void* q, const void* kv, void* out, void* lse) {
  HRDA_ATTENTION_CHECKS("attention_forward");
  HRDA_CHECK_PTR(q); HRDA_CHECK_PTR(kv); HRDA_CHECK_PTR(out); HRDA_CHECK_PTR(lse);
  HRDA_DISPATCH_FLOAT(dtype,
    attention_forward_t<T>(B, N, M, H, D, (double)scale, (const T*)q, (const T*)kv, (T*)out, (T*)lse));
  return HRDA_OK;
}

int hrda_cpu_attention_backward(int dtype, long B, long N, long M, long H, long D, float scale,
                                const void* q, const void* kv, const void* out, const void* lse, const void* dout,
                                void* dq, void* dkv, int accumulate_dq, int accumulate_dkv) {
  HRDA_ATTENTION_CHECKS("attention_backward");
  HRDA_CHECK_PTR(q); HRDA_CHECK_PTR(kv); HRDA_CHECK_PTR(out); HRDA_CHECK_PTR(lse); HRDA_CHECK_PTR(dout);
  HRDA_DISPATCH_FLOAT(dtype,
    attention_backward_t<T>(B, N, M, H, D, (double)scale, (const T*)q, (const T*)kv, (const T*)out, (const T*)lse,
                            (const T*)dout, (T*)dq, (T*)dkv, accumulate_dq, accumulate_dkv));
  return HRDA_OK;
}

}  // extern "C"
