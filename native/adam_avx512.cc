/* AVX-512F kernel. Built with -mavx512f; nothing here may be called on an older CPU. */
#include <immintrin.h>

#include "adam_body.h"

namespace {

struct avx512_ops {
  typedef __m512 V;
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
};

}  // namespace

extern "C" void adam_step_f32_avx512(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = adam_main_loop<avx512_ops>(t, n, s);
  adam_tail(t, done, n, s);
}
