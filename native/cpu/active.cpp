// RIPU acquisition on the CPU (active.h): the reference twin, f64 accumulation.
//  - scores: per image, pass 1 (parallel over pixels) stores the arg-max label and the pixel
//    entropy (f64); pass 2 splits the rows into one contiguous band per thread. A band keeps the
//    vertical window counts of every class per column (int, K x W), updated by one row in and one
//    row out as it moves down, and per row slides a horizontal window over them: exact integer box
//    sums, O(K H W) time, O(K W) memory per thread. The entropy window sum is a direct sum in a
//    fixed order (rows, then columns), so nothing depends on the number of threads.
//  - selection: the loop of build.py, with each 32x32 tile's best (value, key) cached; a pick
//    scans the tiles, suppresses its window and rescans only the tiles the window touched.
#include "cpu_common.hpp"
#include "hrda/detail/active_math.h"
#include "hrda/detail/op_checks.h"
#include <limits>
#include <vector>

using namespace hrda_active;

namespace {

constexpr long kParallelWork = 32768;

// -x log(x + 1e-6), the term of both entropies (floating_region.py / spatial_purity.py)
inline double ent_term(double x) { return -x * std::log(x + 1e-6); }

template <typename T>
void label_entropy_t(long K, long HW, const T* p, double norm, int* label, double* ent) {
#pragma omp parallel for schedule(static) if (K * HW > kParallelWork)
  for (long i = 0; i < HW; i++) {
    long best = 0;
    double e = 0;
    for (long c = 0; c < K; c++) {
      const T x = p[c * HW + i];
      if (x > p[best * HW + i]) best = c;
      e += ent_term((double)x);
    }
    label[i] = (int)best;
    ent[i] = e / norm;
  }
}

// rows [h0, h1) of one image
template <typename T>
void score_rows_t(long K, long H, long W, long r, bool pixel_u, double norm, const int* label, const double* ent,
                  long h0, long h1, T* score, T* impurity, T* uncertainty) {
  std::vector<int> col(K * W, 0);    // col[c * W + w]: pixels labelled c in the window's rows at column w
  std::vector<long> total(K, 0);     // row sums of col: classes absent from the whole band row are skipped
  std::vector<double> pacc(W), vsum(pixel_u ? 0 : W);
  auto add_row = [&](long u, int d) {
    const int* lr = label + u * W;
    for (long w = 0; w < W; w++) { col[lr[w] * W + w] += d; total[lr[w]] += d; }
  };
  for (long u = window_lo(h0, r); u <= window_hi(h0, r, H); u++) add_row(u, 1);
  for (long h = h0; h < h1; h++) {
    if (h > h0) {
      if (h + r < H) add_row(h + r, 1);
      if (h - r - 1 >= 0) add_row(h - r - 1, -1);
    }
    const long rlo = window_lo(h, r), rhi = window_hi(h, r, H), rows = rhi - rlo + 1;
    std::fill(pacc.begin(), pacc.end(), 0.0);
    for (long c = 0; c < K; c++) {
      if (total[c] == 0) continue;
      const int* cc = col.data() + c * W;
      long s = 0;
      for (long v = 0; v <= window_hi(0, r, W); v++) s += cc[v];
      for (long w = 0; w < W; w++) {
        if (s > 0) {
          const double n = (double)(rows * (window_hi(w, r, W) - window_lo(w, r) + 1));
          pacc[w] += ent_term((double)s / n);
        }
        if (w + r + 1 < W) s += cc[w + r + 1];
        if (w - r >= 0) s -= cc[w - r];
      }
    }
    if (!pixel_u) {
      for (long w = 0; w < W; w++) {
        double s = 0;
        for (long u = rlo; u <= rhi; u++) s += ent[u * W + w];
        vsum[w] = s;
      }
    }
    for (long w = 0; w < W; w++) {
      const double P = pacc[w] / norm;
      double U;
      if (pixel_u) {
        U = ent[h * W + w];
      } else {
        const long clo = window_lo(w, r), chi = window_hi(w, r, W);
        double s = 0;
        for (long v = clo; v <= chi; v++) s += vsum[v];
        U = s / (double)(rows * (chi - clo + 1));
      }
      score[h * W + w] = (T)(P * U);
      if (impurity) impurity[h * W + w] = (T)P;
      if (uncertainty) uncertainty[h * W + w] = (T)U;
    }
  }
}

template <typename T>
void score_t(long B, long K, long H, long W, long r, bool pixel_u, double norm, const T* prob, T* score, T* impurity,
             T* uncertainty) {
  const long HW = H * W;
  std::vector<int> label(HW);
  std::vector<double> ent(HW);
  for (long b = 0; b < B; b++) {
    label_entropy_t<T>(K, HW, prob + b * K * HW, norm, label.data(), ent.data());
    T* imp = impurity ? impurity + b * HW : nullptr;
    T* unc = uncertainty ? uncertainty + b * HW : nullptr;
#pragma omp parallel if (K * HW > kParallelWork)
    {
      const long nt = omp_get_num_threads(), t = omp_get_thread_num();
      const long h0 = H * t / nt, h1 = H * (t + 1) / nt;
      if (h0 < h1)
        score_rows_t<T>(K, H, W, r, pixel_u, norm, label.data(), ent.data(), h0, h1, score + b * HW, imp, unc);
    }
  }
}

// The best (value, key) of tile (ty, tx), key = w * H + h.
template <typename T>
void tile_best(long H, long W, const T* s, long ty, long tx, T& bv, long& bk) {
  bv = -std::numeric_limits<T>::infinity();
  bk = std::numeric_limits<long>::max();
  const long hlo = ty * kTileH, hhi = std::min(H, hlo + kTileH), wlo = tx * kTileW, whi = std::min(W, wlo + kTileW);
  for (long h = hlo; h < hhi; h++)
    for (long w = wlo; w < whi; w++)
      if (picked_before(s[h * W + w], w * H + h, bv, bk)) { bv = s[h * W + w]; bk = w * H + h; }
}

template <typename T>
void select_one_t(long H, long W, long count, long ar, long mr, T* s, unsigned char* active, unsigned char* selected,
                  int* picks, T* pick_score) {
  const T ninf = -std::numeric_limits<T>::infinity();
  for (long i = 0; i < H * W; i++)
    if (active[i]) s[i] = ninf;
  const long th = (H + kTileH - 1) / kTileH, tw = (W + kTileW - 1) / kTileW;
  std::vector<T> tv(th * tw);
  std::vector<long> tk(th * tw);
  for (long ty = 0; ty < th; ty++)
    for (long tx = 0; tx < tw; tx++) tile_best(H, W, s, ty, tx, tv[ty * tw + tx], tk[ty * tw + tx]);
  for (long j = 0; j < count; j++) {
    long bt = 0;
    for (long t = 1; t < th * tw; t++)
      if (picked_before(tv[t], tk[t], tv[bt], tk[bt])) bt = t;
    const long key = tk[bt], w = key / H, h = key - w * H;
    picks[2 * j] = (int)h;
    picks[2 * j + 1] = (int)w;
    if (pick_score) pick_score[j] = tv[bt];
    const long h0 = window_lo(h, mr), h1 = window_hi(h, mr, H), w0 = window_lo(w, mr), w1 = window_hi(w, mr, W);
    for (long u = h0; u <= h1; u++)
      for (long v = w0; v <= w1; v++) { s[u * W + v] = ninf; active[u * W + v] = 1; }
    for (long u = window_lo(h, ar); u <= window_hi(h, ar, H); u++)
      for (long v = window_lo(w, ar); v <= window_hi(w, ar, W); v++) selected[u * W + v] = 1;
    for (long ty = h0 / kTileH; ty <= h1 / kTileH; ty++)
      for (long tx = w0 / kTileW; tx <= w1 / kTileW; tx++) tile_best(H, W, s, ty, tx, tv[ty * tw + tx], tk[ty * tw + tx]);
  }
}

// images in parallel, each loop serial
template <typename T>
void select_t(long B, long H, long W, long count, long ar, long mr, T* score, unsigned char* active,
              unsigned char* selected, int* picks, T* pick_score) {
  const long HW = H * W;
#pragma omp parallel for schedule(dynamic, 1) if (B > 1)
  for (long b = 0; b < B; b++)
    select_one_t<T>(H, W, count, ar, mr, score + b * HW, active + b * HW, selected + b * HW, picks + 2 * b * count,
                    pick_score ? pick_score + b * count : nullptr);
}

}  // namespace

