/**
 * How a checkpoint maps onto safetensors: `state.<id>.<key>` tensors (F32 with the parameter's
 * shape; `step` a 0-d I64 so counts stay exact beyond 2^24), `param.<name>` tensors for the model's
 * parameters, and JSON strings in `__metadata__` for `param_groups` and a scheduler's state dict.
 */
import { SimdAdamError, typeError } from '../common/errors.js';
import { Parameter } from '../nn/parameter.js';
import { readSaved, type StateDict } from '../optim/state_dict.js';
import { asTensor, checkStep, checkTensor, type TensorLike } from '../optim/state_dict_tensor.js';
import { checkKeys, checkOptionsObject, describe, isDetached } from '../common/validate.js';
import type { RawTensor, Safetensors } from './safetensors.js';

/** A model parameter as a checkpoint holds it. */
export interface CheckpointTensor {
  shape: number[];
  data: Float32Array;
}

/** What a checkpoint may hold beside the optimizer's state dict, so one file resumes a run. */
/** What {@link writeStateDict} can store beside the optimizer's state dict. */
export interface CheckpointExtras {
  /** The model's parameters, each with a unique name (stored as `param.<name>`, float32, in its
   * shape), or tensors by name. Default: none stored. */
  params?: Iterable<Parameter> | Readonly<Record<string, TensorLike>>;
  /** A scheduler's `stateDict()` (any JSON-able object), stored as JSON in the metadata.
   * Default: none stored. */
  scheduler?: Readonly<Record<string, unknown>>;
}

