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
/* The traffic of a step with bfloat16 moments, 20 bytes per element (param and grad read, param
 * written as float32; exp_avg and exp_avg_sq read and written as 16 bits, in the first 2n bytes
 * of their arrays). */
void probe_traffic_bf16(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
/* The traffic of a step with 8-bit moments, 16 + 1/16 bytes per element: param, grad, 1-byte
 * codes of both moments (the first n bytes of their arrays) and one float scale per 256
 * elements of each (after the codes), read and written. */
void probe_traffic_q8(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
/* The scales' share of that traffic alone (the last 1/16 byte per element). */
void probe_traffic_q8_scales(const adam_tensor_f32 *t, size_t n);
/* The 8-bit step with free (de)quantizing (probe_update_q8_avx512.cc): the float32 update over
 * probe_traffic_q8's traffic. AVX-512F only: x86-64 builds with a CPU that has it. */
void probe_update_q8_avx512(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);
/* STREAM triad, param = grad + beta1 * exp_avg: 12 bytes per element as STREAM counts them. */
void probe_triad_f32(const adam_tensor_f32 *t, size_t n, const adam_scalars_f32 *s);

#ifdef __cplusplus
}
#endif

#endif
