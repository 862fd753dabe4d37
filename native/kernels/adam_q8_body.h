/* Adam with 8-bit blockwise-quantized moments, written once over the op structs (ops_<isa>.h).
 * A kernel walks the run block by block (ADAM_Q8_BLOCK elements, one scale per moment each):
 *   1. dequantize each stored moment, x = qmap[code] * scale (one float32 multiply), run
 *      adam_body.h's adam_update, write the parameter from the unrounded moments, and keep the
 *      block's new moments in an L1 scratch while tracking their largest magnitude;
 *   2. scale = max(|x|) over the block, at least float32(1e-12), NaN if any is NaN (like amax);
 *   3. code = torchao's nearest code of y = x / scale (a float32 divide), found as the number
 *      of the map's precomputed thresholds at or below y (qmaps.h): eight compares of a binary
 *      search and no rounding step. A NaN y compares false everywhere and gets code 0. Table
 *      lookups are the op structs' `lookup` (register permutes, or a gather where it measured faster).
 * Memory is touched once: the scratch never leaves L1. */
#ifndef SIMD_ADAM_ADAM_Q8_BODY_H
#define SIMD_ADAM_ADAM_Q8_BODY_H

#include "adam_body.h"
#include "adam_lowbit.h"
#include "qmaps.h"

