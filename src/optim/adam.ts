/**
 * Adam and AdamW: hyperparameter rules, lazy state, per-tensor scalars in double, and the one
 * native crossing per step. AdamW is Adam with decoupled weight decay, not a second copy.
 */
import { SimdAdamError, rangeError, typeError } from '../common/errors.js';
import { checkBoolean, describe } from '../common/validate.js';
import type { AdamState } from '../engine/adam_state.js';
import { checkGrad, checkGradAliases } from '../engine/grad_check.js';
import { allZeroEach } from '../engine/reduce.js';
import { StateArenas } from '../engine/state_arena.js';
import { StepPlan, type GroupUpdates, type ParamUpdate, type PrePass, type StepOutcome } from '../engine/step_plan.js';
import { beginAsyncStep, whenNotBusy } from '../engine/threads.js';
import { callNative, claim, inUse, momentAccess, paramAccess, type Access } from '../engine/claims.js';
import { addon } from '../native/addon.js';
import type { Parameter } from '../nn/parameter.js';
import type { AdamHyper } from '../reference/adam.js';
import {
  ADAM,
  ADAMW,
  checkAdamHyperparameters,
  NON_FINITE_MODES,
  type AdamHyperparameters,
  type AdamOptions,
  type AdamWOptions,
  type NonFiniteMode,
  type OptimizerOptions,
} from './adam_options.js';
import { checkState, checkStateDtype, dtypeFor, exportAdamState, importAdamState, liveAdamState, type AdamStateDictEntry } from './adam_state_dict.js';
import { momentAllZero } from '../engine/lowbit_state.js';
import { zeroDividesReference, zeroGradReason, type ExplainEntry } from './explain.js';
import { Optimizer, type Algorithm, type LoadedEntry, type ParamGroup, type ParamsInput } from './optimizer.js';
import { checkClosure, refuseAsyncClosure } from './param_groups.js';
import { lockFields, refusePytorchSpellings } from '../common/members.js';
import { collectStateDict, type LiveStateDict } from './state_dict.js';

export type { AdamState, AdamState8bit, AdamStateBfloat16, AdamStateFloat32 } from '../engine/adam_state.js';
export type { AdamHyperparameters, AdamOptions, AdamWOptions, NonFiniteMode, OptimizerOptions } from './adam_options.js';
export type { AdamStateDict, AdamStateDictEntry, StateTensor } from './adam_state_dict.js';

/** A started step: its outcome (or its promise) and what warnOnZeroGrad needs afterwards. */
type StartedStep = { outcome: StepOutcome; zeroDivides: boolean[] | null };

export type AdamParamGroup = ParamGroup<AdamHyperparameters>;

