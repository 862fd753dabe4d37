/**
 * After the reduce-scatter, the ranks agree on what the mean gradient holds: its global sum of
 * squares (for clipping) and its first NaN or ±Inf (for nonFinite 'skip' and 'throw'). Each rank
 * scanned its own shard on the worker thread that reduced it; one all-reduce of 1 + 2·N numbers
 * then gives every rank the same verdict, so that all skip, all throw or all step.
 *
 * The mean gradient is what the shards step on, as a single optimizer steps on the grads it is
 * given: a NaN or ±Inf in any rank's grad makes the sum non-finite, and so does a sum of finite
 * grads beyond the float32 range, which no check of the ranks' own grads would see.
 */
import { SimdAdamError, type AdamParamGroup } from 'simd-adam';
import type { Communicator, ReduceScatterScan } from './communicator.js';
import type { FlatParam, Piece } from './layout.js';

/** The [from, to) ranges of the reduced shard gradient that hold the grads of parameters with a
 * grad (the others' reduced values are never used), in group order, as reduceScatter takes them. */
export function scanRanges(pieces: readonly Piece[], flags: Uint8Array, start: number): Int32Array {
  const ranges: number[] = [];
  for (const piece of pieces) if (flags[piece.whole.id] && piece.to > piece.from) ranges.push(piece.from - start, piece.to - start);
  return Int32Array.from(ranges);
}

export interface GradVerdict {
  /** Σg² of the mean gradient over all ranks. */
  sumSq: number;
  /** Its first non-finite element in group order (parameter id, element of the whole
   * parameter, value), if any: the same on every rank. */
  bad?: { id: number; element: number; value: number };
}

/** Ids stay below 2^21 and elements below 2^32, so id·2^32 + element is an exact double. */
const ELEMENTS = 2 ** 32;

export async function gradVerdict(comm: Communicator, scan: ReduceScatterScan, pieces: readonly Piece[], start: number, shardGrad: Float32Array): Promise<GradVerdict> {
  const n = comm.size;
  // [Σg², then per rank: 1 + the key of its first bad element (0: none), then that element's
  // value]. Only rank r writes slot r, so the sum hands every rank every slot exactly.
  const buf = new Float64Array(1 + 2 * n);
  buf[0] = scan.sumSq;
  const i = scan.firstNonFinite;
  if (i >= 0) {
    const at = start + i;
    const piece = pieces.find((p) => p.from <= at && at < p.to)!;
    buf[1 + comm.rank] = 1 + piece.whole.id * ELEMENTS + (at - piece.whole.offset);
    buf[1 + n + comm.rank] = shardGrad[i]!;
  }
  await comm.allReduce(buf, 'sum');
  let first = -1;
  for (let r = 0; r < n; r++) if (buf[1 + r]! > 0 && (first < 0 || buf[1 + r]! < buf[1 + first]!)) first = r;
  if (first < 0) return { sumSq: buf[0]! };
  const key = buf[1 + first]! - 1;
  return { sumSq: buf[0]!, bad: { id: Math.floor(key / ELEMENTS), element: key % ELEMENTS, value: buf[1 + n + first]! } };
}

/** ERR_NON_FINITE as the core optimizers word it, naming the parameter by its group and index. */
export function nonFiniteError(where: string, groups: readonly AdamParamGroup[], layout: readonly FlatParam[], bad: NonNullable<GradVerdict['bad']>): SimdAdamError {
  const param = layout[bad.id]!.param;
  const group = groups.findIndex((g) => g.params.includes(param));
  const index = groups[group]!.params.indexOf(param);
  return new SimdAdamError(
    'ERR_NON_FINITE',
    `${where}: group ${group}, parameter ${index} (${param.label}): the mean grad[${bad.element}] over the ranks is ${bad.value}; ` +
      "nothing was changed on any rank (nonFinite: 'throw'; use 'skip' to skip such steps, 'propagate' for PyTorch's behaviour)",
  );
}
