/* AVX2 bf16-state kernel (x86-64-v3; -mavx2 -mfma, never fused: see adam_body.h). */
#include "adam_bf16_body.h"
#include "ops_avx2.h"

extern "C" void adam_step_bf16_avx2(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_bf16<avx2_ops>(t, n, s);
}
