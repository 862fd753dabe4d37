/* AVX-512F 8-bit-state kernel. */
#include "adam_q8_body.h"
#include "ops_avx512.h"

extern "C" void adam_step_q8_avx512(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_q8<avx512_ops>(t, n, s);
}

extern "C" void adam_q8_encode_avx512(const float *y, size_t n, int is_unsigned, uint8_t *codes) {
  encode_values<avx512_ops>(y, n, is_unsigned != 0, codes);
}
