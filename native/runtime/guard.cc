#include "guard.h"

bool step_prepass(const reduce_kernels *k, const guard_segment *segments, size_t count, unsigned flags,
                  uint8_t *zero_report, size_t *bad_segment, size_t *bad_element) {
  if (flags & GUARD_NON_FINITE) {
    for (size_t s = 0; s < count; ++s) {
      const ptrdiff_t at = k->first_non_finite(segments[s].grad, segments[s].n);
      if (at >= 0) {
        *bad_segment = s;
        *bad_element = static_cast<size_t>(at);
        return false;
      }
    }
  }
  if (flags & GUARD_ZERO_SCAN) {
    for (size_t s = 0; s < count; ++s) {
      const guard_segment &g = segments[s];
      uint8_t bits = 0;
      if (k->all_zero(g.grad, g.n)) {
        bits |= ZERO_GRAD;
        if (k->all_zero(g.param, g.n)) bits |= ZERO_PARAM;
        if (g.exp_avg != nullptr && k->all_zero(g.exp_avg, g.n)) bits |= ZERO_EXP_AVG;
      }
      zero_report[s] = bits;
    }
  }
  return true;
}
