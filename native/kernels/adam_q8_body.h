/* Adam with 8-bit blockwise-quantized moments, written once over the op structs (ops_<isa>.h).
 * A kernel walks the run block by block (ADAM_Q8_BLOCK elements, one scale per moment each):
 *   1. dequantize each stored moment, x = qmap[code] * scale (one float32 multiply), run
 *      adam_body.h's adam_update, write the parameter from the unrounded moments, and keep the
 *      block's new moments in an L1 scratch while tracking their largest magnitude;
 *   2. scale = max(|x|) over the block, at least float32(1e-12), NaN if any is NaN (like amax);
 *   3. code = torchao's nearest code of y = x / scale, read from the tables of
 *      q8_code_tables.h: a bucket from the top 16 bits of |y|, and one add that steps over the
 *      bucket's threshold, if any. No search, no rounding step, and
 *      y is x * (1 / scale), no divide, except in a block with a y that close to a threshold
 *      (q8_divisor).
 * Step 3 of a block cannot start before its step 1 has seen every element (the scale), so it
 * runs during the next block's step 1, vector for vector: the table lookups of one block
 * overlap the loads, divides and square roots of the next, and memory is read at an even
 * pace rather than in bursts between stretches of pure arithmetic. The scratch is two blocks,
 * never leaves L1, and memory is touched once. */
#ifndef SIMD_ADAM_ADAM_Q8_BODY_H
#define SIMD_ADAM_ADAM_Q8_BODY_H

#include "adam_body.h"
#include "adam_lowbit.h"
#include "q8_code_tables.h"

