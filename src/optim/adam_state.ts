/**
 * Checks of Adam's per-parameter state: the live state before a step or a state dict reads it,
 * and a saved entry before loadStateDict builds state from it.
 */
import { rangeError, SimdAdamError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import type { Parameter } from '../nn/parameter.js';
import type { AdamHyper } from '../reference/adam.js';
import type { LoadedEntry } from './optimizer.js';
import { checkStep, checkTensor, type CheckedTensor } from './state_dict_tensor.js';

const STATE_KEYS = ['step', 'exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] as const;

/** A parameter's live state, as every reader of it needs it. */
interface LiveState {
  step: number;
  readonly expAvg: Float32Array;
  readonly expAvgSq: Float32Array;
  readonly maxExpAvgSq?: Float32Array;
}

/** What every entry point that reads a parameter's live state checks first (code ERR_STATE): an
 * integer step, and arrays that still hold the parameter's elements (a buffer transferred away
 * by postMessage or structuredClone has none, and reading it would fail without a code). */
export function checkStateStorage(state: LiveState, param: Parameter, at: string): void {
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new SimdAdamError('ERR_STATE', `${at}: state.step must be a non-negative integer, got ${describe(state.step)}`);
  }
  const arrays = [state.expAvg, state.expAvgSq, ...(state.maxExpAvgSq ? [state.maxExpAvgSq] : [])];
  if (arrays.some((a) => a.length !== param.numel)) {
    const detached = arrays.some((a) => a.buffer.byteLength === 0) && param.numel > 0 ? ' (detached: was a state buffer transferred?)' : '';
    throw new SimdAdamError('ERR_STATE', `${at}: state arrays do not match the parameter's ${param.numel} elements${detached}`);
  }
}

/** Before a step: the storage, and amsgrad state exactly when the group has amsgrad. */
export function checkState(state: LiveState, param: Parameter, hyper: AdamHyper, at: string): void {
  checkStateStorage(state, param, at);
  if (hyper.amsgrad !== (state.maxExpAvgSq !== undefined)) {
    throw new SimdAdamError(
      'ERR_AMSGRAD_STATE',
      `${at}: amsgrad is ${hyper.amsgrad ? 'on' : 'off'} but this parameter's state was created with it ${hyper.amsgrad ? 'off' : 'on'}; ` +
        'amsgrad cannot change once a group has state (set it at construction, or load a state dict)',
    );
  }
}

export interface CheckedEntry {
  param: Parameter;
  step: number;
  expAvg: CheckedTensor;
  expAvgSq: CheckedTensor;
  max: CheckedTensor | undefined;
}

/** One saved entry against its parameter and its group-to-be: known keys only, the required ones
 * present, max_exp_avg_sq exactly when amsgrad is on, every tensor the parameter's length. */
export function checkEntry({ param, entry, group, where }: LoadedEntry): CheckedEntry {
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
