/* NEON reductions (AArch64, where NEON is baseline). Each kernel: main loop over whole vectors,
 * then the tail to the scalar kernel. */
#include <arm_neon.h>

#include "reduce.h"

namespace {

const size_t kLanes = 4;

}  // namespace

extern "C" int all_zero_f32_neon(const float *x, size_t n) {
  const uint32x4_t magnitude = vdupq_n_u32(0x7fffffffu);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    if (vmaxvq_u32(vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i)), magnitude))) return 0;
  return all_zero_f32_scalar(x + i, n - i);
}

extern "C" ptrdiff_t first_non_finite_f32_neon(const float *x, size_t n) {
  const uint32x4_t exponent = vdupq_n_u32(0x7f800000u);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const uint32x4_t e = vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i)), exponent);
    if (vmaxvq_u32(vceqq_u32(e, exponent))) break; /* the scalar kernel finds the lane */
  }
  const ptrdiff_t rest = first_non_finite_f32_scalar(x + i, n - i);
  return rest < 0 ? -1 : static_cast<ptrdiff_t>(i) + rest;
}

extern "C" double sum_sq_f32_neon(const float *x, size_t n) {
  float64x2_t a0 = vdupq_n_f64(0), a1 = vdupq_n_f64(0);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const float32x4_t v = vld1q_f32(x + i);
    const float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_high_f64_f32(v);
    a0 = vaddq_f64(a0, vmulq_f64(lo, lo));
    a1 = vaddq_f64(a1, vmulq_f64(hi, hi));
  }
  return vaddvq_f64(vaddq_f64(a0, a1)) + sum_sq_f32_scalar(x + i, n - i);
}

extern "C" double sum_abs_f32_neon(const float *x, size_t n) {
  float64x2_t a0 = vdupq_n_f64(0), a1 = vdupq_n_f64(0);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const float32x4_t v = vabsq_f32(vld1q_f32(x + i));
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(v)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(v));
  }
  return vaddvq_f64(vaddq_f64(a0, a1)) + sum_abs_f32_scalar(x + i, n - i);
}

extern "C" float max_abs_f32_neon(const float *x, size_t n) {
  /* NaNs are collected in a mask of their own, as on x86, rather than relying on FMAX. */
  float32x4_t best = vdupq_n_f32(0);
  uint32x4_t ordered = vdupq_n_u32(0xffffffffu);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const float32x4_t v = vabsq_f32(vld1q_f32(x + i));
    best = vmaxq_f32(best, v);
    ordered = vandq_u32(ordered, vceqq_f32(v, v));
  }
  if (vminvq_u32(ordered) == 0) return __builtin_nanf("");
  const float rest = max_abs_f32_scalar(x + i, n - i);
  if (rest != rest) return rest;
  const float vector = vmaxvq_f32(best);
  return vector > rest ? vector : rest;
}

extern "C" void scale_f32_neon(float *x, size_t n, float factor) {
  const float32x4_t f = vdupq_n_f32(factor);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) vst1q_f32(x + i, vmulq_f32(vld1q_f32(x + i), f));
  scale_f32_scalar(x + i, n - i, factor);
}
