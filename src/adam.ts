/**
 * Adam and AdamW: hyperparameter rules, lazy state, per-tensor scalars in double, and the one
 * native crossing per step. AdamW is Adam with decoupled weight decay, not a second copy.
 */
import { rangeError, SimdAdamError, typeError } from './errors.js';
import { zeroDividesReference, zeroGradReason, type ExplainEntry } from './explain.js';
import { checkGrad, checkGradAliases } from './grad_check.js';
import { addon } from './native.js';
import { Optimizer, type Algorithm, type LoadedEntry, type ParamGroup, type ParamsInput } from './optimizer.js';
import type { Parameter } from './param.js';
import { runSegments, type Segment } from './plan.js';
import { allZeroEach } from './reduce.js';
import { adamScalars, type AdamHyper } from './reference.js';
import type { StateDict } from './state_dict.js';
import { asTensor, checkStep, checkTensor, type CheckedTensor } from './tensor.js';
import { checkBoolean, checkNumber, describe } from './validate.js';

/** Adam's hyperparameters, as held by every param group. */
export interface AdamHyperparameters {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  amsgrad: boolean;
  maximize: boolean;
  /** AdamW's weight decay (p *= 1 − lr·wd) instead of Adam's (g += wd·p). */
  decoupledWeightDecay: boolean;
}

/** Options for `new Adam()` and per-group overrides: any subset of the hyperparameters. */
export type AdamOptions = Partial<Omit<AdamHyperparameters, 'betas'>> & { betas?: readonly [number, number] };

/** AdamW is always decoupled, so it takes every Adam option but that one. */
export type AdamWOptions = Omit<AdamOptions, 'decoupledWeightDecay'>;

/** What step() does when a gradient it is about to use holds NaN or ±Inf. */
export type NonFiniteMode = 'propagate' | 'skip' | 'throw';

/** Options of the optimizer as a whole: accepted by the constructor next to the default
 * hyperparameters, but not per group. */
export interface OptimizerOptions {
  /** 'propagate' (the default, PyTorch's behaviour): NaN and Inf flow into the update.
   * 'skip': the whole step changes nothing and `skippedSteps` counts it. 'throw': the step
   * throws a SimdAdamError (code ERR_NON_FINITE) naming the first bad parameter and element,
   * and changes nothing. Both check every gradient, read-only, before anything is written. */
  nonFinite?: NonFiniteMode;
  /** Emit one process warning (code SIMD_ADAM_ZERO_GRAD) per parameter, the first time step()
   * moves it although its gradient was all zero (weight decay or momentum did). */
  warnOnZeroGrad?: boolean;
}

const NON_FINITE_MODES: readonly NonFiniteMode[] = ['propagate', 'skip', 'throw'];

/** A parameter's state. The arrays are views into the optimizer's storage; they never move. */
export interface AdamState {
  /** Steps taken by this parameter (a parameter skipped by a step does not count it). */
  step: number;
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  /** Present exactly when the parameter's group has amsgrad. */
  readonly maxExpAvgSq?: Float32Array;
}

export type AdamParamGroup = ParamGroup<AdamHyperparameters>;

/** A parameter's entry in a state dict, under PyTorch's keys. The arrays are copies that carry
 * the parameter's shape and serialise as `{ shape, data }`. */
export type AdamStateDictEntry = {
  step: number;
  exp_avg: Float32Array;
  exp_avg_sq: Float32Array;
  max_exp_avg_sq?: Float32Array;
};

/** What `Adam#stateDict()` returns. */
export type AdamStateDict = StateDict<AdamHyperparameters, AdamStateDictEntry>;

const STATE_KEYS = ['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;

const ADAM_KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'decoupledWeightDecay'] as const;

/** Validates a group's hyperparameters and returns them in the form the math uses. */
export function checkAdamHyperparameters(group: Record<string, unknown>, where: string): AdamHyper {
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
  };
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