extern "C" {

int hrda_cpu_active_score(int dtype, long B, long K, long H, long W, long radius, int pixel_uncertainty, double norm,
                          const void* prob, void* score, void* impurity, void* uncertainty) {
  HRDA_ACTIVE_SCORE_CHECKS("active_score");
  HRDA_DISPATCH_FLOAT(dtype, score_t<T>(B, K, H, W, radius, pixel_uncertainty == 1, norm, (const T*)prob, (T*)score,
                                        (T*)impurity, (T*)uncertainty));
  return HRDA_OK;
}

int hrda_cpu_active_select(int dtype, long B, long H, long W, long count, long active_radius, long mask_radius,
                           void* score, unsigned char* active, unsigned char* selected, int* picks, void* pick_score) {
  HRDA_ACTIVE_SELECT_CHECKS("active_select");
  HRDA_DISPATCH_FLOAT(dtype, select_t<T>(B, H, W, count, active_radius, mask_radius, (T*)score, active, selected,
                                         picks, (T*)pick_score));
  return HRDA_OK;
}

int hrda_cpu_active_reveal(long n, const unsigned char* selected, const int* gt, int ignore_index, int* mask) {
  HRDA_ACTIVE_REVEAL_CHECKS("active_reveal");
#pragma omp parallel for schedule(static) if (n > kParallelWork)
  for (long i = 0; i < n; i++) mask[i] = selected[i] ? gt[i] : ignore_index;
  return HRDA_OK;
}

}  // extern "C"
