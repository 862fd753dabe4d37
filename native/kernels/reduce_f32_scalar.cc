/* Scalar reductions: the bodies of reduce_body.h over scalar_ops, the baseline every CPU runs
 * and the C twin of the TypeScript reference; plus the one reduction with no vector version. */
#include "reduce_body.h"

SIMD_ADAM_REDUCE_KERNELS(scalar, scalar_ops)

extern "C" double sum_pow_abs_f32_scalar(const float *x, size_t n, double p) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += __builtin_pow(scalar_ops::abs(x[i]), p);
  return sum;
}
