/**
 * How a checkpoint maps onto safetensors, when writing: `state.<id>.<key>` tensors (F32 with the
 * parameter's shape, BF16 for bfloat16 state, and for 8-bit state `.codes` U8 / `.scale` F32 /
 * `.qmap` F32; `step` a 0-d I64 so counts stay exact beyond 2^24), `param.<name>` tensors
 * for the model's parameters, and JSON strings in `__metadata__` for `param_groups`, a scheduler's
 * state dict and the user's metadata. A plan lists each tensor with the memory it is written from:
 * views of the live state, of the caller's state dict, or (for parameters passed beside a state
 * dict) copies taken at the call.
 */
import { SimdAdamError, typeError } from '../common/errors.js';
import { Parameter } from '../nn/parameter.js';
import { readSaved, type LiveStateDict, type LiveTensor } from '../optim/state_dict.js';
import { checkStep, checkTensor, numelOf, type TensorLike } from '../optim/state_dict_tensor.js';
import { checkKeys, checkOptionsObject, describe, isDetached } from '../common/validate.js';
import { dtypeSize, type Safetensors } from './safetensors.js';
import { checkMoment } from '../optim/lowbit_tensor.js';
import { qmapOf } from '../reference/adam_lowbit.js';
import type { TensorSource } from './stream.js';

/** What a checkpoint may hold beside the optimizer's state dict, so one file resumes a run. */
/** What {@link writeStateDict} can store beside the optimizer's state dict. */
export interface CheckpointExtras {
  /** The model's parameters, each with a unique name (stored as `param.<name>`, float32, in its
   * shape), or tensors by name. Default: none stored. */
  params?: Iterable<Parameter> | Readonly<Record<string, TensorLike>>;
  /** A scheduler's `stateDict()` (any JSON-able object), stored as JSON in the metadata.
   * Default: none stored. */
  scheduler?: Readonly<Record<string, unknown>>;
  /** Any JSON-serialisable value of your own (epoch, RNG state, data-loader position), returned
   * by readStateDict as `metadata`, stored as JSON in the header. It goes through JSON.stringify:
   * NaN becomes null, a Date a string, `undefined` members vanish. Default: none stored. */
  metadata?: unknown;
}

/** Everything a file will hold, in file order, with the memory each tensor is written from. */
export interface CheckpointPlan {
  tensors: TensorSource[];
  metadata: Record<string, string>;
}

const EXTRAS = ['params', 'scheduler', 'metadata'];

function source(name: string, dtype: string, shape: readonly number[], data: ArrayBufferView): TensorSource {
  return { name, dtype, shape: [...shape], data, byteLength: data.byteLength };
}

function stepTensor(name: string, step: number): TensorSource {
  return source(name, 'I64', [], new BigInt64Array([BigInt(step)]));
}

/** Float32 elements as a Float32Array: the caller's own when it is one, else a converted copy. */
function f32(values: Float32Array | readonly number[]): Float32Array {
  return values instanceof Float32Array ? values : Float32Array.from(values);
}

/** The plan for a state dict (from `opt.stateDict()`, its JSON round trip, or a PyTorch dump).
 * Its Float32Arrays are written from where they are: the caller must leave them be until the
 * write settles. Parameters given as Parameter objects are copied now, so the file holds what
 * they held at the call even if a step runs meanwhile. */
export function planStateDict(stateDict: unknown, extras: unknown, where: string): CheckpointPlan {
  const saved = readSaved(stateDict, where);
  const ids = new Set(saved.groups.flatMap((g) => g.ids));
  const tensors: TensorSource[] = [];
  for (const [id, entry] of saved.state) {
    const at = `${where}: state[${id}]`;
    if (!ids.has(id)) throw new SimdAdamError('ERR_STATE_DICT', `${at} belongs to no parameter in param_groups`);
    if (entry.step === undefined) throw new SimdAdamError('ERR_STATE_DICT', `${at}: state key 'step' is missing`);
    for (const [key, value] of Object.entries(entry)) {
      if (value === undefined) continue; // `max_exp_avg_sq: undefined` means absent, as loadStateDict reads it
      if (key === 'step') {
        tensors.push(stepTensor(`state.${id}.step`, checkStep(value, at)));
      } else if (isReduced(value)) {
        for (const t of reducedTensors(value, key, at)) tensors.push({ ...t, name: `state.${id}.${key}${t.name}` });
      } else {
        const t = checkTensor(value, key, at);
        tensors.push(source(`state.${id}.${key}`, 'F32', t.shape ?? [t.values.length], f32(t.values)));
      }
    }
  }
  return finishPlan(tensors, (stateDict as { param_groups: unknown }).param_groups, extras, true, where);
}

/** A bfloat16 or 8-bit moment (see src/optim/lowbit_tensor.ts) rather than float32 values. */
function isReduced(value: unknown): boolean {
  if (value instanceof Uint16Array) return true;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  const dtype = (value as { dtype?: unknown }).dtype;
  return dtype === 'bfloat16' || dtype === '8bit' || 'codes' in value;
}

/** A reduced moment as safetensors tensors, each named by its suffix: bfloat16 as one BF16
 * tensor; 8-bit as torchao's OptimState8bit attributes `.codes` (U8, the parameter's shape),
 * `.scale` (F32, one per block of 256) and `.qmap` (F32, 256). */
