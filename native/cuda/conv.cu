// im2col/col2im for GEMM-based convolution, and direct depthwise convolution.
//
// Design: every kernel is a flat grid-stride loop over its output with the index split by
// multiply-high divisions.
//  - im2col: one thread per col element (writes coalesced along the output row).
//  - col2im and dwconv_backward_data: gathers, one thread per input element summing the
//    (output, tap) pairs that read it - no atomics, no zero fill, deterministic.
//  - dwconv_forward: one thread per output element, taps unrolled from registers/L1.
//  - dwconv_backward_weight: a reduction per (channel, tap) - plus one per channel for the
//    bias - over N*Ho*Wo, split over a few blocks each; block partials go to a workspace and a
//    final pass adds them to dweight/dbias (parameter gradients always accumulate).
#include "cuda_common.cuh"
#include "reduce.cuh"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;

namespace {

struct ConvGeom {
  long C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, Ho, Wo;
};

template <typename T>
__global__ void im2col_kernel(long total, ConvGeom g, DivMod dWo, DivMod dHo, DivMod dKW, DivMod dKH,
                              const T* x, T* col) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, k, k2, c;
    const long ow = dWo.divmod(idx, r);
    const long oh = dHo.divmod(r, k);
    const long kw = dKW.divmod(k, k2);
    const long kh = dKH.divmod(k2, c);
    const long ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
    col[idx] = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? x[(c * g.H + ih) * g.W + iw] : from_f<T>(0.f);
  }
}

// Sum over the (oh, ow, tap) that read input (ih, iw) of plane `plane`:
//   oh*sh - ph + kh*dh = ih  =>  oh = (ih + ph - kh*dh) / sh when divisible and in range.
// src(kh, kw, oh, ow) returns the value to add (col entry, or dy * weight).
template <typename Src>
__device__ __forceinline__ float gather_taps(const ConvGeom& g, long ih, long iw, const Src& src) {
  // 32-bit index arithmetic: every term is bounded by the image and kernel extents
  const int sh = (int)g.sh, sw = (int)g.sw, KH = (int)g.KH, KW = (int)g.KW, Ho = (int)g.Ho, Wo = (int)g.Wo;
  const int th = (int)(ih + g.ph), tw = (int)(iw + g.pw), dh = (int)g.dh, dw = (int)g.dw;
  float s = 0.f;
  for (int kh = 0; kh < KH; kh++) {
    const int t = th - kh * dh;
    if (t < 0) break;  // t only decreases with kh
    const int oh = t / sh;
    if (oh * sh != t || oh >= Ho) continue;
    for (int kw = 0; kw < KW; kw++) {
      const int u = tw - kw * dw;
      if (u < 0) break;
      const int ow = u / sw;
      if (ow * sw != u || ow >= Wo) continue;
      s += src(kh, kw, oh, ow);
    }
  }
  return s;
}

template <typename T> struct ColSrc {
  const T* col; long c; const ConvGeom* g;
  __device__ float operator()(long kh, long kw, long oh, long ow) const {
    return to_f(col[((c * g->KH + kh) * g->KW + kw) * g->Ho * g->Wo + oh * g->Wo + ow]);
  }
};

template <typename T>
__global__ void col2im_kernel(long total, ConvGeom g, DivMod dW, DivMod dH, const T* col, T* x, int acc) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, c;
    const long iw = dW.divmod(idx, r);
    const long ih = dH.divmod(r, c);
    const float s = gather_taps(g, ih, iw, ColSrc<T>{col, c, &g});
    x[idx] = from_f<T>(acc ? to_f(x[idx]) + s : s);
  }
}

