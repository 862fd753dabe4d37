/**
 * Adam's half of state dicts: one parameter's state under PyTorch's keys (step, exp_avg,
 * exp_avg_sq, max_exp_avg_sq) going out, and validated entries coming in, in every storage
 * format. Loading converts: an entry in another format than its group's is dequantized to
 * float32 and stored in the group's format; one already in it is copied bit for bit.
 */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import {
  copyMoment,
  momentDtype,
  momentToFloat32,
  STATE_DTYPES,
  momentViews,
  storageDtype,
  storeMoment,
  type Moment,
  type StateDtype,
} from '../engine/lowbit_state.js';
import { allocateLowbitState, allocateState } from '../engine/state_arena.js';
import type { Parameter } from '../nn/parameter.js';
import type { AdamHyper } from '../reference/adam.js';
import type { AdamState } from '../engine/adam_state.js';
import type { AdamHyperparameters } from './adam_options.js';
import { asBf16Tensor, asQ8Tensor, checkMoment, type Bf16Tensor, type Q8Tensor } from './lowbit_tensor.js';
import { qmapOf } from '../reference/adam_lowbit.js';
import type { LoadedEntry } from './optimizer.js';
import { readSaved, type LiveStateEntry, type LiveTensor, type StateDict } from './state_dict.js';
import { asTensor, checkStep, shapeOf as tensorShapeOf } from './state_dict_tensor.js';

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

const STATE_KEYS = ['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;
const MOMENTS = [
  ['exp_avg', 'expAvg', true],
  ['exp_avg_sq', 'expAvgSq', false],
  ['max_exp_avg_sq', 'maxExpAvgSq', false],
] as const;

/** The storage format a parameter of `numel` elements gets in a group with hyperparameters `h`. */
export function dtypeFor(h: AdamHyper, numel: number): StateDtype {
  return storageDtype({ stateDtype: h.stateDtype ?? 'float32', min8bitSize: h.min8bitSize ?? 4096 }, numel);
}

function length(m: Moment): number {
  return m instanceof Float32Array || m instanceof Uint16Array ? m.length : m.codes.length;
}

/** What every entry point that reads a parameter's live state checks first (code ERR_STATE):
 * an integer step (users may assign `state.step`), and moments that still hold the parameter's
 * elements (a state buffer transferred away by postMessage or structuredClone has none, and
 * reading it would fail without a code). */
export function checkStateStorage(state: AdamState, param: Parameter, at: string): void {
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new SimdAdamError('ERR_STATE', `${at}: state.step must be a non-negative integer, got ${describe(state.step)}`);
  }
  const moments: Moment[] = [state.expAvg, state.expAvgSq, ...(state.maxExpAvgSq ? [state.maxExpAvgSq] : [])];
  if (moments.some((m) => length(m) !== param.numel || (momentDtype(m) === '8bit' && (m as { scale: Float32Array }).scale.length !== Math.ceil(param.numel / 256)))) {
    const views = moments.flatMap(momentViews);
    const detached = views.some((v) => v.buffer.byteLength === 0) && param.numel > 0 ? ' (detached: was a state buffer transferred?)' : '';
    throw new SimdAdamError('ERR_STATE', `${at}: state arrays do not match the parameter's ${param.numel} elements${detached}`);
  }
}

/** A state found in the map at step time: its storage, amsgrad state exactly when the group has
 * amsgrad, and the storage format the group's stateDtype and min8bitSize give the parameter. */
export function checkState(state: AdamState, param: Parameter, hyper: AdamHyper, at: string): void {
  checkStateStorage(state, param, at);
  if (hyper.amsgrad !== (state.maxExpAvgSq !== undefined)) {
    throw new SimdAdamError(
      'ERR_AMSGRAD_STATE',
      `${at}: amsgrad is ${hyper.amsgrad ? 'on' : 'off'} but this parameter's state was created with it ${hyper.amsgrad ? 'off' : 'on'}; ` +
        'amsgrad cannot change once a group has state (set it at construction, or load a state dict)',
    );
  }
  checkStateDtype(state, param, hyper, at);
}

/** A parameter's stored state is in the format its group's stateDtype and min8bitSize give it:
 * checked for every parameter with state at each step, updated or skipped, so a group cannot
 * change its format while a frozen parameter still holds state in the old one. */