const ADAM = algorithm(
  'Adam',
  { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, maximize: false, decoupledWeightDecay: false },
  ADAM_KEYS,
);
const ADAMW = algorithm(
  'AdamW',
  { ...ADAM.defaults, weightDecay: 1e-2, decoupledWeightDecay: true },
  ADAM_KEYS.filter((k) => k !== 'decoupledWeightDecay'),
);

/** A parameter about to be updated, where it sits, and its state if it has any yet. */
interface Work {
  param: Parameter;
  group: number;
  index: number;
  state: AdamState | undefined;
}

type Plan = Array<{ hyper: AdamHyper; work: Work[] }>;

/**
 * Adam (Kingma & Ba), with PyTorch's semantics and numerics: coupled weight decay
 * (g += wd·p), optional amsgrad and maximize, bias-corrected steps computed per parameter.
 *
 * ```ts
 * const opt = new Adam([w, b], { lr: 1e-3 });
 * w.grad = gw; b.grad = gb;
 * opt.step();
 * opt.zeroGrad(); // grads → null: the next step skips parameters that get no new grad
 * ```
 */
export class Adam extends Optimizer<AdamHyperparameters, AdamState, AdamStateDictEntry> {
  protected static readonly algorithm: Algorithm<AdamHyperparameters> = ADAM;

  /** See {@link OptimizerOptions.nonFinite}. */
  readonly nonFinite: NonFiniteMode;
  /** See {@link OptimizerOptions.warnOnZeroGrad}. */
  readonly warnOnZeroGrad: boolean;
  #skippedSteps = 0;
  /** Parameters already warned about under warnOnZeroGrad. */
  readonly #warned = new WeakSet<Parameter>();

  constructor(params: ParamsInput<AdamOptions>, options?: AdamOptions & OptimizerOptions) {
    super(params, options, (new.target as typeof Adam).algorithm);
    const where = `new ${(new.target as typeof Adam).algorithm.name}()`;
    const { nonFinite = 'propagate', warnOnZeroGrad = false } = this.optimizerOptions;
    if (typeof nonFinite !== 'string') {
      throw typeError('ERR_OPTION', `${where}: nonFinite must be one of ${NON_FINITE_MODES.join(', ')}, got ${describe(nonFinite)}`);
    }
    if (!NON_FINITE_MODES.includes(nonFinite as NonFiniteMode)) {
      throw rangeError('ERR_OPTION', `${where}: nonFinite must be one of ${NON_FINITE_MODES.join(', ')}, got ${describe(nonFinite)}`);
    }
    this.nonFinite = nonFinite as NonFiniteMode;
    this.warnOnZeroGrad = checkBoolean(warnOnZeroGrad, 'warnOnZeroGrad', where);
  }

  /** Steps that nonFinite: 'skip' refused because a gradient held NaN or ±Inf. */
  get skippedSteps(): number {
    return this.#skippedSteps;
  }

  /**
   * Updates every parameter whose grad is not null and whose requiresGrad is true. Everything
   * is validated first (hyperparameters, grad types and lengths, aliasing); if anything is
   * wrong, nothing is modified. All groups run in one native call. Step pre hooks run first,
   * post hooks after a step that returned normally.
   */
  override step(): void {
    const where = 'step()';
    this.assertIdle(where);
    this.runStepPreHooks();
    const plan = this.#collect(where);
    this.#apply(plan);
    this.runStepPostHooks();
  }

