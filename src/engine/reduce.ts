/** Reductions over many Float32Array views in one native crossing with the selected backend's
 * kernels, or with the TypeScript reference when the 'js' backend is selected. */
import { isJsBackend } from '../native/backend.js';
import { addon } from '../native/addon.js';
import { bufferHandle } from './segment_table.js';
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

/** SegmentViews as the addon's (buffers, table): one (buffer index, element offset, length) row each. */
function encodeViews(views: readonly Float32Array[]): { buffers: Array<ArrayBuffer | Uint8Array>; table: Float64Array } {
  const stride = addon.reduceLayout.VIEW_STRIDE;
  const table = new Float64Array(views.length * stride);
  const buffers: Array<ArrayBuffer | Uint8Array> = [];
  const indexOf = new Map<ArrayBufferLike, number>();
  views.forEach((view, k) => {
    let index = indexOf.get(view.buffer);
    if (index === undefined) {
      index = buffers.length;
      indexOf.set(view.buffer, index);
      buffers.push(bufferHandle(view.buffer));
    }
    table[k * stride] = index;
    table[k * stride + 1] = view.byteOffset / Float32Array.BYTES_PER_ELEMENT;
    table[k * stride + 2] = view.length;
  });
  return { buffers, table };
}

/** Per view: is every element ±0? */
export function allZeroEach(views: readonly Float32Array[]): boolean[] {
  if (views.length === 0) return [];
  if (isJsBackend()) return views.map(allZeroReference);
  const { buffers, table } = encodeViews(views);
  return Array.from(addon.allZero(buffers, table), (z) => z === 1);
}

/** Per view: the reduction `op`; `p` is the exponent of 'sumPowAbs'. */
export function reduceEach(views: readonly Float32Array[], op: ReduceOp, p = 0): Float64Array {
  if (views.length === 0) return new Float64Array(0);
  if (isJsBackend()) return Float64Array.from(views, (v) => REFERENCE[op](v, p));
  const { buffers, table } = encodeViews(views);
  return addon.reduce(buffers, table, NATIVE_OP[op], p);
}

/** Multiplies every view by `factor` (rounded to float32 once), in place. */
export function scaleEach(views: readonly Float32Array[], factor: number): void {
  if (views.length === 0) return;
  if (isJsBackend()) return views.forEach((v) => scaleReference(v, factor));
  const { buffers, table } = encodeViews(views);
  addon.scale(buffers, table, factor);
}
