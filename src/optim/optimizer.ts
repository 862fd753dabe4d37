/**
 * The optimizer base class: param groups and their defaults, per-parameter state keyed by
 * Parameter identity, zeroGrad, addParamGroup, the hooks, and the group and id half of
 * stateDict and loadStateDict, as torch.optim.Optimizer. The algorithm (adam.ts) owns its hyperparameter rules, lazy
 * state, what a state entry holds, and the math.
 */
import { SimdAdamError, typeError } from '../common/errors.js';
import { frozenList, groupList } from '../common/frozen_list.js';
import { inspectCustom } from '../common/inspect_custom.js';
import { lockFields, readOnlyError, refusePytorchSpellings } from '../common/members.js';
import { countOptimizerStep, registerOptimizer } from '../common/optimizer_steps.js';
import { formatOptimizer } from './repr.js';
import {
  hookResult,
  HookList,
  type HookHandle,
  type LoadStateDictPostHook,
  type LoadStateDictPreHook,
  type RegisterHookOptions,
  type StateDictPostHook,
  type StateDictPreHook,
  type StepPostHook,
  type StepPreHook,
} from './hooks.js';
import { Parameter } from '../nn/parameter.js';
import { checkParamOverlap, normalizeParams, PYTORCH_DEVICE_OPTION_HINTS, toParameterList } from './param_groups.js';
import { asStateDictError, collectStateDict, readSaved, type SnakeCase, type StateDict, type StateDictInput } from './state_dict.js';
import { VersionedMap } from '../common/versioned_map.js';
import { checkBoolean, checkKeys, checkOptionsObject, describe } from '../common/validate.js';
import { gradWrites, whileClaimed } from '../engine/claims.js';

/** Any optimizer, whatever its hyperparameters and state: what global hooks receive. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyOptimizer = Optimizer<any, any, any>;

/** Hooks every optimizer runs, as torch.optim.optimizer.register_optimizer_step_pre_hook. */
const globalStepPreHooks = new HookList<StepPreHook<AnyOptimizer>>('OptimizerStepPreHook');
const globalStepPostHooks = new HookList<StepPostHook<AnyOptimizer>>('OptimizerStepPostHook');

/** Registers a step pre hook for every optimizer: it runs before each instance's own pre hooks
 * (PyTorch's register_optimizer_step_pre_hook). @throws TypeError `ERR_HOOK`: not a function. */
export function registerOptimizerStepPreHook(hook: StepPreHook<AnyOptimizer>): HookHandle {
  return globalStepPreHooks.add(hook);
}

/** Registers a step post hook for every optimizer: it runs after each instance's own post hooks
 * (PyTorch's register_optimizer_step_post_hook). @throws TypeError `ERR_HOOK`: not a function. */
export function registerOptimizerStepPostHook(hook: StepPostHook<AnyOptimizer>): HookHandle {
  return globalStepPostHooks.add(hook);
}

/** A param group as passed in: the parameters plus any hyperparameter overrides. */
export type ParamGroupSpec<O> = O & { params: Iterable<Parameter> };

/** What an optimizer accepts: parameters (one group), or param group specs. */
export type ParamsInput<O> = Iterable<Parameter> | Iterable<ParamGroupSpec<O>>;

/** A live param group: hyperparameters may change between steps (every step() validates them again), `params` cannot (use
 * addParamGroup()), extra keys (`initialLr`, PyTorch's keys from a state dict) are kept, and `weight_decay` (PyTorch's spelling of a hyperparameter) is typed `never`: step() refuses it. */
export type ParamGroup<H> = H & { readonly params: readonly Parameter[]; [extra: string]: unknown } & { [K in keyof H & string as SnakeCase<K> extends K ? never : SnakeCase<K>]?: never };