  /**
   * What step() would do now to each parameter, in group order, without changing anything:
   * `{ param, name, group, action, reason }` (see {@link ExplainReason}). It validates exactly
   * as step() does and throws the same errors. Whether a grad (and, for those, the parameter and
   * its exp_avg) is all zero is decided by one native pass over every parameter.
   */
  explain(): ExplainEntry[] {
    const where = 'explain()';
    this.assertIdle(where);
    const plan = this.#collect(where);
    const views: Float32Array[] = [];
    for (const { work } of plan) for (const w of work) views.push(w.param.grad!, w.param.data, w.state ? w.state.expAvg : new Float32Array(0));
    const zero = allZeroEach(views);
    const reasons = new Map<Parameter, ExplainEntry['reason']>();
    let k = 0;
    for (const { hyper, work } of plan) {
      for (const w of work) {
        const [gradZero, paramAllZero, expAvgAllZero] = [zero[k]!, zero[k + 1]!, zero[k + 2]!];
        k += 3;
        reasons.set(w.param, gradZero ? this.#zeroGradReason(hyper, w, paramAllZero, expAvgAllZero) : 'gradient');
      }
    }
    return this.paramGroups.flatMap((group, gi) =>
      group.params.map((param) => {
        const reason = !param.requiresGrad ? 'frozen' : param.grad === null ? 'no-grad' : reasons.get(param)!;
        const action = reason === 'frozen' || reason === 'no-grad' ? 'skip' : 'update';
        return { param, name: param.name, group: gi, action, reason };
      }),
    );
  }

  #zeroGradReason(hyper: AdamHyper, w: Work, paramAllZero: boolean, expAvgAllZero: boolean): ExplainEntry['reason'] {
    const zeroDivides = zeroDividesReference(hyper, w.param.numel, w.state);
    return zeroGradReason(hyper, { paramAllZero, expAvgAllZero, zeroDivides });
  }

  protected override exportState(state: AdamState, param: Parameter): AdamStateDictEntry {
    const entry: AdamStateDictEntry = {
      step: state.step,
      exp_avg: asTensor(state.expAvg.slice(), param.shape),
      exp_avg_sq: asTensor(state.expAvgSq.slice(), param.shape),
    };
    if (state.maxExpAvgSq) entry.max_exp_avg_sq = asTensor(state.maxExpAvgSq.slice(), param.shape);
    return entry;
  }

  protected override importState(entries: readonly LoadedEntry[]): Map<Parameter, AdamState> {
    const checked = entries.map(checkEntry);
    const states = allocateState(checked.map(({ param, max }) => ({ param, amsgrad: max !== undefined })));
    const out = new Map<Parameter, AdamState>();
    checked.forEach(({ param, step, expAvg, expAvgSq, max }, i) => {
      const state = states[i]!;
      state.step = step;
      state.expAvg.set(expAvg.values);
      state.expAvgSq.set(expAvgSq.values);
      if (max) state.maxExpAvgSq!.set(max.values);
      out.set(param, state);
    });
    return out;
  }