namespace {

enum { Q8_M, Q8_V, Q8_MAX, Q8_MOMENTS };

/* The entry of y's bucket plus y's offset in it, in ascending order (q8_code_tables.h), for
 * any float32 y but NaN: torchao's nearest code of y is the top byte of sum - q8_slack, and that
 * of sum itself unless y is near a threshold (q8_far). A NaN gives some code: the kernels never
 * quantize one with a normal inverse scale, and exact_code settles it otherwise. */
template <class O, class Table>
inline typename O::VI code_sum(const Table &table, typename O::V y) {
  typedef typename O::VI VI;
  const VI lowest = O::set1_i(q8_lowest_bits), highest = O::set1_i(q8_highest_bits), low16 = O::set1_i(0xffff);
  const VI bias = O::set1_i(0u - (q8_lowest_bits >> q8_bucket_shift));
  if constexpr (Table::is_signed) {
    /* All ones for a negative y: flips the offset into ascending order of y. */
    const VI b = O::bits(y), sign = O::template srai<31>(b);
    const VI magnitude = O::min_u(O::max_u(O::and_i(b, O::set1_i(0x7fffffff)), lowest), highest);
    const VI index = O::add_i(O::add_i(O::template srli<q8_bucket_shift>(magnitude), bias), O::and_i(sign, O::set1_i(q8_half)));
    return O::add_i(O::lookup(table.entry, index), O::and_i(O::xor_i(magnitude, sign), low16));
  } else {
    /* As signed integers a negative y's bits lie below every positive y's: it reads as 2^-24. */
    const VI magnitude = O::min_i(O::max_i(O::bits(y), lowest), highest);
    const VI index = O::add_i(O::template srli<q8_bucket_shift>(magnitude), bias);
    return O::add_i(O::lookup(table.entry, index), O::and_i(magnitude, low16));
  }
}

/* torchao's nearest code of y, from its code_sum: 0 for a NaN, whose magnitude's bits exceed
 * +Inf's (0x7f800000 - magnitude is then negative). */
template <class O>
inline typename O::VI exact_code(typename O::VI sum, typename O::V y) {
  typedef typename O::VI VI;
  const VI ones = O::set1_i(0xffffffffu);
  const VI magnitude = O::and_i(O::bits(y), O::set1_i(0x7fffffff));
  const VI nan = O::template srai<31>(O::add_i(O::xor_i(magnitude, ones), O::set1_i(0x7f800001)));
  return O::and_i(O::template srli<24>(O::add_i(sum, O::set1_i(0u - q8_slack))), O::xor_i(nan, ones));
}

/* The lanes of far whose y lies more than q8_slack keys from every threshold, where the sum's
 * own top byte is the code (each bucket's entry puts the one threshold near it where the sum's
 * low 24 bits fall in [0, 2 q8_slack), and every other y at least 2^22 from there). */
template <class O>
inline typename O::M q8_far(typename O::M far, typename O::VI sum) {
  return O::and_test(far, sum, O::set1_i(0xffffffu & ~(2 * q8_slack - 1)));
}

/* Dividing by a block's scale: torchao's codes are those of y = x / scale, but a 16-lane divide
 * costs several multiplies (docs/lowbit.md measures the difference). x * inverse, inverse =
 * 1 / scale rounded, lies within 1 key (float32 bit pattern) of x / scale whenever the inverse
 * is a normal float (docs/lowbit.md), so it has the same code unless it lies within q8_slack
 * keys of a threshold, which the code's own sum shows (q8_far). A block with such a lane (rare:
 * 8 keys of buckets 2^16 keys wide), or whose scale has no normal inverse (NaN, Inf,
 * beyond 2^126 or below 2^-126), is quantized again, dividing (adam_step_q8): one test per
 * block, not a test and a branch per vector, which cost what the divides did. */
template <class O>
struct q8_divisor {
  typename O::V inverse[Q8_MOMENTS];
  explicit q8_divisor(const float *scale) {
    for (int j = 0; j < Q8_MOMENTS; ++j) inverse[j] = O::set1(1.0f / scale[j]);
  }
};

inline bool q8_inverse_is_normal(float scale) { return scale >= 0x1p-126f && scale < 0x1p126f; }

/* The codes of x * inverse for one vector of each moment's new values (x[Q8_MAX] only with
 * amsgrad); far loses the lanes where they may differ from those of x / scale. */
template <class O>
inline void q8_encode_fast(const q8_divisor<O> &d, const typename O::V *x, bool amsgrad, typename O::VI *codes,
                           typename O::M &far) {
  typedef typename O::VI VI;
  const VI m = code_sum<O>(q8_signed_codes, O::mul(x[Q8_M], d.inverse[Q8_M]));
  const VI v = code_sum<O>(q8_unsigned_codes, O::mul(x[Q8_V], d.inverse[Q8_V]));
  far = q8_far<O>(q8_far<O>(far, m), v);
  codes[Q8_M] = O::template srli<24>(m);
  codes[Q8_V] = O::template srli<24>(v);
  if (amsgrad) {
    const VI a = code_sum<O>(q8_unsigned_codes, O::mul(x[Q8_MAX], d.inverse[Q8_MAX]));
    far = q8_far<O>(far, a);
    codes[Q8_MAX] = O::template srli<24>(a);
  }
}

/* The code of x / scale, dividing. */
template <class O, class Table>
inline typename O::VI q8_code_exact(const Table &table, typename O::V x, float scale) {
  const typename O::V y = O::div(x, O::set1(scale));
  return exact_code<O>(code_sum<O>(table, y), y);
}

/* The codes of x / scale for one vector of each moment's new values. */
template <class O>
inline void q8_encode_exact(const float *scale, const typename O::V *x, bool amsgrad, typename O::VI *codes) {
  codes[Q8_M] = q8_code_exact<O>(q8_signed_codes, x[Q8_M], scale[Q8_M]);
  codes[Q8_V] = q8_code_exact<O>(q8_unsigned_codes, x[Q8_V], scale[Q8_V]);
  if (amsgrad) codes[Q8_MAX] = q8_code_exact<O>(q8_unsigned_codes, x[Q8_MAX], scale[Q8_MAX]);
}

/* The quantizer alone over n values (the checks' entry points, adam_lowbit.h): the code of
 * x[i] / scale in the signed map, or the unsigned one, each vector as the kernels compute it,
 * by x * inverse unless a lane is near a threshold (a kernel settles that per block). */
template <class O>
inline void encode_values(const float *x, size_t n, float scale, bool is_unsigned, uint8_t *codes) {
  const float scales[Q8_MOMENTS] = {scale, scale, scale};
  const q8_divisor<O> d(scales);
  const int moment = is_unsigned ? Q8_V : Q8_M;
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    const typename O::V xi[Q8_MOMENTS] = {O::load(x + i), O::load(x + i), O::load(x + i)};
    typename O::VI c[Q8_MOMENTS];
    typename O::M far = O::all_m();
    q8_encode_fast<O>(d, xi, false, c, far);
    /* A NaN x: a kernel's block holding one has a NaN scale, so it is always divided. */
    if (!O::all(far) || !q8_inverse_is_normal(scale) || O::any_nan(xi[0])) q8_encode_exact<O>(scales, xi, false, c);
    O::store_u8(codes + i, c[moment]);
  }
  if (i < n) encode_values<scalar_ops>(x + i, n - i, scale, is_unsigned, codes + i);
}

template <class O>
inline typename O::V dequantize(const float *qmap, const uint8_t *codes, typename O::V scale) {
  return O::mul(O::lookup(qmap, O::load_u8(codes)), scale);
}

/* The largest of a vector's lanes, as uint32 bit patterns (below). Once per block and moment. */
template <class O>
inline uint32_t lane_max_bits(typename O::VI x) {
  float lanes[O::lanes];
  O::store(lanes, O::from_bits(x));
  uint32_t r = 0;
  for (size_t i = 0; i < O::lanes; ++i) r = r > scalar_ops::bits(lanes[i]) ? r : scalar_ops::bits(lanes[i]);
  return r;
}

