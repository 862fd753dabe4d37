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
import { agree, groupValues } from './agreement.js';
import { Communicator } from './communicator.js';
import { coded, describe } from './errors.js';
import { cutPieces, flatLayout, shardCounts, shardStarts, storeLayout, type FlatParam, type Piece } from './layout.js';
import { addHook } from './hooks.js';
import { consolidate, loadFull, type ShardedState } from './state_shards.js';
import { loadShardFile, writeShardFile, type ShardCheckpoint, type ShardExtras, type ShardFileContext } from './shard_file.js';
import { gradVerdict, nonFiniteError, scanRanges } from './grad_verdict.js';
import type { ZeroRedundancyOptions } from './options.js';
import { checkZeroOptions } from './options.js';
import { GradSource } from './grad_source.js';

type Core = Adam | AdamW;

const NON_FINITE_MODES = ['propagate', 'skip', 'throw'];
type StepHook = (optimizer: ZeroRedundancyOptimizer) => void;

export class ZeroRedundancyOptimizer {
  /** The world this optimizer's ranks form. */
  readonly comm: Communicator;
  /** Clip the mean gradient to this global 2-norm before stepping (undefined: no clipping). */
  readonly maxGradNorm: number | undefined;
  /** The global 2-norm of the mean gradient at the last step that clipped (before clipping). */
  lastGradNorm: number | undefined;
  /** What a step does with NaN and ±Inf in the mean gradient, as the core optimizers'
   * `nonFinite` ('propagate', the default; 'skip'; 'throw'), decided alike on every rank. */
  readonly nonFinite: 'propagate' | 'skip' | 'throw';
  #skippedSteps = 0;
  readonly #full: Core;
  #shard: Core | undefined;
  readonly #optimizerName: 'Adam' | 'AdamW';
  readonly #optimizerLevel: Record<string, unknown>;
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
   *   maximize, stateDtype, min8bitSize, nonFinite, warnOnZeroGrad) with the core's defaults.
   * @throws TypeError / RangeError (code ERR_OPTION) for a bad option, and whatever the core
   *   optimizer's constructor throws for bad params (ERR_PARAM_GROUP, ERR_PARAM_ALIAS, ...);
   *   SimdAdamError (ERR_PARAM_GROUP) when the parameters are not in one store.
   */
  constructor(params: ParameterStore | Iterable<Parameter> | Iterable<{ params: Iterable<Parameter> }>, options: ZeroRedundancyOptions) {
    const where = 'new ZeroRedundancyOptimizer()';
    const { Ctor, comm, maxGradNorm, coreOptions, optimizer } = checkZeroOptions(options, where);
    this.#Ctor = Ctor;
    this.#optimizerName = optimizer;
    this.comm = comm;
    this.maxGradNorm = maxGradNorm;
    this.#full = new Ctor((params instanceof ParameterStore ? params.params : params) as Parameter[], coreOptions);
    this.nonFinite = this.#full.nonFinite;
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
    // The non-finite guard decides on the mean gradient over all ranks, here, not in the shard.
    this.#optimizerLevel = Object.fromEntries(Object.entries(coreOptions).filter(([key]) => !this.#hyperKeys.includes(key) && key !== 'nonFinite'));
    this.#shard = this.#buildShard(this.paramGroups);
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
   * rank holds the same parameters, bit for bit. Grads are read, never written. With `nonFinite`
   * 'skip' or 'throw', a NaN or ±Inf in the mean gradient (found on the worker thread that reduced
   * it, agreed in one small all-reduce) skips the step on every rank, nothing changed (counted in
   * `skippedSteps`), or throws ERR_NON_FINITE on every rank, nothing changed.
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
    const { values, valueNames } = groupValues(this.paramGroups, this.#hyperKeys);
    values.unshift(this.#flat.length, this.#layout.length);
    valueNames.unshift('the number of parameter elements', 'the number of parameters');
    // Options every rank must share: they decide which collectives a step makes.
    values.push(NON_FINITE_MODES.indexOf(this.nonFinite), this.maxGradNorm ?? -1);
    valueNames.push('nonFinite', 'maxGradNorm');
    await agree(this.comm, { flags, values, valueNames, localError }, (i) => this.#layout[i]!.param.label, where);
    if (active.length === 0) return;
    const { send, fill } = this.#grads.resolve(active);
    const guard = this.nonFinite !== 'propagate';
    const clip = this.maxGradNorm !== undefined;
    // A world of one has nothing to reduce or gather: its shard steps on the flat grads themselves
    // (unless clipping, which scales the grads it steps on and must not scale the caller's, or
    // guarding, or grads to gather first: the worker thread of a reduce-scatter does those).
    const alone = this.comm.size === 1 && !clip && !guard && !fill;
    const views = alone ? this.#viewsOf(send) : undefined;
    this.#pieces.forEach((piece, i) => {
      const whole = piece.whole.param;
      const grad = flags[piece.whole.id] ? (views ? views[i]! : piece.grad) : null;
      if (piece.part.requiresGrad !== whole.requiresGrad) piece.part.requiresGrad = whole.requiresGrad;
      if (piece.part.grad !== grad) piece.part.grad = grad;
    });
    this.#syncHyperparameters();
    if (!alone) {
      const scan = guard || clip ? scanRanges(this.#pieces, flags, this.#start) : undefined;
      const found = await this.comm.reduceScatter(send, this.#shardGrad, this.#counts, true, { scan, sumSq: clip, fill });
      if (scan) {
        const verdict = await gradVerdict(this.comm, found, this.#pieces, this.#start, this.#shardGrad);
        if (verdict.bad && guard) {
          // Decided alike on every rank, before any rank changed anything.
          if (this.nonFinite === 'throw') throw nonFiniteError(where, this.paramGroups, this.#layout, verdict.bad);
          this.#skippedSteps++;
          return;
        }
        if (clip) this.#clip(flags, verdict.sumSq);
      }
    }
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
  #shardHyperOf(i: number, groups: readonly AdamParamGroup[] = this.paramGroups): Record<string, unknown> {
    const hyper = this.#hyperOf(groups[this.#outerOf[i]!]!);
    if (typeof hyper.min8bitSize === 'number') {
      hyper.min8bitSize = this.#pieces[i]!.whole.param.numel >= hyper.min8bitSize ? 0 : Number.MAX_SAFE_INTEGER;
    }
    return hyper;
  }

  #syncHyperparameters(): void {
    this.#shard?.paramGroups.forEach((inner, i) => Object.assign(inner, this.#shardHyperOf(i)));
  }

  /** Scales the shard's grads so that the global 2-norm (from Σg² over all ranks) is at most
   * maxGradNorm, as clipGradNorm does (coefficient maxNorm / (norm + 1e-6), applied only when below 1). */
  #clip(flags: Uint8Array, sumSq: number): void {
    const norm = Math.sqrt(sumSq);
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
   * for the whole model, bfloat16 and 8-bit moments in the core's low-bit forms, bit for bit);
   * every rank must call it. Other ranks get null.
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

  /**
   * Writes this rank's shard to `path` (one file per rank: put the rank in the name): its part of
   * the optimizer state, streamed from the shard optimizer's own storage with the core's
   * checkpoint writer (safetensors, the core's tensor layout), its part of the parameters, and
   * metadata saying which shard of which layout it holds (docs/distributed.md). Collective: every
   * rank calls it, and each learns whether all wrote. Validated before the disk is touched; each
   * file is replaced atomically.
   * @param extras `{ scheduler?, metadata? }`: a scheduler's stateDict() and a JSON value of your
   *   own, returned by loadShard().
   * @throws SimdAdamError ERR_BUSY during a step; what writeStateDict throws (ERR_CHECKPOINT for a
   *   bad path, extras or an I/O error); ERR_CHECKPOINT on every other rank when one failed.
   */
  async writeShard(path: string, extras?: ShardExtras): Promise<void> {
    const where = 'writeShard()';
    this.#assertIdle(where);
    this.#busy = where;
    try {
      await writeShardFile(this.#fileContext(), path, extras, where);
    } finally {
      this.#busy = undefined;
    }
  }

  /**
   * Loads the shard files written by writeShard() at this world size: this rank's state and its
   * part of the parameters from `path`, the rest of the parameters gathered from the other ranks,
   * and the param groups' hyperparameters; then steps continue bit for bit as if never
   * interrupted. Collective. Nothing changes on any rank unless every rank's file is valid, was
   * written by this rank of a world of this size for this model, and all come from one write.
   * @returns the scheduler state dict and metadata given to writeShard(), when there were any.
   * @throws SimdAdamError ERR_CHECKPOINT for an unreadable file, one written by another rank or
   *   world size or for another layout, or a mixed set of files; what loadStateDict throws
   *   (ERR_STATE_DICT) for invalid saved state; on the other ranks ERR_RANK_MISMATCH. ERR_BUSY
   *   during a step.
   */
  async loadShard(path: string): Promise<ShardCheckpoint> {
    const where = 'loadShard()';
    this.#assertIdle(where);
    this.#busy = where;
    try {
      return await loadShardFile(this.#fileContext(), path, where);
    } finally {
      this.#busy = undefined;
    }
  }

  #fileContext(): ShardFileContext {
    const [full, shard, pieces, layout, flat, counts, start] = [this.#full, this.#shard, this.#pieces, this.#layout, this.#flat, this.#counts, this.#start];
    return {
      ...{ comm: this.comm, optimizer: this.#optimizerName, Ctor: this.#Ctor, full, shard, pieces, layout, flat, counts, start, optimizerLevel: this.#optimizerLevel },
      hyperOf: (group) => this.#hyperOf(group),
      buildShard: (groups) => this.#buildShard(groups),
      adopt: (next) => void (this.#shard = next),
    };
  }

  /** A shard optimizer over this rank's pieces, one group per piece, hyperparameters from `groups`. */
  #buildShard(groups: readonly AdamParamGroup[]): Core | undefined {
    if (this.#pieces.length === 0) return undefined;
    return new this.#Ctor(
      this.#pieces.map((piece, i) => ({ ...this.#shardHyperOf(i, groups), params: [piece.part] })),
      this.#optimizerLevel,
    );
  }

  #sharded(): ShardedState {
    const [full, shard, pieces, layout, counts, start] = [this.#full, this.#shard, this.#pieces, this.#layout, this.#counts, this.#start];
    return { comm: this.comm, full, shard, pieces, layout, counts, start, total: this.#flat.length, syncShard: () => this.#syncHyperparameters() };
  }

  /** Steps that `nonFinite: 'skip'` skipped on every rank because the mean gradient held NaN or
   * ±Inf; starts at 0. */
  get skippedSteps(): number {
    return this.#skippedSteps;
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
