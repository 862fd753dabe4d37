/* Scalar kernel: the baseline every CPU runs, and the C twin of the TypeScript reference. */
#include "adam_body.h"

extern "C" void adam_step_f32_scalar(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s) {
  adam_step<scalar_ops>(t, n, s);
}
