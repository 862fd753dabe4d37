/* The kernel contract for reduced-precision optimizer state: the moments stored as bfloat16 bit
 * patterns, or as 8-bit codes with one float32 scale per block of ADAM_Q8_BLOCK elements. The
 * parameter and grad stay float32 and the update is the float32 one of adam.h on the loaded
 * moments; the parameter is written with this step's unrounded moments, then the moments are
 * stored in the reduced format. Plain C types only, as adam.h. */
#ifndef SIMD_ADAM_ADAM_LOWBIT_H
#define SIMD_ADAM_ADAM_LOWBIT_H

#include <stddef.h>
#include <stdint.h>

#include "adam.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Elements per quantization block: one scale each. */
enum { ADAM_Q8_BLOCK = 256 };

/* Moments as bfloat16 bits (the upper half of the float32); 2-byte alignment suffices.
 * max_exp_avg_sq is NULL unless ADAM_AMSGRAD is set. */
typedef struct adam_tensor_bf16 {
  float *param;
  const float *grad;
  uint16_t *exp_avg;
  uint16_t *exp_avg_sq;
  uint16_t *max_exp_avg_sq;
} adam_tensor_bf16;

/* One 8-bit moment: a code per element and a scale per block, codes[0] starting a block. */
typedef struct adam_q8_moment {
  uint8_t *codes;
  float *scale;
} adam_q8_moment;

/* exp_avg uses the signed map, exp_avg_sq and max_exp_avg_sq the unsigned one (qmaps.h);
 * max_exp_avg_sq.codes is NULL unless ADAM_AMSGRAD is set. */
typedef struct adam_tensor_q8 {
  float *param;
  const float *grad;
  adam_q8_moment exp_avg;
  adam_q8_moment exp_avg_sq;
  adam_q8_moment max_exp_avg_sq;
} adam_tensor_q8;

/* Update elements [0, n). bf16: any n. q8: element 0 starts a block and the run covers whole
 * blocks except possibly the last, which may be short (the tensor's end): a block is quantized
 * from all of its new values at once, so a run must never split one. Every kernel of a family
 * gives results bit-identical to the scalar one and to the TypeScript reference. */
typedef void (*adam_step_bf16_fn)(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s);
typedef void (*adam_step_q8_fn)(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s);

/* The 8-bit kernels' quantizer alone, for the checks (native/test): codes[i] = torchao's nearest
 * code of y[i] in the signed map (exp_avg's) or, when is_unsigned, the unsigned one; any n. */
typedef void (*adam_q8_encode_fn)(const float *y, size_t n, int is_unsigned, uint8_t *codes);

void adam_step_bf16_scalar(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s);
void adam_step_q8_scalar(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s);
void adam_q8_encode_scalar(const float *y, size_t n, int is_unsigned, uint8_t *codes);
#if defined(__x86_64__) || defined(_M_X64)
void adam_step_bf16_avx2(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s);
void adam_step_q8_avx2(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s);
void adam_q8_encode_avx2(const float *y, size_t n, int is_unsigned, uint8_t *codes);
void adam_step_bf16_avx512(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s);
void adam_step_q8_avx512(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s);
void adam_q8_encode_avx512(const float *y, size_t n, int is_unsigned, uint8_t *codes);
/* AVX-512F with AVX512_BF16's vcvtneps2bf16 for the bf16 store. */
void adam_step_bf16_avx512bf16(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s);
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
void adam_step_bf16_neon(const adam_tensor_bf16 *t, size_t n, const adam_scalars_f32 *s);
void adam_step_q8_neon(const adam_tensor_q8 *t, size_t n, const adam_scalars_f32 *s);
void adam_q8_encode_neon(const float *y, size_t n, int is_unsigned, uint8_t *codes);
#endif

#ifdef __cplusplus
}
#endif

#endif
