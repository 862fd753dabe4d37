/**
 * State dicts in PyTorch's layout: the types, the camelCase ↔ snake_case translation of group
 * keys, and the structural reading of a saved state dict. What a per-parameter entry holds is the
 * algorithm's business (src/optim/adam.ts); mapping saved ids onto parameters is the base class's.
 */
import { SimdAdamError, rangeError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import type { Parameter } from '../nn/parameter.js';

/** A camelCase key as PyTorch spells it: `weightDecay` → `weight_decay`, `min8bitSize` →
 * `min_8bit_size` (a digit run after a letter starts a word, as in torchao's names). `Prev` is
 * the character before `S`, for that rule. */
export type SnakeCase<S extends string, Prev extends string = ''> = S extends `${infer C}${infer Rest}`
  ? `${C extends '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9'
      ? Prev extends '' | '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '_'
        ? C
        : `_${C}`
      : C extends Lowercase<C>
        ? C
        : `_${Lowercase<C>}`}${SnakeCase<Rest, C>}`
  : S;

/** One entry of `param_groups`: the hyperparameters under PyTorch's names, the parameter ids,
 * `param_names` when every parameter has a name, and any extra keys (`initial_lr`, `foreach`, ...). */
export type StateDictParamGroup<H extends object = Record<string, unknown>> = {
  [K in keyof H & string as SnakeCase<K>]: H[K];
} & {
  params: number[];
  param_names?: string[];
  [extra: string]: unknown;
};

/** PyTorch's `optimizer.state_dict()` layout. `state` has an entry, keyed by parameter id, for
 * each parameter that has been stepped; ids number the parameters in order of first appearance
 * across groups. */
export interface StateDict<H extends object = Record<string, unknown>, E extends object = Record<string, unknown>> {
  state: Record<number, E>;
  param_groups: Array<StateDictParamGroup<H>>;
}

/** What loadStateDict accepts: a state dict from stateDict(), its JSON round trip, or a JSON dump
 * of PyTorch's `optimizer.state_dict()`. Everything inside is validated. */
export interface StateDictInput {
  readonly state: object;
  readonly param_groups: readonly object[];
}

/** `initialLr` → `initial_lr`. */
export function toSnakeCase(key: string): string {
  return key.replace(/(?<=.)([A-Z])/g, (_, c: string) => `_${c.toLowerCase()}`).replace(/(?<=[a-z])(?=\d)/g, '_');
}

/** `initial_lr` → `initialLr`. */
export function toCamelCase(key: string): string {
  return key.replace(/(?<=[a-z0-9])_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Re-throws a hyperparameter error from the option checkers under the state-dict code, so a
 * bad state dict is told apart from a bad constructor call. */
export function asStateDictError(error: unknown): unknown {
  if (error instanceof RangeError) return rangeError('ERR_STATE_DICT', error.message);
  if (error instanceof TypeError) return typeError('ERR_STATE_DICT', error.message);
  return error;
}

/** A copy of a group value, so a state dict and the optimizer never share mutable arrays. */
export function copyGroupValue(value: unknown): unknown {
  return value !== null && typeof value === 'object' ? structuredClone(value) : value;
}

/** A live group (camelCase keys) as a state dict group. A snake_case key set by hand next to
 * its camelCase form (`weight_decay` beside `weightDecay`) is left out: the camelCase value is
 * the one step() uses, and it must not be overwritten in the state dict. */
export function groupToDict(group: Record<string, unknown>, ids: number[], names: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(group)) {
    if (key === 'params') continue;
    const camel = toCamelCase(key);
    if (camel !== key && Object.prototype.hasOwnProperty.call(group, camel)) continue;
    out[toSnakeCase(key)] = copyGroupValue(value);
  }
  out.params = ids;
  if (names) out.param_names = names;
  return out;
}

/** The state dict layout of `groups`: ids number the parameters in order of first appearance
 * across groups, `entryOf` gives each stepped parameter's entry, and groups carry `param_names`
 * when every parameter has a name. */
export function collectStateDict<S, T>(
  groups: ReadonlyArray<{ readonly params: readonly Parameter[] }>,
  states: ReadonlyMap<Parameter, S>,
  entryOf: (state: S, param: Parameter, id: number) => T,
): { state: Record<number, T>; param_groups: StateDictParamGroup[] } {
  const params = groups.flatMap((group) => group.params);
  const ids = new Map(params.map((param, id) => [param, id]));
  const named = params.every((param) => param.name !== undefined);
  const param_groups = groups.map((group) =>
    groupToDict(
      group as Record<string, unknown>,
      group.params.map((param) => ids.get(param)!),
      named ? group.params.map((param) => param.name!) : undefined,
    ),
  ) as StateDictParamGroup[];
  const state: Record<number, T> = {};
  for (const [param, id] of ids) {
    const entry = states.get(param);
    if (entry) state[id] = entryOf(entry, param, id);
  }
  return { state, param_groups };
}

/** A tensor of an optimizer's own state, as a checkpoint writer streams it. */
export interface LiveTensor {
  /** The safetensors dtype of `data`'s elements: 'F32' for a Float32Array, 'BF16' for bfloat16
   * bits in a Uint16Array, 'U8' for a Uint8Array, ... */
  dtype: string;
  shape: readonly number[];
  /** A view of the optimizer's storage, in the host's byte order. */
  data: ArrayBufferView;
}

/** One parameter's live state under its state dict keys (a key may name a part of a moment, as
 * `exp_avg.codes`): `step` as a number, every other key a view. */
export type LiveStateEntry = Record<string, number | LiveTensor>;

/** What `Adam#liveStateDict()` returns: stateDict()'s layout, each entry views. */
export interface LiveStateDict {
  state: Record<number, LiveStateEntry>;
  param_groups: StateDictParamGroup[];
}

/** An optimizer that can list its state as views (Adam, AdamW); others are written through
 * stateDict(). */
export interface LiveStateSource {
  liveStateDict(): LiveStateDict | undefined;
}

/** A saved group, read and translated but not yet matched against the optimizer's groups. */
export interface SavedGroup {
  ids: number[];
  /** `param_names`, when the saved group has them. */
  names: string[] | undefined;
  /** Every other key, in camelCase, with copied values. */
  hyper: Array<[string, unknown]>;
}

export interface SavedStateDict {
  groups: SavedGroup[];
  /** Per-parameter entries by saved id, in the order the state dict lists them. */
  state: Array<[number, Record<string, unknown>]>;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !ArrayBuffer.isView(value);
}

/** Reads the structure of a saved state dict: the top-level keys, each group's ids, names and
 * keys, and the state's ids. Copies what it keeps; changes nothing. */
export function readSaved(stateDict: unknown, where: string): SavedStateDict {
  if (!isPlainRecord(stateDict)) {
    throw typeError('ERR_STATE_DICT', `${where}: expected a state dict { state, param_groups }, got ${describe(stateDict)}`);
  }
  const { state, param_groups: groups } = stateDict;
  if (!Array.isArray(groups)) {
    throw typeError('ERR_STATE_DICT', `${where}: param_groups must be an array, got ${describe(groups)}`);
  }
  if (!isPlainRecord(state)) {
    throw typeError('ERR_STATE_DICT', `${where}: state must be an object keyed by parameter id, got ${describe(state)}`);
  }
  const seen = new Map<number, number>();
  const saved = groups.map((group: unknown, gi): SavedGroup => {
    const at = `${where}: param_groups[${gi}]`;
    if (!isPlainRecord(group)) throw typeError('ERR_STATE_DICT', `${at} must be an object, got ${describe(group)}`);
    const ids = readIds(group.params, at);
    ids.forEach((id) => {
      const previous = seen.get(id);
      if (previous !== undefined) {
        throw new SimdAdamError('ERR_STATE_DICT', `${at}: parameter id ${id} already appears in param_groups[${previous}]`);
      }
      seen.set(id, gi);
    });
    return { ids, names: readNames(group.param_names, ids.length, at), hyper: readGroupKeys(group, at) };
  });
  const entries = Object.entries(state).map(([key, entry]): [number, Record<string, unknown>] => {
    if (!/^(0|[1-9][0-9]*)$/.test(key) || !Number.isSafeInteger(Number(key))) {
      throw new SimdAdamError('ERR_STATE_DICT', `${where}: state key '${key}' is not a parameter id (a non-negative integer)`);
    }
    if (!isPlainRecord(entry)) throw typeError('ERR_STATE_DICT', `${where}: state[${key}] must be an object, got ${describe(entry)}`);
    return [Number(key), entry];
  });
  return { groups: saved, state: entries };
}

function readIds(params: unknown, at: string): number[] {
  if (!Array.isArray(params)) throw typeError('ERR_STATE_DICT', `${at}: params must be an array of parameter ids, got ${describe(params)}`);
  return params.map((id: unknown, i) => {
    if (typeof id !== 'number') throw typeError('ERR_STATE_DICT', `${at}: params[${i}] must be a parameter id, got ${describe(id)}`);
    if (!Number.isSafeInteger(id) || id < 0) {
      throw rangeError('ERR_STATE_DICT', `${at}: params[${i}] must be a non-negative integer id, got ${describe(id)}`);
    }
    return id;
  });
}

function readNames(names: unknown, count: number, at: string): string[] | undefined {
  if (names === undefined) return undefined;
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) {
    throw typeError('ERR_STATE_DICT', `${at}: param_names must be an array of strings, got ${describe(names)}`);
  }
  if (names.length !== count) {
    throw rangeError('ERR_STATE_DICT', `${at}: param_names has ${names.length} entries but params has ${count}`);
  }
  return [...(names as string[])];
}

/** Every key but params and param_names, translated to camelCase. A key that would not come back
 * out under its own name is refused rather than silently renamed. */
function readGroupKeys(group: Record<string, unknown>, at: string): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [key, value] of Object.entries(group)) {
    if (key === 'params' || key === 'param_names') continue;
    const camel = toCamelCase(key);
    if (key === '__proto__' || camel === 'params' || toSnakeCase(camel) !== key) {
      throw new SimdAdamError(
        'ERR_STATE_DICT',
        `${at}: group key '${key}' is not a snake_case name (groups keep keys in camelCase and write them back in snake_case)`,
      );
    }
    let copy: unknown;
    try {
      copy = copyGroupValue(value);
    } catch {
      throw typeError('ERR_STATE_DICT', `${at}: ${key} must be plain data, got ${describe(value)}`);
    }
    out.push([camel, copy]);
  }
  return out;
}
