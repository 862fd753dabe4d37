/* Kernels with an Adam step's memory traffic and no math, for the benchmark's roofline. Same
 * signature as the Adam kernels, so they run over the same thread pool and chunking. */
#ifndef SIMD_ADAM_PROBE_KERNELS_H
#define SIMD_ADAM_PROBE_KERNELS_H

#include "kernels/adam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads param, grad, exp_avg, exp_avg_sq and writes param, exp_avg, exp_avg_sq: 28 bytes per
 * element, moved as integers (a rotation and an xor), so there is no floating-point work. */
void probe_traffic_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
/* STREAM triad, param = grad + beta1 * exp_avg: 12 bytes per element as STREAM counts them. */
void probe_triad_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);

#ifdef __cplusplus
}
#endif

#endif
