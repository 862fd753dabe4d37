/* Adam with bfloat16 moments, written once over the op structs (ops_<isa>.h): load widens the
 * stored bits exactly, the update is adam_body.h's adam_update, the parameter is written from the
 * unrounded moments, and the moments are stored rounded to nearest even. One pass over memory:
 * 4 + 4 + 4 bytes of parameter and grad, 2 + 2 read and 2 + 2 written per moment pair. */
#ifndef SIMD_ADAM_ADAM_BF16_BODY_H
#define SIMD_ADAM_ADAM_BF16_BODY_H

#include "adam_body.h"
#include "adam_lowbit.h"

namespace {

template <class O>
inline size_t adam_bf16_main_loop(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  typedef typename O::V V;
  const adam_consts<O> k(s);
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    V m = O::load_bf16(t->exp_avg + i), v = O::load_bf16(t->exp_avg_sq + i);
    V vmax = k.amsgrad ? O::load_bf16(t->max_exp_avg_sq + i) : v;
    const V p = adam_update<O>(k, O::load(t->param + i), O::load(t->grad + i), m, v, vmax);
    O::store(t->param + i, p);
    O::store_bf16(t->exp_avg + i, m);
    O::store_bf16(t->exp_avg_sq + i, v);
    if (k.amsgrad) O::store_bf16(t->max_exp_avg_sq + i, vmax);
  }
  return i;
}

template <class O>
inline void adam_step_bf16(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = adam_bf16_main_loop<O>(t, n, s);
  if (done == n) return;
  adam_tensor_bf16 rest = {t->param + done, t->grad + done, t->exp_avg + done, t->exp_avg_sq + done,
                           t->max_exp_avg_sq ? t->max_exp_avg_sq + done : nullptr};
  adam_bf16_main_loop<scalar_ops>(&rest, n - done, s);
}

}  // namespace

#endif
