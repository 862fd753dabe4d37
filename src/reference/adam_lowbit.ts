/**
 * Adam with reduced-precision moments in plain TypeScript: the `js` backend for bfloat16 and
 * 8-bit state, and the oracle the native kernels (native/kernels/adam_bf16_body.h,
 * adam_q8_body.h) are tested against bit for bit. A block at a time, the moments are decoded to
 * float32 (exactly), stepped by the float32 reference (adam.ts's adamStepFloat32), and only then
 * stored in the reduced format: the parameter is written from this step's unrounded moments. See docs/lowbit.md for the storage rules.
 */
import { adamConsts, adamStepFloat32, maxNan, type AdamScalars } from './adam.js';
import { QMAP_SIGNED, QMAP_UNSIGNED } from './qmaps.js';

/** Elements per 8-bit quantization block (one float32 scale per block). */
export const Q8_BLOCK = 256;

/** The smallest block scale: float32(1e-12), so an all-zero block divides by something. */
export const Q8_MIN_SCALE = Math.fround(1e-12);

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The bfloat16 bits of float32 `x`, rounded to nearest, ties to even (torch's `.bfloat16()`);
 * a NaN stays a quiet NaN and ±Inf stays ±Inf. */
export function toBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bfloat16 bits (exact). */
export function fromBf16(bits: number): number {
  u32[0] = (bits & 0xffff) << 16;
  return f32[0]!;
}

/** One 8-bit moment: a code per element, a scale per block of Q8_BLOCK elements. */
export interface Q8Moment {
  codes: Uint8Array;
  scale: Float32Array;
}

/** The number of scales an 8-bit moment of `numel` elements has. */
export function q8Blocks(numel: number): number {
  return Math.ceil(numel / Q8_BLOCK);
}

/** torchao's nearest code of y in the ascending map: the largest c with qmap[c] <= y by binary
 * search from 0, then c + 1 if y is at least halfway to qmap[c + 1]. NaN gives 0. */
export function encodeQ8(qmap: Float32Array, y: number): number {
  let c = 0;
  for (let b = 128; b >= 1; b >>= 1) if (y >= qmap[c + b]!) c += b;
  if (c < 255 && Math.fround(y - qmap[c]!) >= Math.fround(Math.fround(qmap[c + 1]! - qmap[c]!) * 0.5)) c++;
  return c;
}

/** Quantizes one block's float32 values [from, to) of `values` into `m` (block `block`). */
function storeBlock(values: ArrayLike<number>, from: number, to: number, qmap: Float32Array, m: Q8Moment, at: number, block: number): void {
  let absmax = 0;
  for (let i = from; i < to; i++) absmax = maxNan(Math.abs(values[i]!), absmax);
  const scale = Math.fround(maxNan(absmax, Q8_MIN_SCALE));
  m.scale[block] = scale;
  for (let i = from; i < to; i++) m.codes[at + i - from] = encodeQ8(qmap, Math.fround(values[i]! / scale));
}

/** The map of a moment: signed for exp_avg, unsigned for exp_avg_sq and max_exp_avg_sq. */
export function qmapOf(signed: boolean): Float32Array {
  return signed ? QMAP_SIGNED : QMAP_UNSIGNED;
}

/** Quantizes float32 values into a fresh 8-bit moment (loadStateDict's conversion). */
export function quantizeQ8(values: ArrayLike<number>, signed: boolean): Q8Moment {
  const n = values.length;
  const m: Q8Moment = { codes: new Uint8Array(n), scale: new Float32Array(q8Blocks(n)) };
  for (let b = 0; b * Q8_BLOCK < n; b++) storeBlock(values, b * Q8_BLOCK, Math.min(n, (b + 1) * Q8_BLOCK), qmapOf(signed), m, b * Q8_BLOCK, b);
  return m;
}

/** Decodes block `block` of `m`, its elements [start, start + length), into out[0, length):
 * qmap[code] * scale, one float32 multiply each. */
function loadBlock(m: Q8Moment, qmap: Float32Array, block: number, start: number, length: number, out: Float32Array): void {
  const scale = m.scale[block]!;
  for (let i = 0; i < length; i++) out[i] = qmap[m.codes[start + i]!]! * scale;
}

/** The float32 values of an 8-bit moment. */
export function dequantizeQ8(m: Q8Moment, signed: boolean): Float32Array {
  const n = m.codes.length;
  const out = new Float32Array(n);
  for (let b = 0; b * Q8_BLOCK < n; b++) {
    loadBlock(m, qmapOf(signed), b, b * Q8_BLOCK, Math.min(Q8_BLOCK, n - b * Q8_BLOCK), out.subarray(b * Q8_BLOCK));
  }
  return out;
}

/** How a reduced format moves one block of a moment, its elements [start, start + length),
 * to and from float32. exp_avg is signed, the second moments are not. */
interface MomentFormat<M> {
  load(moment: M, signed: boolean, block: number, start: number, length: number, out: Float32Array): void;
  store(values: Float32Array, moment: M, signed: boolean, block: number, start: number, length: number): void;
}

/** bfloat16 has no blocks of its own; it is stepped in runs as long as an 8-bit block. */
const BF16: MomentFormat<Uint16Array> = {
  load(bits, _signed, _block, start, length, out) {
    for (let i = 0; i < length; i++) out[i] = fromBf16(bits[start + i]!);
  },
  store(values, bits, _signed, _block, start, length) {
    for (let i = 0; i < length; i++) bits[start + i] = toBf16(values[i]!);
  },
};

/** Each block's new scale is the absmax of its new moments. */
const Q8: MomentFormat<Q8Moment> = {
  load: (moment, signed, block, start, length, out) => loadBlock(moment, qmapOf(signed), block, start, length, out),
  store: (values, moment, signed, block, start, length) => storeBlock(values, 0, length, qmapOf(signed), moment, start, block),
};

/** The step of one reduced format: a block at a time, the moments are decoded into float32,
 * stepped by adamStepFloat32, then stored back. */
function lowbitStep<M>(format: MomentFormat<M>) {
  return (param: Float32Array, grad: Float32Array, expAvg: M, expAvgSq: M, maxExpAvgSq: M | null, s: AdamScalars): void => {
    const k = adamConsts(s);
    const stored = [expAvg, expAvgSq, s.amsgrad ? maxExpAvgSq : null];
    const moments: [Float32Array, Float32Array, Float32Array | null] = [
      new Float32Array(Q8_BLOCK),
      new Float32Array(Q8_BLOCK),
      s.amsgrad ? new Float32Array(Q8_BLOCK) : null,
    ];
    for (let start = 0, block = 0; start < param.length; start += Q8_BLOCK, block++) {
      const end = Math.min(param.length, start + Q8_BLOCK);
      moments.forEach((f32, j) => f32 && format.load(stored[j]!, j === 0, block, start, end - start, f32));
      adamStepFloat32(k, param.subarray(start, end), grad.subarray(start, end), ...moments);
      moments.forEach((f32, j) => f32 && format.store(f32, stored[j]!, j === 0, block, start, end - start));
    }
  };
}

/** One step with bfloat16 moments over the elements of `param`, in place. */
export const adamStepBf16Reference = lowbitStep(BF16);

/** One step with 8-bit moments over the elements of `param`, in place. Element 0 starts a block
 * and the moments' scale arrays start at that block: a run never splits a block. */
export const adamStepQ8Reference = lowbitStep(Q8);
