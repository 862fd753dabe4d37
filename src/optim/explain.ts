/**
 * What step() will do to each parameter, and why: the answer to the frozen-parameter trap
 * (docs/api.md), where an all-zero gradient still moves a parameter through weight decay or
 * momentum. The facts about array contents come from one native all-zero pass; this file turns
 * them into reasons.
 */
import { momentToFloat32, type Moment } from '../engine/lowbit_state.js';
import type { Parameter } from '../nn/parameter.js';
import type { AdamHyper } from '../reference/adam.js';

/** Why step() will or will not move a parameter. */
export type ExplainReason =
  /** requiresGrad is false: step() never touches it. */
  | 'frozen'
  /** grad is null: step() skips it. */
  | 'no-grad'
  /** A normal update: the grad has a non-zero element (NaN and ±Inf count as non-zero). */
  | 'gradient'
  /** The grad is all zero, but weight decay will still move the parameter. */
  | 'zero-grad-weight-decay'
  /** The grad is all zero and weight decay will not move it, but the stored momentum will. */
  | 'zero-grad-momentum'
  /** The grad is all zero and nothing will move the parameter; its state still advances. */
  | 'zero-grad-no-op';

/** One parameter's line of opt.explain(). */
export interface ExplainEntry {
  param: Parameter;
  /** The parameter's name, or undefined. */
  name: string | undefined;
  /** The index of its param group. */
  group: number;
  /** 'update' for every parameter step() will process, 'zero-grad-no-op' included. */
  action: 'update' | 'skip';
  reason: ExplainReason;
}

/** What the all-zero pass found for a parameter whose grad is all zero, before the step. */
export interface ZeroGradFacts {
  paramAllZero: boolean;
  /** True when the parameter has no state yet (its first step starts from zero moments). */
  expAvgAllZero: boolean;
  /** eps = 0 only: some element will compute 0/0 (see zeroDividesReference). */
  zeroDivides: boolean;
}

/**
 * The reason for a parameter whose grad is all zero, from the update rule (docs/numerics.md):
 * - Weight decay moves it when weightDecay > 0, the parameter has a non-zero element, and the
 *   decay reaches it: decoupled, the factor 1 − lr·wd must differ from 1 in float32 (an lr·wd
 *   below 2⁻²⁵ rounds away); coupled, g = wd·p enters the momentum and lr > 0 applies it.
 * - Momentum moves it when lr > 0, beta1 > 0 (else m becomes 0) and exp_avg has a non-zero
 *   element. With eps = 0 an element whose new m and second moment are both zero computes
 *   0/0 = NaN and writes it into the parameter, as PyTorch does: that is a move, and since it
 *   comes from the momentum term m/(√v + eps), it is reported as 'zero-grad-momentum' too.
 * - Otherwise nothing moves: 'zero-grad-no-op'.
 * A finite state is assumed (a NaN moment would move the parameter even with lr = 0).
 */
export function zeroGradReason(h: AdamHyper, facts: ZeroGradFacts): Extract<ExplainReason, `zero-grad-${string}`> {
  const decays =
    h.weightDecay > 0 &&
    !facts.paramAllZero &&
    (h.decoupledWeightDecay ? Math.fround(1 - h.lr * h.weightDecay) !== 1 : h.lr > 0);
  if (decays) return 'zero-grad-weight-decay';
  if ((h.lr > 0 && h.beta1 > 0 && !facts.expAvgAllZero) || facts.zeroDivides) return 'zero-grad-momentum';
  return 'zero-grad-no-op';
}

/** Moment arrays before the step (in any storage format), or undefined for a parameter with no
 * state yet. */
export interface Moments {
  expAvg: Moment;
  expAvgSq: Moment;
  maxExpAvgSq?: Moment | undefined;
}

/**
 * For eps = 0 and an all-zero grad with no weight decay reaching the parameter: will some
 * element compute 0/0? It does where the new m = beta1·m and the new second moment (v = beta2·v,
 * or max(v_max, v) with amsgrad) are both zero. A TypeScript loop, not a native pass: eps = 0 is
 * rare, and this runs only then.
 */
export function zeroDividesReference(h: AdamHyper, numel: number, moments: Moments | undefined): boolean {
  if (h.eps !== 0 || numel === 0) return false;
  if (moments === undefined) return true;
  const f = Math.fround;
  const expAvg = momentToFloat32(moments.expAvg, true);
  const expAvgSq = momentToFloat32(moments.expAvgSq, false);
  const maxExpAvgSq = moments.maxExpAvgSq && momentToFloat32(moments.maxExpAvgSq, false);
  for (let i = 0; i < numel; i++) {
    const v = f(expAvgSq[i]! * f(h.beta2));
    const s = maxExpAvgSq ? (maxExpAvgSq[i]! > v ? maxExpAvgSq[i]! : v) : v;
    if (f(expAvg[i]! * f(h.beta1)) === 0 && s === 0) return true;
  }
  return false;
}
