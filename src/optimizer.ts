/**
 * The optimizer base class: param groups and their defaults, per-parameter state keyed by
 * Parameter identity, zeroGrad and addParamGroup. The algorithm (src/adam.ts) owns its
 * hyperparameter rules, lazy state and the math.
 */
import { SimdAdamError, typeError } from './errors.js';
import { Parameter } from './param.js';
import { VersionedMap } from './versioned_map.js';
import { checkBoolean, checkKeys, checkOptionsObject, describe } from './validate.js';

/** A param group as passed in: the parameters plus any hyperparameter overrides. */
export type ParamGroupSpec<O> = O & { params: Iterable<Parameter> };

/** What an optimizer accepts: parameters (one group), or param group specs. */
export type ParamsInput<O> = Iterable<Parameter> | Iterable<ParamGroupSpec<O>>;

/** A live param group. Hyperparameters may be changed between steps (schedulers do); they are
 * validated again by every step(). `params` cannot be changed: use addParamGroup(). Extra keys
 * (such as `initialLr`, set by schedulers, or keys loaded from a PyTorch state dict) are kept. */
export type ParamGroup<H> = H & { readonly params: readonly Parameter[]; [extra: string]: unknown };

/** What an algorithm tells the base class about its hyperparameters. */
export interface Algorithm<H> {
  /** Class name, for messages: `new ${name}()`. */
  name: string;
  defaults: H;
  /** Option keys a user may pass (a subset of the keys of H). */
  keys: readonly (keyof H & string)[];
  /** Throws a TypeError/RangeError (code ERR_OPTION) naming `where` and the option. */
  check(group: Record<string, unknown>, where: string): void;
  /** A fresh copy of a hyperparameter value, so groups never share mutable arrays. */
  copyValue(key: string, value: unknown): unknown;
}

export interface ZeroGradOptions {
  /** `true` (the default): grad = null, so step() skips the parameter entirely. `false`: fill
   * existing grads with zeros, which weight decay and momentum still act on. */
  setToNone?: boolean;
}

export abstract class Optimizer<H extends object, S extends object> {
  /** The hyperparameters a group gets unless its spec overrides them. */
  readonly defaults: Readonly<H>;
  /** Per-parameter state, created on a parameter's first real gradient. The views it holds
   * are the optimizer's own storage: writing into them changes the state. */
  readonly state: ReadonlyMap<Parameter, S>;
  /** Counts its changes, so a cached step plan notices replaced state in O(1). */
  protected readonly stateMap: VersionedMap<Parameter, S> = new VersionedMap();
  /** What is running asynchronously, if anything: while set, assertIdle() refuses. */
  #busy: string | undefined;
  readonly #algorithm: Algorithm<H>;
  #groups: readonly ParamGroup<H>[] = Object.freeze([]);

  protected constructor(params: unknown, options: unknown, algorithm: Algorithm<H>) {
    this.#algorithm = algorithm;
    const where = `new ${algorithm.name}()`;
    const opts = checkOptionsObject(options, where);
    checkKeys(opts, algorithm.keys, where);
    const defaults = this.#merge(algorithm.defaults, opts);
    algorithm.check(defaults as Record<string, unknown>, `${where}: options`);
    this.defaults = Object.freeze(defaults) as Readonly<H>;
    this.state = this.stateMap;
    const specs = normalizeParams(params, where);
    this.#groups = Object.freeze(this.#buildGroups(specs, where));
  }

  /** The param groups, in order. Change hyperparameters on them; add groups with addParamGroup. */
  get paramGroups(): readonly ParamGroup<H>[] {
    return this.#groups;
  }

  /** Adds a group; its unspecified hyperparameters come from `defaults`. Validated fully before
   * anything changes: a parameter already in another group is an error. */
  addParamGroup(spec: ParamGroupSpec<Partial<H>>): void {
    this.assertIdle('addParamGroup()');
    const where = 'addParamGroup()';
    if (spec === null || typeof spec !== 'object' || spec instanceof Parameter || !('params' in spec)) {
      throw typeError('ERR_PARAM_GROUP', `${where}: expected a param group { params, ...options }, got ${describe(spec)}`);
    }
    const groups = this.#buildGroups([spec as Record<string, unknown>], where);
    this.#groups = Object.freeze([...this.#groups, ...groups]);
  }

  /** Clears gradients. By default sets every grad to null, so that step() skips those
   * parameters bit for bit. With `{ setToNone: false }` existing grads are filled with zeros:
   * weight decay and momentum still move those parameters (the frozen-parameter trap). A frozen
   * parameter's grad (requiresGrad = false) is always set to null. */
  zeroGrad(options?: ZeroGradOptions): void {
    const where = 'zeroGrad()';
    this.assertIdle(where);
    const opts = checkOptionsObject(options, where);
    checkKeys(opts, ['setToNone'], where);
    const setToNone = opts.setToNone === undefined ? true : checkBoolean(opts.setToNone, 'setToNone', where);
    for (const group of this.#groups) {
      for (const p of group.params) {
        if (setToNone || !p.requiresGrad) p.grad = null;
        else if (p.grad instanceof Float32Array) p.grad.fill(0);
      }
    }
  }

  /** Updates every parameter that has a grad and requiresGrad. */
  abstract step(): void;

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
    return specs.map((spec, k) => {
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
      const frozen = Object.freeze(params);
      Object.defineProperty(group, 'params', {
        enumerable: true,
        get: () => frozen,
        set: () => {
          throw typeError('ERR_PARAM_GROUP', `paramGroups[${index}].params cannot be replaced; use addParamGroup()`);
        },
      });
      return group as ParamGroup<H>;
    });
  }
}

function toParameterList(value: unknown, where: string): Parameter[] {
  if (value instanceof Parameter) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters, got a single Parameter (wrap it in an array)`);
  }
  if (value === null || typeof value !== 'object' || !(Symbol.iterator in value)) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters, got ${describe(value)}`);
  }
  const list = [...(value as Iterable<unknown>)];
  if (list.length === 0) throw new SimdAdamError('ERR_EMPTY_PARAMS', `${where}: got an empty parameter list`);
  list.forEach((p, i) => {
    if (!(p instanceof Parameter)) {
      throw typeError('ERR_PARAM_TYPE', `${where}: params[${i}] must be a Parameter, got ${describe(p)}`);
    }
  });
  return list as Parameter[];
}

/** Parameters → one group spec; group specs → themselves. Mixing the two is an error. */
function normalizeParams(params: unknown, where: string): Record<string, unknown>[] {
  if (params instanceof Parameter) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters or param groups, got a single Parameter (wrap it in an array)`);
  }
  if (params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
    throw typeError('ERR_PARAM_GROUP', `${where}: params must be an iterable of Parameters or param groups, got ${describe(params)}`);
  }
  const list = [...(params as Iterable<unknown>)];
  if (list.length === 0) throw new SimdAdamError('ERR_EMPTY_PARAMS', `${where}: got an empty parameter list`);
  if (list.every((p) => p instanceof Parameter)) return [{ params: list }];
  return list.map((spec, i) => {
    if (spec === null || typeof spec !== 'object' || spec instanceof Parameter || Array.isArray(spec) || !('params' in spec)) {
      throw typeError(
        'ERR_PARAM_GROUP',
        `${where}: params[${i}] must be a param group { params, ...options } (do not mix Parameters and groups), got ${describe(spec)}`,
      );
    }
    return spec as Record<string, unknown>;
  });
}
