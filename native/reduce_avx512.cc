/* AVX-512F reductions. Built with -mavx512f; dispatched only where dispatch.cc found it. Each
 * kernel: main loop over whole vectors, then the tail to the scalar kernel. */
#include <immintrin.h>

#include "reduce.h"

namespace {

const size_t kLanes = 16;

/* _mm512_extractf32x8_ps needs AVX512DQ; the 64-bit extract is in AVX512F. (For the low half
 * it also avoids GCC 12's false "uninitialized" warning on _mm512_castps512_ps256.) */
inline __m512d widen_lo(__m512 x) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 0)));
}

inline __m512d widen_hi(__m512 x) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}

/* A store and a loop rather than _mm512_reduce_add_pd, which GCC 12 flags with a false
 * "used uninitialized" warning from inside its own header. */
inline double horizontal_sum(__m512d a) {
  double lanes[8];
  _mm512_storeu_pd(lanes, a);
  return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

}  // namespace

extern "C" int all_zero_f32_avx512(const float *x, size_t n) {
  const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    if (_mm512_test_epi32_mask(_mm512_castps_si512(_mm512_loadu_ps(x + i)), magnitude)) return 0;
  return all_zero_f32_scalar(x + i, n - i);
}

extern "C" ptrdiff_t first_non_finite_f32_avx512(const float *x, size_t n) {
  const __m512i exponent = _mm512_set1_epi32(0x7f800000);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m512i e = _mm512_and_si512(_mm512_castps_si512(_mm512_loadu_ps(x + i)), exponent);
    const __mmask16 hits = _mm512_cmpeq_epi32_mask(e, exponent);
    if (hits) return static_cast<ptrdiff_t>(i) + __builtin_ctz(static_cast<unsigned>(hits));
  }
  const ptrdiff_t rest = first_non_finite_f32_scalar(x + i, n - i);
  return rest < 0 ? -1 : static_cast<ptrdiff_t>(i) + rest;
}

extern "C" double sum_sq_f32_avx512(const float *x, size_t n) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m512 v = _mm512_loadu_ps(x + i);
    const __m512d lo = widen_lo(v), hi = widen_hi(v);
    a0 = _mm512_add_pd(a0, _mm512_mul_pd(lo, lo));
    a1 = _mm512_add_pd(a1, _mm512_mul_pd(hi, hi));
  }
  return horizontal_sum(_mm512_add_pd(a0, a1)) + sum_sq_f32_scalar(x + i, n - i);
}

extern "C" double sum_abs_f32_avx512(const float *x, size_t n) {
  __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m512 v = _mm512_abs_ps(_mm512_loadu_ps(x + i));
    a0 = _mm512_add_pd(a0, widen_lo(v));
    a1 = _mm512_add_pd(a1, widen_hi(v));
  }
  return horizontal_sum(_mm512_add_pd(a0, a1)) + sum_abs_f32_scalar(x + i, n - i);
}

extern "C" float max_abs_f32_avx512(const float *x, size_t n) {
  /* maxps drops a NaN operand, so NaNs are collected in a mask of their own. */
  __m512 best = _mm512_setzero_ps();
  __mmask16 nan = 0;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m512 v = _mm512_abs_ps(_mm512_loadu_ps(x + i));
    best = _mm512_max_ps(best, v);
    nan = static_cast<__mmask16>(nan | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
  }
  if (nan) return __builtin_nanf("");
  const float rest = max_abs_f32_scalar(x + i, n - i);
  if (rest != rest) return rest;
  const float vector = _mm512_reduce_max_ps(best);
  return vector > rest ? vector : rest;
}

extern "C" void scale_f32_avx512(float *x, size_t n, float factor) {
  const __m512 f = _mm512_set1_ps(factor);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), f));
  scale_f32_scalar(x + i, n - i, factor);
}
