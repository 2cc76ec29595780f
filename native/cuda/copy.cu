// Box copy (concat/split/crop/insert) and batched transpose.
//
// Design: copy_box is one flat grid-stride map over the box with the (n, c, h, w) index split
// by multiply-high divisions; a plain copy moves raw elements (any 1/2/4-byte dtype, so i32
// and u8 label maps work too) in 16-byte packs when the box rows allow it, an accumulating copy
// adds in f32. transpose is the classic 32x32 shared-memory tile (padded against bank
// conflicts): coalesced reads of x rows and coalesced writes of y rows.
#include "cuda_common.cuh"

using namespace hrda_cuda;

namespace {

struct BoxGeom {
  long Cs, Hs, Ws, cs, hs, ws, Cd, Hd, Wd, cd, hd, wd;
  DivMod dW, dH, dC;  // box extents Wc, Hc, Cc
};

template <typename E, bool ACC> struct CopyBoxOp {
  const E* src; E* dst; BoxGeom g;
  template <int V> __device__ void run(long i) const {
    long r, r2, n;
    const long w = g.dW.divmod(i, r);
    const long h = g.dH.divmod(r, r2);
    const long c = g.dC.divmod(r2, n);
    const long so = ((n * g.Cs + g.cs + c) * g.Hs + g.hs + h) * g.Ws + g.ws + w;
    const long dO = ((n * g.Cd + g.cd + c) * g.Hd + g.hd + h) * g.Wd + g.wd + w;
    if constexpr (ACC) {
      float a[V], b[V];
      load_f<V>(src + so, a);
      load_f<V>(dst + dO, b);
#pragma unroll
      for (int j = 0; j < V; j++) b[j] += a[j];
      store_f<V>(dst + dO, b);
    } else {
      *reinterpret_cast<Pack<E, V>*>(dst + dO) = *reinterpret_cast<const Pack<E, V>*>(src + so);
    }
  }
};

template <typename E, bool ACC>
void copy_box_launch(long n, const void* src, void* dst, const BoxGeom& g, long Wc, cudaStream_t st) {
  constexpr long V = vec_width<E>();
  // every pack must start V-aligned in both tensors and stay inside one box row
  const bool vec = aligned16(src) && aligned16(dst) && Wc % V == 0 && g.Ws % V == 0 && g.Wd % V == 0 &&
                   g.ws % V == 0 && g.wd % V == 0;
  launch_map<E>(n, CopyBoxOp<E, ACC>{(const E*)src, (E*)dst, g}, vec, 0, st);
}

template <typename T>
__global__ void transpose_kernel(long batch, long rows, long cols, const T* x, T* y, int acc) {
  __shared__ float tile[32][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const long c0 = (long)blockIdx.x * 32;
  for (long b = blockIdx.z; b < batch; b += gridDim.z) {
    const T* xb = x + b * rows * cols;
    T* yb = y + b * rows * cols;
    for (long r0 = (long)blockIdx.y * 32; r0 < rows; r0 += (long)gridDim.y * 32) {
      for (int k = ty; k < 32; k += 8) {
        const long r = r0 + k, c = c0 + tx;
        if (r < rows && c < cols) tile[k][tx] = to_f(xb[r * cols + c]);
      }
      __syncthreads();
      for (int k = ty; k < 32; k += 8) {
        const long c = c0 + k, r = r0 + tx;
        if (c < cols && r < rows) {
          T* d = yb + c * rows + r;
          const float v = tile[tx][k];
          *d = from_f<T>(acc ? to_f(*d) + v : v);
        }
      }
      __syncthreads();
    }
  }
}

}  // namespace

extern "C" {

int hrda_cuda_copy_box(int dtype, long N,
                       const void* src, long Cs, long Hs, long Ws, long cs, long hs, long ws,
                       void* dst, long Cd, long Hd, long Wd, long cd, long hd, long wd,
                       long Cc, long Hc, long Wc, int accumulate, void* stream) {
  HRDA_CHECK_PTR(src); HRDA_CHECK_PTR(dst);
  HRDA_CHECK(N >= 0 && Cc >= 0 && Hc >= 0 && Wc >= 0, "copy_box: negative extent");
  HRDA_CHECK(cs >= 0 && hs >= 0 && ws >= 0 && cs + Cc <= Cs && hs + Hc <= Hs && ws + Wc <= Ws,
             "copy_box: source box [c %ld+%ld, h %ld+%ld, w %ld+%ld] outside source [%ld, %ld, %ld]",
             cs, Cc, hs, Hc, ws, Wc, Cs, Hs, Ws);
  HRDA_CHECK(cd >= 0 && hd >= 0 && wd >= 0 && cd + Cc <= Cd && hd + Hc <= Hd && wd + Wc <= Wd,
             "copy_box: destination box [c %ld+%ld, h %ld+%ld, w %ld+%ld] outside destination [%ld, %ld, %ld]",
             cd, Cc, hd, Hc, wd, Wc, Cd, Hd, Wd);
  const long n = N * Cc * Hc * Wc;
  const bool integer = dtype == HRDA_I32 || dtype == HRDA_U8;
  if (integer) HRDA_CHECK(!accumulate, "copy_box: accumulate needs a float dtype");
  if (dtype == HRDA_F64)
    return fail(HRDA_ERR_UNSUPPORTED, "copy_box: f64 is not supported by the CUDA library (f32, bf16, f16, i32 or u8)");
  if (!integer && dtype != HRDA_F32 && dtype != HRDA_BF16 && dtype != HRDA_F16)
    return fail(HRDA_ERR_UNSUPPORTED, "copy_box: dtype %d (%s) not supported on CUDA", dtype, dtype_name(dtype));
  if (n == 0) return HRDA_OK;
  const BoxGeom g{Cs, Hs, Ws, cs, hs, ws, Cd, Hd, Wd, cd, hd, wd,
                  DivMod::make(Wc, n), DivMod::make(Hc, n / Wc), DivMod::make(Cc, n / (Wc * Hc))};
  cudaStream_t st = as_stream(stream);
  if (!accumulate) {
    switch (dtype) {
      case HRDA_U8: copy_box_launch<uint8_t, false>(n, src, dst, g, Wc, st); break;
      case HRDA_BF16: case HRDA_F16: copy_box_launch<uint16_t, false>(n, src, dst, g, Wc, st); break;
      default: copy_box_launch<uint32_t, false>(n, src, dst, g, Wc, st); break;
    }
  } else {
    HRDA_DISPATCH_FLOAT(dtype, copy_box_launch<T, true>(n, src, dst, g, Wc, st));
  }
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

int hrda_cuda_transpose(int dtype, long batch, long rows, long cols, const void* x, void* y, int accumulate, void* stream) {
  HRDA_CHECK_SIZE(batch); HRDA_CHECK_SIZE(rows); HRDA_CHECK_SIZE(cols); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  HRDA_DISPATCH_FLOAT(dtype,
    if (batch == 0 || rows == 0 || cols == 0) return HRDA_OK;
    const long ct = ceil_div(cols, 32), rt = ceil_div(rows, 32);
    HRDA_CHECK(ct < (1L << 31), "transpose: %ld columns is too many", cols);
    const dim3 grid((unsigned int)ct, (unsigned int)(rt < 65535 ? rt : 65535),
                    (unsigned int)(batch < 65535 ? batch : 65535));
    transpose_kernel<T><<<grid, dim3(32, 8), 0, as_stream(stream)>>>(batch, rows, cols, (const T*)x, (T*)y,
                                                                      accumulate != 0));
  HRDA_LAUNCH_CHECK();
  return HRDA_OK;
}

}  // extern "C"
