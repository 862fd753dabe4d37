/* NEON kernel (AArch64, where NEON is baseline: no extra flags). */
#include <arm_neon.h>

#include "adam_body.h"

namespace {

struct neon_ops {
  typedef float32x4_t V;
  static const size_t lanes = 4;
  static V load(const float *p) { return vld1q_f32(p); }
  static void store(float *p, V x) { vst1q_f32(p, x); }
  static V set1(float x) { return vdupq_n_f32(x); }
  static V add(V a, V b) { return vaddq_f32(a, b); }
  static V mul(V a, V b) { return vmulq_f32(a, b); }
  static V div(V a, V b) { return vdivq_f32(a, b); }
  static V sqrt(V a) { return vsqrtq_f32(a); }
  static V sign_mask(bool on) { return vreinterpretq_f32_u32(vdupq_n_u32(on ? 0x80000000u : 0u)); }
  static V flip_sign(V x, V sign) {
    return vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(x), vreinterpretq_u32_f32(sign)));
  }
  /* (a > b ? a : b) with a NaN in a patched in, exactly as the other backends; vmaxq_f32 would
   * differ on the sign of zero. */
  static V max_nan(V a, V b) {
    const V larger = vbslq_f32(vcgtq_f32(a, b), a, b);
    return vbslq_f32(vceqq_f32(a, a), larger, a);
  }
};

}  // namespace

extern "C" void adam_step_f32_neon(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = adam_main_loop<neon_ops>(t, n, s);
  adam_tail(t, done, n, s);
}
