/**
 * Reduced-precision moments as state dicts carry them. Outgoing: a bfloat16 moment is a
 * Uint16Array of bf16 bits that carries `dtype: 'bfloat16'` and its shape; an 8-bit moment is
 * `{ codes, scale, qmap }`. Their JSON forms are `{ shape, dtype: 'bfloat16', data }` and
 * `{ shape, dtype: '8bit', codes, scale, signed }`, exact (non-finite scales as the strings
 * "NaN", "Infinity", "-Infinity"). Incoming: those forms, and the `bits` spelling of bf16 data.
 */
import { rangeError, SimdAdamError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import type { Moment } from '../engine/lowbit_state.js';
import { q8Blocks, qmapOf, type Q8Moment } from '../reference/adam_lowbit.js';
import { checkTensor } from './state_dict_tensor.js';

/** A bfloat16 moment in a state dict: bf16 bit patterns with the parameter's shape. */
export type Bf16Tensor = Uint16Array & { readonly dtype: 'bfloat16'; readonly shape: readonly number[] };

/** An 8-bit moment in a state dict (torchao's OptimState8bit attributes): `qmap` is the map the
 * codes index, the signed one for exp_avg. It also carries the parameter's shape (not
 * enumerable), which checkpoint files give the codes. */
export interface Q8Tensor {
  readonly codes: Uint8Array;
  readonly scale: Float32Array;
  readonly qmap: Float32Array;
}

function hidden(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: false, configurable: true, writable: true });
}

function jsonNumber(x: number): number | string {
  return Number.isFinite(x) ? (Object.is(x, -0) ? '-0' : x) : String(x);
}

/** A copy of bf16 bits as a state dict tensor. */
export function asBf16Tensor(bits: Uint16Array, shape: readonly number[]): Bf16Tensor {
  const data = bits.slice();
  const frozen = Object.freeze([...shape]);
  hidden(data, 'dtype', 'bfloat16');
  hidden(data, 'shape', frozen);
  hidden(data, 'toJSON', () => ({ shape: [...frozen], dtype: 'bfloat16', data: Array.from(data) }));
  return data as Bf16Tensor;
}

/** A copy of an 8-bit moment as a state dict tensor. */
export function asQ8Tensor(m: Q8Moment, shape: readonly number[], signed: boolean): Q8Tensor {
  const out: Q8Tensor = { codes: m.codes.slice(), scale: m.scale.slice(), qmap: qmapOf(signed).slice() };
  const frozen = Object.freeze([...shape]);
  hidden(out, 'shape', frozen);
  hidden(out, 'toJSON', () => ({ shape: [...frozen], dtype: '8bit', codes: Array.from(out.codes), scale: Array.from(out.scale, jsonNumber), signed }));
  return out;
}

function integers(value: unknown, name: string, where: string, max: number): number[] | Uint8Array | Uint16Array {
  if ((max === 255 && value instanceof Uint8Array) || (max === 0xffff && value instanceof Uint16Array)) return value;
  if (!Array.isArray(value)) throw typeError('ERR_STATE_DICT', `${where}: ${name} must be an array of integers 0..${max}, got ${describe(value)}`);
  const bad = value.findIndex((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max);
  if (bad >= 0) throw rangeError('ERR_STATE_DICT', `${where}: ${name}[${bad}] must be an integer 0..${max}, got ${describe(value[bad])}`);
  return value as number[];
}

function floats(value: unknown, name: string, where: string): Float32Array {
  if (value instanceof Float32Array) return value;
  if (!Array.isArray(value)) throw typeError('ERR_STATE_DICT', `${where}: ${name} must be a Float32Array or an array of numbers, got ${describe(value)}`);
  return Float32Array.from(value, (v, i) => {
    if (typeof v === 'number') return v;
    if (v === 'NaN' || v === 'Infinity' || v === '-Infinity' || v === '-0') return Number(v);
    throw typeError('ERR_STATE_DICT', `${where}: ${name}[${i}] must be a number (or "NaN", "Infinity", "-Infinity"), got ${describe(v)}`);
  });
}

function lengthIs(n: number, expected: number, name: string, where: string, what = 'the parameter has'): void {
  if (n !== expected) throw rangeError('ERR_STATE_DICT', `${where}: ${name} has ${n} elements but ${what} ${expected}`);
}

/** A loaded moment in any accepted form, checked against the parameter's `numel`: a float32
 * moment as a fresh Float32Array, a bf16 one as a Uint16Array, an 8-bit one as codes and
 * scales (a given qmap or `signed` must be the map this moment uses). The result may share the
 * caller's arrays: copy before keeping. */
export function checkMoment(value: unknown, name: string, where: string, numel: number, signed: boolean): Moment {
  const obj = value !== null && typeof value === 'object' && !ArrayBuffer.isView(value) && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  const dtype = obj?.dtype ?? (value instanceof Uint16Array ? 'bfloat16' : obj && 'codes' in obj ? '8bit' : 'float32');
  if (dtype === 'bfloat16') {
    const bits = value instanceof Uint16Array ? value : integers(obj!.data ?? obj!.bits, `${name}.data`, where, 0xffff);
    lengthIs(bits.length, numel, name, where);
    return Uint16Array.from(bits);
  }
  if (dtype === '8bit') {
    const codes = integers(obj!.codes, `${name}.codes`, where, 255);
    const scale = floats(obj!.scale, `${name}.scale`, where);
    lengthIs(codes.length, numel, `${name}.codes`, where);
    lengthIs(scale.length, q8Blocks(numel), `${name}.scale`, where, 'blocks of 256 elements need');
    if (obj!.signed !== undefined && obj!.signed !== signed) {
      throw new SimdAdamError('ERR_STATE_DICT', `${where}: ${name} is quantized with the ${obj!.signed ? 'signed' : 'unsigned'} map but this moment uses the ${signed ? 'signed' : 'unsigned'} one`);
    }
    if (obj!.qmap !== undefined) {
      const given = floats(obj!.qmap, `${name}.qmap`, where);
      const ours = qmapOf(signed);
      if (given.length !== 256 || given.some((q, i) => !Object.is(q, ours[i]))) {
        throw new SimdAdamError('ERR_STATE_DICT', `${where}: ${name}.qmap is not the ${signed ? 'signed' : 'unsigned'} dynamic map this library quantizes with`);
      }
    }
    return { codes: Uint8Array.from(codes), scale: Float32Array.from(scale) };
  }
  if (dtype !== 'float32') throw rangeError('ERR_STATE_DICT', `${where}: ${name}.dtype must be 'float32', 'bfloat16' or '8bit', got ${describe(dtype)}`);
  const checked = checkTensor(value, name, where);
  lengthIs(checked.values.length, numel, name, where);
  return Float32Array.from(checked.values);
}
