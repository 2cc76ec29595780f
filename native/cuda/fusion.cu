// HRDA scale-attention fusion, one kernel each way (f32/bf16/f16 data, f32 arithmetic).
//
// Design: the x2 bilinear taps (align_corners=False, src = max(0, dst/2 - 0.25)) are exact in
// f32 (weights 0, 1/4, 3/4, 1), so both libraries pick the same neighbours and weights as
// resize_bilinear_forward with scale 0.5.
//  - Forward: one thread per fused element; four taps of att and lr (masked to the detail box
//    at LR resolution), plus the hr element when the pixel lies in the box.
//  - Backward: one launch over two index ranges, gathers only (each gradient element has one
//    owner: no atomics, no zero fill, deterministic):
//      LR pixel (r, c), index < B*K*h*w: sums g = dfused and g * hr_ins with the tap weights of
//        the fused pixels whose taps include (r, c) (rows and cols 2r-2 .. 2r+3, weights
//        recomputed with the forward rule); datt = mask (Ghr - lr G), dlr = (1 - attm) G;
//      HR pixel, the following B*K*hh*ww indices: dhr = g * up2(attm) at its fused pixel.
//    A range whose gradients are both NULL is left out of the index space.
#include "cuda_common.cuh"
#include "hrda/detail/op_checks.h"

using namespace hrda_cuda;

namespace {

struct Tap2 { int i0, i1; float l0, l1; };

// source_tap of the resize op with scale 0.5 (exact in f32)
__device__ __forceinline__ Tap2 up2_tap(long dst, long in) {
  float src = 0.5f * (float)dst - 0.25f;
  if (src < 0.f) src = 0.f;
  int i0 = (int)src;
  if (i0 > in - 1) i0 = (int)in - 1;
  const int i1 = i0 + (i0 < in - 1 ? 1 : 0);
  const float l1 = src - (float)i0;
  return {i0, i1, 1.f - l1, l1};
}

// weight of LR index i in fused index o
__device__ __forceinline__ float up2_weight(long o, long i, long in) {
  const Tap2 t = up2_tap(o, in);
  return (t.i0 == i ? t.l0 : 0.f) + (t.i1 == i ? t.l1 : 0.f);
}

struct Geom {
  long h, w, hh, ww, top, left;
  __device__ __forceinline__ bool in_mask(long r, long c) const {
    return r >= top / 2 && r < (top + hh) / 2 && c >= left / 2 && c < (left + ww) / 2;
  }
  __device__ __forceinline__ bool in_box(long y, long x) const {
    return y >= top && y < top + hh && x >= left && x < left + ww;
  }
};

// ua = up2(attm), ul = up2((1 - attm) lr) at fused pixel (y, x) of one plane
template <typename T>
__device__ __forceinline__ void upsample_at(const Geom& g, const T* lr, const T* att, long y, long x, float& ua, float& ul) {
  const Tap2 ty = up2_tap(y, g.h), tx = up2_tap(x, g.w);
  const int rs[2] = {ty.i0, ty.i1}, cs[2] = {tx.i0, tx.i1};
  const float wr[2] = {ty.l0, ty.l1}, wc[2] = {tx.l0, tx.l1};
  ua = 0.f;
  ul = 0.f;
#pragma unroll
  for (int a = 0; a < 2; a++)
#pragma unroll
    for (int b = 0; b < 2; b++) {
      const long idx = (long)rs[a] * g.w + cs[b];
      const float m = g.in_mask(rs[a], cs[b]) ? to_f(att[idx]) : 0.f;
      const float wt = wr[a] * wc[b];
      ua = fmaf(wt, m, ua);
      ul = fmaf(wt * (1.f - m), to_f(lr[idx]), ul);
    }
}

template <typename T>
__global__ void fuse_forward_kernel(long total, Geom g, DivMod dW2, DivMod dH2, const T* __restrict__ lr,
                                    const T* __restrict__ att, const T* __restrict__ hr, T* __restrict__ fused) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long rest, p;
    const long x = dW2.divmod(idx, rest);
    const long y = dH2.divmod(rest, p);
    float ua, ul;
    upsample_at(g, lr + p * g.h * g.w, att + p * g.h * g.w, y, x, ua, ul);
    const float hv = g.in_box(y, x) ? to_f(hr[(p * g.hh + y - g.top) * g.ww + x - g.left]) : 0.f;
    fused[idx] = from_f<T>(fmaf(ua, hv, ul));
  }
}

