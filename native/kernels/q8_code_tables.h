/* The 8-bit quantizer's code tables, computed at compile time from the maps (qmaps.h) and
 * torchao's rule. torchao's code of y never decreases as y grows (the binary search's floor code
 * does not, and within one floor code y - qmap[c] grows with y under round-to-nearest), so it
 * steps up at 255 thresholds t_c, the least float32 whose code is at least c.
 *
 * The kernels find the code without a search (adam_q8_body.h, encode): |y| is clamped to
 * [2^-24, 1 - 2^-24] (no threshold lies outside, so the code does not change), its biased
 * exponent picks one of 32 slots (103..126 land on 7..30, a NaN's 255 on 31), and the slot's
 * shift cuts the binade into equal buckets by the top mantissa bits: few where the map is sparse,
 * up to 128 where it is dense, always fine enough that a bucket holds at most one threshold. A
 * bucket's entry then gives the code as (entry + m) >> 24, m being the 23 mantissa bits in
 * ascending order of y (flipped for a negative y): entry = (c << 24) + 2^24 - m_t, where c is the
 * code at the bucket's low end and m_t the mantissa of the threshold inside it (2^24 if none), so
 * the sum carries into the top byte exactly when m >= m_t. Buckets of negative y follow those of
 * positive y, `half` entries on. Every NaN lands in slot 31's one bucket, code 0.
 * native/test/lowbit_check.cc checks both ends of every bucket and both sides of every threshold
 * (which, the code being monotone, covers every y); native/test/q8_thresholds.cc compares all
 * 2^32 float32 y. */
#ifndef SIMD_ADAM_Q8_CODE_TABLES_H
#define SIMD_ADAM_Q8_CODE_TABLES_H

#include <stdint.h>

#include "qmaps.h"

namespace {

/* The clamp of |y|: biased exponents 103 (2^-24) to 126 ([0.5, 1)). */
const uint32_t q8_lowest_bits = 103u << 23, q8_highest_bits = (126u << 23) | 0x7fffffu;

/* torchao's nearest code of y, literally: the last entry at or below y by binary search (the
 * NaN at 256 never is), then one up if y is at least halfway to the next. A NaN y compares false
 * everywhere and gets 0. The kernels do not run it: they read the tables built from it. */
constexpr uint32_t torchao_code(const float *qmap, float y) {
  uint32_t c = 0;
  for (uint32_t b = 128; b >= 1; b /= 2)
    if (y >= qmap[c + b]) c += b;
  if (c < 255 && y - qmap[c] >= (qmap[c + 1] - qmap[c]) * 0.5f) c += 1;
  return c;
}

/* Float32 values in ascending order as unsigned keys: bits b give the key b | 2^31 when the sign
 * is clear, ~b when it is set. C++17 has no constexpr bit cast, so a key's float is built by
 * arithmetic, exactly: a 24-bit significand times a power of two is a double. */
constexpr double pow2(int e) {
  double r = 1, f = e < 0 ? 0.5 : 2;
  for (int k = e < 0 ? -e : e; k != 0; k >>= 1, f *= f)
    if (k & 1) r *= f;
  return r;
}
constexpr float float_of_key(uint32_t key) {
  const uint32_t b = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
  const int exponent = static_cast<int>((b >> 23) & 0xffu);
  const uint32_t fraction = b & 0x7fffffu;
  const double magnitude = exponent ? (fraction | 0x800000u) * pow2(exponent - 150) : fraction * pow2(-149);
  return static_cast<float>((b & 0x80000000u) ? -magnitude : magnitude);
}

/* Key of the y of sign s, biased exponent e and ascending mantissa m (m flipped when s is set). */
constexpr uint32_t q8_key(uint32_t s, uint32_t e, uint32_t m) { return s ? ((255 - e) << 23) | m : 0x80000000u | (e << 23) | m; }

/* A map's threshold keys and its slots; `half` sizes the entry table. */
struct q8_layout {
  uint32_t threshold[256]; /* [c]: the key of t_c, c = 1..255, ascending */
  uint32_t base[32];       /* first entry of each slot's buckets (positive y) */
  uint32_t shift[32];      /* 23 - log2(buckets in the slot) */
  uint32_t half;           /* entries per sign */

