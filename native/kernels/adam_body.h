/* The Adam update, written once. Each ISA has a struct of vector operations (ops_<isa>.h); its
 * kernel file instantiates adam_step<O>, whose main loop runs whole vectors and hands the fewer
 * than O::lanes elements left to the same body over scalar_ops. The scalar kernel is that body
 * over scalar_ops alone.
 *
 * The order of operations is PyTorch 1.13's single-tensor Adam, one rounding per operation:
 *   g = maximize ? -grad : grad
 *   decoupled: p = p * decay_factor          coupled: g = g + weight_decay * p
 *   m = m * beta1 + (1 - beta1) * g           (mul_(beta1).add_(g, alpha=1-beta1))
 *   v = v * beta2 + ((1 - beta2) * g) * g     (mul_(beta2).addcmul_(g, g, value=1-beta2))
 *   s = amsgrad ? (vmax = max(vmax, v)) : v   (torch.maximum: NaN wins)
 *   p = p + (neg_step_size * m) / (sqrt(s) / bias_correction2_sqrt + eps)   (addcdiv_)
 * Kernel files are compiled with -ffp-contract=off so no backend fuses a multiply into an add:
 * that keeps every backend bit-identical to the scalar kernel and to the TypeScript oracle.
 *
 * Everything here has internal linkage (anonymous namespace): an inline function with external
 * linkage compiled under -mavx512f could be picked by the linker for baseline callers. */
#ifndef SIMD_ADAM_ADAM_BODY_H
#define SIMD_ADAM_ADAM_BODY_H

#include "adam.h"
#include "ops_scalar.h"

namespace {

template <class O>
inline size_t adam_main_loop(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  using V = typename O::V;
  const V beta1 = O::set1(s->beta1), one_minus_beta1 = O::set1(s->one_minus_beta1);
  const V beta2 = O::set1(s->beta2), one_minus_beta2 = O::set1(s->one_minus_beta2);
  const V eps = O::set1(s->eps), weight_decay = O::set1(s->weight_decay);
  const V decay_factor = O::set1(s->decay_factor);
  const V bias_correction2_sqrt = O::set1(s->bias_correction2_sqrt);
  const V neg_step_size = O::set1(s->neg_step_size);
  const V sign = O::sign_mask((s->flags & ADAM_MAXIMIZE) != 0);
  const bool amsgrad = (s->flags & ADAM_AMSGRAD) != 0;
  const bool coupled = (s->flags & ADAM_COUPLED_DECAY) != 0;
  const bool decoupled = (s->flags & ADAM_DECOUPLED_DECAY) != 0;

  float *param = t->param, *exp_avg = t->exp_avg, *exp_avg_sq = t->exp_avg_sq;
  float *max_exp_avg_sq = t->max_exp_avg_sq;
  const float *grad = t->grad;

  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    V p = O::load(param + i);
    V g = O::flip_sign(O::load(grad + i), sign);
    if (decoupled) p = O::mul(p, decay_factor);
    if (coupled) g = O::add(g, O::mul(weight_decay, p));
    const V m = O::add(O::mul(O::load(exp_avg + i), beta1), O::mul(one_minus_beta1, g));
    V v = O::add(O::mul(O::load(exp_avg_sq + i), beta2), O::mul(O::mul(one_minus_beta2, g), g));
    O::store(exp_avg + i, m);
    O::store(exp_avg_sq + i, v);
    if (amsgrad) {
      v = O::max_nan(O::load(max_exp_avg_sq + i), v);
      O::store(max_exp_avg_sq + i, v);
    }
    const V denom = O::add(O::div(O::sqrt(v), bias_correction2_sqrt), eps);
    p = O::add(p, O::div(O::mul(neg_step_size, m), denom));
    O::store(param + i, p);
  }
  return i;
}

/* The whole kernel: whole vectors, then elements [done, n) one at a time. */
template <class O>
inline void adam_step(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = adam_main_loop<O>(t, n, s);
  if (done == n) return;
  adam_tensor_f32 rest = {t->param + done, t->grad + done, t->exp_avg + done, t->exp_avg_sq + done,
                          t->max_exp_avg_sq ? t->max_exp_avg_sq + done : nullptr};
  adam_main_loop<scalar_ops>(&rest, n - done, s);
}

}  // namespace

#endif
