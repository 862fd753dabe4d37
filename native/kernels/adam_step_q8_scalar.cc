/* Scalar 8-bit-state kernel: the body over scalar_ops, the baseline every other backend matches. */
#include "adam_q8_body.h"

extern "C" void adam_step_q8_scalar(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_q8<scalar_ops>(t, n, s);
}