export function reducedTensors(value: unknown, key: string, where: string): TensorSource[] {
  const signed = key === 'exp_avg';
  const given = (value as { shape?: unknown }).shape;
  const numel = value instanceof Uint16Array ? value.length : ((value as { codes?: ArrayLike<number> }).codes?.length ?? 0);
  const moment = checkMoment(value, key, where, numel, signed);
  const shape = Array.isArray(given) ? [...(given as number[])] : [numel];
  if (moment instanceof Uint16Array) return [source('', 'BF16', shape, moment)];
  if (moment instanceof Float32Array) return [source('', 'F32', shape, moment)];
  return [source('.codes', 'U8', shape, moment.codes), source('.scale', 'F32', [moment.scale.length], moment.scale), source('.qmap', 'F32', [256], qmapOf(signed))];
}

/** The plan for an optimizer's live state: views of its storage, no copies. Valid while the
 * optimizer is held (Optimizer#beginExclusiveUse). */
export function planLive(live: LiveStateDict, extras: unknown, where: string): CheckpointPlan {
  const tensors: TensorSource[] = [];
  for (const [id, entry] of Object.entries(live.state)) {
    const at = `${where}: the state of parameter ${id}`;
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'step') {
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
          throw new SimdAdamError('ERR_STATE', `${at}: step must be a non-negative integer, got ${describe(value)}`);
        }
        tensors.push(stepTensor(`state.${id}.step`, value));
      } else {
        tensors.push(liveTensor(`state.${id}.${key}`, value as LiveTensor, at));
      }
    }
  }
  return finishPlan(tensors, live.param_groups, extras, false, where);
}

function liveTensor(name: string, t: LiveTensor, at: string): TensorSource {
  const size = dtypeSize(t.dtype);
  if (size === undefined) throw new SimdAdamError('ERR_INTERNAL', `${at}: '${name}' has dtype ${t.dtype}, which safetensors does not name`);
  const expected = numelOf(t.shape) * size;
  if (t.data.byteLength !== expected) {
    const detached = isDetached(t.data) ? ' (its buffer was detached: transferred?)' : '';
    throw new SimdAdamError('ERR_STATE', `${at}: '${name}' holds ${t.data.byteLength} bytes where its shape [${t.shape.join(', ')}] needs ${expected}${detached}`);
  }
  return source(name, t.dtype, t.shape, t.data);
}

/** Adds the extras and the metadata, and orders the tensors by element size, widest first, so
 * that every tensor starts aligned to its element size, as Python's writer arranges too. */
function finishPlan(state: TensorSource[], paramGroups: unknown, extras: unknown, snapshot: boolean, where: string): CheckpointPlan {
  const opts = checkOptionsObject(extras, where);
  checkKeys(opts, EXTRAS, where);
  const metadata: Record<string, string> = { format: 'pt', param_groups: JSON.stringify(paramGroups) };
  if (opts.scheduler !== undefined) {
    if (opts.scheduler === null || typeof opts.scheduler !== 'object' || Array.isArray(opts.scheduler)) {
      throw typeError('ERR_CHECKPOINT', `${where}: scheduler must be a scheduler's state dict (an object), got ${describe(opts.scheduler)}`);
    }
    metadata.scheduler = jsonText(opts.scheduler, "scheduler state dict", where);
  }
  if (opts.metadata !== undefined) metadata.metadata = jsonText(opts.metadata, 'metadata', where);
  const tensors = [...state, ...paramTensors(opts.params, snapshot, where)];
  const width = (t: TensorSource) => dtypeSize(t.dtype)!;
  tensors.sort((a, b) => width(b) - width(a)); // stable: same-width tensors keep their order
  return { tensors, metadata };
}

function jsonText(value: unknown, name: string, where: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw typeError('ERR_CHECKPOINT', `${where}: ${name} is not JSON-serialisable (${(error as Error).message})`);
  }
  if (typeof text !== 'string') throw typeError('ERR_CHECKPOINT', `${where}: ${name} must be JSON-serialisable, got ${describe(value)}`);
  return text;
}

function paramTensors(params: unknown, snapshot: boolean, where: string): TensorSource[] {
  if (params === undefined) return [];
  if (params === null || typeof params !== 'object') {
    throw typeError('ERR_CHECKPOINT', `${where}: params must be an iterable of Parameters or an object of tensors by name, got ${describe(params)}`);
  }
  if (!(Symbol.iterator in params)) {
    return Object.entries(params).map(([name, value]) => {
      const t = checkTensor(value, `params['${name}']`, where);
      return source(`param.${name}`, 'F32', t.shape ?? [t.values.length], f32(t.values));
    });
  }
  const seen = new Set<string>();
  return [...(params as Iterable<unknown>)].map((p, i) => {
    if (!(p instanceof Parameter)) throw typeError('ERR_CHECKPOINT', `${where}: params[${i}] must be a Parameter, got ${describe(p)}`);
    if (p.name === undefined) throw new SimdAdamError('ERR_CHECKPOINT', `${where}: params[${i}] has no name; a checkpoint stores parameters by name`);
    if (seen.has(p.name)) throw new SimdAdamError('ERR_CHECKPOINT', `${where}: two parameters are named '${p.name}'`);
    seen.add(p.name);
    if (p.data.length !== p.numel || isDetached(p.data)) {
      throw new SimdAdamError('ERR_DETACHED', `${where}: params[${i}] ('${p.name}'): its data's buffer was detached (transferred?), so it cannot be saved`);
    }
    return source(`param.${p.name}`, 'F32', p.shape, snapshot ? p.data.slice() : p.data);
  });
}

/** A plan as an in-memory safetensors file's contents (for encodeSafetensors). */
export function toSafetensors(stateDict: unknown, extras: unknown, where: string): Safetensors {
  const { tensors, metadata } = planStateDict(stateDict, extras, where);
  return { tensors: new Map(tensors.map((t) => [t.name, t])), metadata };
}