  /* torchao's code of the y with this key: the number of thresholds at or below it. */
  constexpr uint32_t code(uint32_t key) const {
    uint32_t c = 0;
    for (uint32_t b = 128; b >= 1; b /= 2)
      if (c + b < 256 && threshold[c + b] <= key) c += b;
    return c;
  }
  /* Thresholds in (lo, hi]. */
  constexpr uint32_t steps(uint32_t lo, uint32_t hi) const { return code(hi) - code(lo); }
  constexpr uint32_t bucket(uint32_t s, uint32_t e, uint32_t j, bool last) const {
    return q8_key(s, e, last ? ((j + 1) << shift[e & 31]) - 1 : j << shift[e & 31]);
  }
  /* The clamp moves no y across a threshold: none between 0 and ±2^-24, none beyond ±(1 - 2^-24). */
  constexpr bool clamp_is_exact() const {
    return steps(q8_key(0, 0, 0), q8_key(0, 103, 0)) == 0 && steps(q8_key(1, 103, 0x7fffff), q8_key(1, 0, 0x7fffff)) == 0 &&
           steps(q8_key(0, 126, 0x7fffff), 0xffffffffu) == 0 && steps(0, q8_key(1, 126, 0)) == 0;
  }
};

constexpr q8_layout build_q8_layout(const float *qmap) {
  q8_layout out = {};
  /* Threshold keys by bisection between the keys of -1 (code 0 in both maps) and 1 (code 255). */
  for (uint32_t c = 1; c < 256; ++c) {
    uint32_t lo = 0x407fffffu, hi = 0xbf800000u;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (torchao_code(qmap, float_of_key(mid)) >= c) hi = mid;
      else lo = mid + 1;
    }
    out.threshold[c] = lo;
  }
  out.shift[31] = 23; /* the NaN slot: one bucket, entry 0 */
  out.half = 1;
  for (uint32_t e = 103; e <= 126; ++e) {
    out.base[e & 31] = out.half;
    /* The fewest buckets with at most one threshold inside each, both signs. */
    for (uint32_t bits = 0;; ++bits) {
      out.shift[e & 31] = 23 - bits;
      bool fine = true;
      for (uint32_t s = 0; s < 2; ++s)
        for (uint32_t j = 0; j < (1u << bits); ++j) fine = fine && out.steps(out.bucket(s, e, j, false), out.bucket(s, e, j, true)) <= 1;
      if (fine) break;
    }
    out.half += 1u << (23 - out.shift[e & 31]);
  }
  return out;
}

template <uint32_t Half>
struct q8_code_table {
  uint32_t base[32], shift[32], half;
  uint32_t entry[2 * Half];
};

template <uint32_t Half>
constexpr q8_code_table<Half> build_q8_code_table(const q8_layout &l) {
  q8_code_table<Half> out = {};
  for (uint32_t i = 0; i < 32; ++i) {
    out.base[i] = l.base[i];
    out.shift[i] = l.shift[i];
  }
  out.half = Half;
  for (uint32_t e = 103; e <= 126; ++e)
    for (uint32_t s = 0; s < 2; ++s)
      for (uint32_t j = 0; j < (1u << (23 - l.shift[e & 31])); ++j) {
        const uint32_t lo = l.bucket(s, e, j, false), hi = l.bucket(s, e, j, true);
        /* The step inside, if any, is the first threshold above lo. */
        const uint32_t c = l.code(lo), step = l.steps(lo, hi) ? l.threshold[c + 1] & 0x7fffffu : 1u << 24;
        out.entry[s * Half + l.base[e & 31] + j] = (c << 24) + ((1u << 24) - step);
      }
  return out;
}

constexpr q8_layout q8_signed_layout = build_q8_layout(qmap_signed);
constexpr q8_layout q8_unsigned_layout = build_q8_layout(qmap_unsigned);
static_assert(q8_signed_layout.clamp_is_exact() && q8_unsigned_layout.clamp_is_exact(), "a threshold lies outside the clamp of |y|");
alignas(64) constexpr q8_code_table<q8_signed_layout.half> q8_signed_codes = build_q8_code_table<q8_signed_layout.half>(q8_signed_layout);
alignas(64) constexpr q8_code_table<q8_unsigned_layout.half> q8_unsigned_codes = build_q8_code_table<q8_unsigned_layout.half>(q8_unsigned_layout);

}  // namespace

#endif
