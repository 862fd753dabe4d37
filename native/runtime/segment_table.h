/* The rows of a step plan, as the TypeScript layer writes them (src/engine/segment_table.ts). The addon exports
 * these indices as `planLayout`, so the column order is written down only here. */
#ifndef SIMD_ADAM_PLAN_LAYOUT_H
#define SIMD_ADAM_PLAN_LAYOUT_H

/* One Float64Array row per segment: its length in elements, the row of the scalars table it uses
 * (segments of one group at one step share a row, so a plan of 100000 small tensors converts one
 * row of scalars, not 100000), then (buffer index, element offset) for each of the five arrays.
 * The max_exp_avg_sq buffer index is -1 for a segment without amsgrad state. STATE_FORMAT says
 * how the moments are stored (STATE_F32, STATE_BF16, STATE_Q8 below): their offsets count
 * elements of that format (floats, uint16 bf16 bits, uint8 codes); for 8-bit state each moment
 * also has (buffer index, float offset) of its block scales, and the segment starts a block. */
#define SIMD_ADAM_SEGMENT_FIELDS(X)                                                             \
  X(LENGTH) X(SCALARS_ROW) X(PARAM_BUFFER) X(PARAM_OFFSET) X(GRAD_BUFFER) X(GRAD_OFFSET)       \
  X(EXP_AVG_BUFFER) X(EXP_AVG_OFFSET) X(EXP_AVG_SQ_BUFFER) X(EXP_AVG_SQ_OFFSET)                 \
  X(MAX_EXP_AVG_SQ_BUFFER) X(MAX_EXP_AVG_SQ_OFFSET) X(STATE_FORMAT) X(EXP_AVG_SCALE_BUFFER)                  \
  X(EXP_AVG_SCALE_OFFSET) X(EXP_AVG_SQ_SCALE_BUFFER) X(EXP_AVG_SQ_SCALE_OFFSET)                              \
  X(MAX_EXP_AVG_SQ_SCALE_BUFFER) X(MAX_EXP_AVG_SQ_SCALE_OFFSET)

/* One Float64Array row of scalars per (group, step) in use, in double; the addon rounds each to
 * float once. */
#define SIMD_ADAM_SCALAR_FIELDS(X)                                                              \
  X(BETA1) X(ONE_MINUS_BETA1) X(BETA2) X(ONE_MINUS_BETA2) X(EPS) X(WEIGHT_DECAY) X(DECAY_FACTOR) \
  X(BIAS_CORRECTION2_SQRT) X(NEG_STEP_SIZE) X(FLAGS)

/* Values of the STATE_FORMAT column. */
enum { STATE_F32 = 0, STATE_BF16 = 1, STATE_Q8 = 2 };

#define SIMD_ADAM_ENUM_PLAN(name) PLAN_##name,
#define SIMD_ADAM_ENUM_SCALAR(name) SCALAR_##name,
enum { SIMD_ADAM_SEGMENT_FIELDS(SIMD_ADAM_ENUM_PLAN) PLAN_SEGMENT_STRIDE };
enum { SIMD_ADAM_SCALAR_FIELDS(SIMD_ADAM_ENUM_SCALAR) PLAN_SCALARS_STRIDE };
#undef SIMD_ADAM_ENUM_PLAN
#undef SIMD_ADAM_ENUM_SCALAR

#endif