export function checkStateDtype(state: AdamState, param: Parameter, hyper: AdamHyper, at: string): void {
  const want = dtypeFor(hyper, param.numel);
  const dtype = state.dtype ?? 'float32';
  if (dtype !== want) {
    throw new SimdAdamError(
      'ERR_STATE_DTYPE',
      `${at}: the group stores this parameter's state as ${want} but its state is ${dtype}; ` +
        'stateDtype (and min8bitSize) cannot change once a group has state (set them at construction, or load a state dict, which converts)',
    );
  }
}

function exportMoment(m: Moment, shape: readonly number[], signed: boolean): StateTensor {
  if (m instanceof Float32Array) return asTensor(m.slice(), shape);
  if (m instanceof Uint16Array) return asBf16Tensor(m, shape);
  return asQ8Tensor(m, shape, signed);
}

/** One parameter's state under PyTorch's keys, as copies in the state's own format carrying the
 * parameter's shape. Checks the state first (ERR_STATE, naming `where`), as a step does. */
export function exportAdamState(state: AdamState, param: Parameter, where: string): AdamStateDictEntry {
  checkStateStorage(state, param, where);
  const entry: AdamStateDictEntry = {
    step: state.step,
    exp_avg: exportMoment(state.expAvg, param.shape, true),
    exp_avg_sq: exportMoment(state.expAvgSq, param.shape, false),
  };
  if (state.maxExpAvgSq) entry.max_exp_avg_sq = exportMoment(state.maxExpAvgSq, param.shape, false);
  return entry;
}

interface CheckedEntry {
  param: Parameter;
  step: number;
  moments: Moment[];
  dtype: StateDtype;
}

/** One saved entry against its parameter and its group-to-be: known keys only, the required ones
 * present, max_exp_avg_sq exactly when amsgrad is on, every moment the parameter's length. */
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
  const moments = MOMENTS.filter(([key]) => key !== 'max_exp_avg_sq' || amsgrad).map(([key, , signed]) => checkMoment(entry[key], key, where, param.numel, signed));
  const dtype = storageDtype({ stateDtype: group.stateDtype as StateDtype, min8bitSize: group.min8bitSize as number }, param.numel);
  return { param, step: checkStep(entry.step, where), moments, dtype };
}

/** One parameter's state under PyTorch's keys, as views of the optimizer's storage in the
 * state's own format (for a checkpoint streamed from the live state): F32, BF16, or an 8-bit
 * moment's `.codes` / `.scale` / `.qmap` tensors. */
export function liveAdamState(state: AdamState, param: Parameter, where: string): LiveStateEntry {
  checkStateStorage(state, param, where);
  const entry: LiveStateEntry = { step: state.step };
  const add = (key: string, m: Moment, signed: boolean) => {
    if (m instanceof Float32Array) entry[key] = { dtype: 'F32', shape: param.shape, data: m } satisfies LiveTensor;
    else if (m instanceof Uint16Array) entry[key] = { dtype: 'BF16', shape: param.shape, data: m };
    else {
      entry[`${key}.codes`] = { dtype: 'U8', shape: param.shape, data: m.codes };
      entry[`${key}.scale`] = { dtype: 'F32', shape: [m.scale.length], data: m.scale };
      entry[`${key}.qmap`] = { dtype: 'F32', shape: [256], data: qmapOf(signed) };
    }
  };
  add('exp_avg', state.expAvg, true);
  add('exp_avg_sq', state.expAvgSq, false);
  if (state.maxExpAvgSq) add('max_exp_avg_sq', state.maxExpAvgSq, false);
  return entry;
}

/** The state of every loaded entry, in its group's format, in fresh storage (one buffer per
 * format and amsgrad setting). Validates everything before building anything. */
export function importAdamState(entries: readonly LoadedEntry[]): Map<Parameter, AdamState> {
  const checked = entries.map(checkEntry);
  const fresh = new Map<CheckedEntry, AdamState>();
  for (const dtype of STATE_DTYPES) {
    for (const amsgrad of [false, true]) {
      const some = checked.filter((c) => c.dtype === dtype && (c.moments.length === 3) === amsgrad);
      const params = some.map((c) => c.param);
      const states = dtype === 'float32' ? allocateState(params, amsgrad) : allocateLowbitState(params, amsgrad, dtype);
      states.forEach((state, i) => fresh.set(some[i]!, state));
    }
  }
  const out = new Map<Parameter, AdamState>();
  for (const entry of checked) {
    const state = fresh.get(entry)!;
    state.step = entry.step;
    const targets: Moment[] = [state.expAvg, state.expAvgSq];
    if (state.maxExpAvgSq) targets.push(state.maxExpAvgSq);
    entry.moments.forEach((m, j) => {
      const signed = j === 0;
      if (momentDtype(m) === entry.dtype) copyMoment(targets[j]!, m);
      else storeMoment(targets[j]!, momentToFloat32(m, signed), signed);
    });
    out.set(entry.param, state);
  }
  return out;
}

