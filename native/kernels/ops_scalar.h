/* Scalar operations: the "vector" of one float. The scalar kernels are the bodies instantiated
 * over these, and every vector kernel hands its tail to them, so the tail and the baseline are
 * the same code. Bit tests rather than isnan/fabsf: no library calls in kernel files (an inline
 * library function compiled with an ISA's flags can end up serving baseline callers). */
#ifndef SIMD_ADAM_OPS_SCALAR_H
#define SIMD_ADAM_OPS_SCALAR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

namespace {

struct scalar_ops {
  typedef float V;
  typedef double D; /* double accumulator of the reductions */
  static const size_t lanes = 1;
  static uint32_t bits(V x) {
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
  }
  static V from_bits(uint32_t b) {
    V x;
    memcpy(&x, &b, sizeof x);
    return x;
  }
  static V load(const float *p) { return *p; }
  static void store(float *p, V x) { *p = x; }
  static V set1(float x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V mul(V a, V b) { return a * b; }
  static V div(V a, V b) { return a / b; }
  static V sqrt(V a) { return __builtin_sqrtf(a); }
  static V sign_mask(bool on) { return from_bits(on ? 0x80000000u : 0u); }
  static V flip_sign(V x, V sign) { return from_bits(bits(x) ^ bits(sign)); }
  /* torch.maximum: NaN in either operand gives NaN; otherwise (a > b ? a : b), which is also
   * what x86's maxps computes. fmaxf would drop the NaN. */
  static V max_nan(V a, V b) { return a != a ? a : (a > b ? a : b); }

  /* Reduced-precision state (adam_lowbit.h). */
  typedef uint32_t VI; /* 8-bit codes, widened */
  typedef bool M;      /* a comparison's result */
  static V load_bf16(const uint16_t *p) { return from_bits(static_cast<uint32_t>(*p) << 16); }
  /* Round to nearest, ties to even, on the upper 16 bits; a NaN stays a (quiet) NaN, where the
   * rounding add could carry it into an infinity. */
  static uint16_t round_bf16(uint32_t b) {
    if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((b >> 16) | 0x40u);
    return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
  }
  static void store_bf16(uint16_t *p, V x) { *p = round_bf16(bits(x)); }
  static VI load_u8(const uint8_t *p) { return *p; }
  static void store_u8(uint8_t *p, VI c) { *p = static_cast<uint8_t>(c); }
  static VI set1_i(uint32_t x) { return x; }
  /* Ordered: false when either is NaN. */
  template <int K>
  static VI srli(VI c) { return c >> K; }
  /* table[i] for a table of N entries. */
  static V lookup(const float *table, VI i) { return table[i]; }
  /* table[i] for a uint32 table of N entries, i < N. */
  static VI lookup(const uint32_t *table, VI i) { return table[i]; }
  /* The 8-bit quantizer's integer work (adam_q8_body.h). */
  static VI and_i(VI a, VI b) { return a & b; }
  static VI xor_i(VI a, VI b) { return a ^ b; }
  /* The lanes of m where a & bits is not 0; all lanes; whether m has all lanes. */
  static M and_test(M m, VI a, VI bits) { return m && (a & bits) != 0; }
  static M all_m() { return true; }
  static bool all(M m) { return m; }
  static VI add_i(VI a, VI b) { return a + b; }
  static VI max_u(VI a, VI b) { return a > b ? a : b; }
  static VI min_u(VI a, VI b) { return a < b ? a : b; }
  static VI max_i(VI a, VI b) { return static_cast<int32_t>(a) > static_cast<int32_t>(b) ? a : b; }
  static VI min_i(VI a, VI b) { return static_cast<int32_t>(a) < static_cast<int32_t>(b) ? a : b; }
  template <int K>
  static VI srai(VI c) { return static_cast<VI>(static_cast<int32_t>(c) >> K); }

  /* Reductions. */
  static V abs(V x) { return from_bits(bits(x) & 0x7fffffffu); }
  static V max(V a, V b) { return a > b ? a : b; } /* a NaN in b comes out; one in a: ISAs differ */
  static bool any_nonzero(V x) { return (bits(x) & 0x7fffffffu) != 0; }
  static bool any_non_finite(V x) { return (bits(x) & 0x7f800000u) == 0x7f800000u; }
  static bool any_nan(V x) { return x != x; }
  static float max_lane(V x) { return x; }
  static D zero_d() { return 0; }
  /* Widens the lanes of x to double and adds them (or their squares) to lo and hi. */
  static void add_wide(D &lo, D &, V x) { lo += static_cast<double>(x); }
  static void add_wide_squares(D &lo, D &, V x) {
    const double d = x;
    lo += d * d;
  }
  static double sum_d(D a) { return a; }
  static D add_d(D a, D b) { return a + b; }
};

}  // namespace

#endif
