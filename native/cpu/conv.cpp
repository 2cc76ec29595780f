// im2col/col2im for GEMM-based convolution, and direct depthwise convolution (CPU reference).
#include "cpu_common.hpp"
#include "hrda/detail/op_checks.h"
#include <vector>

using namespace hrda_cpu;

namespace {
// Depthwise convolution of one f32 plane with stride 1 (every depthwise conv of the models: Mix-FFN
// 3x3 and the dilated ASPP branches), as rows of contiguous multiply-adds per kernel tap: output
// (oh, ow) reads x row oh - ph + kh*dh at ow - pw + kw*dw. Each output sums the bias, then the taps
// in (kh, kw) order, in f32. Work: 2*KH*KW FLOPs per output, the plane stays in L1/L2.
HRDA_CLONES void dw_plane_forward_s1(long H, long W, long KH, long KW, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                     const float* x, const float* w, float b, float* y) {
  for (long oh = 0; oh < Ho; oh++) {
    float* yr = y + oh * Wo;
    for (long ow = 0; ow < Wo; ow++) yr[ow] = b;
    for (long kh = 0; kh < KH; kh++) {
      const long ih = oh - ph + kh * dh;
      if (ih < 0 || ih >= H) continue;
      for (long kw = 0; kw < KW; kw++) {
        const long off = kw * dw - pw, lo = std::max(0L, -off), hi = std::min(Wo, W - off);
        const float wv = w[kh * KW + kw];
        const float* xr = x + ih * W + off;
        for (long ow = lo; ow < hi; ow++) yr[ow] += wv * xr[ow];
      }
    }
  }
}

// dx (+)= the transpose of dw_plane_forward_s1: input (ih, iw) gathers dy (ih + ph - kh*dh, iw + pw - kw*dw).
HRDA_CLONES void dw_plane_backward_data_s1(long H, long W, long KH, long KW, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                           const float* dy, const float* w, float* dx, int accumulate) {
  for (long ih = 0; ih < H; ih++) {
    float* dr = dx + ih * W;
    if (!accumulate) for (long iw = 0; iw < W; iw++) dr[iw] = 0.f;
    for (long kh = 0; kh < KH; kh++) {
      const long oh = ih + ph - kh * dh;
      if (oh < 0 || oh >= Ho) continue;
      for (long kw = 0; kw < KW; kw++) {
        const long off = pw - kw * dw, lo = std::max(0L, -off), hi = std::min(W, Wo - off);
        const float wv = w[kh * KW + kw];
        const float* gr = dy + oh * Wo + off;
        for (long iw = lo; iw < hi; iw++) dr[iw] += wv * gr[iw];
      }
    }
  }
}

// acc[kh*KW + kw] += sum over the plane of dy (oh, ow) * x (oh - ph + kh*dh, ow - pw + kw*dw): one f32
// row dot product (dot16) per output row and tap, summed into the f64 accumulators in row order.
HRDA_CLONES void dw_plane_backward_weight_s1(long H, long W, long KH, long KW, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                             const float* x, const float* dy, double* acc) {
  for (long oh = 0; oh < Ho; oh++) {
    const float* gr = dy + oh * Wo;
    for (long kh = 0; kh < KH; kh++) {
      const long ih = oh - ph + kh * dh;
      if (ih < 0 || ih >= H) continue;
      for (long kw = 0; kw < KW; kw++) {
        const long off = kw * dw - pw, lo = std::max(0L, -off), hi = std::min(Wo, W - off);
        if (hi > lo) acc[kh * KW + kw] += dot16(gr + lo, x + ih * W + off + lo, hi - lo);
      }
    }
  }
}

HRDA_CLONES double plane_sum(const float* a, long n) { return sum16(a, n); }
}  // namespace