template <typename T>
__global__ void dwconv_forward_kernel(long total, ConvGeom g, DivMod dWo, DivMod dHo, DivMod dC,
                                      const T* x, const T* w, const T* bias, T* y) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, nc, q;
    const long ow = dWo.divmod(idx, r);
    const long oh = dHo.divmod(r, nc);
    const long c = dC.divmod(nc, q);
    const T* xc = x + nc * g.H * g.W;
    const T* wc = w + c * g.KH * g.KW;
    float s = bias ? to_f(bias[c]) : 0.f;
    const long ih0 = oh * g.sh - g.ph, iw0 = ow * g.sw - g.pw;
    for (long kh = 0; kh < g.KH; kh++) {
      const long ih = ih0 + kh * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* xr = xc + ih * g.W;
      const T* wr = wc + kh * g.KW;
      for (long kw = 0; kw < g.KW; kw++) {
        const long iw = iw0 + kw * g.dw;
        if (iw >= 0 && iw < g.W) s += to_f(xr[iw]) * to_f(wr[kw]);
      }
    }
    y[idx] = from_f<T>(s);
  }
}

template <typename T> struct DySrc {
  const T* dyc; const T* wc; const ConvGeom* g;
  __device__ float operator()(long kh, long kw, long oh, long ow) const {
    return to_f(dyc[oh * g->Wo + ow]) * to_f(wc[kh * g->KW + kw]);
  }
};

template <typename T>
__global__ void dwconv_backward_data_kernel(long total, ConvGeom g, DivMod dW, DivMod dH, DivMod dC,
                                            const T* dy, const T* w, T* dx, int acc) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, nc, q;
    const long iw = dW.divmod(idx, r);
    const long ih = dH.divmod(r, nc);
    const long c = dC.divmod(nc, q);
    const float s = gather_taps(g, ih, iw, DySrc<T>{dy + nc * g.Ho * g.Wo, w + c * g.KH * g.KW, &g});
    dx[idx] = from_f<T>(acc ? to_f(dx[idx]) + s : s);
  }
}

// grid (C * taps, S); taps = KH*KW (+1 for the bias). Block (c, tap, s) sums over its split
// of the N*Ho*Wo domain; partial at part[s*M + c*taps + tap] with M = C*taps.
template <typename T>
__global__ void dwconv_weight_partial_kernel(long N, ConvGeom g, long taps, long chunk, DivMod dHoWo, DivMod dWo,
                                             const T* x, const T* dy, float* part) {
  const long j = blockIdx.x, s = blockIdx.y;
  const long c = j / taps, tap = j - c * taps;
  const long KK = g.KH * g.KW;
  const long kh = tap / g.KW, kw = tap - kh * g.KW;
  const long HoWo = g.Ho * g.Wo, domain = N * HoWo;
  const long k0 = s * chunk;
  const long k1 = k0 + chunk < domain ? k0 + chunk : domain;
  float acc[1] = {0.f};
  for (long k = k0 + threadIdx.x; k < k1; k += blockDim.x) {
    long n;
    const long rem = dHoWo.divmod(k, n);
    const float gv = to_f(dy[(n * g.C + c) * HoWo + rem]);
    if (tap == KK) { acc[0] += gv; continue; }
    long oh;
    const long ow = dWo.divmod(rem, oh);
    const long ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
    if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) acc[0] += gv * to_f(x[((n * g.C + c) * g.H + ih) * g.W + iw]);
  }
  block_sum<1>(acc);
  if (threadIdx.x == 0) part[s * gridDim.x + j] = acc[0];
}

template <typename T> struct DwWeightFinal {
  T* dweight; T* dbias; long taps, KK;
  __device__ void operator()(long j, const float (&tot)[1]) const {
    const long c = j / taps, tap = j - c * taps;
    T* p = tap == KK ? dbias + c : dweight + c * KK + tap;
    *p = from_f<T>(to_f(*p) + tot[0]);
  }
};

}  // namespace

// The CPU twin's checks, then a bound that keeps the per-tap index arithmetic in 32 bits.
#define CONV_CHECKS(name)                                                                           \
  HRDA_CONV_CHECKS(name);                                                                           \
  HRDA_CHECK(H < (1L << 29) && W < (1L << 29) && ph < (1L << 29) && pw < (1L << 29) &&              \
             KH * dh < (1L << 29) && KW * dw < (1L << 29), name ": image, padding or kernel extent too large")

