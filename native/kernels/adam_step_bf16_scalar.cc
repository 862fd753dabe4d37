/* Scalar bf16-state kernel: the body over scalar_ops, the baseline every other backend matches. */
#include "adam_bf16_body.h"

extern "C" void adam_step_bf16_scalar(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_bf16<scalar_ops>(t, n, s);
}
