/**
 * Adam's half of state dicts: one parameter's state under PyTorch's keys (step, exp_avg,
 * exp_avg_sq, max_exp_avg_sq) going out, and validated entries coming in.
 */
import { rangeError, SimdAdamError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import type { AdamState } from '../engine/adam_state.js';
import { allocateState } from '../engine/state_arena.js';
import type { Parameter } from '../nn/parameter.js';
import type { AdamHyper } from '../reference/adam.js';
import type { AdamHyperparameters } from './adam_options.js';
import type { LoadedEntry } from './optimizer.js';
import type { LiveStateEntry, LiveTensor, StateDict } from './state_dict.js';
import { asTensor, checkStep, checkTensor, type CheckedTensor } from './state_dict_tensor.js';

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


/** What every entry point that reads a parameter's live state checks first (code ERR_STATE):
 * an integer step (users may assign `state.step`), and arrays that still hold the parameter's
 * elements (a state buffer transferred away by postMessage or structuredClone has none, and
 * reading it would fail without a code). */
export function checkStateStorage(state: AdamState, param: Parameter, at: string): void {
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new SimdAdamError('ERR_STATE', `${at}: state.step must be a non-negative integer, got ${describe(state.step)}`);
  }
  const arrays = [state.expAvg, state.expAvgSq, ...(state.maxExpAvgSq ? [state.maxExpAvgSq] : [])];
  if (arrays.some((a) => a.length !== param.numel)) {
    const detached = arrays.some((a) => a.buffer.byteLength === 0) && param.numel > 0 ? ' (detached: was a state buffer transferred?)' : '';
    throw new SimdAdamError('ERR_STATE', `${at}: state arrays do not match the parameter's ${param.numel} elements${detached}`);
  }
}

/** A state found in the map at step time: its storage, and amsgrad state exactly when the
 * group has amsgrad. */
export function checkState(state: AdamState, param: Parameter, hyper: AdamHyper, at: string): void {
  checkStateStorage(state, param, at);
  if (hyper.amsgrad !== (state.maxExpAvgSq !== undefined)) {
    throw new SimdAdamError(
      'ERR_AMSGRAD_STATE',
      `${at}: amsgrad is ${hyper.amsgrad ? 'on' : 'off'} but this parameter's state was created with it ${hyper.amsgrad ? 'off' : 'on'}; ` +
        'amsgrad cannot change once a group has state (set it at construction, or load a state dict)',
    );
  }
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

/** One parameter's state under PyTorch's keys, as copies carrying the parameter's shape. Checks
 * the state first (ERR_STATE, naming `where`), as a step does. */
export function exportAdamState(state: AdamState, param: Parameter, where: string): AdamStateDictEntry {
  checkStateStorage(state, param, where);
  const entry: AdamStateDictEntry = {
    step: state.step,
    exp_avg: asTensor(state.expAvg.slice(), param.shape),
    exp_avg_sq: asTensor(state.expAvgSq.slice(), param.shape),
  };
  if (state.maxExpAvgSq) entry.max_exp_avg_sq = asTensor(state.maxExpAvgSq.slice(), param.shape);
  return entry;
}

/** One parameter's state under PyTorch's keys, as views of the optimizer's storage (for a
 * checkpoint streamed from the live state). */
export function liveAdamState(state: AdamState, param: Parameter, where: string): LiveStateEntry {
  checkStateStorage(state, param, where);
  const f32 = (data: Float32Array): LiveTensor => ({ dtype: 'F32', shape: param.shape, data });
  const entry: LiveStateEntry = { step: state.step, exp_avg: f32(state.expAvg), exp_avg_sq: f32(state.expAvgSq) };
  if (state.maxExpAvgSq) entry.max_exp_avg_sq = f32(state.maxExpAvgSq);
  return entry;
}

/** Validates every loaded entry, then builds the new state in fresh storage; nothing is shared
 * with the entries. */
export function importAdamState(entries: readonly LoadedEntry[]): Map<Parameter, AdamState> {
  const checked = entries.map(checkEntry);
  // Fresh storage for everything loaded: one buffer per amsgrad setting (see src/engine/state_arena.ts).
  const fresh = new Map<CheckedEntry, AdamState>();
  for (const amsgrad of [false, true]) {
    const some = checked.filter((c) => (c.max !== undefined) === amsgrad);
    allocateState(some.map((c) => c.param), amsgrad).forEach((state, i) => fresh.set(some[i]!, state));
  }
  const out = new Map<Parameter, AdamState>();
  checked.forEach((entry) => {
    const { param, step, expAvg, expAvgSq, max } = entry;
    const state = fresh.get(entry)!;
    state.step = step;
    state.expAvg.set(expAvg.values);
    state.expAvgSq.set(expAvgSq.values);
    if (max) state.maxExpAvgSq!.set(max.values);
    out.set(param, state);
  });
  return out;
}
