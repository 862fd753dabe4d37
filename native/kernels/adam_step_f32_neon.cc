/* NEON kernel (AArch64, where NEON is baseline). */
#include "adam_body.h"
#include "ops_neon.h"

extern "C" void adam_step_f32_neon(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step<neon_ops>(t, n, s);
}
