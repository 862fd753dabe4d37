/* AVX2 kernel (dispatched on CPUs with AVX2 and FMA, x86-64-v3; it does not fuse: see
 * adam_body.h). Built with -mavx2 -mfma; nothing here may be called on an older CPU. */
#include <immintrin.h>

#include "adam_body.h"

namespace {

struct avx2_ops {
  typedef __m256 V;
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
};

}  // namespace

extern "C" void adam_step_f32_avx2(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = adam_main_loop<avx2_ops>(t, n, s);
  adam_tail(t, done, n, s);
}
