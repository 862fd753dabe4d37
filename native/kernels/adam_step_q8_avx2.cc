/* AVX2 8-bit-state kernel (x86-64-v3; -mavx2 -mfma, never fused: see adam_body.h). */
#include "adam_q8_body.h"
#include "ops_avx2.h"

extern "C" void adam_step_q8_avx2(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_q8<avx2_ops>(t, n, s);
}

extern "C" void adam_q8_encode_avx2(const float *y, size_t n, int is_unsigned, uint8_t *codes) {
  encode_values<avx2_ops>(y, n, is_unsigned != 0, codes);
}