template <typename T>
__global__ void fuse_backward_kernel(long n_lr, long n_hr, Geom g, DivMod dW, DivMod dH, DivMod dWW, DivMod dHH,
                                     const T* __restrict__ lr, const T* __restrict__ att, const T* __restrict__ hr,
                                     const T* __restrict__ dfused, T* __restrict__ dlr, T* __restrict__ datt,
                                     T* __restrict__ dhr, bool acc_lr, bool acc_att, bool acc_hr) {
  const long H2 = 2 * g.h, W2 = 2 * g.w;
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < n_lr + n_hr; idx += (long)gridDim.x * blockDim.x) {
    if (idx < n_lr) {
      long rest, p;
      const long c = dW.divmod(idx, rest);
      const long r = dH.divmod(rest, p);
      float wy[6], wx[6];
      const long y0 = 2 * r - 2, x0 = 2 * c - 2;
#pragma unroll
      for (int k = 0; k < 6; k++) {
        wy[k] = (y0 + k >= 0 && y0 + k < H2) ? up2_weight(y0 + k, r, g.h) : 0.f;
        wx[k] = (x0 + k >= 0 && x0 + k < W2) ? up2_weight(x0 + k, c, g.w) : 0.f;
      }
      const T* gp = dfused + p * H2 * W2;
      float G = 0.f, Ghr = 0.f;
#pragma unroll
      for (int a = 0; a < 6; a++) {
        if (wy[a] == 0.f) continue;
        const long y = y0 + a;
#pragma unroll
        for (int b = 0; b < 6; b++) {
          if (wx[b] == 0.f) continue;
          const long x = x0 + b;
          const float gw = wy[a] * wx[b] * to_f(gp[y * W2 + x]);
          G += gw;
          if (g.in_box(y, x)) Ghr = fmaf(gw, to_f(hr[(p * g.hh + y - g.top) * g.ww + x - g.left]), Ghr);
        }
      }
      const bool m = g.in_mask(r, c);
      const float am = m ? to_f(att[idx]) : 0.f;
      if (dlr) dlr[idx] = from_f<T>((acc_lr ? to_f(dlr[idx]) : 0.f) + (1.f - am) * G);
      if (datt) datt[idx] = from_f<T>((acc_att ? to_f(datt[idx]) : 0.f) + (m ? Ghr - to_f(lr[idx]) * G : 0.f));
    } else {
      const long e = idx - n_lr;
      long rest, p;
      const long xx = dWW.divmod(e, rest);
      const long yy = dHH.divmod(rest, p);
      const long y = g.top + yy, x = g.left + xx;
      float ua, ul;
      upsample_at(g, lr + p * g.h * g.w, att + p * g.h * g.w, y, x, ua, ul);
      dhr[e] = from_f<T>((acc_hr ? to_f(dhr[e]) : 0.f) + ua * to_f(dfused[(p * H2 + y) * W2 + x]));
    }
  }
}

}  // namespace

extern "C" {

int hrda_cuda_hrda_fuse_forward(int dtype, long B, long K, long h, long w, long hh, long ww, long top, long left,
                                const void* lr_seg, const void* att, const void* hr_seg, void* fused, void* stream) {
  HRDA_FUSION_CHECKS("hrda_fuse_forward");
  HRDA_CHECK_PTR(lr_seg); HRDA_CHECK_PTR(att); HRDA_CHECK_PTR(hr_seg); HRDA_CHECK_PTR(fused);
  const Geom g{h, w, hh, ww, top, left};
  const long total = B * K * 4 * h * w;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    fuse_forward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        total, g, DivMod::make(2 * w, total), DivMod::make(2 * h, total / (2 * w)), (const T*)lr_seg, (const T*)att,
        (const T*)hr_seg, (T*)fused));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_hrda_fuse_backward(int dtype, long B, long K, long h, long w, long hh, long ww, long top, long left,
                                 const void* lr_seg, const void* att, const void* hr_seg, const void* dfused,
                                 void* dlr_seg, void* datt, void* dhr_seg, int accumulate_dlr, int accumulate_datt,
                                 int accumulate_dhr, void* stream) {
  HRDA_FUSION_CHECKS("hrda_fuse_backward");
  HRDA_CHECK_PTR(lr_seg); HRDA_CHECK_PTR(att); HRDA_CHECK_PTR(hr_seg); HRDA_CHECK_PTR(dfused);
  const Geom g{h, w, hh, ww, top, left};
  const long n_lr = (dlr_seg || datt) ? B * K * h * w : 0, n_hr = dhr_seg ? B * K * hh * ww : 0;
  const long total = n_lr + n_hr;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    fuse_backward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        n_lr, n_hr, g, DivMod::make(w, n_lr), DivMod::make(h, n_lr / w), DivMod::make(ww, n_hr),
        DivMod::make(hh, n_hr / ww), (const T*)lr_seg, (const T*)att, (const T*)hr_seg, (const T*)dfused, (T*)dlr_seg,
        (T*)datt, (T*)dhr_seg, accumulate_dlr != 0, accumulate_datt != 0, accumulate_dhr != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