/** What an algorithm tells the base class about its hyperparameters. */
export interface Algorithm<H> {
  /** Class name, for messages: `new ${name}()`. */
  name: string;
  defaults: H;
  /** Option keys a user may pass (a subset of the keys of H). */
  keys: readonly (keyof H & string)[];
  /** Options of the optimizer as a whole (such as `nonFinite`), accepted by the constructor next
   * to the hyperparameters but not part of any group: not in `defaults`, refused in a group. */
  optimizerKeys?: readonly string[];
  /** Throws a TypeError/RangeError (code ERR_OPTION) naming `where` and the option. */
  check(group: Record<string, unknown>, where: string): void;
  /** A fresh copy of a hyperparameter value, so groups never share mutable arrays. */
  copyValue(key: string, value: unknown): unknown;
}

export interface ZeroGradOptions {
  /** Default `true`: grad = null, so step() skips the parameter entirely. `false`: fill
   * existing grads with zeros, which weight decay and momentum still act on. */
  setToNone?: boolean;
}

/** A saved state entry matched to its parameter, for the algorithm to check and build. @internal */
export interface LoadedEntry {
  param: Parameter;
  /** The entry as saved (PyTorch's keys); not yet validated. */
  entry: Record<string, unknown>;
  /** The parameter's group as it will be once the load commits (camelCase keys). */
  group: Readonly<Record<string, unknown>>;
  /** Names the entry, its group and its parameter, for messages. */
  where: string;
}

export abstract class Optimizer<H extends object, S extends object, E extends object = Record<string, unknown>> {
  /** The hyperparameters a group gets unless its spec overrides them. */
  readonly defaults: Readonly<H>;
  /** Per-parameter state, created on a parameter's first real gradient. The views it holds
   * are the optimizer's own storage: writing into them changes the state. */
  readonly state: ReadonlyMap<Parameter, S>;
  /** Counts its changes, so a cached step plan notices replaced state in O(1). */
  protected readonly stateMap: VersionedMap<Parameter, S> = new VersionedMap();
  /** The constructor's optimizer-level options (Algorithm.optimizerKeys), unvalidated: the
   * subclass checks them. */
  protected readonly optimizerOptions: Readonly<Record<string, unknown>>;
  /** What is running asynchronously, if anything: while set, assertIdle() refuses. */
  #busy: string | undefined;
  readonly #algorithm: Algorithm<H>;
  #groups: readonly ParamGroup<H>[] = Object.freeze([]);
  // Typed by the base class, not `this`: a `this` type here would make a subclass unassignable
  // to its base. The register methods take `this`-typed hooks, which receive exactly `this`.
  readonly #stepPreHooks = new HookList<StepPreHook<Optimizer<H, S, E>>>('StepPreHook');
  readonly #stepPostHooks = new HookList<StepPostHook<Optimizer<H, S, E>>>('StepPostHook');
  readonly #stateDictPreHooks = new HookList<StateDictPreHook<Optimizer<H, S, E>>>('StateDictPreHook');
  readonly #stateDictPostHooks = new HookList<StateDictPostHook<Optimizer<H, S, E>>>('StateDictPostHook');
  readonly #loadStateDictPreHooks = new HookList<LoadStateDictPreHook<Optimizer<H, S, E>>>('LoadStateDictPreHook');
  readonly #loadStateDictPostHooks = new HookList<LoadStateDictPostHook<Optimizer<H, S, E>>>('LoadStateDictPostHook');

