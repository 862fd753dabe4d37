/** What Adam keeps per parameter: the engine steps it, the optimizer hands it out. */
import type { Q8Moment } from '../reference/adam_lowbit.js';

/** A parameter's state with float32 moments, created by its first step with a grad. The arrays
 * are views into the optimizer's storage, of the parameter's length (`numel`); writing into them
 * changes the state, and they never move. */
export interface AdamStateFloat32 {
  /** Steps taken by this parameter (a parameter skipped by a step does not count it). It may be
   * assigned, as PyTorch's `state['step']` may: the next step uses the new count. A value that
   * is not an integer ≥ 0 makes the next step throw `ERR_STATE`. */
  step: number;
  /** The first moment m (PyTorch's `exp_avg`). */
  readonly expAvg: Float32Array;
  /** The second moment v (PyTorch's `exp_avg_sq`). */
  readonly expAvgSq: Float32Array;
  /** Present exactly when the parameter's group has amsgrad. */
  readonly maxExpAvgSq?: Float32Array;
  /** The storage used (a parameter below min8bitSize in an '8bit' group reports 'float32'). */
  readonly dtype: 'float32';
}

/** A parameter's state in a 'bfloat16' group: the moments as bfloat16 bit patterns (the upper
 * 16 bits of the float32 value). */
export interface AdamStateBfloat16 {
  step: number;
  readonly expAvg: Uint16Array;
  readonly expAvgSq: Uint16Array;
  readonly maxExpAvgSq?: Uint16Array;
  readonly dtype: 'bfloat16';
}

/** A parameter's state in an '8bit' group: per moment a code per element and a scale per block
 * of 256 elements (value = qmap[code] * scale). */
export interface AdamState8bit {
  step: number;
  readonly expAvg: Q8Moment;
  readonly expAvgSq: Q8Moment;
  readonly maxExpAvgSq?: Q8Moment;
  readonly dtype: '8bit';
}

/** A parameter's state, told apart by `dtype`. */
export type AdamState = AdamStateFloat32 | AdamStateBfloat16 | AdamState8bit;
