/* AVX2 operations (x86-64-v3). Include only in files built with -mavx2 -mfma; nothing here may
 * run on an older CPU. FMA is allowed by the flags but never emitted: -ffp-contract=off. */
#ifndef SIMD_ADAM_OPS_AVX2_H
#define SIMD_ADAM_OPS_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

namespace {

struct avx2_ops {
  typedef __m256 V;
  typedef __m256d D;
  static const size_t lanes = 8;
  static V load(const float *p) { return _mm256_loadu_ps(p); }
  static void store(float *p, V x) { _mm256_storeu_ps(p, x); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V sqrt(V a) { return _mm256_sqrt_ps(a); }
  static V sign_mask(bool on) { return _mm256_castsi256_ps(_mm256_set1_epi32(on ? (int)0x80000000u : 0)); }
  static V flip_sign(V x, V sign) { return _mm256_xor_ps(x, sign); }
  /* maxps returns b unless a > b, so only a NaN in a needs patching in. */
  static V max_nan(V a, V b) { return _mm256_blendv_ps(_mm256_max_ps(a, b), a, _mm256_cmp_ps(a, a, _CMP_UNORD_Q)); }

  /* Reduced-precision state (adam_lowbit.h). */
  typedef __m256i VI;
  typedef __m256 M;
  static V load_bf16(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))), 16));
  }
  /* scalar_ops::round_bf16 on every lane. */
  static void store_bf16(uint16_t *p, V x) {
    const __m256i b = _mm256_castps_si256(x);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(b, _mm256_set1_epi32(0x7fff)), lsb), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(b, 16), _mm256_set1_epi32(0x40));
    r = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(quiet), _mm256_cmp_ps(x, x, _CMP_UNORD_Q)));
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i *>(p), packed);
  }
  static VI load_u8(const uint8_t *p) { return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p))); }
  static void store_u8(uint8_t *p, VI c) {
    const __m128i w = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i *>(p), _mm_packus_epi16(w, w));
  }
  static VI set1_i(uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
  template <int K>
  static VI srli(VI c) { return _mm256_srli_epi32(c, K); }
  /* table[i] for a float table of N entries (the 256-entry maps): one gather. A blendv is
   * several uops, so a tree of 8-entry permutes grows faster than a gather: measured on the 8-bit
   * kernel in cache (Xeon), gathers from 32 entries 4.65 ns/element, from 64 5.0, from 128 6.7,
   * permutes throughout 15.2. */
  static V lookup(const float *table, VI i) { return _mm256_i32gather_ps(table, i, 4); }

  /* table[i] for a uint32 table of N entries, i < N (the code tables, thousands of entries). */
  static VI lookup(const uint32_t *table, VI i) { return _mm256_i32gather_epi32(reinterpret_cast<const int *>(table), i, 4); }
  static VI bits(V x) { return _mm256_castps_si256(x); }
  static V from_bits(VI x) { return _mm256_castsi256_ps(x); }
  static VI max_u(VI a, VI b) { return _mm256_max_epu32(a, b); }
  static VI min_u(VI a, VI b) { return _mm256_min_epu32(a, b); }
  static VI max_i(VI a, VI b) { return _mm256_max_epi32(a, b); }
  static VI min_i(VI a, VI b) { return _mm256_min_epi32(a, b); }
  static VI and_i(VI a, VI b) { return _mm256_and_si256(a, b); }
  static VI xor_i(VI a, VI b) { return _mm256_xor_si256(a, b); }
  /* The lanes of m where a & bits is not 0; all lanes; whether m has all lanes. */
  static M and_test(M m, VI a, VI bits) {
    return _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(a, bits), _mm256_setzero_si256())), m);
  }
  static M all_m() { return _mm256_castsi256_ps(_mm256_set1_epi32(-1)); }
  static bool all(M m) { return _mm256_movemask_ps(m) == 0xff; }
  static VI add_i(VI a, VI b) { return _mm256_add_epi32(a, b); }
  template <int K>
  static VI srai(VI c) { return _mm256_srai_epi32(c, K); }

  static V abs(V x) { return _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff))); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static bool any_nonzero(V x) {
    return !_mm256_testz_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7fffffff));
  }
  static bool any_non_finite(V x) {
    const __m256i exponent = _mm256_set1_epi32(0x7f800000);
    const __m256i e = _mm256_and_si256(_mm256_castps_si256(x), exponent);
    return _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(e, exponent))) != 0;
  }
  static bool any_nan(V x) { return _mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)) != 0; }
  static float max_lane(V x) {
    const __m128 h = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    const __m128 q = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(q, _mm_shuffle_ps(q, q, 1)));
  }
  static D zero_d() { return _mm256_setzero_pd(); }
  static void add_wide(D &lo, D &hi, V x) {
    lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(x)));
    hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  }
  static void add_wide_squares(D &lo, D &hi, V x) {
    const D l = _mm256_cvtps_pd(_mm256_castps256_ps128(x)), h = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
    lo = _mm256_add_pd(lo, _mm256_mul_pd(l, l));
    hi = _mm256_add_pd(hi, _mm256_mul_pd(h, h));
  }
  static D add_d(D a, D b) { return _mm256_add_pd(a, b); }
  static double sum_d(D a) {
    const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

}  // namespace

#endif
