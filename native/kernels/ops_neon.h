/* NEON operations (AArch64, where NEON is baseline: no extra flags). */
#ifndef SIMD_ADAM_OPS_NEON_H
#define SIMD_ADAM_OPS_NEON_H

#include <arm_neon.h>
#include <stddef.h>
#include <stdint.h>

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

  /* Reduced-precision state (adam_lowbit.h). */
  typedef uint32x4_t VI;
  typedef uint32x4_t M;
  static V load_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
  /* scalar_ops::round_bf16 on every lane. */
  static void store_bf16(uint16_t *p, V x) {
    const uint32x4_t b = vreinterpretq_u32_f32(x);
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(b, 16), vdupq_n_u32(1));
    const uint32x4_t r = vshrq_n_u32(vaddq_u32(vaddq_u32(b, vdupq_n_u32(0x7fff)), lsb), 16);
    const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(b, 16), vdupq_n_u32(0x40));
    vst1_u16(p, vmovn_u32(vbslq_u32(vceqq_f32(x, x), r, quiet)));
  }
  static VI load_u8(const uint8_t *p) {
    const uint8x8_t bytes = vreinterpret_u8_u32(vld1_lane_u32(reinterpret_cast<const uint32_t *>(p), vdup_n_u32(0), 0));
    return vmovl_u16(vget_low_u16(vmovl_u8(bytes)));
  }
  static void store_u8(uint8_t *p, VI c) {
    const uint16x4_t w = vmovn_u32(c);
    const uint8x8_t bytes = vmovn_u16(vcombine_u16(w, w));
    vst1_lane_u32(reinterpret_cast<uint32_t *>(p), vreinterpret_u32_u8(bytes), 0);
  }
  static VI set1_i(uint32_t x) { return vdupq_n_u32(x); }
  /* No gather instruction: four scalar loads. */
  static V gather(const float *table, VI i) {
    V r = vdupq_n_f32(table[vgetq_lane_u32(i, 0)]);
    r = vsetq_lane_f32(table[vgetq_lane_u32(i, 1)], r, 1);
    r = vsetq_lane_f32(table[vgetq_lane_u32(i, 2)], r, 2);
    return vsetq_lane_f32(table[vgetq_lane_u32(i, 3)], r, 3);
  }
  template <int K>
  static VI srli(VI c) { return vshrq_n_u32(c, K); }
  static V lookup(const float *table, VI i) { return gather(table, i); }

  /* table[i] for a uint32 table of N entries, i < N. */
  static VI lookup(const uint32_t *table, VI i) {
    VI r = vdupq_n_u32(table[vgetq_lane_u32(i, 0)]);
    r = vsetq_lane_u32(table[vgetq_lane_u32(i, 1)], r, 1);
    r = vsetq_lane_u32(table[vgetq_lane_u32(i, 2)], r, 2);
    return vsetq_lane_u32(table[vgetq_lane_u32(i, 3)], r, 3);
  }
  static VI bits(V x) { return vreinterpretq_u32_f32(x); }
  static V from_bits(VI x) { return vreinterpretq_f32_u32(x); }
  static VI max_u(VI a, VI b) { return vmaxq_u32(a, b); }
  static VI min_u(VI a, VI b) { return vminq_u32(a, b); }
  static VI max_i(VI a, VI b) { return vreinterpretq_u32_s32(vmaxq_s32(vreinterpretq_s32_u32(a), vreinterpretq_s32_u32(b))); }
  static VI min_i(VI a, VI b) { return vreinterpretq_u32_s32(vminq_s32(vreinterpretq_s32_u32(a), vreinterpretq_s32_u32(b))); }
  /* vminq_f32 and vmaxq_f32 return a NaN if either operand is one (another NaN than x86's, but
   * the quantizer looks only at its exponent). */
  static VI and_i(VI a, VI b) { return vandq_u32(a, b); }
  static VI xor_i(VI a, VI b) { return veorq_u32(a, b); }
  /* The lanes of m where a & bits is not 0; all lanes; whether m has all lanes. */
  static M and_test(M m, VI a, VI bits) { return vandq_u32(m, vtstq_u32(a, bits)); }
  static M all_m() { return vdupq_n_u32(0xffffffffu); }
  static bool all(M m) { return vminvq_u32(m) != 0; }
  static VI add_i(VI a, VI b) { return vaddq_u32(a, b); }
  template <int K>
  static VI srai(VI c) { return vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_u32(c), K)); }

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
