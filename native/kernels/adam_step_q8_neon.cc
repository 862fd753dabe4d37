/* NEON 8-bit-state kernel (AArch64). */
#include "adam_q8_body.h"
#include "ops_neon.h"

extern "C" void adam_step_q8_neon(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_q8<neon_ops>(t, n, s);
}

extern "C" void adam_q8_encode_neon(const float *y, size_t n, int is_unsigned, uint8_t *codes) {
  encode_values<neon_ops>(y, n, is_unsigned != 0, codes);
}