/** What readStateDict returns: the optimizer's state dict, plus the extras the file holds. */
export interface Checkpoint extends StateDict {
  params?: Record<string, CheckpointTensor>;
  scheduler?: Record<string, unknown>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const STATE_NAME = /^state\.(0|[1-9][0-9]*)\.(.+)$/s;
const PARAM_NAME = /^param\.(.+)$/s;

/** Little-endian bytes of float32 values; a view when no conversion is needed. */
function f32Bytes(values: Float32Array | readonly number[]): Uint8Array {
  const f = values instanceof Float32Array ? values : Float32Array.from(values);
  const bytes = new Uint8Array(f.buffer, f.byteOffset, f.byteLength);
  return LITTLE_ENDIAN ? bytes : swapped(bytes, 4);
}

function swapped(bytes: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  for (let i = 0; i < bytes.byteLength; i += width) for (let k = 0; k < width; k++) out[i + k] = bytes[i + width - 1 - k]!;
  return out;
}

function i64Bytes(n: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigInt64(0, BigInt(n), true);
  return out;
}

/** Validates a state dict and the extras, and lays them out as tensors and metadata. Steps come
 * first so that every 8-byte tensor stays 8-byte aligned, as Python's writer arranges too. */
export function toSafetensors(stateDict: unknown, extras: unknown, where: string): Safetensors {
  const saved = readSaved(stateDict, where);
  const opts = checkOptionsObject(extras, where);
  checkKeys(opts, ['params', 'scheduler'], where);
  const ids = new Set(saved.groups.flatMap((g) => g.ids));
  const steps = new Map<string, RawTensor>();
  const floats = new Map<string, RawTensor>();
  for (const [id, entry] of saved.state) {
    const at = `${where}: state[${id}]`;
    if (!ids.has(id)) throw new SimdAdamError('ERR_STATE_DICT', `${at} belongs to no parameter in param_groups`);
    if (entry.step === undefined) throw new SimdAdamError('ERR_STATE_DICT', `${at}: state key 'step' is missing`);
    for (const [key, value] of Object.entries(entry)) {
      if (value === undefined) continue; // `max_exp_avg_sq: undefined` means absent, as loadStateDict reads it
      if (key === 'step') {
        steps.set(`state.${id}.step`, { dtype: 'I64', shape: [], bytes: i64Bytes(checkStep(value, at)) });
      } else {
        const t = checkTensor(value, key, at);
        floats.set(`state.${id}.${key}`, { dtype: 'F32', shape: t.shape ?? [t.values.length], bytes: f32Bytes(t.values) });
      }
    }
  }
  for (const [name, t] of paramTensors(opts.params, where)) floats.set(`param.${name}`, t);
  const metadata: Record<string, string> = {
    format: 'pt',
    param_groups: JSON.stringify((stateDict as { param_groups: unknown }).param_groups),
  };
  if (opts.scheduler !== undefined) metadata.scheduler = schedulerJson(opts.scheduler, where);
  return { tensors: new Map([...steps, ...floats]), metadata };
}

function paramTensors(params: unknown, where: string): Array<[string, RawTensor]> {
  if (params === undefined) return [];
  if (params === null || typeof params !== 'object') {
    throw typeError('ERR_CHECKPOINT', `${where}: params must be an iterable of Parameters or an object of tensors by name, got ${describe(params)}`);
  }
  if (!(Symbol.iterator in params)) {
    return Object.entries(params).map(([name, value]) => {
      const t = checkTensor(value, `params['${name}']`, where);
      return [name, { dtype: 'F32', shape: t.shape ?? [t.values.length], bytes: f32Bytes(t.values) }];
    });
  }
  const seen = new Set<string>();
  return [...(params as Iterable<unknown>)].map((p, i): [string, RawTensor] => {
    if (!(p instanceof Parameter)) throw typeError('ERR_CHECKPOINT', `${where}: params[${i}] must be a Parameter, got ${describe(p)}`);
    if (p.name === undefined) throw new SimdAdamError('ERR_CHECKPOINT', `${where}: params[${i}] has no name; a checkpoint stores parameters by name`);
    if (seen.has(p.name)) throw new SimdAdamError('ERR_CHECKPOINT', `${where}: two parameters are named '${p.name}'`);
    seen.add(p.name);
    if (p.data.length !== p.numel || isDetached(p.data)) {
      throw new SimdAdamError('ERR_DETACHED', `${where}: params[${i}] ('${p.name}'): its data's buffer was detached (transferred?), so it cannot be saved`);
    }
    return [p.name, { dtype: 'F32', shape: p.shape, bytes: f32Bytes(p.data) }];
  });
}

function schedulerJson(scheduler: unknown, where: string): string {
  if (scheduler === null || typeof scheduler !== 'object' || Array.isArray(scheduler)) {
    throw typeError('ERR_CHECKPOINT', `${where}: scheduler must be a scheduler's state dict (an object), got ${describe(scheduler)}`);
  }
  try {
    return JSON.stringify(scheduler);
  } catch (error) {
    throw typeError('ERR_CHECKPOINT', `${where}: scheduler state dict is not JSON-able (${(error as Error).message})`);
  }
}

function fail(where: string, message: string): never {
  throw new SimdAdamError('ERR_CHECKPOINT', `${where}: ${message}`);
}

/** Rebuilds the checkpoint from checked tensors. Copies each tensor out of the file's bytes. */
export function fromSafetensors({ tensors, metadata }: Safetensors, where: string): Checkpoint {
  const param_groups = parseJson(metadata.param_groups, 'param_groups', where);
  if (!Array.isArray(param_groups) || !param_groups.every(isRecord)) fail(where, '__metadata__.param_groups must be a JSON array of objects');
  const state: Record<number, Record<string, unknown>> = {};
  let params: Record<string, CheckpointTensor> | undefined;
  for (const [name, t] of tensors) {
    const stateName = STATE_NAME.exec(name);
    const paramName = stateName ? null : PARAM_NAME.exec(name);
    if (stateName) {
      const id = Number(stateName[1]);
      if (!Number.isSafeInteger(id)) fail(where, `tensor '${name}': parameter id out of range`);
      const entry = (state[id] ??= {});
      const key = stateName[2]!;
      Object.defineProperty(entry, key, { value: key === 'step' ? readStep(t, name, where) : asTensor(readF32(t, name, where), t.shape), enumerable: true, writable: true, configurable: true });
    } else if (paramName) {
      Object.defineProperty((params ??= {}), paramName[1]!, { value: { shape: [...t.shape], data: readF32(t, name, where) }, enumerable: true, writable: true, configurable: true });
    } else {
      fail(where, `tensor '${name}' is neither state.<id>.<key> nor param.<name>`);
    }
  }
  for (const [id, entry] of Object.entries(state)) {
    if (entry.step === undefined) fail(where, `state.${id} has no step tensor (state.${id}.step)`);
  }
  const out: Checkpoint = { state, param_groups: param_groups as Checkpoint['param_groups'] };
  if (params) out.params = params;
  if (metadata.scheduler !== undefined) {
    const scheduler = parseJson(metadata.scheduler, 'scheduler', where);
    if (!isRecord(scheduler)) fail(where, '__metadata__.scheduler must be a JSON object');
    out.scheduler = scheduler;
  }
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function parseJson(text: string | undefined, key: string, where: string): unknown {
  if (text === undefined) fail(where, `__metadata__.${key} is missing`);
  try {
    return JSON.parse(text);
  } catch (error) {
    fail(where, `__metadata__.${key} is not valid JSON (${(error as Error).message})`);
  }
}

function readF32(t: RawTensor, name: string, where: string): Float32Array {
  if (t.dtype !== 'F32') fail(where, `tensor '${name}' must be F32, got ${t.dtype}`);
  const out = new Float32Array(t.bytes.byteLength / 4);
  new Uint8Array(out.buffer).set(LITTLE_ENDIAN ? t.bytes : swapped(t.bytes, 4));
  return out;
}

/** A step count: a 0-d I64 (exact to 2^53) or F64 holding a non-negative integer. */
function readStep(t: RawTensor, name: string, where: string): number {
  if (t.shape.length > 1 || (t.shape.length === 1 && t.shape[0] !== 1)) fail(where, `tensor '${name}' must be a 0-d tensor, got shape [${t.shape.join(', ')}]`);
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  let n: number;
  if (t.dtype === 'I64') {
    const big = view.getBigInt64(0, true);
    if (big < 0n || big > BigInt(Number.MAX_SAFE_INTEGER)) fail(where, `tensor '${name}': step ${big} is negative or beyond 2^53 − 1`);
    n = Number(big);
  } else if (t.dtype === 'F64') {
    n = view.getFloat64(0, true);
    if (!Number.isSafeInteger(n) || n < 0) fail(where, `tensor '${name}': step ${n} is not a non-negative integer`);
  } else {
    fail(where, `tensor '${name}' must be I64 or F64, got ${t.dtype}`);
  }
  return n + 0;
}
