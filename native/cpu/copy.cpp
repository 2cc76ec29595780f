// Box copy (concat/split/crop/insert) and batched transpose (CPU reference).
#include "cpu_common.hpp"

using namespace hrda_cpu;

template <typename E>
static void copy_box_t(long N, const E* src, long Cs, long Hs, long Ws, long cs, long hs, long ws,
                       E* dst, long Cd, long Hd, long Wd, long cd, long hd, long wd,
                       long Cc, long Hc, long Wc, bool acc) {
#pragma omp parallel for collapse(3) schedule(static) if (N * Cc * Hc * Wc > 32768)
  for (long n = 0; n < N; n++)
    for (long c = 0; c < Cc; c++)
      for (long h = 0; h < Hc; h++) {
        const E* s = src + ((n * Cs + cs + c) * Hs + hs + h) * Ws + ws;
        E* d = dst + ((n * Cd + cd + c) * Hd + hd + h) * Wd + wd;
        if (acc) for (long w = 0; w < Wc; w++) d[w] += s[w];
        else std::memcpy(d, s, sizeof(E) * (size_t)Wc);
      }
}

namespace {
// One tile of an f32 transpose: o [nc, nr] (row stride ldo) (+)= a [nr, nc]^T (row stride lda), nr, nc <= 32,
// through a local tile so that both the reads and the writes run along rows.
HRDA_CLONES void transpose_tile_f32(const float* a, long lda, float* o, long ldo, long nr, long nc, int acc) {
  float t[32][33];
  for (long r = 0; r < nr; r++)
    for (long c = 0; c < nc; c++) t[c][r] = a[r * lda + c];
  for (long c = 0; c < nc; c++) {
    float* d = o + c * ldo;
    if (acc) for (long r = 0; r < nr; r++) d[r] += t[c][r];
    else for (long r = 0; r < nr; r++) d[r] = t[c][r];
  }
}
}  // namespace

extern "C" {

int hrda_cpu_copy_box(int dtype, long N,
                      const void* src, long Cs, long Hs, long Ws, long cs, long hs, long ws,
                      void* dst, long Cd, long Hd, long Wd, long cd, long hd, long wd,
                      long Cc, long Hc, long Wc, int accumulate) {
  HRDA_CHECK_PTR(src); HRDA_CHECK_PTR(dst);
  HRDA_CHECK(N >= 0 && Cc >= 0 && Hc >= 0 && Wc >= 0, "copy_box: negative extent");
  HRDA_CHECK(cs >= 0 && hs >= 0 && ws >= 0 && cs + Cc <= Cs && hs + Hc <= Hs && ws + Wc <= Ws,
             "copy_box: source box [c %ld+%ld, h %ld+%ld, w %ld+%ld] outside source [%ld, %ld, %ld]",
             cs, Cc, hs, Hc, ws, Wc, Cs, Hs, Ws);
  HRDA_CHECK(cd >= 0 && hd >= 0 && wd >= 0 && cd + Cc <= Cd && hd + Hc <= Hd && wd + Wc <= Wd,
             "copy_box: destination box [c %ld+%ld, h %ld+%ld, w %ld+%ld] outside destination [%ld, %ld, %ld]",
             cd, Cc, hd, Hc, wd, Wc, Cd, Hd, Wd);
  switch (dtype) {
    case HRDA_I32:
      HRDA_CHECK(!accumulate, "copy_box: accumulate needs a float dtype");
      copy_box_t(N, (const int32_t*)src, Cs, Hs, Ws, cs, hs, ws, (int32_t*)dst, Cd, Hd, Wd, cd, hd, wd, Cc, Hc, Wc, false);
      return HRDA_OK;
    case HRDA_U8:
      HRDA_CHECK(!accumulate, "copy_box: accumulate needs a float dtype");
      copy_box_t(N, (const uint8_t*)src, Cs, Hs, Ws, cs, hs, ws, (uint8_t*)dst, Cd, Hd, Wd, cd, hd, wd, Cc, Hc, Wc, false);
      return HRDA_OK;
    default: break;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    copy_box_t(N, (const T*)src, Cs, Hs, Ws, cs, hs, ws, (T*)dst, Cd, Hd, Wd, cd, hd, wd, Cc, Hc, Wc, accumulate != 0);)
  return HRDA_OK;
}

int hrda_cpu_transpose(int dtype, long batch, long rows, long cols, const void* x, void* y, int accumulate) {
  HRDA_CHECK_SIZE(batch); HRDA_CHECK_SIZE(rows); HRDA_CHECK_SIZE(cols); HRDA_CHECK_PTR(x); HRDA_CHECK_PTR(y);
  if (dtype == HRDA_F32) {
    const float* a = (const float*)x; float* o = (float*)y; const long B = 32;
    const long tr = (rows + B - 1) / B, tc = (cols + B - 1) / B;
    _Pragma("omp parallel for collapse(3) schedule(static) if (batch * rows * cols > 32768)")
    for (long b = 0; b < batch; b++)
      for (long i = 0; i < tr; i++)
        for (long j = 0; j < tc; j++) {
          const long r0 = i * B, c0 = j * B;
          transpose_tile_f32(a + (b * rows + r0) * cols + c0, cols, o + (b * cols + c0) * rows + r0, rows,
                             std::min(B, rows - r0), std::min(B, cols - c0), accumulate);
        }
    return HRDA_OK;
  }
  HRDA_DISPATCH_FLOAT(dtype,
    const T* a = (const T*)x; T* o = (T*)y; const long B = 32;
    _Pragma("omp parallel for collapse(3) schedule(static) if (batch * rows * cols > 32768)")
    for (long b = 0; b < batch; b++)
      for (long r0 = 0; r0 < rows; r0 += B)
        for (long c0 = 0; c0 < cols; c0 += B)
          for (long r = r0; r < std::min(rows, r0 + B); r++)
            for (long c = c0; c < std::min(cols, c0 + B); c++) {
              const T v = a[(b * rows + r) * cols + c];
              T& d = o[(b * cols + c) * rows + r];
              d = accumulate ? d + v : v;
            })
  return HRDA_OK;
}

}  // extern "C"
