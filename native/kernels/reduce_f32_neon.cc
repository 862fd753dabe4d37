/* NEON reductions (AArch64): the bodies of reduce_body.h over neon_ops. */
#include "ops_neon.h"
#include "reduce_body.h"

SIMD_ADAM_REDUCE_KERNELS(neon, neon_ops)