extern "C" {

int hrda_cuda_im2col(int dtype, long C, long H, long W, long KH, long KW, long ph, long pw,
                     long sh, long sw, long dh, long dw, long Ho, long Wo, const void* x, void* col, void* stream) {
  CONV_CHECKS("im2col"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(col);
  const ConvGeom g{C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, Ho, Wo};
  const long total = C * KH * KW * Ho * Wo;
  HRDA_DISPATCH_FLOAT(dtype,
    im2col_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(total, g, DivMod::make(Wo, total),
        DivMod::make(Ho, total / Wo), DivMod::make(KW, C * KH * KW), DivMod::make(KH, C * KH), (const T*)x, (T*)col));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_col2im(int dtype, long C, long H, long W, long KH, long KW, long ph, long pw,
                     long sh, long sw, long dh, long dw, long Ho, long Wo, const void* col, void* x, int accumulate,
                     void* stream) {
  CONV_CHECKS("col2im"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(col);
  const ConvGeom g{C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, Ho, Wo};
  const long total = C * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    col2im_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(total, g, DivMod::make(W, total),
        DivMod::make(H, total / W), (const T*)col, (T*)x, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_dwconv_forward(int dtype, long N, long C, long H, long W, long KH, long KW,
                             long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
                             const void* x, const void* w, const void* bias, void* y, void* stream) {
  CONV_CHECKS("dwconv_forward"); HRDA_CHECK(N >= 0, "dwconv_forward: N %ld", N);
  HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(w); HRDA_CHECK_PTR(y);
  const ConvGeom g{C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, Ho, Wo};
  const long total = N * C * Ho * Wo;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    dwconv_forward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(total, g, DivMod::make(Wo, total),
        DivMod::make(Ho, total / Wo), DivMod::make(C, N * C), (const T*)x, (const T*)w, (const T*)bias, (T*)y));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_dwconv_backward_data(int dtype, long N, long C, long H, long W, long KH, long KW,
                                   long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                   const void* dy, const void* w, void* dx, int accumulate, void* stream) {
  CONV_CHECKS("dwconv_backward_data"); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(w); HRDA_CHECK_PTR(dx);
  const ConvGeom g{C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, Ho, Wo};
  const long total = N * C * H * W;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total <= 0) return HRDA_OK;
    dwconv_backward_data_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(total, g,
        DivMod::make(W, total), DivMod::make(H, total / W), DivMod::make(C, N * C), (const T*)dy, (const T*)w,
        (T*)dx, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_dwconv_backward_weight(int dtype, long N, long C, long H, long W, long KH, long KW,
                                     long sh, long sw, long ph, long pw, long dh, long dw, long Ho, long Wo,
                                     const void* x, const void* dy, void* dweight, void* dbias, void* stream) {
  CONV_CHECKS("dwconv_backward_weight"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(dweight);
  const ConvGeom g{C, H, W, KH, KW, sh, sw, ph, pw, dh, dw, Ho, Wo};
  cudaStream_t st = as_stream(stream);
  HRDA_DISPATCH_FLOAT(dtype,
    if (N <= 0) return HRDA_OK;
    const long KK = KH * KW, taps = KK + (dbias ? 1 : 0), M = C * taps;
    HRDA_CHECK(M < (1L << 31), "dwconv_backward_weight: %ld channels x %ld taps is too many", C, taps);
    const long domain = N * Ho * Wo;
    long S = ceil_div(8L * sm_count(), M);
    const long max_s = ceil_div(domain, (long)kThreads * 8);
    if (S > max_s) S = max_s;
    if (S > 4096) S = 4096;
    if (S < 1) S = 1;
    const long chunk = ceil_div(domain, S);
    S = ceil_div(domain, chunk);
    Workspace ws(st);
    HRDA_WS_ALLOC(ws, (size_t)S * M * sizeof(float));
    dwconv_weight_partial_kernel<T><<<dim3((unsigned int)M, (unsigned int)S), kThreads, 0, st>>>(
        N, g, taps, chunk, DivMod::make(Ho * Wo, domain + kThreads), DivMod::make(Wo, Ho * Wo), (const T*)x,
        (const T*)dy, ws.as<float>());
    const ChanPlan plan{1, M, 1, (int)S, chunk};
    chan_finalize<1>(plan, ws.as<float>(), DwWeightFinal<T>{(T*)dweight, (T*)dbias, taps, KK}, st));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
