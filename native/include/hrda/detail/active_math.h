/* Rules of the active.h ops shared by the CPU twin and the CUDA kernels (internal: not part of the
 * ABI, not read by tools/gen_bindings.py): the pick order of RIPU's greedy loop, the clipped
 * window bounds and the tile grid both selection loops keep their running maxima on. */
#ifndef HRDA_DETAIL_ACTIVE_MATH_H
#define HRDA_DETAIL_ACTIVE_MATH_H
#include <math.h>
#include "hrda/common.h"  /* HRDA_HD */

namespace hrda_active {

/* The selection keeps each tile's best (value, key) and the best over the tiles. */
constexpr long kTileH = 32, kTileW = 32;

/* build.py picks with two torch.max calls (over rows per column, then over the column maxima),
 * each taking the first maximum and counting NaN as the largest value: the order is the value,
 * then the lowest column-major key = w * H + h. True when (va, ka) is picked before (vb, kb). */
template <typename S> HRDA_HD bool picked_before(S va, long ka, S vb, long kb) {
  const bool na = va != va, nb = vb != vb;
  if (na || nb) return na && (!nb || ka < kb);
  return va > vb || (va == vb && ka < kb);
}

/* Rows (or columns) c - r .. c + r clipped to 0 .. n - 1: build.py's slices start at max(c - r, 0)
 * and Python slicing clips the end. */
HRDA_HD long window_lo(long c, long r) { return c - r > 0 ? c - r : 0; }
HRDA_HD long window_hi(long c, long r, long n) { return c + r < n - 1 ? c + r : n - 1; }

}  // namespace hrda_active

#endif
