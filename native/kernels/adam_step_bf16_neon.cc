/* NEON bf16-state kernel (AArch64). */
#include "adam_bf16_body.h"
#include "ops_neon.h"

extern "C" void adam_step_bf16_neon(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step_bf16<neon_ops>(t, n, s);
}
