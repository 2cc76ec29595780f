// HRDA scale-attention fusion, the reference for the CUDA kernels.
//
// Forward, per fused pixel o: the four bilinear taps (r, c, weight) of up2 give
//   ua = sum w attm[r, c],  ul = sum w (1 - attm[r, c]) lr[r, c],  fused = ua hr_ins[o] + ul.
// Backward, with g = dfused, as a gather (each gradient element has one owner, no races):
//   LR pixel (r, c): G = sum_o w_o(r, c) g[o], Ghr = sum_o w_o(r, c) g[o] hr_ins[o] over the
//     fused pixels o whose taps include (r, c) (rows 2r-1 .. 2r+2, clamped);
//     datt = mask (Ghr - lr G), dlr = (1 - attm) G;
//   HR pixel: dhr = g[o] ua(o).
// The taps are the resize op's (source_tap with scale 0.5), so the fusion equals the composition
// of resize_bilinear_forward, copy_box and the elementwise ops.
#include "cpu_common.hpp"
#include "hrda/detail/op_checks.h"

using namespace hrda_cpu;

namespace {

struct FuseGeom {
  long h, w, hh, ww, top, left;
  long H2() const { return 2 * h; }
  long W2() const { return 2 * w; }
  // LR pixel inside the attention mask
  bool in_mask(long r, long c) const {
    return r >= top / 2 && r < (top + hh) / 2 && c >= left / 2 && c < (left + ww) / 2;
  }
  // fused pixel inside the detail box
  bool in_box(long y, long x) const { return y >= top && y < top + hh && x >= left && x < left + ww; }
};

// up2 of (masked attention, (1 - attm) * lr) at fused pixel (y, x) of one plane
template <typename T>
inline void upsample_at(const FuseGeom& g, const T* lr, const T* att, long y, long x, double& ua, double& ul) {
  const Tap ty = source_tap(0.5, y, g.h), tx = source_tap(0.5, x, g.w);
  const long rs[2] = {ty.i0, ty.i1}, cs[2] = {tx.i0, tx.i1};
  const double wr[2] = {ty.l0, ty.l1}, wc[2] = {tx.l0, tx.l1};
  ua = 0;
  ul = 0;
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      const long idx = rs[a] * g.w + cs[b];
      const double m = g.in_mask(rs[a], cs[b]) ? (double)att[idx] : 0.0;
      const double wt = wr[a] * wc[b];
      ua += wt * m;
      ul += wt * (1.0 - m) * (double)lr[idx];
    }
}

// Weights of LR index i (of `in`) in the fused indices o0 .. o0+5 (clamped to [0, 2*in)).
inline long adjoint_taps(long i, long in, double (&wt)[6]) {
  const long o0 = 2 * i - 2;
  for (int k = 0; k < 6; k++) {
    const long o = o0 + k;
    wt[k] = 0;
    if (o < 0 || o >= 2 * in) continue;
    const Tap t = source_tap(0.5, o, in);
    wt[k] = (t.i0 == i ? t.l0 : 0.0) + (t.i1 == i ? t.l1 : 0.0);
  }
  return o0;
}

template <typename T>
void fuse_forward_t(long P, const FuseGeom& g, const T* lr, const T* att, const T* hr, T* fused) {
  const long H2 = g.H2(), W2 = g.W2();
#pragma omp parallel for collapse(2) schedule(static)
  for (long p = 0; p < P; p++)
    for (long y = 0; y < H2; y++) {
      const T* lp = lr + p * g.h * g.w;
      const T* ap = att + p * g.h * g.w;
      T* o = fused + (p * H2 + y) * W2;
      for (long x = 0; x < W2; x++) {
        double ua, ul;
        upsample_at(g, lp, ap, y, x, ua, ul);
        const double hv = g.in_box(y, x) ? (double)hr[(p * g.hh + y - g.top) * g.ww + x - g.left] : 0.0;
        o[x] = (T)(ua * hv + ul);
      }
    }
}