extern "C" {

int hrda_cpu_im2col(int dtype, long C, long H, long W, long KH, long KW, long ph, long pw,
                    long sh, long sw, long dh, long dw, long Ho, long Wo, const void* x, void* col) {
  HRDA_CONV_CHECKS("im2col"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(col);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* in = (const T*)x; T* out = (T*)col;
    _Pragma("omp parallel for collapse(3) schedule(static) if (C * KH * KW * Ho * Wo > 32768)")
    for (long c = 0; c < C; c++)
      for (long kh = 0; kh < KH; kh++)
        for (long kw = 0; kw < KW; kw++) {
          T* row = out + ((c * KH + kh) * KW + kw) * Ho * Wo;
          for (long oh = 0; oh < Ho; oh++) {
            const long ih = oh * sh - ph + kh * dh;
            for (long ow = 0; ow < Wo; ow++) {
              const long iw = ow * sw - pw + kw * dw;
              row[oh * Wo + ow] = (ih >= 0 && ih < H && iw >= 0 && iw < W) ? in[(c * H + ih) * W + iw] : (T)0;
            }
          }
        })
  return HRDA_OK;
}

int hrda_cpu_col2im(int dtype, long C, long H, long W, long KH, long KW, long ph, long pw,
                    long sh, long sw, long dh, long dw, long Ho, long Wo, const void* col, void* x, int accumulate) {
  HRDA_CONV_CHECKS("col2im"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(col);
  HRDA_DISPATCH_FLOAT(dtype,
    const T* in = (const T*)col; T* out = (T*)x;
    // One channel per thread: the kernel taps of a channel only write that channel.
    _Pragma("omp parallel for schedule(static) if (C * KH * KW * Ho * Wo > 32768)")
    for (long c = 0; c < C; c++) {
      T* xc = out + c * H * W;
      if (!accumulate) std::fill(xc, xc + H * W, (T)0);
      for (long kh = 0; kh < KH; kh++)
        for (long kw = 0; kw < KW; kw++) {
          const T* row = in + ((c * KH + kh) * KW + kw) * Ho * Wo;
          for (long oh = 0; oh < Ho; oh++) {
            const long ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (long ow = 0; ow < Wo; ow++) {
              const long iw = ow * sw - pw + kw * dw;
              if (iw >= 0 && iw < W) xc[ih * W + iw] += row[oh * Wo + ow];
            }
          }
        }
    })
  return HRDA_OK;
}

int hrda_cpu_dwconv_forward(int dtype, long N, long C, long H, long W, long KH, long KW,
                            long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
                            const void* x, const void* w, const void* bias, void* y) {
  HRDA_CONV_CHECKS("dwconv_forward"); HRDA_CHECK(N >= 0, "dwconv_forward: N %ld", N);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(w); HRDA_CHECK_PTR(y);
  if (dtype == HRDA_F32 && sh == 1 && sw == 1) {
    const float* b = (const float*)bias;
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * C * Ho * Wo * KH * KW > 32768)")
    for (long n = 0; n < N; n++)
      for (long c = 0; c < C; c++)
        dw_plane_forward_s1(H, W, KH, KW, ph, pw, dh, dw, Ho, Wo, (const float*)x + (n * C + c) * H * W,
                            (const float*)w + c * KH * KW, b ? b[c] : 0.f, (float*)y + (n * C + c) * Ho * Wo);
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    const T* b = (const T*)bias;
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * C * Ho * Wo * KH * KW > 32768)")
    for (long n = 0; n < N; n++)
      for (long c = 0; c < C; c++) {
        const T* xc = (const T*)x + (n * C + c) * H * W; const T* wc = (const T*)w + c * KH * KW;
        T* yc = (T*)y + (n * C + c) * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++)
          for (long ow = 0; ow < Wo; ow++) {
            double s = b ? (double)b[c] : 0.0;
            for (long kh = 0; kh < KH; kh++) {
              const long ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (long kw = 0; kw < KW; kw++) {
                const long iw = ow * sw - pw + kw * dw;
                if (iw >= 0 && iw < W) s += (double)xc[ih * W + iw] * wc[kh * KW + kw];
              }
            }
            yc[oh * Wo + ow] = (T)s;
          }
      })
  return HRDA_OK;
}

