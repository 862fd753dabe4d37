/* AVX-512F with AVX512_BF16 (Cooper Lake, Sapphire Rapids, Zen 4): avx512_ops whose bf16 store
 * uses vcvtneps2bf16, which rounds to nearest even as scalar_ops::round_bf16 does, except that it
 * treats subnormal inputs as zero. A vector holding a subnormal (rare: moments below 1.2e-38)
 * takes the integer rounding instead, so the result stays bit-identical to every other backend.
 * Include only in files built with -mavx512f -mavx512bf16. */
#ifndef SIMD_ADAM_OPS_AVX512BF16_H
#define SIMD_ADAM_OPS_AVX512BF16_H

#include "ops_avx512.h"

namespace {

struct avx512bf16_ops : avx512_ops {
  static void store_bf16(uint16_t *p, V x) {
    const __m512i b = _mm512_castps_si512(x);
    const __m512i exponent = _mm512_and_si512(b, _mm512_set1_epi32(0x7f800000));
    const __mmask16 subnormal = _mm512_mask_test_epi32_mask(_mm512_cmpeq_epi32_mask(exponent, _mm512_setzero_si512()),
                                                            b, _mm512_set1_epi32(0x007fffff));
    const __m256i r = subnormal ? avx512_ops::round_bf16(x) : (__m256i)_mm512_cvtneps_pbh(x);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), r);
  }
};

}  // namespace

#endif
