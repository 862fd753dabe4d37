/* AVX2 reductions. Built with -mavx2 -mfma; dispatched only where dispatch.cc found both. Each
 * kernel: main loop over whole vectors, then the tail to the scalar kernel. */
#include <immintrin.h>

#include "reduce.h"

namespace {

const size_t kLanes = 8;

inline __m256d square_lo(__m256 x) {
  const __m256d d = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
  return _mm256_mul_pd(d, d);
}

inline __m256d square_hi(__m256 x) {
  const __m256d d = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
  return _mm256_mul_pd(d, d);
}

inline double horizontal_sum(__m256d a) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

inline __m256 abs_ps(__m256 x) { return _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }

}  // namespace

extern "C" int all_zero_f32_avx2(const float *x, size_t n) {
  const __m256i magnitude = _mm256_set1_epi32(0x7fffffff);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    if (!_mm256_testz_si256(_mm256_castps_si256(_mm256_loadu_ps(x + i)), magnitude)) return 0;
  return all_zero_f32_scalar(x + i, n - i);
}

extern "C" ptrdiff_t first_non_finite_f32_avx2(const float *x, size_t n) {
  const __m256i exponent = _mm256_set1_epi32(0x7f800000);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256i e = _mm256_and_si256(_mm256_castps_si256(_mm256_loadu_ps(x + i)), exponent);
    const int hits = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(e, exponent)));
    if (hits) return static_cast<ptrdiff_t>(i) + __builtin_ctz(static_cast<unsigned>(hits));
  }
  const ptrdiff_t rest = first_non_finite_f32_scalar(x + i, n - i);
  return rest < 0 ? -1 : static_cast<ptrdiff_t>(i) + rest;
}

extern "C" double sum_sq_f32_avx2(const float *x, size_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 v = _mm256_loadu_ps(x + i);
    a0 = _mm256_add_pd(a0, square_lo(v));
    a1 = _mm256_add_pd(a1, square_hi(v));
  }
  return horizontal_sum(_mm256_add_pd(a0, a1)) + sum_sq_f32_scalar(x + i, n - i);
}

extern "C" double sum_abs_f32_avx2(const float *x, size_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 v = abs_ps(_mm256_loadu_ps(x + i));
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  return horizontal_sum(_mm256_add_pd(a0, a1)) + sum_abs_f32_scalar(x + i, n - i);
}

extern "C" float max_abs_f32_avx2(const float *x, size_t n) {
  /* maxps drops a NaN operand, so NaNs are collected in a mask of their own. */
  __m256 best = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const __m256 v = abs_ps(_mm256_loadu_ps(x + i));
    best = _mm256_max_ps(best, v);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  if (_mm256_movemask_ps(nan)) return __builtin_nanf("");
  float lanes[kLanes];
  _mm256_storeu_ps(lanes, best);
  float result = max_abs_f32_scalar(x + i, n - i);
  if (result != result) return result;
  for (size_t k = 0; k < kLanes; ++k)
    if (lanes[k] > result) result = lanes[k];
  return result;
}

extern "C" void scale_f32_avx2(float *x, size_t n, float factor) {
  const __m256 f = _mm256_set1_ps(factor);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), f));
  scale_f32_scalar(x + i, n - i, factor);
}
