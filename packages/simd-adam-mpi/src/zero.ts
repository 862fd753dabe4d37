/**
 * ZeroRedundancyOptimizer (PyTorch's name; ZeRO stage 1 with sharded gradients, Rajbhandari et
 * al.): every rank keeps the full parameters but only its shard of the Adam state. A step
 * reduce-scatters the grads (the mean over ranks) into the shard, steps the shard with the core
 * engine, then all-gathers the parameters in place.
 *
 * Two core optimizers do the work. `#full`, over the whole model, is never stepped: it owns the
 * param groups (what schedulers change), their validation, zeroGrad, explain and the state-dict
 * layout. `#shard`, over Parameters that view this rank's part of each parameter, is stepped with
 * the reduced grads; its groups take their hyperparameters from `#full`'s before every step.
 */
import {
  Adam,
  AdamW,
  Parameter,
  ParameterStore,
  SimdAdamError,
  type AdamParamGroup,
  type ExplainEntry,
  type HookHandle,
  type StateDict,
  type StateDictInput,
  type ZeroGradOptions,
} from 'simd-adam';
import { agree } from './agreement.js';
import { Communicator } from './communicator.js';
import { coded, describe } from './errors.js';
import { cutPieces, flatLayout, shardCounts, shardStarts, type FlatParam, type Piece } from './layout.js';
import { consolidate, loadFull, type ShardedState } from './state_shards.js';
import type { ZeroRedundancyOptions } from './options.js';
import { checkZeroOptions } from './options.js';
import { GradSource } from './grad_source.js';

type Core = Adam | AdamW;
type StepHook = (optimizer: ZeroRedundancyOptimizer) => void;

let nextHookId = 1_000_000;

export class ZeroRedundancyOptimizer {
  /** The world this optimizer's ranks form. */
  readonly comm: Communicator;
  /** Clip the mean gradient to this global 2-norm before stepping (undefined: no clipping). */
  readonly maxGradNorm: number | undefined;
  /** The global 2-norm of the mean gradient at the last step that clipped (before clipping). */
  lastGradNorm: number | undefined;
  readonly #full: Core;
  readonly #shard: Core | undefined;
  /** #shard's group i is #full's group #outerOf[i]. */
  readonly #outerOf: number[];
  readonly #flat: Float32Array;
  readonly #layout: FlatParam[];
  readonly #pieces: Piece[];
  readonly #counts: Int32Array;
  readonly #start: number;
  readonly #shardGrad: Float32Array;
  readonly #grads: GradSource;
  readonly #hyperKeys: string[];
  readonly #Ctor: typeof Adam | typeof AdamW;
  readonly #preHooks = new Map<number, StepHook>();
  readonly #postHooks = new Map<number, StepHook>();
  #busy: string | undefined;
  #direct: { source: Float32Array; views: Float32Array[] } | undefined;

