/* AVX-512F operations. Include only in files built with -mavx512f; nothing here may run on an
 * older CPU. Only AVX512F instructions: the DQ and BW extensions are not assumed. */
#ifndef SIMD_ADAM_OPS_AVX512_H
#define SIMD_ADAM_OPS_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

namespace {

struct avx512_ops {
  typedef __m512 V;
  typedef __m512d D;
  static const size_t lanes = 16;
  static V load(const float *p) { return _mm512_loadu_ps(p); }
  static void store(float *p, V x) { _mm512_storeu_ps(p, x); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V sqrt(V a) { return _mm512_sqrt_ps(a); }
  static V sign_mask(bool on) { return _mm512_castsi512_ps(_mm512_set1_epi32(on ? (int)0x80000000u : 0)); }
  /* _mm512_xor_ps needs AVX512DQ; the integer xor is in AVX512F. */
  static V flip_sign(V x, V sign) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_castps_si512(sign)));
  }
  /* maxps returns b unless a > b, so only a NaN in a needs patching in. */
  static V max_nan(V a, V b) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), _mm512_max_ps(a, b), a); }

  /* Reduced-precision state (adam_lowbit.h). */
  typedef __m512i VI;
  typedef __mmask16 M;
  static V load_bf16(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p))), 16));
  }
  /* scalar_ops::round_bf16 on every lane (vpmovdw narrows: AVX512F). */
  static __m256i round_bf16(V x) {
    const __m512i b = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7fff)), lsb), 16);
    const __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(_mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), r, quiet));
  }
  static void store_bf16(uint16_t *p, V x) { _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), round_bf16(x)); }
  static VI load_u8(const uint8_t *p) { return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))); }
  static void store_u8(uint8_t *p, VI c) { _mm_storeu_si128(reinterpret_cast<__m128i *>(p), _mm512_cvtepi32_epi8(c)); }
  static VI set1_i(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
  template <int K>
  static VI srli(VI c) { return _mm512_srli_epi32(c, K); }
  /* table[i] for a float table of N entries (the 256-entry maps): one gather. Measured on the
   * 8-bit kernel in cache (Xeon, AVX-512F): 2.19 ns/element against 2.53 for a tree of 8
   * vpermi2ps and 7 blends; at 128 entries too the tree was slower. */
  static V lookup(const float *table, VI i) { return _mm512_i32gather_ps(i, table, 4); }

  /* table[i] for a uint32 table of N entries, i < N (the code tables, thousands of entries). */
  static VI lookup(const uint32_t *table, VI i) { return _mm512_i32gather_epi32(i, table, 4); }
  static VI bits(V x) { return _mm512_castps_si512(x); }
  static V from_bits(VI x) { return _mm512_castsi512_ps(x); }
  static VI max_u(VI a, VI b) { return _mm512_max_epu32(a, b); }
  static VI min_u(VI a, VI b) { return _mm512_min_epu32(a, b); }
  static VI max_i(VI a, VI b) { return _mm512_max_epi32(a, b); }
  static VI min_i(VI a, VI b) { return _mm512_min_epi32(a, b); }
  static VI and_i(VI a, VI b) { return _mm512_and_si512(a, b); }
  static VI xor_i(VI a, VI b) { return _mm512_xor_si512(a, b); }
  /* The lanes of m where a & bits is not 0; all lanes; whether m has all lanes. */
  static M and_test(M m, VI a, VI bits) { return _mm512_mask_test_epi32_mask(m, a, bits); }
  static M all_m() { return 0xffff; }
  static bool all(M m) { return m == 0xffff; }
  static VI add_i(VI a, VI b) { return _mm512_add_epi32(a, b); }
  template <int K>
  static VI srai(VI c) { return _mm512_srai_epi32(c, K); }

  static V abs(V x) { return _mm512_abs_ps(x); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static bool any_nonzero(V x) {
    return _mm512_test_epi32_mask(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)) != 0;
  }
  static bool any_non_finite(V x) {
    const __m512i exponent = _mm512_set1_epi32(0x7f800000);
    return _mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(x), exponent), exponent) != 0;
  }
  static bool any_nan(V x) { return _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q) != 0; }
  static float max_lane(V x) { return _mm512_reduce_max_ps(x); }
  static D zero_d() { return _mm512_setzero_pd(); }
  /* _mm512_extractf32x8_ps needs AVX512DQ; the 64-bit extract is in AVX512F. (For the low half
   * it also avoids GCC 12's false "uninitialized" warning on _mm512_castps512_ps256.) */
  static D widen_lo(V x) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 0))); }
  static D widen_hi(V x) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))); }
  static void add_wide(D &lo, D &hi, V x) {
    lo = _mm512_add_pd(lo, widen_lo(x));
    hi = _mm512_add_pd(hi, widen_hi(x));
  }
  static void add_wide_squares(D &lo, D &hi, V x) {
    const D l = widen_lo(x), h = widen_hi(x);
    lo = _mm512_add_pd(lo, _mm512_mul_pd(l, l));
    hi = _mm512_add_pd(hi, _mm512_mul_pd(h, h));
  }
  static D add_d(D a, D b) { return _mm512_add_pd(a, b); }
  /* A store and a loop rather than _mm512_reduce_add_pd, which GCC 12 flags with a false
   * "used uninitialized" warning from inside its own header. */
  static double sum_d(D a) {
    double l[8];
    _mm512_storeu_pd(l, a);
    return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
  }
};

}  // namespace

#endif