namespace {

enum { Q8_M, Q8_V, Q8_MAX, Q8_MOMENTS };

/* One block in flight: its parameter and grad, stored codes and scales, new moments. */
struct q8_block {
  float *param;
  const float *grad;
  uint8_t *codes[Q8_MOMENTS];
  float old_scale[Q8_MOMENTS];
  float *fresh[Q8_MOMENTS];
  float absmax[Q8_MOMENTS];
};

/* Largest lane, NaN if any lane is NaN. Once per block and moment, so a plain loop. */
template <class O>
inline float lane_max_nan(typename O::V x) {
  float lanes[O::lanes];
  O::store(lanes, x);
  float r = lanes[0];
  for (size_t i = 1; i < O::lanes; ++i) r = scalar_ops::max_nan(r, lanes[i]);
  return r;
}

template <class O>
inline typename O::V dequantize(const float *qmap, const uint8_t *codes, typename O::V scale) {
  return O::mul(O::template lookup<256>(qmap, O::load_u8(codes)), scale);
}

/* Asks for the lines two blocks ahead, a cache line of parameters at a time. This loop moves
 * few bytes per cycle, and without it the hardware prefetchers let it wait on DRAM (measured: a
 * 16M-element step 3x slower than the same kernel in cache). A prefetch never faults, so
 * addresses past the end are harmless. */
inline void prefetch_ahead(const q8_block &b, size_t i, bool amsgrad) {
  const size_t ahead = 2 * ADAM_Q8_BLOCK;
  __builtin_prefetch(b.param + i + ahead, 1, 3);
  __builtin_prefetch(b.grad + i + ahead, 0, 3);
  if (i % 64 != 0) return;
  __builtin_prefetch(b.codes[Q8_M] + i + ahead, 1, 3);
  __builtin_prefetch(b.codes[Q8_V] + i + ahead, 1, 3);
  if (amsgrad) __builtin_prefetch(b.codes[Q8_MAX] + i + ahead, 1, 3);
}

/* Step 1 over whole vectors of elements [i, len) of the block; returns where it stopped. */
template <class O>
inline size_t q8_update(const adam_consts<O> &k, q8_block &b, size_t i, size_t len) {
  typedef typename O::V V;
  const V sm = O::set1(b.old_scale[Q8_M]), sv = O::set1(b.old_scale[Q8_V]), sx = O::set1(b.old_scale[Q8_MAX]);
  V am = O::set1(0.0f), av = am, ax = am;
  for (; i + O::lanes <= len; i += O::lanes) {
    if (i % 16 == 0) prefetch_ahead(b, i, k.amsgrad);
    V m = dequantize<O>(qmap_signed, b.codes[Q8_M] + i, sm);
    V v = dequantize<O>(qmap_unsigned, b.codes[Q8_V] + i, sv);
    V vmax = k.amsgrad ? dequantize<O>(qmap_unsigned, b.codes[Q8_MAX] + i, sx) : v;
    O::store(b.param + i, adam_update<O>(k, O::load(b.param + i), O::load(b.grad + i), m, v, vmax));
    O::store(b.fresh[Q8_M] + i, m);
    O::store(b.fresh[Q8_V] + i, v);
    am = O::max_nan(O::abs(m), am);
    av = O::max_nan(O::abs(v), av);
    if (k.amsgrad) {
      O::store(b.fresh[Q8_MAX] + i, vmax);
      ax = O::max_nan(O::abs(vmax), ax);
    }
  }
  b.absmax[Q8_M] = scalar_ops::max_nan(lane_max_nan<O>(am), b.absmax[Q8_M]);
  b.absmax[Q8_V] = scalar_ops::max_nan(lane_max_nan<O>(av), b.absmax[Q8_V]);
  b.absmax[Q8_MAX] = scalar_ops::max_nan(lane_max_nan<O>(ax), b.absmax[Q8_MAX]);
  return i;
}

constexpr int log2_of(int x) { return x <= 1 ? 0 : 1 + log2_of(x / 2); }

/* One level of the binary search: c += B if y >= t[c + B], the pivot looked up among the
 * level's 128 / B thresholds (qmaps.h). */
template <class O, int B>
inline void search_level(const float *levels, typename O::V y, typename O::VI &c) {
  constexpr int N = 128 / B;
  const typename O::V pivot = O::template lookup<N>(levels + N, O::template srli<log2_of(2 * B)>(c));
  c = O::add_if(c, O::ge(y, pivot), O::set1_i(B));
}

/* torchao's nearest code of y: the number of the map's thresholds at or below y (qmaps.h). */
template <class O>
inline typename O::VI encode(const float *levels, typename O::V y) {
  typename O::VI c = O::set1_i(0);
  search_level<O, 128>(levels, y, c);
  search_level<O, 64>(levels, y, c);
  search_level<O, 32>(levels, y, c);
  search_level<O, 16>(levels, y, c);
  search_level<O, 8>(levels, y, c);
  search_level<O, 4>(levels, y, c);
  search_level<O, 2>(levels, y, c);
  search_level<O, 1>(levels, y, c);
  return c;
}

/* Step 3 over whole vectors of elements [i, len); returns where it stopped. */
template <class O>
inline size_t q8_store(const float *levels, const float *fresh, uint8_t *codes, float scale, size_t i,
                       size_t len) {
  const typename O::V s = O::set1(scale);
  for (; i + O::lanes <= len; i += O::lanes) O::store_u8(codes + i, encode<O>(levels, O::div(O::load(fresh + i), s)));
  return i;
}

template <class O>
inline void adam_step_q8(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  const adam_consts<O> k(s);
  const adam_consts<scalar_ops> k1(s);
  const adam_q8_moment *moment[Q8_MOMENTS] = {&t->exp_avg, &t->exp_avg_sq, &t->max_exp_avg_sq};
  const float *levels[Q8_MOMENTS] = {qmap_signed_thresholds, qmap_unsigned_thresholds, qmap_unsigned_thresholds};
  const int moments = k.amsgrad ? 3 : 2;
  const size_t block_len = ADAM_Q8_BLOCK;
  alignas(64) float fresh[Q8_MOMENTS][ADAM_Q8_BLOCK];
  for (size_t start = 0, block = 0; start < n; start += block_len, ++block) {
    const size_t len = n - start < block_len ? n - start : block_len;
    q8_block b;
    b.param = t->param + start;
    b.grad = t->grad + start;
    for (int j = 0; j < Q8_MOMENTS; ++j) {
      const bool used = j < moments;
      b.codes[j] = used ? moment[j]->codes + start : nullptr;
      b.old_scale[j] = used ? moment[j]->scale[block] : 0.0f;
      b.fresh[j] = fresh[j];
      b.absmax[j] = 0.0f;
    }
    const size_t done = q8_update<O>(k, b, 0, len);
    q8_update<scalar_ops>(k1, b, done, len);
    for (int j = 0; j < moments; ++j) {
      const float scale = scalar_ops::max_nan(b.absmax[j], 1e-12f);
      moment[j]->scale[block] = scale;
      const size_t stored = q8_store<O>(levels[j], fresh[j], b.codes[j], scale, 0, len);
      q8_store<scalar_ops>(levels[j], fresh[j], b.codes[j], scale, stored, len);
    }
  }
}

}  // namespace

#endif
