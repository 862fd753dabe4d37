/**
 * Adam's and AdamW's hyperparameters: their types, defaults and validation rules. The optimizer
 * checks a group's hyperparameters again at every step, because users and schedulers mutate them.
 */
import { rangeError, typeError } from '../common/errors.js';
import { STATE_DTYPES, type StateDtype } from '../engine/lowbit_state.js';
import { checkBoolean, checkNumber, describe } from '../common/validate.js';
import type { AdamHyper } from '../reference/adam.js';
import type { Algorithm } from './optimizer.js';
import { checkGroupSpellings } from './param_groups.js';

/**
 * Adam's hyperparameters, as held by every param group. Each may be given to the constructor
 * (the optimizer's defaults) or per group, and changed on `paramGroups[i]` between steps: every
 * step validates them again and throws `ERR_OPTION` (a TypeError for a wrong type, a RangeError
 * for a value out of range) without changing anything.
 */
export interface AdamHyperparameters {
  /** Learning rate: a finite number ≥ 0. Default 1e-3. */
  lr: number;
  /** `[beta1, beta2]`, the decay rates of the first and second moments, each a finite number in
   * [0, 1). Default `[0.9, 0.999]`. */
  betas: [number, number];
  /** Added to the bias-corrected √v in the denominator: a finite number ≥ 0. Default 1e-8
   * (tfjs uses 1e-7). With 0, an element whose moments are both 0 becomes NaN, as in PyTorch. */
  eps: number;
  /** Weight decay factor: a finite number ≥ 0. Default 0 for Adam (coupled: g += wd·p) and 1e-2
   * for AdamW (decoupled: p *= 1 − lr·wd). */
  weightDecay: number;
  /** Use the running maximum of the second moment (AMSGrad). Default false. Cannot change for a
   * group whose parameters already have state (`ERR_AMSGRAD_STATE` at the next step). */
  amsgrad: boolean;
  /** Maximize the objective: the gradient is negated. Default false. */
  maximize: boolean;
  /** AdamW's weight decay (p *= 1 − lr·wd) instead of Adam's (g += wd·p). Default false for
   * Adam; AdamW is always decoupled and does not accept this option. */
  decoupledWeightDecay: boolean;
  /** How the moments are stored: 'float32' (default), 'bfloat16' (4 bytes of state per
   * parameter, +2 with amsgrad) or '8bit' (blockwise-quantized, about 2). The math is float32
   * either way; see docs/lowbit.md. Cannot change once the group has state, except through
   * loadStateDict. */
  stateDtype: StateDtype;
  /** In an '8bit' group, parameters with fewer elements keep float32 state. Integer ≥ 0;
   * default 4096. */
  min8bitSize: number;
}

/** Options for `new Adam()` and per-group overrides: any subset of the
 * {@link AdamHyperparameters}, each with its default when left out. An unknown key (such as
 * `weight_decay`) is a TypeError with code `ERR_OPTION` that suggests the right name. */
export type AdamOptions = Partial<Omit<AdamHyperparameters, 'betas'>> & {
  /** `[beta1, beta2]`, each a finite number in [0, 1). Default `[0.9, 0.999]`. */
  betas?: readonly [number, number];
};

/** AdamW is always decoupled, so it takes every Adam option but that one; its default
 * `weightDecay` is 1e-2. */
export type AdamWOptions = Omit<AdamOptions, 'decoupledWeightDecay'>;

/** What step() does when a gradient it is about to use holds NaN or ±Inf: see
 * {@link OptimizerOptions.nonFinite}. */
export type NonFiniteMode = 'propagate' | 'skip' | 'throw';

/** Options of the optimizer as a whole: accepted by the constructor next to the default
 * hyperparameters, but not per group (a group that sets one is a TypeError, `ERR_OPTION`). */
export interface OptimizerOptions {
  /** Default `'propagate'` (PyTorch's behaviour): NaN and Inf flow into the update, at no cost.
   * `'skip'`: the whole step changes nothing and `skippedSteps` counts it. `'throw'`: the step
   * throws a SimdAdamError (code `ERR_NON_FINITE`) naming the first bad parameter and element,
   * and changes nothing. Both check every gradient, read-only, before anything is written
   * (about 10% of a step). Another string is a RangeError, another type a TypeError
   * (`ERR_OPTION`). */
  nonFinite?: NonFiniteMode;
  /** Default false. When true, emit one process warning (code `SIMD_ADAM_ZERO_GRAD`) per
   * parameter, the first time step() moves it although its gradient was all zero (weight decay
   * or momentum did). Costs one read-only pass over the grads per step. */
  warnOnZeroGrad?: boolean;
}

