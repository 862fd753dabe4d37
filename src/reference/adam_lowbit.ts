/**
 * Adam with reduced-precision moments in plain TypeScript: the `js` backend for bfloat16 and
 * 8-bit state, and the oracle the native kernels (native/kernels/adam_bf16_body.h,
 * adam_q8_body.h) are tested against bit for bit. The update itself is adam.ts's adamUpdate on
 * the loaded moments; the parameter is written from this step's unrounded moments, and only
 * then are the moments stored in the reduced format. See docs/lowbit.md for the storage rules.
 */
import { adamConsts, adamUpdate, type AdamScalars } from './adam.js';
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

/** torch.maximum's NaN rule: NaN in either operand wins. */
function maxNan(a: number, b: number): number {
  return a !== a ? a : a > b ? a : b;
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

/** The float32 values of an 8-bit moment: qmap[code] * scale, one float32 multiply each. */
export function dequantizeQ8(m: Q8Moment, signed: boolean): Float32Array {
  const qmap = qmapOf(signed);
  const out = new Float32Array(m.codes.length);
  for (let i = 0; i < out.length; i++) out[i] = qmap[m.codes[i]!]! * m.scale[Math.floor(i / Q8_BLOCK)]!;
  return out;
}

/** One step with bfloat16 moments over elements [0, n), in place. */
export function adamStepBf16Reference(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Uint16Array,
  expAvgSq: Uint16Array,
  maxExpAvgSq: Uint16Array | null,
  s: AdamScalars,
): void {
  const k = adamConsts(s);
  const io = new Float64Array(4);
  for (let i = 0; i < param.length; i++) {
    io[0] = param[i]!;
    io[1] = fromBf16(expAvg[i]!);
    io[2] = fromBf16(expAvgSq[i]!);
    if (s.amsgrad) io[3] = fromBf16(maxExpAvgSq![i]!);
    adamUpdate(k, grad[i]!, io);
    param[i] = io[0]!;
    expAvg[i] = toBf16(io[1]!);
    expAvgSq[i] = toBf16(io[2]!);
    if (s.amsgrad) maxExpAvgSq![i] = toBf16(io[3]!);
  }
}

/** One step with 8-bit moments over elements [0, n), in place. Element 0 starts a block and the
 * moments' scale arrays start at that block: a run never splits a block. */
export function adamStepQ8Reference(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Q8Moment,
  expAvgSq: Q8Moment,
  maxExpAvgSq: Q8Moment | null,
  s: AdamScalars,
): void {
  const k = adamConsts(s);
  const io = new Float64Array(4);
  const n = param.length;
  const fresh = [new Float32Array(Q8_BLOCK), new Float32Array(Q8_BLOCK), new Float32Array(Q8_BLOCK)];
  for (let start = 0, block = 0; start < n; start += Q8_BLOCK, block++) {
    const end = Math.min(n, start + Q8_BLOCK);
    const sm = expAvg.scale[block]!, sv = expAvgSq.scale[block]!, sx = s.amsgrad ? maxExpAvgSq!.scale[block]! : 0;
    for (let i = start; i < end; i++) {
      io[0] = param[i]!;
      io[1] = Math.fround(QMAP_SIGNED[expAvg.codes[i]!]! * sm);
      io[2] = Math.fround(QMAP_UNSIGNED[expAvgSq.codes[i]!]! * sv);
      if (s.amsgrad) io[3] = Math.fround(QMAP_UNSIGNED[maxExpAvgSq!.codes[i]!]! * sx);
      adamUpdate(k, grad[i]!, io);
      param[i] = io[0]!;
      fresh[0]![i - start] = io[1]!;
      fresh[1]![i - start] = io[2]!;
      fresh[2]![i - start] = io[3]!;
    }
    storeBlock(fresh[0]!, 0, end - start, QMAP_SIGNED, expAvg, start, block);
    storeBlock(fresh[1]!, 0, end - start, QMAP_UNSIGNED, expAvgSq, start, block);
    if (s.amsgrad) storeBlock(fresh[2]!, 0, end - start, QMAP_UNSIGNED, maxExpAvgSq!, start, block);
  }
}