int hrda_cpu_dwconv_backward_data(int dtype, long N, long C, long H, long W, long KH, long KW,
                                  long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                  const void* dy, const void* w, void* dx, int accumulate) {
  HRDA_CONV_CHECKS("dwconv_backward_data"); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(w); HRDA_CHECK_PTR(dx);
  if (dtype == HRDA_F32 && sh == 1 && sw == 1) {
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * C * Ho * Wo * KH * KW > 32768)")
    for (long n = 0; n < N; n++)
      for (long c = 0; c < C; c++)
        dw_plane_backward_data_s1(H, W, KH, KW, ph, pw, dh, dw, Ho, Wo, (const float*)dy + (n * C + c) * Ho * Wo,
                                  (const float*)w + c * KH * KW, (float*)dx + (n * C + c) * H * W, accumulate);
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel for collapse(2) schedule(static) if (N * C * Ho * Wo * KH * KW > 32768)")
    for (long n = 0; n < N; n++)
      for (long c = 0; c < C; c++) {
        const T* gc = (const T*)dy + (n * C + c) * Ho * Wo; const T* wc = (const T*)w + c * KH * KW;
        T* dc = (T*)dx + (n * C + c) * H * W;
        if (!accumulate) std::fill(dc, dc + H * W, (T)0);
        for (long oh = 0; oh < Ho; oh++)
          for (long kh = 0; kh < KH; kh++) {
            const long ih = oh * sh - ph + kh * dh;
            if (ih < 0 || ih >= H) continue;
            for (long ow = 0; ow < Wo; ow++) {
              const T g = gc[oh * Wo + ow];
              for (long kw = 0; kw < KW; kw++) {
                const long iw = ow * sw - pw + kw * dw;
                if (iw >= 0 && iw < W) dc[ih * W + iw] += g * wc[kh * KW + kw];
              }
            }
          }
      })
  return HRDA_OK;
}

int hrda_cpu_dwconv_backward_weight(int dtype, long N, long C, long H, long W, long KH, long KW,
                                    long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                    const void* x, const void* dy, void* dweight, void* dbias) {
  HRDA_CONV_CHECKS("dwconv_backward_weight"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(dweight);
  if (dtype == HRDA_F32 && sh == 1 && sw == 1) {
    _Pragma("omp parallel for schedule(static) if (N * C * Ho * Wo * KH * KW > 32768)")
    for (long c = 0; c < C; c++) {
      std::vector<double> acc((size_t)(KH * KW), 0.0);
      double accb = 0;
      for (long n = 0; n < N; n++) {
        const float* gc = (const float*)dy + (n * C + c) * Ho * Wo;
        dw_plane_backward_weight_s1(H, W, KH, KW, ph, pw, dh, dw, Ho, Wo, (const float*)x + (n * C + c) * H * W, gc, acc.data());
        if (dbias) accb += plane_sum(gc, Ho * Wo);
      }
      for (long k = 0; k < KH * KW; k++) ((float*)dweight)[c * KH * KW + k] += (float)acc[k];
      if (dbias) ((float*)dbias)[c] += (float)accb;
    }
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    _Pragma("omp parallel for schedule(static) if (N * C * Ho * Wo * KH * KW > 32768)")
    for (long c = 0; c < C; c++) {
      std::vector<double> acc((size_t)(KH * KW), 0.0); double accb = 0;
      for (long n = 0; n < N; n++) {
        const T* xc = (const T*)x + (n * C + c) * H * W; const T* gc = (const T*)dy + (n * C + c) * Ho * Wo;
        for (long oh = 0; oh < Ho; oh++)
          for (long ow = 0; ow < Wo; ow++) {
            const double g = gc[oh * Wo + ow]; accb += g;
            for (long kh = 0; kh < KH; kh++) {
              const long ih = oh * sh - ph + kh * dh;
              if (ih < 0 || ih >= H) continue;
              for (long kw = 0; kw < KW; kw++) {
                const long iw = ow * sw - pw + kw * dw;
                if (iw >= 0 && iw < W) acc[kh * KW + kw] += g * xc[ih * W + iw];
              }
            }
          }
      }
      for (long k = 0; k < KH * KW; k++) ((T*)dweight)[c * KH * KW + k] += (T)acc[k];
      if (dbias) ((T*)dbias)[c] += (T)accb;
    })
  return HRDA_OK;
}

}  // extern "C"
