/**
 * The simd-adam optimizer that steps the variables of one tfjs optimizer. Its parameters are
 * views of tfjs storage, which tfjs may replace (an assign, a heap growth on wasm): then the
 * adapter builds a new one over the new views and hands it the state it already has, which
 * stays where simd-adam allocated it.
 */
import { Adam, type AdamOptions, type AdamState, type Parameter } from '../index.js';

/** One variable's state as setWeights() read it: tfjs's `<var>/m`, `<var>/v` (and `/vhat`). */
export interface SavedState {
  step: number;
  m: Float32Array;
  v: Float32Array;
  vhat?: Float32Array;
}

/** Adam with one addition: adopting state made by another instance. AdamW is this with
 * `decoupledWeightDecay: true`; same kernel, same bits. */
export class Executor extends Adam {
  /** The parameters, in group order, for comparing with a step's. */
  readonly params: readonly Parameter[];

  constructor(groups: ReadonlyArray<readonly Parameter[]>, hyper: AdamOptions) {
    super(
      groups.filter((g) => g.length > 0).map((params) => ({ params })),
      hyper,
    );
    this.params = groups.flat();
  }

  /** State in simd-adam's storage holding the given values, for `params` in order: what
   * setWeights() loaded. Built by loading a state dict into a throwaway executor. */
  static loadStates(params: readonly Parameter[], saved: readonly SavedState[], hyper: AdamOptions): AdamState[] {
    const scratch = new Executor([params], hyper);
    const dict = scratch.stateDict();
    const state: Record<number, object> = {};
    saved.forEach((s, i) => {
      state[i] = { step: s.step, exp_avg: s.m, exp_avg_sq: s.v, ...(s.vhat ? { max_exp_avg_sq: s.vhat } : {}) };
    });
    scratch.loadStateDict({ ...dict, state } as Parameters<Adam['loadStateDict']>[0]);
    return params.map((p) => scratch.state.get(p)!);
  }

  /** Makes `state` this parameter's state: the next step continues from it. */
  adopt(param: Parameter, state: AdamState): void {
    this.stateMap.set(param, state);
  }

  /** Whether this executor steps exactly `params` (in any order). */
  covers(params: readonly Parameter[]): boolean {
    if (params.length !== this.params.length) return false;
    const mine = new Set(this.params);
    return params.every((p) => mine.has(p));
  }

  /** Sets every group's hyperparameters (a user may change the learning rate between steps). */
  setHyper(hyper: Required<Omit<AdamOptions, 'decoupledWeightDecay' | 'stateDtype' | 'min8bitSize'>>): void {
    for (const group of this.paramGroups) {
      group.lr = hyper.lr;
      if (group.betas[0] !== hyper.betas[0] || group.betas[1] !== hyper.betas[1]) group.betas = [hyper.betas[0], hyper.betas[1]];
      group.eps = hyper.eps;
      group.weightDecay = hyper.weightDecay;
      group.amsgrad = hyper.amsgrad;
      group.maximize = hyper.maximize;
    }
  }
}
