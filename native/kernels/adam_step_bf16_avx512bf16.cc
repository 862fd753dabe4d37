/* AVX-512F bf16-state kernel storing with AVX512_BF16's vcvtneps2bf16 (-mavx512f -mavx512bf16). */
#include "adam_bf16_body.h"
#include "ops_avx512bf16.h"

extern "C" void adam_step_bf16_avx512bf16(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_bf16<avx512bf16_ops>(t, n, s);
}
