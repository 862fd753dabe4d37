/* The read-only pre-pass of a step: runs over the decoded segments, inside the step's native
 * crossing, before any kernel writes. It is what lets nonFinite 'skip' and 'throw' promise that
 * a refused step changed nothing, and what gives warnOnZeroGrad its all-zero facts. */
#ifndef SIMD_ADAM_GUARD_H
#define SIMD_ADAM_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/reduce.h"

/* Pre-pass flags (exported to TypeScript as planLayout.guard). */
enum {
  GUARD_NON_FINITE = 1u << 0, /* refuse the step if any grad holds NaN or ±Inf */
  GUARD_ZERO_SCAN = 1u << 1,  /* report, per segment, which arrays are all zero */
};

/* Bits of a segment's zero report. The param and exp_avg are examined only when the grad is all
 * zero: they decide whether weight decay or momentum will still move the parameter. */
enum {
  ZERO_GRAD = 1u << 0,
  ZERO_PARAM = 1u << 1,
  ZERO_EXP_AVG = 1u << 2,
};

typedef struct guard_segment {
  const float *param;
  const float *grad;
  const float *exp_avg;
  size_t n;
} guard_segment;

/* Returns false, with the first offending segment and element, if GUARD_NON_FINITE is set and
 * some grad is not finite; the zero report is then incomplete and must not be used. Otherwise
 * fills zero_report[0..count) when GUARD_ZERO_SCAN is set and returns true. */
bool step_prepass(const reduce_kernels *k, const guard_segment *segments, size_t count, unsigned flags,
                  uint8_t *zero_report, size_t *bad_segment, size_t *bad_element);

#endif
