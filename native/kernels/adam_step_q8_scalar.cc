/* Scalar 8-bit-state kernel: the body over scalar_ops, the baseline every other backend matches. */
#include "adam_q8_body.h"

extern "C" void adam_step_q8_scalar(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_q8<scalar_ops>(t, n, s);
}

extern "C" void adam_q8_encode_scalar(const float *y, size_t n, int is_unsigned, uint8_t *codes) {
  encode_values<scalar_ops>(y, n, is_unsigned != 0, codes);
}
