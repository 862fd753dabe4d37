/* The 8-bit quantizer's code tables, computed at compile time from the maps (qmaps.h) and
 * torchao's rule. torchao's code of y never decreases as y grows (the binary search's floor code
 * does not, and within one floor code y - qmap[c] grows with y under round-to-nearest), so it
 * steps up at 255 thresholds t_c, the least float32 whose code is at least c.
 *
 * The kernels find the code without a search (adam_q8_body.h, code_sums): |y| is clamped to
 * [2^-24, 1 - 2^-24] (no threshold lies outside, so the code does not change), and the top 16
 * bits of the clamped magnitude, its exponent (103..126) and 7 mantissa bits, pick one of 128
 * equal buckets of its binade: fine enough everywhere that a bucket holds at most one threshold.
 * A bucket's entry then gives the code as (entry + o) >> 24, o being the low 16 bits of y's key
 * in ascending order of y (the magnitude's, flipped for a negative y): entry = (c << 24) + 2^24 -
 * o_t, where c is the code at the bucket's low end and o_t the offset of the threshold inside it
 * (2^24 if none), so the sum carries into the top byte exactly when o >= o_t. One shift, one
 * lookup and one add: no per-binade shift or base to look up. The signed map's buckets of
 * negative y follow those of positive y, q8_half entries on; the unsigned map has only positive y
 * (a negative y, which no moment reaches, reads as 2^-24, whose code 0 is torchao's for it too).
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

/* Keys (float32 bit patterns in ascending order) around each threshold within which the
 * kernels' fast quotient x * (1 / scale) may fall on the other side of it than x / scale does
 * (adam_q8_body.h): the two are at most 1 key apart; the slack leaves room. */
const uint32_t q8_slack = 4;
static_assert((q8_slack & (q8_slack - 1)) == 0, "the window test masks low bits: q8_slack must be a power of two");

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

/* Buckets per binade: the top 7 mantissa bits. */
const uint32_t q8_bucket_shift = 16, q8_buckets = 1u << (23 - q8_bucket_shift);
/* Entries per sign: the binades of the clamp, 103 to 126. */
const uint32_t q8_half = 24 * q8_buckets;

/* A map's threshold keys, and the bucket keys the checks walk. */
struct q8_layout {
  uint32_t threshold[256]; /* [c]: the key of t_c, c = 1..255, ascending */

  /* torchao's code of the y with this key: the number of thresholds at or below it. */
  constexpr uint32_t code(uint32_t key) const {
    uint32_t c = 0;
    for (uint32_t b = 128; b >= 1; b /= 2)
      if (c + b < 256 && threshold[c + b] <= key) c += b;
    return c;
  }
  /* Thresholds in (lo, hi]. */
  constexpr uint32_t steps(uint32_t lo, uint32_t hi) const { return code(hi) - code(lo); }
  /* The first or last key of bucket j (in ascending order of y) of sign s and exponent e. */
  constexpr uint32_t bucket(uint32_t s, uint32_t e, uint32_t j, bool last) const {
    return q8_key(s, e, last ? ((j + 1) << q8_bucket_shift) - 1 : j << q8_bucket_shift);
  }
  /* The clamp moves no y across a threshold: none between 0 and ±2^-24, none beyond ±(1 - 2^-24). */
  constexpr bool clamp_is_exact() const {
    return steps(q8_key(0, 0, 0), q8_key(0, 103, 0)) == 0 && steps(q8_key(1, 103, 0x7fffff), q8_key(1, 0, 0x7fffff)) == 0 &&
           steps(q8_key(0, 126, 0x7fffff), 0xffffffffu) == 0 && steps(0, q8_key(1, 126, 0)) == 0;
  }
  /* At most one threshold inside each bucket or within q8_slack keys of its ends, both signs. */
  constexpr bool buckets_are_fine() const {
    for (uint32_t e = 103; e <= 126; ++e)
      for (uint32_t s = 0; s < 2; ++s)
        for (uint32_t j = 0; j < q8_buckets; ++j)
          if (steps(bucket(s, e, j, false) - q8_slack, bucket(s, e, j, true) + q8_slack) > 1) return false;
    return true;
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
  return out;
}

/* Entries indexed by the clamped magnitude's top 16 bits less those of 2^-24, plus q8_half for a
 * negative y of the signed map. */
template <bool Signed>
struct q8_code_table {
  static const bool is_signed = Signed;
  uint32_t entry[Signed ? 2 * q8_half : q8_half];
};

template <bool Signed>
constexpr q8_code_table<Signed> build_q8_code_table(const q8_layout &l) {
  q8_code_table<Signed> out = {};
  for (uint32_t e = 103; e <= 126; ++e)
    for (uint32_t s = 0; s < (Signed ? 2u : 1u); ++s)
      for (uint32_t j = 0; j < q8_buckets; ++j) {
        /* Bucket j of the magnitude's top bits; a negative y's ascending order runs backwards. */
        const uint32_t ascending = s ? q8_buckets - 1 - j : j;
        const uint32_t lo = l.bucket(s, e, ascending, false), hi = l.bucket(s, e, ascending, true);
        /* The one threshold t_c within q8_slack keys of the bucket, inside it or just outside,
         * placed at the offset t_c - lo (below 0 or past the bucket when outside): the sum
         * carries into c exactly for the offsets at or past it. With none: the code at lo and
         * an offset that neither carries nor comes within q8_slack of a carry for any offset. */
        const uint32_t entry =
            l.steps(lo - q8_slack, hi + q8_slack) == 0
                ? (l.code(lo) << 24) + (1u << 22)
                : static_cast<uint32_t>((static_cast<int64_t>(l.code(lo - q8_slack)) << 24) + (1 << 24) -
                                        (static_cast<int64_t>(l.threshold[l.code(lo - q8_slack) + 1]) - lo));
        /* Biased by q8_slack: the window around the threshold starts at low bits 0. */
        out.entry[s * q8_half + (e - 103) * q8_buckets + j] = entry + q8_slack;
      }
  return out;
}

constexpr q8_layout q8_signed_layout = build_q8_layout(qmap_signed);
constexpr q8_layout q8_unsigned_layout = build_q8_layout(qmap_unsigned);
static_assert(q8_signed_layout.clamp_is_exact() && q8_unsigned_layout.clamp_is_exact(), "a threshold lies outside the clamp of |y|");
static_assert(q8_signed_layout.buckets_are_fine() && q8_unsigned_layout.buckets_are_fine(), "a bucket holds two thresholds");
alignas(64) constexpr q8_code_table<true> q8_signed_codes = build_q8_code_table<true>(q8_signed_layout);
alignas(64) constexpr q8_code_table<false> q8_unsigned_codes = build_q8_code_table<false>(q8_unsigned_layout);

}  // namespace

#endif
