/* Adam with bfloat16 moments: adam_body.h's kernel over a moment policy whose load widens the
 * stored bits exactly and whose store rounds to nearest even, so the parameter is written from
 * the unrounded moments. One pass over memory: 4 + 4 + 4 bytes of parameter and grad, 2 + 2
 * read and 2 + 2 written per moment pair. */
#ifndef SIMD_ADAM_ADAM_BF16_BODY_H
#define SIMD_ADAM_ADAM_BF16_BODY_H

#include "adam_body.h"
#include "adam_lowbit.h"

namespace {

template <class O>
struct bf16_moments {
  typedef adam_tensor_bf16 tensor;
  static typename O::V load(const uint16_t *p) { return O::load_bf16(p); }
  static void store(uint16_t *p, typename O::V x) { O::store_bf16(p, x); }
};

template <class O>
inline void adam_step_bf16(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_moments<O, bf16_moments>(t, n, s);
}

}  // namespace

#endif
