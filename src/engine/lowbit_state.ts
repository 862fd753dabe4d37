/**
 * Reduced-precision optimizer state: which format a parameter's moments use, storage for them,
 * and the conversions loadStateDict and explain() need. A bfloat16 moment is a Uint16Array of
 * bf16 bits; an 8-bit moment is a code per element and a float32 scale per block of 256
 * (docs/lowbit.md). State made together shares one buffer, as float32 state does.
 */
import type { Parameter } from '../nn/parameter.js';
import { dequantizeQ8, fromBf16, q8Blocks, quantizeQ8, toBf16, type Q8Moment } from '../reference/adam_lowbit.js';
import { QMAP_SIGNED } from '../reference/qmaps.js';

/** How a param group stores Adam's moments. */
export type StateDtype = 'float32' | 'bfloat16' | '8bit';

export const STATE_DTYPES: readonly StateDtype[] = ['float32', 'bfloat16', '8bit'];

/** One stored moment, in any format. */
export type Moment = Float32Array | Uint16Array | Q8Moment;

/** A state's moments (exp_avg, exp_avg_sq and, with amsgrad, max_exp_avg_sq) and their format. */
export interface CountedViews {
  views: readonly Moment[];
  dtype: StateDtype;
}

/** The code of 0 in the signed map: fresh exp_avg codes dequantize to +0 exactly, as PyTorch's
 * zero-initialised moments are. (The unsigned map's code 0 is 0.) */
export const SIGNED_ZERO_CODE = QMAP_SIGNED.indexOf(0);

/** The format a parameter of `numel` elements uses in a group with these settings: an '8bit'
 * group keeps float32 state for tensors below min8bitSize. */
export function storageDtype(group: { stateDtype: StateDtype; min8bitSize: number }, numel: number): StateDtype {
  return group.stateDtype === '8bit' && numel < group.min8bitSize ? 'float32' : group.stateDtype;
}

/** The format of a stored moment. */
export function momentDtype(m: Moment): StateDtype {
  return m instanceof Float32Array ? 'float32' : m instanceof Uint16Array ? 'bfloat16' : '8bit';
}

/** The typed arrays a moment lives in (for aliasing checks). */
export function momentViews(m: Moment): ArrayBufferView[] {
  return m instanceof Float32Array || m instanceof Uint16Array ? [m] : [m.codes, m.scale];
}

/** The float32 values a stored moment holds. */
export function momentToFloat32(m: Moment, signed: boolean): Float32Array {
  if (m instanceof Float32Array) return m.slice();
  if (m instanceof Uint16Array) return Float32Array.from(m, fromBf16);
  return dequantizeQ8(m, signed);
}

/** True if every value of the moment is ±0. */
export function momentAllZero(m: Moment, signed: boolean): boolean {
  if (m instanceof Uint16Array) return m.every((b) => (b & 0x7fff) === 0);
  return momentToFloat32(m, signed).every((x) => x === 0);
}

/** Writes `values` into `target` in target's format: exactly for float32, rounded to nearest
 * even for bfloat16, quantized block by block for 8-bit. */
export function storeMoment(target: Moment, values: ArrayLike<number>, signed: boolean): void {
  if (target instanceof Float32Array) target.set(values);
  else if (target instanceof Uint16Array) for (let i = 0; i < values.length; i++) target[i] = toBf16(values[i]!);
  else {
    const q = quantizeQ8(values, signed);
    target.codes.set(q.codes);
    target.scale.set(q.scale);
  }
}

/** Copies a moment already in the target's format bit for bit (no re-rounding). */
export function copyMoment(target: Moment, source: Moment): void {
  if (target instanceof Float32Array || target instanceof Uint16Array) (target as Float32Array | Uint16Array).set(source as ArrayLike<number>);
  else {
    const s = source as Q8Moment;
    target.codes.set(s.codes);
    target.scale.set(s.scale);
  }
}

const BYTES: Record<Exclude<StateDtype, '8bit'>, number> = { float32: 4, bfloat16: 2 };
const LINE = 64;

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/**
 * Fresh state (step 0, moments that read as zero) for `params`, all in `dtype`, in one buffer:
 * each moment of each parameter starts on a 64-byte boundary of the buffer. The 8-bit moments'
 * codes come first, then their scales.
 */
export function allocateMoments(params: readonly Parameter[], amsgrad: boolean, dtype: Exclude<StateDtype, 'float32'>): CountedViews[] {
  const count = amsgrad ? 3 : 2;
  let bytes = 0;
  const layout = params.map((p) => {
    const at: number[] = [];
    for (let j = 0; j < count; j++) {
      at.push(bytes);
      bytes = roundUp(bytes + (dtype === '8bit' ? p.numel : p.numel * BYTES[dtype]), LINE);
    }
    if (dtype === '8bit') {
      for (let j = 0; j < count; j++) {
        at.push(bytes);
        bytes = roundUp(bytes + q8Blocks(p.numel) * 4, LINE);
      }
    }
    return at;
  });
  const buffer = new ArrayBuffer(bytes);
  return params.map((p, i) => {
    const at = layout[i]!;
    const views: Moment[] = [];
    for (let j = 0; j < count; j++) {
      if (dtype === 'bfloat16') views.push(new Uint16Array(buffer, at[j]!, p.numel));
      else {
        const codes = new Uint8Array(buffer, at[j]!, p.numel);
        if (j === 0) codes.fill(SIGNED_ZERO_CODE);
        views.push({ codes, scale: new Float32Array(buffer, at[count + j]!, q8Blocks(p.numel)) });
      }
    }
    return { views, dtype };
  });
}

