/**
 * Adam and AdamW: hyperparameter rules, lazy state, per-tensor scalars in double, and the one
 * native crossing per step. AdamW is Adam with decoupled weight decay, not a second copy.
 */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { zeroDividesReference, zeroGradReason, type ExplainEntry } from './explain.js';
import { checkGrad, checkGradAliases } from '../engine/grad_check.js';
import { addon } from '../native/addon.js';
import { Optimizer, type Algorithm, type LoadedEntry, type ParamGroup, type ParamsInput } from './optimizer.js';
import type { Parameter } from '../nn/parameter.js';
import type { AdamHyper } from '../reference/adam.js';
import { allZeroEach } from '../engine/reduce.js';
import { StateArenas } from '../engine/state_arena.js';
import { checkState, checkStateDtype, dtypeFor, exportState, importStates } from './adam_state.js';
import { momentAllZero, type StateDtype } from '../engine/lowbit_state.js';
import type { Q8Moment } from '../reference/adam_lowbit.js';
import type { Bf16Tensor, Q8Tensor } from './lowbit_tensor.js';
import type { StateDict } from './state_dict.js';
import { StepPlan, type GroupWork, type PrePass, type StepOutcome, type Work } from '../engine/step_plan.js';
import { beginAsyncStep } from '../engine/threads.js';
import { checkBoolean, checkNumber, describe } from '../common/validate.js';

/** A started step: its outcome (or its promise) and what warnOnZeroGrad needs afterwards. */
type Ran = { outcome: StepOutcome; zeroDivides: boolean[] | null };

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
  /** How the moments are stored: 'float32' (default), 'bfloat16' (4 bytes of state per
   * parameter, +2 with amsgrad) or '8bit' (blockwise-quantized, about 2). The math is float32
   * either way; see docs/lowbit.md. Cannot change once the group has state, except through
   * loadStateDict. */
  stateDtype: StateDtype;
  /** In an '8bit' group, parameters with fewer elements keep float32 state. Integer ≥ 0;
   * default 4096. */
  min8bitSize: number;
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

/** A parameter's state with float32 moments. The arrays are views into the optimizer's storage;
 * they never move. */
export interface AdamStateFloat32 {
  /** Steps taken by this parameter (a parameter skipped by a step does not count it). It may be
   * assigned, as PyTorch's `state['step']` may: the next step uses the new count. */
  step: number;
  readonly expAvg: Float32Array;
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

export type AdamParamGroup = ParamGroup<AdamHyperparameters>;

/** A moment in a state dict, in the state's format: float32 values (serialised as
 * `{ shape, data }`), bfloat16 bits, or 8-bit codes and scales (see docs/lowbit.md). */
export type StateTensor = Float32Array | Bf16Tensor | Q8Tensor;

/** A parameter's entry in a state dict, under PyTorch's keys. The moments are copies that carry
 * the parameter's shape. */
export type AdamStateDictEntry = {
  step: number;
  exp_avg: StateTensor;
  exp_avg_sq: StateTensor;
  max_exp_avg_sq?: StateTensor;
};

/** What `Adam#stateDict()` returns. */
export type AdamStateDict = StateDict<AdamHyperparameters, AdamStateDictEntry>;

const ADAM_KEYS = ['lr', 'betas', 'eps', 'weightDecay', 'amsgrad', 'maximize', 'decoupledWeightDecay', 'stateDtype', 'min8bitSize'] as const;

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
    ...checkStateDtype(group, where),
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
const ADAMW = algorithm(
  'AdamW',
  { ...ADAM.defaults, weightDecay: 1e-2, decoupledWeightDecay: true },
  ADAM_KEYS.filter((k) => k !== 'decoupledWeightDecay'),
);

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

  /** The last step's plan, reused while it still describes the step (src/step_plan.ts). */
  #plan: StepPlan | undefined;
  readonly #arenas = new StateArenas();

