/* Scalar kernel: the baseline every CPU runs, the tail of every vector kernel, and the C twin
 * of src/reference.ts. Same order of operations as adam_body.h, one element at a time. */
#include "adam.h"

#include <string.h>

namespace {

inline float flip_sign(float x, uint32_t sign) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  bits ^= sign;
  memcpy(&x, &bits, sizeof bits);
  return x;
}

/* torch.maximum: NaN in either operand gives NaN; otherwise (a > b ? a : b), which is also
 * what x86's maxps computes. fmaxf would drop the NaN. */
inline float max_nan(float a, float b) { return a != a ? a : (a > b ? a : b); }

}  // namespace

extern "C" void adam_step_f32_scalar(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  const uint32_t sign = (s->flags & ADAM_MAXIMIZE) ? 0x80000000u : 0u;
  const bool amsgrad = (s->flags & ADAM_AMSGRAD) != 0;
  const bool coupled = (s->flags & ADAM_COUPLED_DECAY) != 0;
  const bool decoupled = (s->flags & ADAM_DECOUPLED_DECAY) != 0;
  for (size_t i = 0; i < n; ++i) {
    float p = t->param[i];
    float g = flip_sign(t->grad[i], sign);
    if (decoupled) p = p * s->decay_factor;
    if (coupled) g = g + s->weight_decay * p;
    const float m = t->exp_avg[i] * s->beta1 + s->one_minus_beta1 * g;
    float v = t->exp_avg_sq[i] * s->beta2 + (s->one_minus_beta2 * g) * g;
    t->exp_avg[i] = m;
    t->exp_avg_sq[i] = v;
    if (amsgrad) {
      v = max_nan(t->max_exp_avg_sq[i], v);
      t->max_exp_avg_sq[i] = v;
    }
    const float denom = __builtin_sqrtf(v) / s->bias_correction2_sqrt + s->eps;
    t->param[i] = p + (s->neg_step_size * m) / denom;
  }
}