template <typename T>
void fuse_backward_t(long P, const FuseGeom& g, const T* lr, const T* att, const T* hr, const T* dfused,
                     T* dlr, T* datt, T* dhr, int acc_lr, int acc_att, int acc_hr) {
  const long H2 = g.H2(), W2 = g.W2();
  if (dlr || datt) {
#pragma omp parallel for collapse(2) schedule(static)
    for (long p = 0; p < P; p++)
      for (long r = 0; r < g.h; r++) {
        double wy[6], wx[6];
        const long y0 = adjoint_taps(r, g.h, wy);
        for (long c = 0; c < g.w; c++) {
          const long x0 = adjoint_taps(c, g.w, wx);
          double G = 0, Ghr = 0;
          for (int a = 0; a < 6; a++) {
            if (wy[a] == 0) continue;
            const long y = y0 + a;
            for (int b = 0; b < 6; b++) {
              if (wx[b] == 0) continue;
              const long x = x0 + b;
              const double gw = wy[a] * wx[b] * (double)dfused[(p * H2 + y) * W2 + x];
              G += gw;
              if (g.in_box(y, x)) Ghr += gw * (double)hr[(p * g.hh + y - g.top) * g.ww + x - g.left];
            }
          }
          const long idx = (p * g.h + r) * g.w + c;
          const bool m = g.in_mask(r, c);
          const double am = m ? (double)att[idx] : 0.0;
          if (dlr) dlr[idx] = (T)((acc_lr ? (double)dlr[idx] : 0.0) + (1.0 - am) * G);
          if (datt) datt[idx] = (T)((acc_att ? (double)datt[idx] : 0.0) + (m ? Ghr - (double)lr[idx] * G : 0.0));
        }
      }
  }
  if (dhr) {
#pragma omp parallel for collapse(2) schedule(static)
    for (long p = 0; p < P; p++)
      for (long yy = 0; yy < g.hh; yy++) {
        const T* lp = lr + p * g.h * g.w;
        const T* ap = att + p * g.h * g.w;
        for (long xx = 0; xx < g.ww; xx++) {
          const long y = g.top + yy, x = g.left + xx;
          double ua, ul;
          upsample_at(g, lp, ap, y, x, ua, ul);
          const long idx = (p * g.hh + yy) * g.ww + xx;
          dhr[idx] = (T)((acc_hr ? (double)dhr[idx] : 0.0) + ua * (double)dfused[(p * H2 + y) * W2 + x]);
        }
      }
  }
}

}  // namespace

extern "C" {

int hrda_cpu_hrda_fuse_forward(int dtype, long B, long K, long h, long w, long hh, long ww, long top, long left,
                               const void* lr_seg, const void* att, const void* hr_seg, void* fused) {
  HRDA_FUSION_CHECKS("hrda_fuse_forward");
  HRDA_CHECK_PTR(lr_seg); HRDA_CHECK_PTR(att); HRDA_CHECK_PTR(hr_seg); HRDA_CHECK_PTR(fused);
  const FuseGeom g{h, w, hh, ww, top, left};
  HRDA_DISPATCH_FLOAT(dtype, fuse_forward_t<T>(B * K, g, (const T*)lr_seg, (const T*)att, (const T*)hr_seg, (T*)fused));
  return HRDA_OK;
}

int hrda_cpu_hrda_fuse_backward(int dtype, long B, long K, long h, long w, long hh, long ww, long top, long left,
                                const void* lr_seg, const void* att, const void* hr_seg, const void* dfused,
                                void* dlr_seg, void* datt, void* dhr_seg, int accumulate_dlr, int accumulate_datt,
                                int accumulate_dhr) {
  HRDA_FUSION_CHECKS("hrda_fuse_backward");
  HRDA_CHECK_PTR(lr_seg); HRDA_CHECK_PTR(att); HRDA_CHECK_PTR(hr_seg); HRDA_CHECK_PTR(dfused);
  const FuseGeom g{h, w, hh, ww, top, left};
  HRDA_DISPATCH_FLOAT(dtype,
    fuse_backward_t<T>(B * K, g, (const T*)lr_seg, (const T*)att, (const T*)hr_seg, (const T*)dfused, (T*)dlr_seg,
                       (T*)datt, (T*)dhr_seg, accumulate_dlr, accumulate_datt, accumulate_dhr));
  return HRDA_OK;
}

}  // extern "C"
