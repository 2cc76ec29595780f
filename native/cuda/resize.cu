// Bilinear (align_corners=False) and nearest resize, as torch.nn.functional.interpolate.
//
// Design: source positions are computed in f64 exactly as the CPU twin does
// (src = max(0, scale*(dst+0.5) - 0.5)), so both libraries pick the same neighbours; the
// interpolation itself runs in f32. Forward: one thread per output element. Backward: a gather,
// one thread per input element, which sums the outputs whose taps touch it - i0(o) is
// monotonic in o, so those outputs form a contiguous range per axis, found from the inverse map
// and corrected with the exact forward rule. No atomics, no zero fill, deterministic.
// Nearest copies raw elements (1, 2 or 4 bytes), so label maps keep their dtype.
#include "bilinear.cuh"

using namespace hrda_cuda;

namespace {

template <typename T>
__global__ void bilinear_forward_kernel(long total, long Hi, long Wi, long Ho, long Wo, double sh, double sw,
                                        DivMod dWo, DivMod dHo, const T* x, T* y) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, p;
    const long ow = dWo.divmod(idx, r);
    const long oh = dHo.divmod(r, p);
    const Tap th = source_tap(sh, oh, Hi), tw = source_tap(sw, ow, Wi);
    y[idx] = from_f<T>(bilinear_at(x + p * Hi * Wi, Wi, th, tw));
  }
}

template <typename T>
__global__ void bilinear_backward_kernel(long total, long Hi, long Wi, long Ho, long Wo, double sh, double sw,
                                         DivMod dWi, DivMod dHi, const T* dy, T* dx, int acc) {
  constexpr int kCache = 24;
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, p;
    const long iw = dWi.divmod(idx, r);
    const long ih = dHi.divmod(r, p);
    long oh0, oh1, ow0, ow1;
    output_range(sh, ih, Hi, Ho, oh0, oh1);
    output_range(sw, iw, Wi, Wo, ow0, ow1);
    const long nw = ow1 - ow0 + 1;
    float wcache[kCache];
    const bool cached = nw <= kCache;
    if (cached)
      for (long k = 0; k < nw; k++) wcache[k] = tap_weight(sw, ow0 + k, iw, Wi);
    float s = 0.f;
    for (long oh = oh0; oh <= oh1; oh++) {
      const float wh = tap_weight(sh, oh, ih, Hi);
      const T* row = dy + (p * Ho + oh) * Wo;
      float rs = 0.f;
      for (long ow = ow0; ow <= ow1; ow++) {
        const float ww = cached ? wcache[ow - ow0] : tap_weight(sw, ow, iw, Wi);
        rs += ww * to_f(row[ow]);
      }
      s += wh * rs;
    }
    dx[idx] = from_f<T>(acc ? to_f(dx[idx]) + s : s);
  }
}

template <typename E>
__global__ void nearest_kernel(long total, long Hi, long Wi, float sh, float sw, DivMod dWo, DivMod dHo,
                               const E* x, E* y) {
  for (long idx = (long)blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += (long)gridDim.x * blockDim.x) {
    long r, p;
    const long ow = dWo.divmod(idx, r);
    const long oh = dHo.divmod(r, p);
    // in float, as PyTorch's nearest_idx and the CPU twin: floorf(dst * scale), rounded product
    long ih = (long)floorf(__fmul_rn((float)oh, sh)), iw = (long)floorf(__fmul_rn((float)ow, sw));
    if (ih > Hi - 1) ih = Hi - 1;
    if (iw > Wi - 1) iw = Wi - 1;
    y[idx] = x[(p * Hi + ih) * Wi + iw];
  }
}

}  // namespace

#define RESIZE_CHECKS(name)                                                                       \
  HRDA_CHECK(NC >= 0 && Hi > 0 && Wi > 0 && Ho > 0 && Wo > 0,                                      \
             name ": sizes must be positive (NC %ld, in %ldx%ld, out %ldx%ld)", NC, Hi, Wi, Ho, Wo); \
  HRDA_CHECK(scale_h > 0 && scale_w > 0, name ": scales must be positive (%g, %g)", (double)scale_h, (double)scale_w)

extern "C" {

int hrda_cuda_resize_bilinear_forward(int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
                                      float scale_h, float scale_w, const void* x, void* y, void* stream) {
  RESIZE_CHECKS("resize_bilinear_forward"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  const long total = NC * Ho * Wo;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    bilinear_forward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        total, Hi, Wi, Ho, Wo, (double)scale_h, (double)scale_w, DivMod::make(Wo, total),
        DivMod::make(Ho, total / Wo), (const T*)x, (T*)y));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_resize_bilinear_backward(int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
                                       float scale_h, float scale_w, const void* dy, void* dx, int accumulate,
                                       void* stream) {
  RESIZE_CHECKS("resize_bilinear_backward"); HRDA_CHECK_PTR(dy); HRDA_CHECK_PTR(dx);
  const long total = NC * Hi * Wi;
  HRDA_DISPATCH_FLOAT(dtype,
    if (total == 0) return HRDA_OK;
    bilinear_backward_kernel<T><<<grid_for(total), kThreads, 0, as_stream(stream)>>>(
        total, Hi, Wi, Ho, Wo, (double)scale_h, (double)scale_w, DivMod::make(Wi, total),
        DivMod::make(Hi, total / Wi), (const T*)dy, (T*)dx, accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_resize_nearest(int dtype, long NC, long Hi, long Wi, long Ho, long Wo,
                             float scale_h, float scale_w, const void* x, void* y, void* stream) {
  RESIZE_CHECKS("resize_nearest"); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  const long total = NC * Ho * Wo;
  size_t es;
  switch (dtype) {
    case HRDA_F32: case HRDA_I32: es = 4; break;
    case HRDA_BF16: case HRDA_F16: es = 2; break;
    case HRDA_U8: es = 1; break;
    case HRDA_F64:
      return fail(HRDA_ERR_UNSUPPORTED, "resize_nearest: f64 is not supported by the CUDA library (f32, bf16, f16, i32 or u8)");
    default:
      return fail(HRDA_ERR_UNSUPPORTED, "resize_nearest: dtype %d (%s) not supported on CUDA", dtype, dtype_name(dtype));
  }
  if (total == 0) return HRDA_OK;
  const unsigned int g = grid_for(total);
  const DivMod dWo = DivMod::make(Wo, total), dHo = DivMod::make(Ho, total / Wo);
  cudaStream_t st = as_stream(stream);
  if (es == 4) nearest_kernel<<<g, kThreads, 0, st>>>(total, Hi, Wi, scale_h, scale_w, dWo, dHo, (const uint32_t*)x, (uint32_t*)y);
  else if (es == 2) nearest_kernel<<<g, kThreads, 0, st>>>(total, Hi, Wi, scale_h, scale_w, dWo, dHo, (const uint16_t*)x, (uint16_t*)y);
  else nearest_kernel<<<g, kThreads, 0, st>>>(total, Hi, Wi, scale_h, scale_w, dWo, dHo, (const uint8_t*)x, (uint8_t*)y);
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
