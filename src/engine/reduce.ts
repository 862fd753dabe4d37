/** Reductions over many Float32Array views in one native crossing with the selected backend's
 * kernels, or with the TypeScript reference when the 'js' backend is selected. */
import { isJsBackend } from '../native/backend.js';
import { addon } from '../native/addon.js';
import { callNative, encodeViews, whileClaimed } from './claims.js';
import {
  allZeroReference,
  firstNonFiniteReference,
  maxAbsReference,
  scaleReference,
  sumAbsReference,
  sumPowAbsReference,
  sumSqReference,
} from '../reference/reduce.js';

export type ReduceOp = 'sumSq' | 'sumAbs' | 'sumPowAbs' | 'maxAbs' | 'firstNonFinite';

const NATIVE_OP = {
  sumSq: addon.reduceLayout.ops.SUM_SQ,
  sumAbs: addon.reduceLayout.ops.SUM_ABS,
  sumPowAbs: addon.reduceLayout.ops.SUM_POW,
  maxAbs: addon.reduceLayout.ops.MAX_ABS,
  firstNonFinite: addon.reduceLayout.ops.FIRST_NON_FINITE,
} as const satisfies Record<ReduceOp, number>;

const REFERENCE: Record<ReduceOp, (x: Float32Array, p: number) => number> = {
  sumSq: sumSqReference,
  sumAbs: sumAbsReference,
  sumPowAbs: sumPowAbsReference,
  maxAbs: maxAbsReference,
  firstNonFinite: firstNonFiniteReference,
};

const reading = (views: readonly Float32Array[]) => views.map((v) => [v, false] as const);

/* Every function here claims its memory (natively, or through claims.ts on the js backend) and
 * throws ERR_BUSY, naming `where`, if a running step holds it: nothing was read or written. */

/** Per view: is every element ±0? */
export function allZeroEach(views: readonly Float32Array[], where = 'allZeroEach()'): boolean[] {
  if (views.length === 0) return [];
  if (isJsBackend()) return whileClaimed(reading(views), where, () => views.map(allZeroReference));
  const { buffers, table } = encodeViews(views);
  return Array.from(callNative(where, () => addon.allZero(buffers, table)), (z) => z === 1);
}

/** Per view: the reduction `op`; `p` is the exponent of 'sumPowAbs'. */
export function reduceEach(views: readonly Float32Array[], op: ReduceOp, p = 0, where = 'reduceEach()'): Float64Array {
  if (views.length === 0) return new Float64Array(0);
  if (isJsBackend()) return whileClaimed(reading(views), where, () => Float64Array.from(views, (v) => REFERENCE[op](v, p)));
  const { buffers, table } = encodeViews(views);
  return callNative(where, () => addon.reduce(buffers, table, NATIVE_OP[op], p));
}

/** Multiplies every view by `factor` (rounded to float32 once), in place. */
export function scaleEach(views: readonly Float32Array[], factor: number, where = 'scaleEach()'): void {
  if (views.length === 0) return;
  if (isJsBackend()) return whileClaimed(views.map((v) => [v, true] as const), where, () => views.forEach((v) => scaleReference(v, factor)));
  const { buffers, table } = encodeViews(views);
  callNative(where, () => addon.scale(buffers, table, factor));
}
