/* AVX-512F bf16-state kernel, integer round-to-nearest-even (CPUs without AVX512_BF16). */
#include "adam_bf16_body.h"
#include "ops_avx512.h"

extern "C" void adam_step_bf16_avx512(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_bf16<avx512_ops>(t, n, s);
}