/* The block being updated: its parameters, grads, stored codes and scales. */
struct q8_source {
  float *param;
  const float *grad;
  const uint8_t *codes[Q8_MOMENTS];
  float scale[Q8_MOMENTS];
};

/* A block whose new moments wait in L1 for their codes. */
struct q8_pending {
  alignas(64) float fresh[Q8_MOMENTS][ADAM_Q8_BLOCK];
  float scale[Q8_MOMENTS];
  uint8_t *codes[Q8_MOMENTS];
  bool redo; /* its codes must be found again by dividing (q8_divisor) */
};

/* Step 3 for one vector of elements at i of a pending block, by x * inverse. */
template <class O>
inline void q8_store(const q8_pending &b, const q8_divisor<O> &d, bool amsgrad, size_t i, typename O::M &far) {
  const typename O::V x[Q8_MOMENTS] = {O::load(b.fresh[Q8_M] + i), O::load(b.fresh[Q8_V] + i),
                                       amsgrad ? O::load(b.fresh[Q8_MAX] + i) : O::set1(0.0f)};
  typename O::VI c[Q8_MOMENTS];
  q8_encode_fast<O>(d, x, amsgrad, c, far);
  O::store_u8(b.codes[Q8_M] + i, c[Q8_M]);
  O::store_u8(b.codes[Q8_V] + i, c[Q8_V]);
  if (amsgrad) O::store_u8(b.codes[Q8_MAX] + i, c[Q8_MAX]);
}

/* Step 3 over whole vectors of elements [i, end); returns where it stopped. */
template <class O>
inline size_t q8_store_run(q8_pending &b, bool amsgrad, size_t i, size_t end) {
  const q8_divisor<O> d(b.scale);
  typename O::M far = O::all_m();
  for (; i + O::lanes <= end; i += O::lanes) q8_store<O>(b, d, amsgrad, i, far);
  b.redo = b.redo || !O::all(far);
  return i;
}

/* Step 3 over whole vectors of elements [i, end), dividing; returns where it stopped. */
template <class O>
inline size_t q8_store_exact_run(const q8_pending &b, bool amsgrad, size_t i, size_t end) {
  for (; i + O::lanes <= end; i += O::lanes) {
    const typename O::V x[Q8_MOMENTS] = {O::load(b.fresh[Q8_M] + i), O::load(b.fresh[Q8_V] + i),
                                         amsgrad ? O::load(b.fresh[Q8_MAX] + i) : O::set1(0.0f)};
    typename O::VI c[Q8_MOMENTS];
    q8_encode_exact<O>(b.scale, x, amsgrad, c);
    O::store_u8(b.codes[Q8_M] + i, c[Q8_M]);
    O::store_u8(b.codes[Q8_V] + i, c[Q8_V]);
    if (amsgrad) O::store_u8(b.codes[Q8_MAX] + i, c[Q8_MAX]);
  }
  return i;
}

/* Step 1 over whole vectors of elements [i, len) of block b into cur, with step 3 of the same
 * vectors of the previous block when there is one; folds the new moments' largest magnitudes
 * into absmax and returns where it stopped. A magnitude's bits order as the magnitudes do, and
 * every NaN's above +Inf's, so one unsigned integer max tracks both the largest value and
 * whether there was a NaN (the float max needs a compare and a blend besides). */
