/* NEON operations (AArch64, where NEON is baseline: no extra flags). */
#ifndef SIMD_ADAM_OPS_NEON_H
#define SIMD_ADAM_OPS_NEON_H

#include <arm_neon.h>
#include <stddef.h>

namespace {

struct neon_ops {
  typedef float32x4_t V;
  typedef float64x2_t D;
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

  static V abs(V x) { return vabsq_f32(x); }
  static V max(V a, V b) { return vmaxq_f32(a, b); }
  static bool any_nonzero(V x) { return vmaxvq_u32(vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x7fffffffu))) != 0; }
  static bool any_non_finite(V x) {
    const uint32x4_t exponent = vdupq_n_u32(0x7f800000u);
    return vmaxvq_u32(vceqq_u32(vandq_u32(vreinterpretq_u32_f32(x), exponent), exponent)) != 0;
  }
  static bool any_nan(V x) { return vminvq_u32(vceqq_f32(x, x)) == 0; }
  static float max_lane(V x) { return vmaxvq_f32(x); }
  static D zero_d() { return vdupq_n_f64(0); }
  static void add_wide(D &lo, D &hi, V x) {
    lo = vaddq_f64(lo, vcvt_f64_f32(vget_low_f32(x)));
    hi = vaddq_f64(hi, vcvt_high_f64_f32(x));
  }
  static void add_wide_squares(D &lo, D &hi, V x) {
    const D l = vcvt_f64_f32(vget_low_f32(x)), h = vcvt_high_f64_f32(x);
    lo = vaddq_f64(lo, vmulq_f64(l, l));
    hi = vaddq_f64(hi, vmulq_f64(h, h));
  }
  static D add_d(D a, D b) { return vaddq_f64(a, b); }
  static double sum_d(D a) { return vaddvq_f64(a); }
};

}  // namespace

#endif
