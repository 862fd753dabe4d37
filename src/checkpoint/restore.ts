/**
 * How a checkpoint maps back from safetensors: the layout checked on the header alone (names,
 * dtypes, shapes, the JSON metadata), before any tensor data is read, then the checkpoint built
 * from the tensors as read. Each tensor was read into its own typed array, which the checkpoint
 * adopts: nothing is copied twice.
 */
import { SimdAdamError } from '../common/errors.js';
import type { StateDict } from '../optim/state_dict.js';
import { asTensor } from '../optim/state_dict_tensor.js';
import { asBf16Tensor } from '../optim/lowbit_tensor.js';
import type { RawTensor, Safetensors } from './safetensors.js';

/** A model parameter as a checkpoint holds it. */
export interface CheckpointTensor {
  shape: number[];
  data: Float32Array;
}

/** What readStateDict returns: the optimizer's state dict, plus the extras the file holds. */
export interface Checkpoint extends StateDict {
  params?: Record<string, CheckpointTensor>;
  scheduler?: Record<string, unknown>;
  /** `extras.metadata` as written (after its JSON round trip). */
  metadata?: unknown;
}

const STATE_NAME = /^state\.(0|[1-9][0-9]*)\.(.+)$/s;
const PARAM_NAME = /^param\.(.+)$/s;

function fail(where: string, message: string): never {
  throw new SimdAdamError('ERR_CHECKPOINT', `${where}: ${message}`);
}

/** What the header says, checked: everything but the tensors' values. */
export interface CheckedLayout {
  param_groups: StateDict['param_groups'];
  scheduler: Record<string, unknown> | undefined;
  metadata: { value: unknown } | undefined;
}

/** Checks the layout from the header alone, so that a file of the wrong kind is refused before
 * its data is read. */
export function checkLayout(entries: Iterable<{ name: string; dtype: string; shape: readonly number[] }>, metadata: Record<string, string>, where: string): CheckedLayout {
  const param_groups = parseJson(metadata.param_groups, 'param_groups', where);
  if (!Array.isArray(param_groups) || !param_groups.every(isRecord)) fail(where, '__metadata__.param_groups must be a JSON array of objects');
  const steps = new Set<string>();
  const stateIds = new Set<string>();
  for (const { name, dtype, shape } of entries) {
    const stateName = STATE_NAME.exec(name);
    if (stateName) {
      if (!Number.isSafeInteger(Number(stateName[1]))) fail(where, `tensor '${name}': parameter id out of range`);
      stateIds.add(stateName[1]!);
      if (stateName[2] === 'step') {
        steps.add(stateName[1]!);
        if (shape.length > 1 || (shape.length === 1 && shape[0] !== 1)) fail(where, `tensor '${name}' must be a 0-d tensor, got shape [${shape.join(', ')}]`);
        if (dtype !== 'I64' && dtype !== 'F64') fail(where, `tensor '${name}' must be I64 or F64, got ${dtype}`);
      } else if (/\.codes$/.test(stateName[2]!)) {
        if (dtype !== 'U8') fail(where, `tensor '${name}' must be U8, got ${dtype}`);
      } else if (dtype !== 'F32' && !(dtype === 'BF16' && !/\.(scale|qmap)$/.test(stateName[2]!))) {
        fail(where, `tensor '${name}' must be F32, got ${dtype}${/\.(scale|qmap)$/.test(stateName[2]!) ? '' : ' (a moment may also be BF16: bfloat16 state)'}`);
      }
    } else if (PARAM_NAME.test(name)) {
      if (dtype !== 'F32') fail(where, `tensor '${name}' must be F32, got ${dtype}`);
    } else {
      fail(where, `tensor '${name}' is neither state.<id>.<key> nor param.<name>`);
    }
  }
  for (const id of stateIds) if (!steps.has(id)) fail(where, `state.${id} has no step tensor (state.${id}.step)`);
  let scheduler: Record<string, unknown> | undefined;
  if (metadata.scheduler !== undefined) {
    const parsed = parseJson(metadata.scheduler, 'scheduler', where);
    if (!isRecord(parsed)) fail(where, '__metadata__.scheduler must be a JSON object');
    scheduler = parsed;
  }
  const user = metadata.metadata === undefined ? undefined : { value: parseJson(metadata.metadata, 'metadata', where) };
  return { param_groups: param_groups as StateDict['param_groups'], scheduler, metadata: user };
}

/** Builds the checkpoint from tensors whose layout `checkLayout` accepted. */
export function assemble(tensors: Iterable<[string, RawTensor]>, layout: CheckedLayout, where: string): Checkpoint {
  const state: Record<number, Record<string, unknown>> = {};
  let params: Record<string, CheckpointTensor> | undefined;
  for (const [name, t] of tensors) {
    const stateName = STATE_NAME.exec(name);
    if (stateName) {
      const entry = (state[Number(stateName[1])] ??= {});
      const key = stateName[2]!;
      const part = /^(.+)\.(codes|scale|qmap)$/s.exec(key);
      if (part) {
        // An 8-bit moment's three tensors gather into one { dtype: '8bit', shape, codes, scale, qmap } entry.
        const moment = (entry[part[1]!] ??= { dtype: '8bit', shape: [] }) as Record<string, unknown>;
        if (part[2] === 'codes') moment.shape = [...t.shape];
        define(moment, part[2]!, t.data);
        continue;
      }
      const value = key === 'step' ? readStep(t, name, where) : t.dtype === 'BF16' ? asBf16Tensor(t.data as Uint16Array, t.shape) : asTensor(t.data as Float32Array, t.shape);
      define(entry, key, value);
    } else {
      define((params ??= {}), PARAM_NAME.exec(name)![1]!, { shape: [...t.shape], data: t.data as Float32Array });
    }
  }
  const out: Checkpoint = { state, param_groups: layout.param_groups };
  if (params) out.params = params;
  if (layout.scheduler) out.scheduler = layout.scheduler;
  if (layout.metadata) out.metadata = layout.metadata.value;
  return out;
}

/** Checks and builds a checkpoint from a whole decoded file. */
export function fromSafetensors({ tensors, metadata }: Safetensors, where: string): Checkpoint {
  const layout = checkLayout([...tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape })), metadata, where);
  return assemble(tensors, layout, where);
}

/** defineProperty: a key named __proto__ must stay a key. */
function define(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
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

/** A step count: a 0-d I64 (exact to 2^53) or F64 holding a non-negative integer. */
function readStep(t: RawTensor, name: string, where: string): number {
  let n: number;
  if (t.dtype === 'I64') {
    const big = (t.data as BigInt64Array)[0]!;
    if (big < 0n || big > BigInt(Number.MAX_SAFE_INTEGER)) fail(where, `tensor '${name}': step ${big} is negative or beyond 2^53 − 1`);
    n = Number(big);
  } else {
    n = (t.data as Float64Array)[0]!;
    if (!Number.isSafeInteger(n) || n < 0) fail(where, `tensor '${name}': step ${n} is not a non-negative integer`);
  }
  return n + 0;
}
