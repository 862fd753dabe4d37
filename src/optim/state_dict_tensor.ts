/**
 * Tensors as state dicts carry them. Outgoing: Float32Array copies that remember their shape and
 * serialise as PyTorch's JSON dumps do, `{ shape, data }`. Incoming: the forms a loaded state
 * dict may hold (Float32Array, number[], `{ shape, data }`), checked without copying.
 */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { describe, isDetached } from '../common/validate.js';

/** A tensor as JSON carries it. `data` holds numbers, except that a negative zero is the string
 * `'-0'` (JSON.stringify would write it as 0) and NaN/±Infinity become null (JSON has no such
 * numbers, so a JSON dump is faithful for finite values only). */
export interface TensorJson {
  shape: number[];
  data: Array<number | string | null>;
}

/** A tensor in any form loadStateDict accepts. */
export type TensorLike = Float32Array | readonly number[] | { readonly shape: readonly number[]; readonly data: Float32Array | readonly number[] };

const shapes = new WeakMap<Float32Array, readonly number[]>();

/** Gives `data` (a copy the caller owns) its shape and a non-enumerable `toJSON`. */
export function asTensor(data: Float32Array, shape: readonly number[]): Float32Array {
  const frozen = Object.freeze([...shape]);
  shapes.set(data, frozen);
  Object.defineProperty(data, 'toJSON', {
    value: (): TensorJson => ({ shape: [...frozen], data: Array.from(data, (v) => (Object.is(v, -0) ? '-0' : v)) }),
    enumerable: false,
    configurable: true,
    writable: true,
  });
  return data;
}

/** The shape a tensor from {@link asTensor} carries; otherwise a flat `[length]`. */
export function shapeOf(data: Float32Array): readonly number[] {
  return shapes.get(data) ?? [data.length];
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A tensor whose form and elements have been checked. `values` is the caller's own array when
 * it needs no conversion: copy it before keeping it. */
export interface CheckedTensor {
  shape: readonly number[] | undefined;
  values: Float32Array | readonly number[];
}

/** Checks a tensor's form and elements (not its length: the caller knows the parameter). */
export function checkTensor(value: unknown, name: string, where: string): CheckedTensor {
  const data = value !== null && typeof value === 'object' && 'data' in value ? (value as { data: unknown }).data : value;
  if (data instanceof Float32Array && isDetached(data)) {
    // A detached view reads as empty: written out, it would be a checkpoint no one can load.
    throw new SimdAdamError('ERR_STATE_DICT', `${where}: ${name} is a Float32Array whose buffer was detached (transferred by postMessage or structuredClone?)`);
  }
  if (value instanceof Float32Array) return { shape: shapes.get(value), values: value };
  if (Array.isArray(value)) return { shape: undefined, values: checkElements(value, name, where) };
  if (value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && 'data' in value) {
    const { shape, data } = value as { shape?: unknown; data: unknown };
    if (!(data instanceof Float32Array) && !Array.isArray(data)) {
      throw typeError('ERR_STATE_DICT', `${where}: ${name}.data must be a Float32Array or an array of numbers, got ${describe(data)}`);
    }
    const values = data instanceof Float32Array ? data : checkElements(data, `${name}.data`, where);
    const checkedShape = shape === undefined ? undefined : checkShape(shape, name, where);
    if (checkedShape && numelOf(checkedShape) !== values.length) {
      throw rangeError('ERR_STATE_DICT', `${where}: ${name}.shape [${checkedShape.join(', ')}] holds ${numelOf(checkedShape)} elements but its data has ${values.length}`);
    }
    return { shape: checkedShape, values };
  }
  throw typeError('ERR_STATE_DICT', `${where}: ${name} must be a Float32Array, an array of numbers or { shape, data }, got ${describe(value)}`);
}

function checkShape(shape: unknown, name: string, where: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0)) {
    throw typeError('ERR_STATE_DICT', `${where}: ${name}.shape must be an array of non-negative integers, got ${describe(shape)}`);
  }
  return shape as number[];
}

function checkElements(data: readonly unknown[], name: string, where: string): readonly number[] {
  let converted: number[] | undefined;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v === 'number') continue;
    if (v === '-0') {
      converted ??= data.slice(0, i) as number[];
      continue;
    }
    if (v === null) {
      throw typeError(
        'ERR_STATE_DICT',
        `${where}: ${name}[${i}] is null. JSON.stringify writes NaN and ±Infinity as null, so a JSON state dict ` +
          'can carry finite values only; use writeStateDict() for state with non-finite values',
      );
    }
    throw typeError('ERR_STATE_DICT', `${where}: ${name}[${i}] must be a number, got ${describe(v)}`);
  }
  if (converted === undefined) return data as readonly number[];
  for (let i = converted.length; i < data.length; i++) converted.push(data[i] === '-0' ? -0 : (data[i] as number));
  return converted;
}

/** A step count: a number, or PyTorch's 0-d tensor `{ shape: [], data: [n] }`. It must be a
 * non-negative integer that a double holds exactly. */
export function checkStep(value: unknown, where: string): number {
  let n = value;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && 'data' in value) {
    const { shape, data } = value as { shape?: unknown; data: unknown };
    const scalarShape = shape === undefined || (Array.isArray(shape) && (shape.length === 0 || (shape.length === 1 && shape[0] === 1)));
    if (!scalarShape || !Array.isArray(data) || data.length !== 1) {
      throw typeError('ERR_STATE_DICT', `${where}: step must be a number or a 0-d tensor { shape: [], data: [n] }, got shape ${describe(shape)} and data ${describe(data)}`);
    }
    n = data[0];
  }
  if (typeof n !== 'number') {
    throw typeError('ERR_STATE_DICT', `${where}: step must be a non-negative integer, got ${describe(n)}`);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw rangeError('ERR_STATE_DICT', `${where}: step must be a non-negative integer (at most 2^53 − 1), got ${describe(n)}`);
  }
  return n + 0; // -0 → 0
}