export const NON_FINITE_MODES: readonly NonFiniteMode[] = ['propagate', 'skip', 'throw'];

const ADAM_KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'decoupledWeightDecay', 'stateDtype', 'min8bitSize'] as const;

/** Validates a group's hyperparameters and returns them in the form the math uses. */
export function checkAdamHyperparameters(group: Record<string, unknown>, where: string): AdamHyper {
  checkGroupSpellings(group, ADAM_KEYS, where);
  const lr = checkNumber(group.lr, 'lr', where, { min: 0 });
  const betas = group.betas;
  if (!Array.isArray(betas) || betas.length !== 2) {
    throw typeError('ERR_OPTION', `${where}: betas must be an array of two numbers [beta1, beta2], got ${describe(betas)}`);
  }
  const beta1 = checkNumber(betas[0], 'betas[0]', where, { min: 0, max: 1 });
  const beta2 = checkNumber(betas[1], 'betas[1]', where, { min: 0, max: 1 });
  return {
    lr,
    beta1,
    beta2,
    eps: checkNumber(group.eps, 'eps', where, { min: 0 }),
    weightDecay: checkNumber(group.weightDecay, 'weightDecay', where, { min: 0 }),
    amsgrad: checkBoolean(group.amsgrad, 'amsgrad', where),
    maximize: checkBoolean(group.maximize, 'maximize', where),
    decoupledWeightDecay: checkBoolean(group.decoupledWeightDecay, 'decoupledWeightDecay', where),
    ...checkStateDtype(group, where),
  };
}

/** Validates a group's stateDtype and min8bitSize. */
export function checkStateDtype(group: Record<string, unknown>, where: string): { stateDtype: StateDtype; min8bitSize: number } {
  const { stateDtype, min8bitSize } = group;
  if (typeof stateDtype !== 'string') throw typeError('ERR_OPTION', `${where}: stateDtype must be one of ${STATE_DTYPES.join(', ')}, got ${describe(stateDtype)}`);
  if (!(STATE_DTYPES as readonly string[]).includes(stateDtype)) {
    throw rangeError('ERR_OPTION', `${where}: stateDtype must be one of ${STATE_DTYPES.join(', ')}, got ${describe(stateDtype)}`);
  }
  if (typeof min8bitSize !== 'number') throw typeError('ERR_OPTION', `${where}: min8bitSize must be an integer >= 0, got ${describe(min8bitSize)}`);
  if (!Number.isSafeInteger(min8bitSize) || min8bitSize < 0) {
    throw rangeError('ERR_OPTION', `${where}: min8bitSize must be an integer >= 0, got ${describe(min8bitSize)}`);
  }
  return { stateDtype: stateDtype as StateDtype, min8bitSize };
}

function algorithm(name: string, defaults: AdamHyperparameters, keys: readonly (keyof AdamHyperparameters)[]): Algorithm<AdamHyperparameters> {
  return {
    name,
    defaults,
    keys,
    optimizerKeys: ['nonFinite', 'warnOnZeroGrad'],
    check: (group, where) => void checkAdamHyperparameters(group, where),
    copyValue: (key, value) => (key === 'betas' && Array.isArray(value) ? [...value] : value),
  };
}

/** Adam's defaults and rules (torch.optim.Adam, PyTorch 1.13). */
export const ADAM = algorithm(
  'Adam',
  {
    lr: 1e-3,
    betas: [0.9, 0.999],
    eps: 1e-8,
    weightDecay: 0,
    amsgrad: false,
    maximize: false,
    decoupledWeightDecay: false,
    stateDtype: 'float32',
    min8bitSize: 4096,
  },
  ADAM_KEYS,
);
/** AdamW: Adam's, with weightDecay 1e-2 and decoupled decay always on. */
export const ADAMW = algorithm(
  'AdamW',
  { ...ADAM.defaults, weightDecay: 1e-2, decoupledWeightDecay: true },
  ADAM_KEYS.filter((k) => k !== 'decoupledWeightDecay'),
);