  protected constructor(params: unknown, options: unknown, algorithm: Algorithm<H>) {
    this.#algorithm = algorithm;
    const where = `new ${algorithm.name}()`;
    const opts = checkOptionsObject(options, where);
    const optimizerKeys = algorithm.optimizerKeys ?? [];
    checkKeys(opts, [...algorithm.keys, ...optimizerKeys], where, 'ERR_OPTION', PYTORCH_DEVICE_OPTION_HINTS);
    const hyper: Record<string, unknown> = {};
    const optimizerOptions: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(opts)) (optimizerKeys.includes(key) ? optimizerOptions : hyper)[key] = value;
    this.optimizerOptions = Object.freeze(optimizerOptions);
    const defaults = this.#merge(algorithm.defaults, hyper);
    algorithm.check(defaults as Record<string, unknown>, `${where}: options`);
    this.defaults = Object.freeze(defaults) as Readonly<H>;
    this.state = this.stateMap;
    const specs = normalizeParams(params, where);
    this.#groups = groupList(this.#algorithm.name, this.#buildGroups(specs, where));
    lockFields(this, algorithm.name, {
      defaults: 'pass hyperparameters to the constructor, or set them on paramGroups[i]',
      state: 'load state with loadStateDict(), or write into the state views it holds',
    });
    registerOptimizer(this);
  }

  /** The param groups, in order. Change hyperparameters on them; add groups with addParamGroup.
   * @throws TypeError (code ERR_READONLY) on assignment. */
  get paramGroups(): readonly ParamGroup<H>[] {
    return this.#groups;
  }

  set paramGroups(_value: never) {
    throw readOnlyError(`${this.#algorithm.name}.paramGroups`, 'change hyperparameters on its groups; add groups with addParamGroup()');
  }

  /** Adds a group; its unspecified hyperparameters come from `defaults`. Validated fully before
   * anything changes: a parameter already in another group is an error.
   * @throws `ERR_PARAM_GROUP`, `ERR_PARAM_TYPE`, `ERR_OPTION`, `ERR_EMPTY_PARAMS`, `ERR_DUPLICATE_PARAM`, `ERR_PARAM_ALIAS`, `ERR_BUSY`. */
  addParamGroup(spec: ParamGroupSpec<Partial<H>>): void {
    this.assertIdle('addParamGroup()');
    const where = 'addParamGroup()';
    if (spec === null || typeof spec !== 'object' || spec instanceof Parameter || !('params' in spec)) {
      throw typeError('ERR_PARAM_GROUP', `${where}: expected a param group { params, ...options }, got ${describe(spec)}`);
    }
    const groups = this.#buildGroups([spec as Record<string, unknown>], where);
    this.#groups = groupList(this.#algorithm.name, [...this.#groups, ...groups]);
  }

  /** Clears gradients. By default sets every grad to null, so that step() skips those
   * parameters bit for bit. With `{ setToNone: false }` existing grads are filled with zeros:
   * weight decay and momentum still move those parameters (the frozen-parameter trap). A frozen
   * parameter's grad (requiresGrad = false) is always set to null. @throws `ERR_OPTION`, `ERR_BUSY`. */
  zeroGrad(options?: ZeroGradOptions): void {
    const where = 'zeroGrad()';
    this.assertIdle(where);
    if (typeof options === 'boolean') throw typeError('ERR_OPTION', `${where}: expected an options object, got boolean ${options}; did you mean zeroGrad({ setToNone: ${options} })?`);
    const opts = checkOptionsObject(options, where);
    checkKeys(opts, ['setToNone'], where);
    const setToNone = opts.setToNone === undefined ? true : checkBoolean(opts.setToNone, 'setToNone', where);
    const params = this.#groups.flatMap((group) => group.params); // filling writes the grads:
    whileClaimed(setToNone ? [] : gradWrites(params), where, () => {
      for (const p of params) {
        if (setToNone || !p.requiresGrad) p.grad = null;
        else if (p.grad instanceof Float32Array) p.grad.fill(0);
      }
    });
  }

  /** Updates every parameter that has a grad and requiresGrad. With a closure (re-evaluating the
   * model, returning the loss), calls it first, after the step pre hooks, and returns its value. */
  abstract step<R = undefined>(closure?: () => R): R;

  /**
   * A snapshot in PyTorch's layout and key names: copies, never views. Parameters are numbered
   * in order of first appearance across groups; `state` has entries only for parameters that
   * have been stepped; groups carry `param_names` when every parameter has a name.
   * @throws SimdAdamError `ERR_BUSY` while a stepAsync() is in flight.
   */
  stateDict(): StateDict<H, E> {
    this.assertIdle('stateDict()');
    this.runStateDictPreHooks();
    const dict = collectStateDict(this.#groups, this.stateMap, (entry, param, id) => this.exportState(entry, param, `stateDict(): state[${id}] (${param.label})`));
    return this.runStateDictPostHooks(dict as StateDict<H, E>);
  }

  /** @internal Holds this optimizer for `what` (a checkpoint write) until the returned function is
   * called once: meanwhile every call that reads or writes parameters, grads or state refuses
   * with ERR_BUSY, as during a stepAsync(). @throws SimdAdamError ERR_BUSY if held. */
  beginExclusiveUse(what: string): () => void {
    this.assertIdle(what);
    return this.markBusy(what);
  }

  /** Whether stateDict() has hooks to run: a copy-free view of the state must not bypass them. */
  protected get hasStateDictHooks(): boolean {
    return this.#stateDictPreHooks.list().length + this.#stateDictPostHooks.list().length > 0;
  }

  /**
   * Loads a state dict from stateDict(), its JSON round trip, or a JSON dump of PyTorch's
   * `optimizer.state_dict()`. Saved ids map to parameters by position; saved group keys replace
   * ours, and a key the saved group lacks keeps ours. Everything is validated before anything
   * changes; the loaded state replaces the old wholesale, in fresh storage (state views handed
   * out before are no longer the optimizer's).
   * @throws `ERR_STATE_DICT` (naming group, parameter, key) for a state dict it cannot use; `ERR_BUSY`.
   */
  loadStateDict(stateDict: StateDictInput): void {
    const where = 'loadStateDict()';
    this.assertIdle(where);
    // A shallow copy first, as PyTorch does, so pre hooks may edit what they are given.
    const input = isPlainObject(stateDict) ? this.runLoadStateDictPreHooks({ ...stateDict }) : stateDict;
    const commit = this.#prepareLoad(input, where);
    commit();
    this.runLoadStateDictPostHooks();
  }

  /** The algorithm's half of stateDict(): one parameter's state under PyTorch's keys, as copies.
   * It checks the state first (code ERR_STATE, `where` names the entry), as step() does. */
  protected abstract exportState(state: S, param: Parameter, where: string): E;

  /** The algorithm's half of loadStateDict(): validates every entry against its parameter and its
   * group-to-be, then builds the new state in fresh storage. Must not modify the optimizer. */
  protected abstract importState(entries: readonly LoadedEntry[]): Map<Parameter, S>;

  /** Validates the whole state dict and builds the new state; returns the commit, which cannot fail. */
  #prepareLoad(stateDict: unknown, where: string): () => void {
    const saved = readSaved(stateDict, where);
    const groups = this.#groups;
    if (saved.groups.length !== groups.length) {
      throw new SimdAdamError('ERR_STATE_DICT', `${where}: the state dict has ${saved.groups.length} param groups but the optimizer has ${groups.length}`);
    }
    const owners = new Map<number, { param: Parameter; gi: number; pi: number }>();
    const nextGroups = groups.map((group, gi) => {
      const { ids, names, hyper } = saved.groups[gi]!;
      const at = `${where}: param_groups[${gi}]`;
      if (ids.length !== group.params.length) {
        throw new SimdAdamError('ERR_STATE_DICT', `${at} has ${ids.length} parameters but paramGroups[${gi}] has ${group.params.length}`);
      }
      group.params.forEach((param, pi) => {
        const name = names?.[pi];
        if (name !== undefined && param.name !== undefined && name !== param.name) {
          throw new SimdAdamError('ERR_STATE_DICT', `${at}: parameter ${pi} is named '${name}' in the state dict but '${param.name}' here`);
        }
        owners.set(ids[pi]!, { param, gi, pi });
      });
      const next: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(group)) if (key !== 'params') next[key] = value;
      for (const [key, value] of hyper) next[key] = value;
      try {
        this.#algorithm.check(next, at);
      } catch (error) {
        throw asStateDictError(error);
      }
      return next;
    });
    const entries = saved.state.map(([id, entry]): LoadedEntry => {
      const owner = owners.get(id);
      if (!owner) {
        throw new SimdAdamError('ERR_STATE_DICT', `${where}: state[${id}] belongs to no parameter: no entry of param_groups lists id ${id}`);
      }
      const { param, gi, pi } = owner;
      return { param, entry, group: nextGroups[gi]!, where: `${where}: state[${id}] (group ${gi}, parameter ${pi}, ${param.label})` };
    });
    const state = this.importState(entries);
    return () => {
      groups.forEach((group, gi) => {
        for (const [key, value] of saved.groups[gi]!.hyper) (group as Record<string, unknown>)[key] = value;
      });
      this.stateMap.clear();
      for (const [param, entry] of state) this.stateMap.set(param, entry);
    };
  }

  /** Registers `hook(optimizer)`, run at the start of every step(), after the global pre hooks
   * (registerOptimizerStepPreHook), in registration order. PyTorch lets a pre hook return
   * `(new_args, new_kwargs)` for step; here its return value is ignored (step()'s one argument,
   * the closure, cannot be replaced). A hook that throws aborts the step before anything is
   * validated or changed. @throws TypeError `ERR_HOOK` if `hook` is not a function. */
  registerStepPreHook(hook: StepPreHook<this>): HookHandle {
    return this.#stepPreHooks.add(hook as StepPreHook<Optimizer<H, S, E>>);
  }

  /** Registers `hook(optimizer)`, run after every step() that returns normally, before the global
   * post hooks, in registration order. A step that throws runs no post hooks, as in PyTorch.
   * @throws TypeError `ERR_HOOK` if `hook` is not a function. */
  registerStepPostHook(hook: StepPostHook<this>): HookHandle {
    return this.#stepPostHooks.add(hook as StepPostHook<Optimizer<H, S, E>>);
  }

  /** Registers `hook(optimizer)`, run by stateDict() first. @throws TypeError `ERR_HOOK`, `ERR_OPTION`. */
  registerStateDictPreHook(hook: StateDictPreHook<this>, options?: RegisterHookOptions): HookHandle {
    return this.#stateDictPreHooks.add(hook as StateDictPreHook<Optimizer<H, S, E>>, options);
  }

  /** Registers `hook(optimizer, stateDict)`, run by stateDict() on what it built, in order: an
   * object it returns replaces the state dict for the next hooks and the caller.
   * @throws TypeError `ERR_HOOK` (hook not a function), `ERR_OPTION` (bad options). */
  registerStateDictPostHook(hook: StateDictPostHook<this>, options?: RegisterHookOptions): HookHandle {
    return this.#stateDictPostHooks.add(hook as StateDictPostHook<Optimizer<H, S, E>>, options);
  }

  /** Registers `hook(optimizer, stateDict)`, run by loadStateDict() before it validates anything:
   * an object it returns replaces the state dict to load.
   * @throws TypeError `ERR_HOOK` (hook not a function), `ERR_OPTION` (bad options). */
  registerLoadStateDictPreHook(hook: LoadStateDictPreHook<this>, options?: RegisterHookOptions): HookHandle {
    return this.#loadStateDictPreHooks.add(hook as LoadStateDictPreHook<Optimizer<H, S, E>>, options);
  }

  /** Registers `hook(optimizer)`, run by loadStateDict() last. @throws TypeError `ERR_HOOK`, `ERR_OPTION`. */
  registerLoadStateDictPostHook(hook: LoadStateDictPostHook<this>, options?: RegisterHookOptions): HookHandle {
    return this.#loadStateDictPostHooks.add(hook as LoadStateDictPostHook<Optimizer<H, S, E>>, options);
  }

  /** Global pre hooks, then this optimizer's (PyTorch's order). Subclasses call it first thing
   * in step() (and in any other way of stepping). */
  protected runStepPreHooks(): void {
    countOptimizerStep(this);
    for (const hook of [...globalStepPreHooks.list(), ...this.#stepPreHooks.list()]) hook(this);
  }

  /** This optimizer's post hooks, then the global ones (PyTorch's order). */
  protected runStepPostHooks(): void {
    for (const hook of [...this.#stepPostHooks.list(), ...globalStepPostHooks.list()]) hook(this);
  }

  /** For stateDict(): call before building the state dict. */
  protected runStateDictPreHooks(): void {
    for (const hook of this.#stateDictPreHooks.list()) hook(this);
  }

  /** For stateDict(): call on the built state dict and return what this returns. */
  protected runStateDictPostHooks<D extends object>(stateDict: D): D {
    let current: Record<string, unknown> = stateDict as Record<string, unknown>;
    for (const hook of this.#stateDictPostHooks.list()) current = hookResult(hook(this, current), current, 'state dict post');
    return current as D;
  }

  /** For loadStateDict(): call first, and load what this returns. */
  protected runLoadStateDictPreHooks<D extends object>(stateDict: D): D {
    let current: Record<string, unknown> = stateDict as Record<string, unknown>;
    for (const hook of this.#loadStateDictPreHooks.list()) current = hookResult(hook(this, current), current, 'load state dict pre');
    return current as D;
  }

  /** For loadStateDict(): call once the state dict was loaded. */
  protected runLoadStateDictPostHooks(): void {
    for (const hook of this.#loadStateDictPostHooks.list()) hook(this);
  }

  /** PyTorch's repr: the class, then every group's hyperparameters and parameter count. */
  toString(): string {
    return formatOptimizer(this.#algorithm.name, this.#groups);
  }

  /** What console.log and util.inspect show: {@link toString}. */
  [inspectCustom](): string {
    return this.toString();
  }

  /** Checks a group's hyperparameters again (users and schedulers mutate them). */
  protected checkGroup(group: ParamGroup<H>, index: number, where: string): void {
    this.#algorithm.check(group as Record<string, unknown>, `${where}: paramGroups[${index}]`);
  }

  /** Refuses a call (ERR_BUSY) while an asynchronous step of this optimizer is in flight: every
   * method that reads or writes parameters, grads or state calls it first. */
  protected assertIdle(where: string): void {
    if (this.#busy !== undefined) {
      throw new SimdAdamError('ERR_BUSY', `${where}: a ${this.#busy} of this optimizer is still running; await it first`);
    }
  }

  /** Marks `what` as running until the returned function is called. */
  protected markBusy(what: string): () => void {
    this.#busy = what;
    return () => {
      this.#busy = undefined;
    };
  }

  #merge(base: H, overrides: Record<string, unknown>): H {
    const merged: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(base)) merged[key] = this.#algorithm.copyValue(key, value);
    for (const [key, value] of Object.entries(overrides)) {
      if (value !== undefined) merged[key] = this.#algorithm.copyValue(key, value);
    }
    return merged as H;
  }

  #buildGroups(specs: Record<string, unknown>[], where: string): ParamGroup<H>[] {
    const owner = new Map<Parameter, number>();
    this.#groups.forEach((g, gi) => g.params.forEach((p) => owner.set(p, gi)));
    const firstNew = this.#groups.length;
    const groups = specs.map((spec, k) => {
      const index = firstNew + k;
      const at = `${where}: group ${index}`;
      checkKeys(spec, ['params', ...this.#algorithm.keys], at);
      const params = toParameterList(spec.params, at);
      params.forEach((p, pi) => {
        const previous = owner.get(p);
        if (previous !== undefined) {
          throw new SimdAdamError(
            'ERR_DUPLICATE_PARAM',
            previous === index
              ? `${at}: parameter ${pi} (${p.label}) appears twice in the group`
              : `${at}: parameter ${pi} (${p.label}) is already in group ${previous}; a parameter may belong to one group only`,
          );
        }
        owner.set(p, index);
      });
      const { params: _ignored, ...overrides } = spec;
      const group = this.#merge(this.defaults as H, overrides) as Record<string, unknown>;
      this.#algorithm.check(group, at);
      const frozen = frozenList(params, `paramGroups[${index}].params`, 'ERR_PARAM_GROUP', 'add the parameters in a group of their own with addParamGroup()');
      Object.defineProperty(group, 'params', {
        enumerable: true,
        get: () => frozen,
        set: () => {
          throw typeError('ERR_PARAM_GROUP', `paramGroups[${index}].params cannot be replaced; use addParamGroup()`);
        },
      });
      return group as ParamGroup<H>;
    });
    checkParamOverlap([...this.#groups, ...groups], where);
    return groups;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

refusePytorchSpellings(Optimizer);