template <class O>
inline size_t q8_update(const adam_consts<O> &k, const q8_source &b, q8_pending &cur, q8_pending *prev, size_t i, size_t len,
                        uint32_t *absmax) {
  typedef typename O::V V;
  const V sm = O::set1(b.scale[Q8_M]), sv = O::set1(b.scale[Q8_V]), sx = O::set1(b.scale[Q8_MAX]);
  const float none[Q8_MOMENTS] = {1.0f, 1.0f, 1.0f};
  const q8_divisor<O> prev_divisor(prev ? prev->scale : none);
  typename O::VI am = O::set1_i(0), av = am, ax = am;
  typename O::M far = O::all_m();
  const size_t ahead = 2 * ADAM_Q8_BLOCK;
  for (; i + O::lanes <= len; i += O::lanes) {
    /* The lines two blocks ahead, a cache line of parameters at a time (measured on one thread
     * at 16M elements: 1.25-1.39x the float32 step with them, 1.41-2.09x without; 256 to 1024
     * elements ahead alike, 2048 worse). Written here, not in a function of their own: GCC's
     * interprocedural passes judge a function of prefetches alone free of side effects and
     * delete its calls. A prefetch never faults, so addresses past the end are harmless. */
    if (i % 16 == 0) {
      __builtin_prefetch(b.param + i + ahead, 1, 3);
      __builtin_prefetch(b.grad + i + ahead, 0, 3);
    }
    if (i % 64 == 0) {
      __builtin_prefetch(b.codes[Q8_M] + i + ahead, 1, 3);
      __builtin_prefetch(b.codes[Q8_V] + i + ahead, 1, 3);
      if (k.amsgrad) __builtin_prefetch(b.codes[Q8_MAX] + i + ahead, 1, 3);
    }
    V m = dequantize<O>(qmap_signed, b.codes[Q8_M] + i, sm);
    V v = dequantize<O>(qmap_unsigned, b.codes[Q8_V] + i, sv);
    V vmax = k.amsgrad ? dequantize<O>(qmap_unsigned, b.codes[Q8_MAX] + i, sx) : v;
    O::store(b.param + i, adam_update<O>(k, O::load(b.param + i), O::load(b.grad + i), m, v, vmax));
    O::store(cur.fresh[Q8_M] + i, m);
    O::store(cur.fresh[Q8_V] + i, v);
    am = O::max_u(O::bits(O::abs(m)), am);
    av = O::max_u(O::bits(O::abs(v)), av);
    if (k.amsgrad) {
      O::store(cur.fresh[Q8_MAX] + i, vmax);
      ax = O::max_u(O::bits(O::abs(vmax)), ax);
    }
    if (prev) q8_store<O>(*prev, prev_divisor, k.amsgrad, i, far);
  }
  if (prev) prev->redo = prev->redo || !O::all(far);
  absmax[Q8_M] = scalar_ops::max_u(lane_max_bits<O>(am), absmax[Q8_M]);
  absmax[Q8_V] = scalar_ops::max_u(lane_max_bits<O>(av), absmax[Q8_V]);
  absmax[Q8_MAX] = scalar_ops::max_u(lane_max_bits<O>(ax), absmax[Q8_MAX]);
  return i;
}

template <class O>
inline void adam_step_q8(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  const adam_consts<O> k(s);
  const adam_consts<scalar_ops> k1(s);
  /* Local copies: through t every pointer would be reloaded after every vector store. */
  const adam_tensor_q8 u = *t;
  const adam_q8_moment moment[Q8_MOMENTS] = {u.exp_avg, u.exp_avg_sq, u.max_exp_avg_sq};
  const int moments = k.amsgrad ? 3 : 2;
  const size_t block_len = ADAM_Q8_BLOCK;
  q8_pending pending[2];
  q8_pending *prev = nullptr;
  for (size_t start = 0, block = 0; start < n; start += block_len, ++block) {
    const size_t len = n - start < block_len ? n - start : block_len;
    q8_pending &cur = pending[block & 1];
    q8_source b = {u.param + start, u.grad + start, {nullptr, nullptr, nullptr}, {0.0f, 0.0f, 0.0f}};
    for (int j = 0; j < moments; ++j) {
      b.codes[j] = moment[j].codes + start;
      b.scale[j] = moment[j].scale[block];
    }
    uint32_t absmax[Q8_MOMENTS] = {0, 0, 0};
    const size_t done = q8_update<O>(k, b, cur, prev, 0, len, absmax);
    /* The previous block is whole (only the last may be short): the rest of its codes. */
    if (prev) {
      q8_store_run<O>(*prev, k.amsgrad, done, block_len);
      /* Its codes are all stored: found again by dividing where needed (q8_divisor). */
      if (__builtin_expect(prev->redo, 0)) q8_store_exact_run<O>(*prev, k.amsgrad, 0, block_len);
    }
    q8_update<scalar_ops>(k1, b, cur, nullptr, done, len, absmax);
    cur.scale[Q8_MAX] = 1.0f; /* no amsgrad: a scale q8_divisor reads but never uses */
    cur.redo = false;
    for (int j = 0; j < moments; ++j) {
      cur.scale[j] = scalar_ops::max_nan(scalar_ops::from_bits(absmax[j]), 1e-12f);
      cur.codes[j] = moment[j].codes + start;
      moment[j].scale[block] = cur.scale[j];
      cur.redo = cur.redo || !q8_inverse_is_normal(cur.scale[j]);
    }
    prev = &cur;
  }
  if (prev) {
    const size_t len = n - (n - 1) / block_len * block_len;
    q8_store_run<scalar_ops>(*prev, k.amsgrad, q8_store_run<O>(*prev, k.amsgrad, 0, len), len);
    if (__builtin_expect(prev->redo, 0))
      q8_store_exact_run<scalar_ops>(*prev, k.amsgrad, q8_store_exact_run<O>(*prev, k.amsgrad, 0, len), len);
  }
}

}  // namespace

#endif