  /** Validation only: returns, per group, the hyperparameters and the parameters to update. */
  #collect(where: string): Plan {
    const plan = this.paramGroups.map((group, gi) => {
      const hyper = checkAdamHyperparameters(group, `${where}: paramGroups[${gi}]`);
      const work: Work[] = [];
      group.params.forEach((param, pi) => {
        if (!param.requiresGrad || param.grad === null) return;
        const at = `${where}: group ${gi}, parameter ${pi} (${param.label})`;
        checkGrad(param, at);
        const state = this.stateMap.get(param);
        if (state) checkState(state, param, hyper, at);
        work.push({ param, group: gi, index: pi, state });
      });
      return { hyper, work };
    });
    checkGradAliases(where, plan, this.stateMap, this.paramGroups);
    return plan;
  }

  #apply(plan: Plan): void {
    const segments: Segment[] = [];
    const order: Array<{ w: Work; hyper: AdamHyper; zeroDivides: boolean }> = [];
    const fresh: Array<[Parameter, AdamState]> = [];
    const steps: number[] = [];
    for (const { hyper, work } of plan) {
      const newcomers = work.filter((w) => w.state === undefined).map((w) => ({ param: w.param, amsgrad: hyper.amsgrad }));
      const created = allocateState(newcomers);
      let k = 0;
      for (const w of work) {
        const state = w.state ?? created[k++]!;
        if (!w.state) fresh.push([w.param, state]);
        const step = state.step + 1;
        steps.push(step);
        // Before the kernel overwrites the moments this depends on; eps = 0 only.
        const zeroDivides = this.warnOnZeroGrad && zeroDividesReference(hyper, w.param.numel, w.state);
        order.push({ w, hyper, zeroDivides });
        segments.push({
          param: w.param.data,
          grad: w.param.grad!,
          expAvg: state.expAvg,
          expAvgSq: state.expAvgSq,
          maxExpAvgSq: state.maxExpAvgSq ?? null,
          scalars: adamScalars(hyper, step),
        });
      }
    }
    const guard = this.nonFinite !== 'propagate';
    const outcome = runSegments(segments, guard || this.warnOnZeroGrad ? { nonFinite: guard, zeroScan: this.warnOnZeroGrad } : undefined);
    if (outcome.stopped) {
      // Nothing was written: the fresh state above is dropped and no step count moves.
      const { w } = order[outcome.stopped.segment]!;
      if (this.nonFinite === 'skip') {
        this.#skippedSteps++;
        return;
      }
      const value = w.param.grad![outcome.stopped.element]!;
      throw new SimdAdamError(
        'ERR_NON_FINITE',
        `step(): group ${w.group}, parameter ${w.index} (${w.param.label}): grad[${outcome.stopped.element}] is ${value}; ` +
          "nothing was changed (nonFinite: 'throw'; use 'skip' to skip such steps, 'propagate' for PyTorch's behaviour)",
      );
    }
    // Only after the kernel ran: a failure above leaves state and step counts as they were.
    for (const [param, state] of fresh) this.stateMap.set(param, state);
    let i = 0;
    for (const { work } of plan) for (const w of work) (w.state ?? this.stateMap.get(w.param)!).step = steps[i++]!;
    if (outcome.zeroReport) this.#warnZeroGrads(order, outcome.zeroReport);
  }

  /** warnOnZeroGrad: one warning per parameter that an all-zero grad did not keep in place. */
  #warnZeroGrads(order: ReadonlyArray<{ w: Work; hyper: AdamHyper; zeroDivides: boolean }>, report: Uint8Array): void {
    const G = addon.reduceLayout.guard;
    order.forEach(({ w, hyper, zeroDivides }, k) => {
      const bits = report[k]!;
      if (!(bits & G.ZERO_GRAD) || this.#warned.has(w.param)) return;
      const reason = zeroGradReason(hyper, {
        paramAllZero: (bits & G.ZERO_PARAM) !== 0,
        expAvgAllZero: (bits & G.ZERO_EXP_AVG) !== 0,
        zeroDivides,
      });
      if (reason === 'zero-grad-no-op') return;
      this.#warned.add(w.param);
      const cause = reason === 'zero-grad-weight-decay' ? 'weight decay' : 'momentum';
      process.emitWarning(
        `group ${w.group}, parameter ${w.index} (${w.param.label}) had an all-zero gradient, but ${cause} moved it. ` +
          'To leave a parameter untouched, set its grad to null (zeroGrad() does) or requiresGrad = false.',
        { type: 'SimdAdamWarning', code: 'SIMD_ADAM_ZERO_GRAD' },
      );
    });
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 − lr·wd before the update.
 * Default weightDecay is 1e-2, as in PyTorch. */
export class AdamW extends Adam {
  protected static override readonly algorithm: Algorithm<AdamHyperparameters> = ADAMW;

  constructor(params: ParamsInput<AdamWOptions>, options?: AdamWOptions & OptimizerOptions) {
    super(params, options);
  }
}

function checkState(state: AdamState, param: Parameter, hyper: AdamHyper, at: string): void {
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new SimdAdamError('ERR_STATE', `${at}: state.step must be a non-negative integer, got ${describe(state.step)}`);
  }
  if (hyper.amsgrad !== (state.maxExpAvgSq !== undefined)) {
    throw new SimdAdamError(
      'ERR_AMSGRAD_STATE',
      `${at}: amsgrad is ${hyper.amsgrad ? 'on' : 'off'} but this parameter's state was created with it ${hyper.amsgrad ? 'off' : 'on'}; ` +
        'amsgrad cannot change once a group has state (set it at construction, or load a state dict)',
    );
  }
  if (state.expAvg.length !== param.numel || state.expAvgSq.length !== param.numel) {
    const detached = state.expAvg.buffer.byteLength === 0 && param.numel > 0 ? ' (detached: was a state buffer transferred?)' : '';
    throw new SimdAdamError('ERR_STATE', `${at}: state arrays do not match the parameter's ${param.numel} elements${detached}`);
  }
}

