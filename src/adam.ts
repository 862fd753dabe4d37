/**
 * Adam and AdamW: hyperparameter rules, lazy state, per-tensor scalars in double, and the one
 * native crossing per step. AdamW is Adam with decoupled weight decay, not a second copy.
 */
import { rangeError, SimdAdamError, typeError } from './errors.js';
import { Optimizer, type Algorithm, type ParamGroup, type ParamsInput } from './optimizer.js';
import type { Parameter } from './param.js';
import type { AdamHyper } from './reference.js';
import { StateArenas } from './state_arena.js';
import { StepPlan, type GroupWork, type Work } from './step_plan.js';
import { beginAsyncStep } from './threads.js';
import { checkBoolean, checkNumber, describe, overlaps } from './validate.js';

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
export class Adam extends Optimizer<AdamHyperparameters, AdamState> {
  protected static readonly algorithm: Algorithm<AdamHyperparameters> = ADAM;

  constructor(params: ParamsInput<AdamOptions>, options?: AdamOptions) {
    super(params, options, (new.target as typeof Adam).algorithm);
  }

  /** The last step's plan, reused while it still describes the step (src/step_plan.ts). */
  #plan: StepPlan | undefined;
  readonly #arenas = new StateArenas();

  /**
   * Updates every parameter whose grad is not null and whose requiresGrad is true. Everything
   * is validated first (hyperparameters, grad types and lengths, aliasing); if anything is
   * wrong, nothing is modified. All groups run in one native crossing; large steps are spread
   * over the native thread pool (see setNumThreads).
   */
  override step(): void {
    const where = 'step()';
    this.assertIdle(where);
    this.#commit(this.#start(where, (plan, hypers) => plan.run(hypers)).plan);
  }

  /**
   * The same update as step(), run off the event loop: timers and I/O are served meanwhile.
   * Validation happens before this returns (a bad grad rejects the promise, nothing changed).
   * Until the promise settles, this optimizer refuses every call that reads or writes
   * parameters, grads or state (code ERR_BUSY), and setBackend/setNumThreads are refused too.
   * Every buffer is held against garbage collection until the update ends; do not transfer or
   * write the parameters, grads or state meanwhile: Node-API cannot prevent it.
   */
  async stepAsync(): Promise<void> {
    const where = 'stepAsync()';
    this.assertIdle(where);
    const { plan, result } = this.#start(where, (p, hypers) => p.runAsync(hypers));
    const release = this.markBusy(where);
    const end = beginAsyncStep();
    try {
      await result;
    } finally {
      release();
      end();
    }
    this.#commit(plan);
  }

  /** Prepares the plan and starts `go` on it. The addon refuses a cached plan that no longer
   * fits its buffers (one was detached, say) before writing anything: validating from scratch
   * then names the cause with its own code. */
  #start<R>(where: string, go: (plan: StepPlan, hypers: AdamHyper[]) => R): { plan: StepPlan; result: R } {
    const { plan, hypers, reused } = this.#prepare(where);
    try {
      return { plan, result: go(plan, hypers) };
    } catch (error) {
      if (!reused) throw error;
      this.#plan = undefined;
      const fresh = this.#prepare(where);
      return { plan: fresh.plan, result: go(fresh.plan, fresh.hypers) };
    }
  }

  /** The plan for this step: the cached one if it still fits, else built after validation. */
  #prepare(where: string): { plan: StepPlan; hypers: AdamHyper[]; reused: boolean } {
    const groups = this.paramGroups;
    const hypers = groups.map((group, gi) => checkAdamHyperparameters(group, `${where}: paramGroups[${gi}]`));
    const cached = this.#plan;
    if (cached && cached.matches(groups, hypers, this.stateMap.version)) return { plan: cached, hypers, reused: true };
    const work = this.#collect(where, hypers);
    const plan = StepPlan.build(groups, work, (gi, params, amsgrad) => this.#arenas.allocate(groups[gi]!, params, amsgrad));
    this.#plan = plan;
    return { plan, hypers, reused: false };
  }

  /** After the kernel ran: step counts and new state. A failure before leaves both as they were. */
  #commit(plan: StepPlan): void {
    plan.commit((param, state) => this.stateMap.set(param, state));
    plan.stateVersion = this.stateMap.version;
  }

  /** Validation only: returns, per group, the parameters to update and their state. */
  #collect(where: string, hypers: readonly AdamHyper[]): GroupWork[] {
    return this.paramGroups.map((group, gi) => {
      const hyper = hypers[gi]!;
      const work: Work[] = [];
      group.params.forEach((param, pi) => {
        if (!param.requiresGrad || param.grad === null) return;
        const at = `${where}: group ${gi}, parameter ${pi} (${param.label})`;
        checkGrad(param, at);
        const state = this.stateMap.get(param);
        if (state) checkState(state, param, hyper, at);
        work.push({ param, state });
      });
      return { hyper, work };
    });
  }
}

/** Adam with decoupled weight decay (Loshchilov & Hutter): p *= 1 − lr·wd before the update.
 * Default weightDecay is 1e-2, as in PyTorch. */
export class AdamW extends Adam {
  protected static override readonly algorithm: Algorithm<AdamHyperparameters> = ADAMW;

  constructor(params: ParamsInput<AdamWOptions>, options?: AdamWOptions) {
    super(params, options);
  }
}

function checkGrad(param: Parameter, at: string): void {
  const grad = param.grad as unknown;
  if (!(grad instanceof Float32Array)) {
    throw typeError('ERR_GRAD_TYPE', `${at}: grad must be a Float32Array of length ${param.numel} or null, got ${describe(grad)}`);
  }
  if (param.data.length !== param.numel) {
    throw new SimdAdamError('ERR_DETACHED', `${at}: data has length ${param.data.length} but shape [${param.shape.join(', ')}] needs ${param.numel}: its buffer was detached (transferred?)`);
  }
  if (grad.length !== param.numel) {
    const detached = grad.length === 0 && grad.buffer.byteLength === 0 && param.numel > 0;
    throw rangeError('ERR_GRAD_LENGTH', `${at}: grad must have length ${param.numel} (the parameter's), got ${describe(grad)}${detached ? ' (detached?)' : ''}`);
  }
  if (overlaps(grad, param.data)) {
    throw new SimdAdamError('ERR_GRAD_ALIAS', `${at}: grad shares memory with the parameter's own data; give it a separate buffer`);
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
    throw new SimdAdamError('ERR_STATE', `${at}: state arrays do not match the parameter's ${param.numel} elements`);
  }
}

export { allocateState } from './state_arena.js';
