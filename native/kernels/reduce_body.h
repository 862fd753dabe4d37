/* The reductions, written once over the same per-ISA operations as Adam (ops_<isa>.h): the
 * read-only passes behind the non-finite guard, explain()'s all-zero test and clipGradNorm.
 * Each runs whole vectors, then the rest over scalar_ops, so the scalar kernels are these
 * bodies over scalar_ops alone. SIMD_ADAM_REDUCE_KERNELS(isa, O) defines one ISA's table
 * (reduce.h). Everything else has internal linkage, as in adam_body.h. */
#ifndef SIMD_ADAM_REDUCE_BODY_H
#define SIMD_ADAM_REDUCE_BODY_H

#include "ops_scalar.h"
#include "reduce.h"

namespace {

template <class O>
int reduce_all_zero(const float *x, size_t n) {
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes)
    if (O::any_nonzero(O::load(x + i))) return 0;
  for (; i < n; ++i)
    if (scalar_ops::any_nonzero(x[i])) return 0;
  return 1;
}

/* The vector loop only finds the first vector holding a non-finite value; the scalar loop then
 * finds its lane. */
template <class O>
ptrdiff_t reduce_first_non_finite(const float *x, size_t n) {
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes)
    if (O::any_non_finite(O::load(x + i))) break;
  for (; i < n; ++i)
    if (scalar_ops::any_non_finite(x[i])) return static_cast<ptrdiff_t>(i);
  return -1;
}

/* Sums in double: a float square is exact in double, so the only error is the summation's. The
 * order of the sum depends on the vector width, so ISAs agree to rounding, not bit for bit. */
template <class O, bool squares>
double reduce_sum(const float *x, size_t n) {
  typename O::D lo = O::zero_d(), hi = O::zero_d();
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    const typename O::V v = O::load(x + i);
    if (squares) O::add_wide_squares(lo, hi, v);
    else O::add_wide(lo, hi, O::abs(v));
  }
  double rest = 0, unused = 0;
  for (; i < n; ++i) {
    if (squares) scalar_ops::add_wide_squares(rest, unused, x[i]);
    else scalar_ops::add_wide(rest, unused, scalar_ops::abs(x[i]));
  }
  return O::sum_d(O::add_d(lo, hi)) + rest;
}

/* max |x|; NaN as soon as one element is NaN (torch.max propagates NaN, and max drops it). */
template <class O>
float reduce_max_abs(const float *x, size_t n) {
  typename O::V best = O::set1(0.0f);
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    const typename O::V v = O::abs(O::load(x + i));
    if (O::any_nan(v)) return __builtin_nanf("");
    best = O::max(best, v);
  }
  float result = O::max_lane(best);
  for (; i < n; ++i) {
    const float a = scalar_ops::abs(x[i]);
    if (a != a) return a;
    if (a > result) result = a;
  }
  return result;
}

/* x = x * factor, one rounding per element: bit-identical on every ISA. */
template <class O>
void reduce_scale(float *x, size_t n, float factor) {
  const typename O::V f = O::set1(factor);
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) O::store(x + i, O::mul(O::load(x + i), f));
  for (; i < n; ++i) x[i] = x[i] * factor;
}

}  // namespace

/* One ISA's table of reductions, the only symbol its file exports. */
#define SIMD_ADAM_REDUCE_KERNELS(isa, O)                                                                 \
  extern "C" const reduce_kernels *reduce_kernels_##isa(void) {                                          \
    static const reduce_kernels k = {reduce_all_zero<O>, reduce_first_non_finite<O>, reduce_sum<O, true>, \
                                     reduce_sum<O, false>, reduce_max_abs<O>,         reduce_scale<O>};   \
    return &k;                                                                                           \
  }

#endif