/**
 * A plain float32 copy of a state dict: every bfloat16 or 8-bit moment dequantized (exactly as
 * a step reads it), the groups' `state_dtype` and `min_8bit_size` dropped, so that PyTorch's
 * `torch.optim.Adam.load_state_dict` accepts its JSON. Float32 moments are copied.
 * @throws {TypeError | RangeError | SimdAdamError} ERR_STATE_DICT if `sd` is not a state dict
 *   (`{ state, param_groups }`), an entry lacks `step`, `exp_avg` or `exp_avg_sq` or has an unknown
 *   key, or a moment or its shape is malformed. `sd` is never modified.
 */
export function dequantizeStateDict(sd: AdamStateDict | { state: object; param_groups: readonly object[] }): AdamStateDict {
  const where = 'dequantizeStateDict()';
  // The same structural checks as loadStateDict, so malformed input is a coded error, not a V8 one.
  const saved = readSaved(sd, where);
  const state: Record<number, AdamStateDictEntry> = {};
  for (const [id, raw] of saved.state) {
    const at = `${where}: state[${id}]`;
    for (const key of Object.keys(raw)) {
      if (!(STATE_KEYS as readonly string[]).includes(key)) {
        throw new SimdAdamError('ERR_STATE_DICT', `${at}: unknown state key '${key}'; Adam's state has ${STATE_KEYS.join(', ')}`);
      }
    }
    for (const key of ['step', 'exp_avg', 'exp_avg_sq'] as const) {
      if (raw[key] === undefined) throw new SimdAdamError('ERR_STATE_DICT', `${at}: state key '${key}' is missing`);
    }
    const out: AdamStateDictEntry = { step: checkStep(raw.step, at), exp_avg: new Float32Array(0), exp_avg_sq: new Float32Array(0) };
    for (const [key, , signed] of MOMENTS) {
      const value = raw[key];
      if (value === undefined) continue;
      const numel = numelOf(value);
      const m = checkMoment(value, key, at, numel, signed);
      (out as Record<string, unknown>)[key] = asTensor(momentToFloat32(m, signed), savedShape(value, numel, key, at));
    }
    state[id] = out;
  }
  const param_groups = (sd.param_groups as ReadonlyArray<Record<string, unknown>>).map((g) => {
    const copy: Record<string, unknown> = structuredClone({ ...g });
    delete copy.state_dtype;
    delete copy.min_8bit_size;
    return copy;
  });
  return { state, param_groups } as AdamStateDict;
}

/** The element count a saved moment claims (0 for a malformed one: checkMoment then names it). */
function numelOf(value: unknown): number {
  if (ArrayBuffer.isView(value) || Array.isArray(value)) return (value as ArrayLike<number>).length;
  if (value === null || typeof value !== 'object') return 0;
  const v = value as Record<string, unknown>;
  const data = 'codes' in v ? v.codes : (v.data ?? v.bits);
  return (data as ArrayLike<number> | undefined)?.length ?? 0;
}

/** A saved moment's shape: a Float32Array's own (from asTensor), a `shape` key, else flat. A shape
 * that does not hold `numel` elements would make the output lie about its data, so it is refused. */
function savedShape(value: unknown, numel: number, name: string, where: string): readonly number[] {
  if (value instanceof Float32Array) return tensorShapeOf(value);
  const shape = value !== null && typeof value === 'object' ? (value as { shape?: unknown }).shape : undefined;
  if (shape === undefined) return [numel];
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw typeError('ERR_STATE_DICT', `${where}: ${name}.shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  const count = (shape as number[]).reduce((a, d) => a * d, 1);
  if (count !== numel) {
    throw rangeError('ERR_STATE_DICT', `${where}: ${name}.shape [${shape.join(', ')}] holds ${count} elements but its data has ${numel}`);
  }
  return shape as number[];
}