/**
 * Adam (Kingma & Ba), with PyTorch's semantics and numerics: coupled weight decay
 * (g += wd·p), optional amsgrad and maximize, bias-corrected steps computed per parameter.
 *
 * `new Adam(params, options?)`: `params` is an iterable of Parameters or of param groups
 * `{ params, ...hyperparameters }`; `options` holds the defaults of every group
 * ({@link AdamHyperparameters}) and the {@link OptimizerOptions}.
 *
 * @throws TypeError / RangeError `ERR_OPTION` for an unknown option or a value out of range.
 * @throws TypeError `ERR_PARAM_TYPE` for a params entry that is not a Parameter,
 *   `ERR_PARAM_GROUP` for params in a form the optimizer cannot use.
 * @throws SimdAdamError `ERR_EMPTY_PARAMS` (no parameters, or an empty group),
 *   `ERR_DUPLICATE_PARAM` (a parameter twice), `ERR_PARAM_ALIAS` (two parameters sharing memory).
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
    const fixed = 'it is fixed at construction (an option of the constructor)';
    lockFields(this, (new.target as typeof Adam).algorithm.name, { nonFinite: fixed, warnOnZeroGrad: fixed });
  }

  /** Steps that `nonFinite: 'skip'` refused because a gradient held NaN or ±Inf; starts at 0. */
  get skippedSteps(): number {
    return this.#skippedSteps;
  }

  /** The last step's plan, reused while it still describes the step (src/engine/step_plan.ts). */
  #plan: StepPlan | undefined;
  readonly #arenas = new StateArenas();

  /**
   * Updates every parameter whose grad is not null and whose requiresGrad is true. Everything
   * is validated first (hyperparameters, grad types and lengths, aliasing); if anything is
   * wrong, nothing is modified. All groups run in one native crossing; large steps are spread
   * over the native thread pool (see setNumThreads). Step pre hooks run first, post hooks after
   * a step that returned normally (one the non-finite guard skipped included).
   *
   * `closure`, as in PyTorch, re-evaluates the model (zeroGrad, forward, backward) and returns the
   * loss: it is called after the pre hooks, before anything is validated, and step() returns
   * what it returned (undefined without a closure).
   * @throws TypeError (code ERR_OPTION) if closure is given and is not a function, or returns a
   *   promise (an async closure: use stepAsync(closure)).
   * @throws SimdAdamError `ERR_BUSY` while a stepAsync() of this optimizer is in flight.
   * @throws TypeError / RangeError `ERR_OPTION` for a group hyperparameter out of range.
   * @throws TypeError `ERR_GRAD_TYPE` (a grad neither a Float32Array nor null); RangeError
   *   `ERR_GRAD_LENGTH` (a grad whose length differs from its parameter's).
   * @throws SimdAdamError `ERR_GRAD_ALIAS` (a grad sharing memory with what the step writes),
   *   `ERR_DETACHED` (a parameter's buffer was transferred), `ERR_STATE` (corrupted state),
   *   `ERR_AMSGRAD_STATE` (amsgrad switched on a group with state), `ERR_NON_FINITE` (with
   *   `nonFinite: 'throw'`). In every case nothing was changed.
   */
  override step<R = undefined>(closure?: () => R): R {
    const where = 'step()';
    this.assertIdle(where);
    checkClosure(closure, where);
    this.runStepPreHooks();
    const loss = closure === undefined ? (undefined as R) : closure();
    refuseAsyncClosure(loss, where);
    // The closure may have started a stepAsync() of this optimizer.
    this.assertIdle(where);
    const { plan, hypers, result } = this.#start(where, (p, h) => this.#run(p, h, (pre) => p.run(h, pre, where)));
    this.#finish(where, plan, hypers, result);
    this.runStepPostHooks();
    return loss;
  }

  /**
   * The same update as step(), run off the event loop: timers and I/O are served meanwhile.
   * Validation happens before this returns (a bad grad rejects the promise, nothing changed).
   * Until the promise settles, this optimizer refuses every call that reads or writes
   * parameters, grads or state (code ERR_BUSY), and setBackend/setNumThreads are refused too.
   * Every buffer is held against garbage collection until the update ends; do not transfer or
   * write the parameters, grads or state meanwhile: Node-API cannot prevent it. With
   * nonFinite 'skip' or 'throw', the read-only check of the grads runs before this returns.
   *
   * `closure` works as in step(), and may be async: it is awaited (the optimizer is not busy
   * meanwhile, so it may call zeroGrad()), then the step is validated and started, and the
   * promise resolves to what the closure returned.
   * @throws TypeError (code ERR_OPTION) if closure is given and is not a function.
   * @throws Otherwise rejects with the errors of {@link Adam.step}, and changes nothing then.
   */
  async stepAsync<R = undefined>(closure?: () => R): Promise<Awaited<R>> {
    const where = 'stepAsync()';
    this.assertIdle(where);
    checkClosure(closure, where);
    this.runStepPreHooks();
    // Without a closure nothing is awaited here, so validation still happens before this returns.
    const loss = closure === undefined ? undefined : await closure();
    if (closure !== undefined) this.assertIdle(where);
    const { plan, hypers, result } = this.#start(where, (p, h) => this.#run(p, h, (pre) => p.runAsync(h, pre, where)));
    const release = this.markBusy(where);
    const end = beginAsyncStep();
    let outcome: StartedStep;
    try {
      outcome = { ...result, outcome: await result.outcome };
    } finally {
      release();
      end();
    }
    this.#finish(where, plan, hypers, outcome);
    this.runStepPostHooks();
    return loss as Awaited<R>;
  }

  /** The pre-pass this optimizer's options ask for, if any (src/engine/step_plan.ts). */
  #prePass(): PrePass | undefined {
    const nonFinite = this.nonFinite !== 'propagate';
    return nonFinite || this.warnOnZeroGrad ? { nonFinite, zeroScan: this.warnOnZeroGrad } : undefined;
  }

  /** Starts a step over `plan`. warnOnZeroGrad needs to know, before the kernel overwrites the
   * moments, whether eps = 0 would make a zero grad divide 0 by 0. */
  #run<R>(plan: StepPlan, hypers: AdamHyper[], go: (pre: PrePass | undefined) => R): { outcome: R; zeroDivides: boolean[] | null } {
    const zeroDivides = this.warnOnZeroGrad ? plan.updates.map((w) => zeroDividesReference(hypers[w.group]!, w.param.numel, w.state)) : null;
    return { outcome: go(this.#prePass()), zeroDivides };
  }

  /** Prepares the plan and starts `go` on it. The addon refuses a cached plan that no longer
   * fits its buffers (one was detached, say) before writing anything: validating from scratch
   * then names the cause with its own code. */
  #start<R>(where: string, go: (plan: StepPlan, hypers: AdamHyper[]) => R): { plan: StepPlan; hypers: AdamHyper[]; result: R } {
    const { plan, hypers, reused } = this.#prepare(where);
    try {
      return { plan, hypers, result: callNative(where, () => go(plan, hypers)) };
    } catch (error) {
      // A refusal because a running step holds this memory: the plan is fine, nothing ran.
      if (!reused || (error instanceof SimdAdamError && error.code === 'ERR_BUSY')) throw error;
      this.#plan = undefined;
      const fresh = this.#prepare(where);
      return { plan: fresh.plan, hypers: fresh.hypers, result: callNative(where, () => go(fresh.plan, fresh.hypers)) };
    }
  }

  /** The plan for this step: the cached one if it still fits, else built after validation.
   * Segments are coalesced unless a pre-pass must report per parameter. */
  #prepare(where: string): { plan: StepPlan; hypers: AdamHyper[]; reused: boolean } {
    const groups = this.paramGroups;
    const hypers = groups.map((group, gi) => checkAdamHyperparameters(group, `${where}: paramGroups[${gi}]`));
    const cached = this.#plan;
    if (cached && cached.matches(groups, hypers, this.stateMap.version)) return { plan: cached, hypers, reused: true };
    const validated = this.#collect(where, hypers);
    const coalesce = this.#prePass() === undefined;
    const plan = StepPlan.build(
      groups,
      validated,
      (gi, params, amsgrad) => this.#arenas.allocate(groups[gi]!, params, amsgrad, (p) => dtypeFor(hypers[gi]!, p.numel)),
      () => this.stateMap.values(),
      coalesce,
    );
    this.#plan = plan;
    return { plan, hypers, reused: false };
  }

  /** After the kernel ran, or the pre-pass refused the step (then nothing was written: the
   * plan's fresh state stays unregistered and no step count moves). */
  #finish(where: string, plan: StepPlan, hypers: readonly AdamHyper[], ran: StartedStep): void {
    const { outcome, zeroDivides } = ran;
    if (outcome.stopped) {
      if (this.nonFinite === 'skip') {
        this.#skippedSteps++;
        return;
      }
      const w = plan.updates[outcome.stopped.segment]!;
      const value = w.param.grad![outcome.stopped.element]!;
      throw new SimdAdamError(
        'ERR_NON_FINITE',
        `${where}: group ${w.group}, parameter ${w.index} (${w.param.label}): grad[${outcome.stopped.element}] is ${value}; ` +
          "nothing was changed (nonFinite: 'throw'; use 'skip' to skip such steps, 'propagate' for PyTorch's behaviour)",
      );
    }
    plan.commit((param, state) => {
      this.stateMap.set(param, state);
      this.#arenas.commit(param, state);
    });
    plan.stateVersion = this.stateMap.version;
    if (outcome.zeroReport && zeroDivides) this.#warnZeroGrads(plan, hypers, outcome.zeroReport, zeroDivides);
  }

  /** warnOnZeroGrad: one warning per parameter that an all-zero grad did not keep in place. */
  #warnZeroGrads(plan: StepPlan, hypers: readonly AdamHyper[], report: Uint8Array, zeroDivides: readonly boolean[]): void {
    const G = addon.reduceLayout.guard;
    plan.updates.forEach((w, k) => {
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
   *
   * @throws The errors of {@link Adam.step} but `ERR_NON_FINITE` (explain() reads no values
   *   beyond all-zero tests).
   */
  explain(): ExplainEntry[] {
    const where = 'explain()';
    this.assertIdle(where);
    const hypers = this.paramGroups.map((group, gi) => checkAdamHyperparameters(group, `${where}: paramGroups[${gi}]`));
    const validated = this.#collect(where, hypers);
    const views: Float32Array[] = [];
    // Reduced exp_avg is read in TypeScript below: an empty view stands in for it here.
    const float32ExpAvg = (w: ParamUpdate) => (w.state?.expAvg instanceof Float32Array ? w.state.expAvg : new Float32Array(0));
    for (const { updates } of validated) for (const w of updates) views.push(w.param.grad!, w.param.data, float32ExpAvg(w));
    const zero = allZeroEach(views, where);
    const reasons = new Map<Parameter, ExplainEntry['reason']>();
    let k = 0;
    for (const { hyper, updates } of validated) {
      for (const w of updates) {
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

  #zeroGradReason(hyper: AdamHyper, w: ParamUpdate, paramAllZero: boolean, expAvgAllZero: boolean): ExplainEntry['reason'] {
    const zeroDivides = zeroDividesReference(hyper, w.param.numel, w.state);
    return zeroGradReason(hyper, { paramAllZero, expAvgAllZero, zeroDivides });
  }

  /**
   * True while a stepAsync() of this optimizer runs, or while a running step of another optimizer
   * (in this thread or another worker) holds memory a step of this one would read or write: then
   * step(), stepAsync() and explain() throw ERR_BUSY. Await {@link whenIdle} instead of failing.
   */
  get busy(): boolean {
    return this.#holds > 0 || inUse(this.#memoryAccess());
  }

  /** stepAsync() and checkpoint writes in flight (markBusy's marks). */
  #holds = 0;

  protected override markBusy(what: string): () => void {
    const release = super.markBusy(what);
    this.#holds++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#holds--;
      release();
    };
  }

  /** @internal A checkpoint write streams the parameters and the state: besides this optimizer's
   * own hold, their memory is claimed for reading (src/engine/claims.ts), so that a step of another
   * optimizer or worker cannot write them under the write. @throws SimdAdamError ERR_BUSY. */
  override beginExclusiveUse(what: string): () => void {
    const release = super.beginExclusiveUse(what);
    try {
      const unclaim = claim(this.#memoryAccess().filter(([, write]) => write).map(([view]) => [view, false] as const), what);
      return () => {
        unclaim();
        release();
      };
    } catch (error) {
      release();
      throw error;
    }
  }

  /**
   * Resolves once {@link busy} is false. When this optimizer's own stepAsync() ends, it resolves
   * before the code awaiting that stepAsync() runs, so a caller waiting here (an HTTP handler
   * that wants a state dict) gets its turn even if training starts the next step at once. Steps
   * running in other workers are polled every millisecond.
   */
  whenIdle(): Promise<void> {
    return whenNotBusy(() => this.busy);
  }

  /** The memory a step of this optimizer reads (grads) and writes (parameters, state). */
  #memoryAccess(): Access[] {
    const out = paramAccess(this.paramGroups.flatMap((group) => group.params));
    for (const [, state] of this.stateMap) {
      out.push(...momentAccess(state.expAvg, true), ...momentAccess(state.expAvgSq, true), ...momentAccess(state.maxExpAvgSq, true));
    }
    return out;
  }

  protected override exportState(state: AdamState, param: Parameter, where: string): AdamStateDictEntry {
    return exportAdamState(state, param, where);
  }

  /**
   * @internal For writeStateDict(path, optimizer), which streams the state without copying it:
   * stateDict()'s groups, and each stepped parameter's state as views of this optimizer's storage
   * (they hold still while beginExclusiveUse() holds it). Undefined when a state dict hook is
   * registered: the hooks need what stateDict() builds.
   * @throws SimdAdamError ERR_BUSY during a stepAsync(); ERR_STATE for a bad step or detached state.
   */
  liveStateDict(): LiveStateDict | undefined {
    this.assertIdle('writeStateDict()'); // its only caller, the call the user made
    if (this.hasStateDictHooks) return undefined;
    return collectStateDict(this.paramGroups, this.stateMap, (entry, param, id) => liveAdamState(entry, param, `writeStateDict(): state[${id}] (${param.label})`));
  }

  protected override importState(entries: readonly LoadedEntry[]): Map<Parameter, AdamState> {
    return importAdamState(entries);
  }

  /** Validation only: returns, per group, the hyperparameters and the parameters to update. */
  #collect(where: string, hypers: readonly AdamHyper[]): GroupUpdates[] {
    const validated = this.paramGroups.map((group, gi) => {
      const hyper = hypers[gi]!;
      const updates: ParamUpdate[] = [];
      group.params.forEach((param, pi) => {
        const at = `${where}: group ${gi}, parameter ${pi} (${param.label})`;
        const state = this.stateMap.get(param);
        if (!param.requiresGrad || param.grad === null) {
          if (state) checkStateDtype(state, param, hyper, at);
          return;
        }
        checkGrad(param, at);
        if (state) checkState(state, param, hyper, at);
        updates.push({ param, group: gi, index: pi, state });
      });
      return { hyper, updates };
    });
    checkGradAliases(where, validated, this.stateMap, this.paramGroups);
    return validated;
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 − lr·wd before the update.
 * Default weightDecay is 1e-2, as in PyTorch; every other option, default and error is
 * {@link Adam}'s, and `decoupledWeightDecay` is not accepted (`ERR_OPTION`). */
export class AdamW extends Adam {
  protected static override readonly algorithm: Algorithm<AdamHyperparameters> = ADAMW;

  constructor(params: ParamsInput<AdamWOptions>, options?: AdamWOptions & OptimizerOptions) {
    super(params, options);
  }
}

refusePytorchSpellings(Adam, ['nonFinite', 'warnOnZeroGrad']);