  /**
   * @param params A ParameterStore, its `params`, or param groups (`[{ params, lr, ... }]`) over
   *   parameters of one store. Every rank must pass the same model.
   * @param options `optimizer` ('Adam' or 'AdamW'), `comm` (from mpiWorld()), optional
   *   `maxGradNorm`, and the optimizer's own options (lr, betas, eps, weightDecay, amsgrad,
   *   maximize, warnOnZeroGrad) with the core optimizer's defaults.
   * @throws TypeError / RangeError (code ERR_OPTION) for a bad option, and whatever the core
   *   optimizer's constructor throws for bad params (ERR_PARAM_GROUP, ERR_PARAM_ALIAS, ...);
   *   SimdAdamError (ERR_PARAM_GROUP) when the parameters are not in one store.
   */
  constructor(params: ParameterStore | Iterable<Parameter> | Iterable<{ params: Iterable<Parameter> }>, options: ZeroRedundancyOptions) {
    const where = 'new ZeroRedundancyOptimizer()';
    const { Ctor, comm, maxGradNorm, coreOptions } = checkZeroOptions(options, where);
    this.#Ctor = Ctor;
    this.comm = comm;
    this.maxGradNorm = maxGradNorm;
    this.#full = new Ctor((params instanceof ParameterStore ? params.params : params) as Parameter[], coreOptions);
    const groups = this.#full.paramGroups;
    // The keys a group may set (AdamW's decoupledWeightDecay is fixed): those its constructor takes.
    const defaults = this.#full.defaults as unknown as Record<string, unknown>;
    this.#hyperKeys = Object.keys(defaults).filter((key) => accepts(() => new Ctor([this.#probe], { [key]: defaults[key] })));
    const all = groups.flatMap((g) => g.params);
    const { flat, layout } = params instanceof ParameterStore ? { flat: params.data, layout: storeLayout(params, all) } : flatLayout(all, where);
    this.#flat = flat;
    this.#layout = layout;
    const starts = shardStarts(flat.length, comm.size, layout);
    this.#counts = shardCounts(starts);
    this.#start = starts[comm.rank]!;
    this.#shardGrad = new Float32Array(this.#counts[comm.rank]!);
    let k = 0;
    const grouped = groups.map((g) => g.params.map(() => layout[k++]!));
    const pieces = cutPieces(grouped, this.#start, starts[comm.rank + 1]!, flat.length, this.#shardGrad);
    this.#pieces = pieces.flat();
    // One shard group per piece, so that each piece's min8bitSize can follow its whole
    // parameter's size (a piece of a large parameter is 8-bit however small it is).
    this.#outerOf = pieces.flatMap((list, gi) => list.map(() => gi));
    const optimizerLevel = Object.fromEntries(Object.entries(coreOptions).filter(([key]) => !this.#hyperKeys.includes(key)));
    this.#shard =
      this.#outerOf.length === 0
        ? undefined
        : new Ctor(
            this.#pieces.map((piece, i) => ({ ...this.#shardHyperOf(i), params: [piece.part] })),
            optimizerLevel,
          );
    this.#grads = new GradSource(flat, params instanceof ParameterStore ? params.grads : undefined);
  }

  /** The param groups (the full model's): change hyperparameters here, as schedulers do. */
  get paramGroups(): readonly AdamParamGroup[] {
    return this.#full.paramGroups;
  }

  /** The hyperparameters a group gets unless its spec overrides them. */
  get defaults(): Readonly<Record<string, unknown>> {
    return this.#full.defaults;
  }

  /**
   * One data-parallel step; every rank must call it, with the same parameters holding grads.
   * Validates this rank's grads and the hyperparameters, agrees with the other ranks in one small
   * all-reduce, reduce-scatters the grads (float32 sum, divided by the world size once), clips by
   * the global norm if `maxGradNorm` is set (one scalar all-reduce), steps this rank's shard with
   * the core engine off the event loop, and all-gathers the parameters in place: afterwards every
   * rank holds the same parameters, bit for bit. Grads are read, never written.
   * @throws SimdAdamError (code ERR_RANK_MISMATCH) on every rank when ranks disagree on which
   *   parameters have grads, on hyperparameters or on the layout, or another rank's own checks
   *   failed; the rank whose check failed throws that error (ERR_GRAD_TYPE, ERR_GRAD_LENGTH,
   *   ERR_OPTION). Nothing is changed on any rank. ERR_BUSY while a step is in flight; ERR_MPI
   *   if MPI fails.
   */
  async stepAsync(): Promise<void> {
    const where = 'stepAsync()';
    this.#assertIdle(where);
    for (const hook of [...this.#preHooks.values()]) hook(this);
    this.#busy = where;
    try {
      await this.#step(where);
    } finally {
      this.#busy = undefined;
    }
    for (const hook of [...this.#postHooks.values()]) hook(this);
  }

  async #step(where: string): Promise<void> {
    const { flags, localError, active } = this.#checkLocal(where);
    const values: number[] = [this.#flat.length, this.#layout.length];
    const valueNames = ['the number of parameter elements', 'the number of parameters'];
    this.paramGroups.forEach((group, gi) => {
      for (const key of this.#hyperKeys) {
        const numbers = numbersOf(group[key as keyof AdamParamGroup]);
        values.push(...numbers);
        valueNames.push(...numbers.map((_, i) => `paramGroups[${gi}].${key}${numbers.length > 1 ? `[${i}]` : ''}`));
      }
    });
    await agree(this.comm, { flags, values, valueNames, localError }, (i) => this.#layout[i]!.param.label, where);
    if (active.length === 0) return;
    const send = this.#grads.resolve(active);
    // A world of one has nothing to reduce or gather: its shard steps on the grads themselves
    // (unless clipping, which scales the grads it steps on and must not scale the caller's).
    const alone = this.comm.size === 1 && this.maxGradNorm === undefined;
    const views = alone ? this.#viewsOf(send) : undefined;
    this.#pieces.forEach((piece, i) => {
      const whole = piece.whole.param;
      const grad = flags[piece.whole.id] ? (views ? views[i]! : piece.grad) : null;
      if (piece.part.requiresGrad !== whole.requiresGrad) piece.part.requiresGrad = whole.requiresGrad;
      if (piece.part.grad !== grad) piece.part.grad = grad;
    });
    this.#syncHyperparameters();
    if (!alone) await this.comm.reduceScatter(send, this.#shardGrad, this.#counts, true);
    if (this.maxGradNorm !== undefined) await this.#clip(flags);
    let failure: unknown;
    try {
      if (this.#shard) await this.#shard.stepAsync();
    } catch (error) {
      // Checked above on every rank, so this is not expected; the all-gather still runs, so that
      // no rank is left waiting in it.
      failure = error;
    }
    if (!alone) await this.comm.allGather(this.#flat, this.#counts);
    if (failure !== undefined) throw failure;
  }

  /** Each piece's view of `source`, a flat grad array (world of one: the shard is everything).
   * The same arrays while the source stays, so the shard optimizer's step plan holds. */
  #viewsOf(source: Float32Array): Float32Array[] {
    if (this.#direct?.source !== source) {
      this.#direct = { source, views: this.#pieces.map((piece) => source.subarray(piece.from, piece.to)) };
    }
    return this.#direct.views;
  }

  /** This rank's own checks, before any collective: grads and hyperparameters. */
  #checkLocal(where: string): { flags: Uint8Array; localError: unknown; active: FlatParam[] } {
    const flags = new Uint8Array(this.#layout.length);
    const active: FlatParam[] = [];
    let localError: unknown;
    try {
      for (const entry of this.#layout) {
        const p = entry.param;
        if (!p.requiresGrad || p.grad === null) continue;
        const grad: unknown = p.grad;
        if (!(grad instanceof Float32Array)) throw coded(new TypeError(`${where}: ${p.label}: grad must be a Float32Array or null, got ${describe(grad)}`), 'ERR_GRAD_TYPE');
        if (grad.length !== p.numel) throw coded(new RangeError(`${where}: ${p.label}: grad has ${grad.length} elements but the parameter has ${p.numel}`), 'ERR_GRAD_LENGTH');
        flags[entry.id] = 1;
        active.push(entry);
      }
      this.paramGroups.forEach((group, gi) => {
        try {
          // The core constructor validates hyperparameters exactly as step() would.
          new this.#Ctor([this.#probe], this.#hyperOf(group));
        } catch (error) {
          const e = error as Error;
          e.message = `${where}: paramGroups[${gi}]: ${e.message.replace(/^new \w+\(\): options: /, '')}`;
          throw e;
        }
      });
    } catch (error) {
      localError = error;
    }
    return { flags, localError, active };
  }

  /** A one-element parameter for validating a group's hyperparameters with the core constructor. */
  readonly #probe = new Parameter(new Float32Array(1));

  #hyperOf(group: AdamParamGroup): Record<string, unknown> {
    const record = group as unknown as Record<string, unknown>;
    return Object.fromEntries(this.#hyperKeys.map((key) => [key, record[key]]));
  }

  /** Shard group i's hyperparameters: its full group's, with min8bitSize decided on the whole
   * parameter (0: 8 bits whatever the piece's size; the largest integer: float32). */
  #shardHyperOf(i: number): Record<string, unknown> {
    const hyper = this.#hyperOf(this.paramGroups[this.#outerOf[i]!]!);
    if (typeof hyper.min8bitSize === 'number') {
      hyper.min8bitSize = this.#pieces[i]!.whole.param.numel >= hyper.min8bitSize ? 0 : Number.MAX_SAFE_INTEGER;
    }
    return hyper;
  }

  #syncHyperparameters(): void {
    this.#shard?.paramGroups.forEach((inner, i) => Object.assign(inner, this.#shardHyperOf(i)));
  }

  /** Scales the shard's grads so that the global 2-norm is at most maxGradNorm, as clipGradNorm
   * does (coefficient maxNorm / (norm + 1e-6), applied only when below 1). */
  async #clip(flags: Uint8Array): Promise<void> {
    let sum = 0;
    for (const piece of this.#pieces) {
      if (!flags[piece.whole.id]) continue;
      const g = piece.grad;
      for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
    }
    const total = new Float64Array([sum]);
    await this.comm.allReduce(total, 'sum');
    const norm = Math.sqrt(total[0]!);
    this.lastGradNorm = norm;
    const coef = Math.fround(this.maxGradNorm! / (norm + 1e-6));
    if (!(coef < 1)) return;
    for (const piece of this.#pieces) {
      if (!flags[piece.whole.id]) continue;
      const g = piece.grad;
      for (let i = 0; i < g.length; i++) g[i] = g[i]! * coef;
    }
  }

  /**
   * Gathers the full state dict on rank 0, in PyTorch's layout (what `AdamW#stateDict()` gives
   * for the whole model); every rank must call it. Other ranks get null.
   * @throws SimdAdamError (code ERR_BUSY) during a step; ERR_MPI if MPI fails.
   */
  async consolidateStateDict(): Promise<StateDict | null> {
    const where = 'consolidateStateDict()';
    this.#assertIdle(where);
    this.#busy = where;
    try {
      return await consolidate(this.#sharded());
    } finally {
      this.#busy = undefined;
    }
  }

  /**
   * Loads a full state dict (from consolidateStateDict(), an optimizer's stateDict() or their JSON
   * round trip, or PyTorch's) saved at any world size: each rank keeps its shard of it. Local (no
   * MPI); every rank should load the same dict. Validated fully before anything changes.
   * @throws what the core `loadStateDict` throws (ERR_STATE_DICT, ...); ERR_BUSY during a step.
   */
  loadStateDict(stateDict: StateDictInput): void {
    this.#assertIdle('loadStateDict()');
    loadFull(this.#sharded(), stateDict);
  }

  #sharded(): ShardedState {
    return { comm: this.comm, full: this.#full, shard: this.#shard, pieces: this.#pieces, layout: this.#layout, counts: this.#counts, start: this.#start, total: this.#flat.length };
  }

  /** Bytes of optimizer state this rank holds (exp_avg, exp_avg_sq and max_exp_avg_sq of its
   * shard, in their stateDtype: float32, bfloat16, or 8-bit codes and block scales): about 1/size
   * of a single-process optimizer's, within one 256-element block. */
  localStateBytes(): number {
    let bytes = 0;
    for (const state of this.#shard?.state.values() ?? []) {
      for (const moment of [state.expAvg, state.expAvgSq, state.maxExpAvgSq]) {
        if (moment === undefined) continue;
        bytes += ArrayBuffer.isView(moment) ? moment.byteLength : moment.codes.byteLength + moment.scale.byteLength;
      }
    }
    return bytes;
  }

  /** As the core optimizers' zeroGrad(): by default every grad becomes null. Local. */
  zeroGrad(options?: ZeroGradOptions): void {
    this.#assertIdle('zeroGrad()');
    this.#full.zeroGrad(options);
  }

  /** What the next step will do to each parameter and why, as the core explain(), judged on this
   * rank's own grads (the mean over ranks is not known before the step). */
  explain(): ExplainEntry[] {
    this.#assertIdle('explain()');
    return this.#full.explain();
  }

  /** Runs `hook(optimizer)` before each stepAsync(), on this rank. */
  registerStepPreHook(hook: StepHook): HookHandle {
    return addHook(this.#preHooks, hook, 'registerStepPreHook()');
  }

  /** Runs `hook(optimizer)` after each stepAsync() that completed, on this rank. */
  registerStepPostHook(hook: StepHook): HookHandle {
    return addHook(this.#postHooks, hook, 'registerStepPostHook()');
  }

  #assertIdle(where: string): void {
    if (this.#busy !== undefined) {
      throw new SimdAdamError('ERR_BUSY', `${where}: this ZeroRedundancyOptimizer is busy in ${this.#busy}; await it first`);
    }
  }
}

function accepts(build: () => unknown): boolean {
  try {
    build();
    return true;
  } catch {
    return false;
  }
}

function addHook(hooks: Map<number, StepHook>, hook: StepHook, where: string): HookHandle {
  if (typeof hook !== 'function') throw coded(new TypeError(`${where}: hook must be a function, got ${describe(hook)}`), 'ERR_HOOK');
  const id = nextHookId++;
  hooks.set(id, hook);
  return { id, remove: () => void hooks.delete(id) };
}

/** A hyperparameter as numbers every rank must agree on (booleans as 0/1, arrays flattened). */
function numbersOf(value: unknown): number[] {
  if (typeof value === 'number') return [value];
  if (typeof value === 'boolean') return [value ? 1 : 0];
  if (Array.isArray(value)) return value.flatMap(numbersOf);
  if (typeof value === 'string') return [[...value].reduce((h, c) => (h * 31 + c.codePointAt(0)!) % 2 ** 48, 7)];
  return [value === undefined ? -1 : NaN];
}

/** Offsets of a store's parameters in its flat buffer, in group order. */
function storeLayout(store: ParameterStore, params: readonly Parameter[]): FlatParam[] {
  const base = store.data.byteOffset;
  return params.map((param, id) => ({ param, id, offset: (param.data.byteOffset - base) / Float32Array.BYTES_PER_ELEMENT }));
}
