/** What Adam keeps per parameter: the engine steps it, the optimizer hands it out. */
/** A parameter's state, created by its first step with a grad. The arrays are views into the
 * optimizer's storage, of the parameter's length (`numel`); writing into them changes the
 * state, and they never move. */
export interface AdamState {
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
}
