/* The Adam update, written once. Each ISA has a struct of vector operations (ops_<isa>.h); its
 * kernel file instantiates adam_step<O>, whose main loop runs whole vectors and hands the fewer
 * than O::lanes elements left to the same body over scalar_ops. The scalar kernel is that body
 * over scalar_ops alone. The bfloat16 kernel is the same loop over another moment policy
 * (adam_bf16_body.h); the 8-bit one calls adam_update from its blockwise loop (adam_q8_body.h).
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

/* The per-tensor scalars broadcast once per kernel call. */
template <class O>
struct adam_consts {
  typedef typename O::V V;
  V beta1, one_minus_beta1, beta2, one_minus_beta2, eps, weight_decay, decay_factor;
  V bias_correction2_sqrt, neg_step_size, sign;
  bool amsgrad, coupled, decoupled;
  explicit adam_consts(const adam_scalars_f32 *s)
      : beta1(O::set1(s->beta1)), one_minus_beta1(O::set1(s->one_minus_beta1)), beta2(O::set1(s->beta2)),
        one_minus_beta2(O::set1(s->one_minus_beta2)), eps(O::set1(s->eps)), weight_decay(O::set1(s->weight_decay)),
        decay_factor(O::set1(s->decay_factor)), bias_correction2_sqrt(O::set1(s->bias_correction2_sqrt)),
        neg_step_size(O::set1(s->neg_step_size)), sign(O::sign_mask((s->flags & ADAM_MAXIMIZE) != 0)),
        amsgrad((s->flags & ADAM_AMSGRAD) != 0), coupled((s->flags & ADAM_COUPLED_DECAY) != 0),
        decoupled((s->flags & ADAM_DECOUPLED_DECAY) != 0) {}
};

/* One vector of the update, shared by every state format: m, v and (with amsgrad) vmax come in
 * as the stored moments and leave as the new ones; the new parameter is returned. */
template <class O>
inline typename O::V adam_update(const adam_consts<O> &k, typename O::V p, typename O::V grad, typename O::V &m,
                                 typename O::V &v, typename O::V &vmax) {
  typedef typename O::V V;
  V g = O::flip_sign(grad, k.sign);
  if (k.decoupled) p = O::mul(p, k.decay_factor);
  if (k.coupled) g = O::add(g, O::mul(k.weight_decay, p));
  m = O::add(O::mul(m, k.beta1), O::mul(k.one_minus_beta1, g));
  v = O::add(O::mul(v, k.beta2), O::mul(O::mul(k.one_minus_beta2, g), g));
  V s = v;
  if (k.amsgrad) s = vmax = O::max_nan(vmax, v);
  const V denom = O::add(O::div(O::sqrt(s), k.bias_correction2_sqrt), k.eps);
  return O::add(p, O::div(O::mul(k.neg_step_size, m), denom));
}

/* How a state format keeps its moments, the one thing the formats with a moment per element
 * differ in: here float32 as is; adam_bf16_body.h has bfloat16. A policy, over the op struct O,
 * names its tensor type (adam.h, adam_lowbit.h) and loads and stores one vector of moments. */
template <class O>
struct f32_moments {
  typedef adam_tensor_f32 tensor;
  static typename O::V load(const float *p) { return O::load(p); }
  static void store(float *p, typename O::V x) { O::store(p, x); }
};

/* Whole vectors of elements [0, n); returns where it stopped. The parameter is computed from the
 * unrounded moments, which are then stored in the format of M. */
template <class O, template <class> class M>
inline size_t adam_main_loop(const typename M<O>::tensor *t, size_t n, const adam_scalars_f32 *s) {
  typedef typename O::V V;
  const adam_consts<O> k(s);
  /* A local copy: vector stores may alias anything, so through t every pointer would be
   * reloaded after every store. */
  const typename M<O>::tensor u = *t;
  size_t i = 0;
  for (; i + O::lanes <= n; i += O::lanes) {
    /* The hardware prefetcher alone leaves the five streams short of bandwidth at 16M elements:
     * the CPU time of a step fell 12-20% with these (float32 and bf16 alike). 1024 elements
     * ahead, and 512 or 2048 measured the same. A prefetch never faults, so addresses past the
     * end are harmless; the scalar tail does without. */
    if (O::lanes > 1) {
      const size_t ahead = i + 1024;
      __builtin_prefetch(u.param + ahead, 1, 3);
      __builtin_prefetch(u.grad + ahead, 0, 3);
      __builtin_prefetch(u.exp_avg + ahead, 1, 3);
      __builtin_prefetch(u.exp_avg_sq + ahead, 1, 3);
      if (k.amsgrad) __builtin_prefetch(u.max_exp_avg_sq + ahead, 1, 3);
    }
    V m = M<O>::load(u.exp_avg + i), v = M<O>::load(u.exp_avg_sq + i);
    V vmax = k.amsgrad ? M<O>::load(u.max_exp_avg_sq + i) : v;
    const V p = adam_update<O>(k, O::load(u.param + i), O::load(u.grad + i), m, v, vmax);
    M<O>::store(u.exp_avg + i, m);
    M<O>::store(u.exp_avg_sq + i, v);
    if (k.amsgrad) M<O>::store(u.max_exp_avg_sq + i, vmax);
    O::store(u.param + i, p);
  }
  return i;
}

/* The whole kernel for moments kept as M: whole vectors, then elements [done, n) one at a time. */
template <class O, template <class> class M>
inline void adam_step_moments(const typename M<O>::tensor *t, size_t n, const adam_scalars_f32 *s) {
  const size_t done = adam_main_loop<O, M>(t, n, s);
  if (done == n) return;
  const typename M<O>::tensor rest = {t->param + done, t->grad + done, t->exp_avg + done, t->exp_avg_sq + done,
                                      t->max_exp_avg_sq ? t->max_exp_avg_sq + done : nullptr};
  adam_main_loop<scalar_ops, M>(&rest, n - done, s);
}

template <class O>
inline void adam_step(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_moments<O, f32_moments>(t, n, s);
}

}  // namespace

#endif