  /**
   * Updates every parameter whose grad is not null and whose requiresGrad is true. Everything
   * is validated first (hyperparameters, grad types and lengths, aliasing); if anything is
   * wrong, nothing is modified. All groups run in one native crossing; large steps are spread
   * over the native thread pool (see setNumThreads). Step pre hooks run first, post hooks after
   * a step that returned normally (one the non-finite guard skipped included).
   */
  override step(): void {
    const where = 'step()';
    this.assertIdle(where);
    this.runStepPreHooks();
    const { plan, hypers, result } = this.#start(where, (p, h) => this.#run(p, h, (pre) => p.run(h, pre)));
    this.#finish(where, plan, hypers, result);
    this.runStepPostHooks();
  }

  /**
   * The same update as step(), run off the event loop: timers and I/O are served meanwhile.
   * Validation happens before this returns (a bad grad rejects the promise, nothing changed).
   * Until the promise settles, this optimizer refuses every call that reads or writes
   * parameters, grads or state (code ERR_BUSY), and setBackend/setNumThreads are refused too.
   * Every buffer is held against garbage collection until the update ends; do not transfer or
   * write the parameters, grads or state meanwhile: Node-API cannot prevent it. With
   * nonFinite 'skip' or 'throw', the read-only check of the grads runs before this returns.
   */
  async stepAsync(): Promise<void> {
    const where = 'stepAsync()';
    this.assertIdle(where);
    this.runStepPreHooks();
    const { plan, hypers, result } = this.#start(where, (p, h) => this.#run(p, h, (pre) => p.runAsync(h, pre)));
    const release = this.markBusy(where);
    const end = beginAsyncStep();
    let outcome: Ran;
    try {
      outcome = { ...result, outcome: await result.outcome };
    } finally {
      release();
      end();
    }
    this.#finish(where, plan, hypers, outcome);
    this.runStepPostHooks();
  }

