/* AVX-512F 8-bit-state kernel. */
#include "adam_q8_body.h"
#include "ops_avx512.h"

extern "C" void adam_step_q8_avx512(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_q8<avx512_ops>(t, n, s);
}