/** Fresh state in one buffer: for the parameters that get their first gradient in one step, or
 * for everything a state dict loads. Layout [exp_avg of each][exp_avg_sq of each][max_exp_avg_sq
 * of each amsgrad parameter]. Views never move afterwards. */
function allocateState(specs: ReadonlyArray<{ param: Parameter; amsgrad: boolean }>): AdamState[] {
  if (specs.length === 0) return [];
  const total = specs.reduce((n, s) => n + s.param.numel, 0);
  const maxTotal = specs.reduce((n, s) => n + (s.amsgrad ? s.param.numel : 0), 0);
  const buffer = new ArrayBuffer((2 * total + maxTotal) * Float32Array.BYTES_PER_ELEMENT);
  let offset = 0;
  let maxOffset = 2 * total;
  return specs.map(({ param, amsgrad }) => {
    const view = (start: number): Float32Array => new Float32Array(buffer, start * Float32Array.BYTES_PER_ELEMENT, param.numel);
    const state = { step: 0 } as AdamState;
    Object.defineProperty(state, 'expAvg', { value: view(offset), enumerable: true });
    Object.defineProperty(state, 'expAvgSq', { value: view(total + offset), enumerable: true });
    if (amsgrad) {
      Object.defineProperty(state, 'maxExpAvgSq', { value: view(maxOffset), enumerable: true });
      maxOffset += param.numel;
    }
    offset += param.numel;
    return state;
  });
}

interface CheckedEntry {
  param: Parameter;
  step: number;
  expAvg: CheckedTensor;
  expAvgSq: CheckedTensor;
  max: CheckedTensor | undefined;
}

/** One saved entry against its parameter and its group-to-be: known keys only, the required ones
 * present, max_exp_avg_sq exactly when amsgrad is on, every tensor the parameter's length. */
function checkEntry({ param, entry, group, where }: LoadedEntry): CheckedEntry {
  for (const key of Object.keys(entry)) {
    if (!(STATE_KEYS as readonly string[]).includes(key)) {
      throw new SimdAdamError('ERR_STATE_DICT', `${where}: unknown state key '${key}'; Adam's state has ${STATE_KEYS.join(', ')}`);
    }
  }
  for (const key of ['step', 'exp_avg', 'exp_avg_sq'] as const) {
    if (entry[key] === undefined) throw new SimdAdamError('ERR_STATE_DICT', `${where}: state key '${key}' is missing`);
  }
  const amsgrad = group.amsgrad === true;
  if (amsgrad !== (entry.max_exp_avg_sq !== undefined)) {
    throw new SimdAdamError(
      'ERR_STATE_DICT',
      `${where}: the group has amsgrad ${amsgrad ? 'on' : 'off'} but the state ${amsgrad ? 'lacks' : 'has'} 'max_exp_avg_sq'`,
    );
  }
  const tensor = (key: string): CheckedTensor => {
    const checked = checkTensor(entry[key], key, where);
    if (checked.values.length !== param.numel) {
      throw rangeError('ERR_STATE_DICT', `${where}: ${key} has ${checked.values.length} elements but the parameter has ${param.numel}`);
    }
    return checked;
  };
  return {
    param,
    step: checkStep(entry.step, where),
    expAvg: tensor('exp_avg'),
    expAvgSq: tensor('exp_avg_sq'),
    max: amsgrad ? tensor('max_exp_avg_sq') : undefined,
  };
}
