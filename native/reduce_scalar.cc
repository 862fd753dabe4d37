/* Scalar reductions: the baseline, the tail of every vector kernel, and the C twin of
 * src/reduce.ts. Bit tests rather than isnan/isinf/fabsf: no library calls in kernel files. */
#include "reduce.h"

#include <string.h>

namespace {

inline uint32_t bits_of(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

inline float abs_of(float x) {
  const uint32_t b = bits_of(x) & 0x7fffffffu;
  memcpy(&x, &b, sizeof x);
  return x;
}

}  // namespace

extern "C" int all_zero_f32_scalar(const float *x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (bits_of(x[i]) & 0x7fffffffu) return 0;
  return 1;
}

extern "C" ptrdiff_t first_non_finite_f32_scalar(const float *x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if ((bits_of(x[i]) & 0x7f800000u) == 0x7f800000u) return static_cast<ptrdiff_t>(i);
  return -1;
}

extern "C" double sum_sq_f32_scalar(const float *x, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double v = x[i];
    sum += v * v;
  }
  return sum;
}

extern "C" double sum_abs_f32_scalar(const float *x, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += abs_of(x[i]);
  return sum;
}

extern "C" float max_abs_f32_scalar(const float *x, size_t n) {
  float best = 0;
  for (size_t i = 0; i < n; ++i) {
    const float a = abs_of(x[i]);
    if (a != a) return a;
    if (a > best) best = a;
  }
  return best;
}

extern "C" void scale_f32_scalar(float *x, size_t n, float factor) {
  for (size_t i = 0; i < n; ++i) x[i] = x[i] * factor;
}

extern "C" double sum_pow_abs_f32_scalar(const float *x, size_t n, double p) {
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += __builtin_pow(abs_of(x[i]), p);
  return sum;
}