  /** The pre-pass this optimizer's options ask for, if any (src/step_plan.ts). */
  #prePass(): PrePass | undefined {
    const nonFinite = this.nonFinite !== 'propagate';
    return nonFinite || this.warnOnZeroGrad ? { nonFinite, zeroScan: this.warnOnZeroGrad } : undefined;
  }

  /** Starts a step over `plan`. warnOnZeroGrad needs to know, before the kernel overwrites the
   * moments, whether eps = 0 would make a zero grad divide 0 by 0. */
  #run<R>(plan: StepPlan, hypers: AdamHyper[], go: (pre: PrePass | undefined) => R): { outcome: R; zeroDivides: boolean[] | null } {
    const zeroDivides = this.warnOnZeroGrad ? plan.works.map((w) => zeroDividesReference(hypers[w.group]!, w.param.numel, w.state)) : null;
    return { outcome: go(this.#prePass()), zeroDivides };
  }

  /** Prepares the plan and starts `go` on it. The addon refuses a cached plan that no longer
   * fits its buffers (one was detached, say) before writing anything: validating from scratch
   * then names the cause with its own code. */
  #start<R>(where: string, go: (plan: StepPlan, hypers: AdamHyper[]) => R): { plan: StepPlan; hypers: AdamHyper[]; result: R } {
    const { plan, hypers, reused } = this.#prepare(where);
    try {
      return { plan, hypers, result: go(plan, hypers) };
    } catch (error) {
      if (!reused) throw error;
      this.#plan = undefined;
      const fresh = this.#prepare(where);
      return { plan: fresh.plan, hypers: fresh.hypers, result: go(fresh.plan, fresh.hypers) };
    }
  }

  /** The plan for this step: the cached one if it still fits, else built after validation.
   * Segments are coalesced unless a pre-pass must report per parameter. */
  #prepare(where: string): { plan: StepPlan; hypers: AdamHyper[]; reused: boolean } {
    const groups = this.paramGroups;
    const hypers = groups.map((group, gi) => checkAdamHyperparameters(group, `${where}: paramGroups[${gi}]`));
    const cached = this.#plan;
    if (cached && cached.matches(groups, hypers, this.stateMap.version)) return { plan: cached, hypers, reused: true };
    const work = this.#collect(where, hypers);
    const coalesce = this.#prePass() === undefined;
    const plan = StepPlan.build(
      groups,
      work,
      (gi, params, amsgrad) => this.#arenas.allocate(groups[gi]!, params, amsgrad, (p) => dtypeFor(hypers[gi]!, p.numel)),
      coalesce,
    );
    this.#plan = plan;
    return { plan, hypers, reused: false };
  }

  /** After the kernel ran, or the pre-pass refused the step (then nothing was written: the
   * plan's fresh state stays unregistered and no step count moves). */
  #finish(where: string, plan: StepPlan, hypers: readonly AdamHyper[], ran: Ran): void {
    const { outcome, zeroDivides } = ran;
    if (outcome.stopped) {
      if (this.nonFinite === 'skip') {
        this.#skippedSteps++;
        return;
      }
      const w = plan.works[outcome.stopped.segment]!;
      const value = w.param.grad![outcome.stopped.element]!;
      throw new SimdAdamError(
        'ERR_NON_FINITE',
        `${where}: group ${w.group}, parameter ${w.index} (${w.param.label}): grad[${outcome.stopped.element}] is ${value}; ` +
          "nothing was changed (nonFinite: 'throw'; use 'skip' to skip such steps, 'propagate' for PyTorch's behaviour)",
      );
    }
    plan.commit((param, state) => this.stateMap.set(param, state));
    plan.stateVersion = this.stateMap.version;
    if (outcome.zeroReport && zeroDivides) this.#warnZeroGrads(plan, hypers, outcome.zeroReport, zeroDivides);
  }

  /** warnOnZeroGrad: one warning per parameter that an all-zero grad did not keep in place. */
  #warnZeroGrads(plan: StepPlan, hypers: readonly AdamHyper[], report: Uint8Array, zeroDivides: readonly boolean[]): void {
    const G = addon.reduceLayout.guard;
    plan.works.forEach((w, k) => {
      const bits = report[k]!;
      if (!(bits & G.ZERO_GRAD) || this.#warned.has(w.param)) return;
      const reason = zeroGradReason(hypers[w.group]!, {
        paramAllZero: (bits & G.ZERO_PARAM) !== 0,
        expAvgAllZero: (bits & G.ZERO_EXP_AVG) !== 0,
        zeroDivides: zeroDivides[k]!,
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

  /**
   * What step() would do now to each parameter, in group order, without changing anything:
   * `{ param, name, group, action, reason }` (see {@link ExplainReason}). It validates exactly
   * as step() does and throws the same errors. Whether a grad (and, for those, the parameter and
   * its exp_avg) is all zero is decided by one native pass over every parameter.
   */
  explain(): ExplainEntry[] {
    const where = 'explain()';
    this.assertIdle(where);
    const hypers = this.paramGroups.map((group, gi) => checkAdamHyperparameters(group, `${where}: paramGroups[${gi}]`));
    const plan = this.#collect(where, hypers);
    const views: Float32Array[] = [];
    // Reduced exp_avg is read in TypeScript below: an empty view stands in for it here.
    const float32ExpAvg = (w: Work) => (w.state?.expAvg instanceof Float32Array ? w.state.expAvg : new Float32Array(0));
    for (const { work } of plan) for (const w of work) views.push(w.param.grad!, w.param.data, float32ExpAvg(w));
    const zero = allZeroEach(views);
    const reasons = new Map<Parameter, ExplainEntry['reason']>();
    let k = 0;
    for (const { hyper, work } of plan) {
      for (const w of work) {
        const reduced = w.state && !(w.state.expAvg instanceof Float32Array);
        const [gradZero, paramAllZero] = [zero[k]!, zero[k + 1]!];
        const expAvgAllZero = reduced ? momentAllZero(w.state!.expAvg, true) : zero[k + 2]!;
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
    return exportState(state, param);
  }

  protected override importState(entries: readonly LoadedEntry[]): Map<Parameter, AdamState> {
    return importStates(entries);
  }

  /** Validation only: returns, per group, the hyperparameters and the parameters to update. */
  #collect(where: string, hypers: readonly AdamHyper[]): GroupWork[] {
    const plan = this.paramGroups.map((group, gi) => {
      const hyper = hypers[gi]!;
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
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 − lr·wd before the update.
 * Default weightDecay is 1e-2, as in PyTorch. */
export class AdamW extends Adam {
  protected static override readonly algorithm: Algorithm<AdamHyperparameters> = ADAMW;

  constructor(params: ParamsInput<AdamWOptions>, options?: AdamWOptions & OptimizerOptions) {
    super(params, options);
  }
}
