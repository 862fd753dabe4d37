/** What Adam keeps per parameter: the engine steps it, the optimizer hands it out. */
/** A parameter's state. The arrays are views into the optimizer's storage; they never move. */
export interface AdamState {
  /** Steps taken by this parameter (a parameter skipped by a step does not count it). It may be
   * assigned, as PyTorch's `state['step']` may: the next step uses the new count. */
  step: number;
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  /** Present exactly when the parameter's group has amsgrad. */
  readonly maxExpAvgSq?: Float32Array;
}
