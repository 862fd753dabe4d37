/**
 * How a ZeroRedundancyOptimizer cuts the flat parameter buffer: rank r owns the contiguous
 * elements [starts[r], starts[r + 1]), every boundary a multiple of 256 elements (1 KiB) from the
 * buffer's start, so that each shard begins on a 64-byte line and on an 8-bit state block. Each
 * parameter the shard touches becomes a piece: a Parameter viewing the owned part of its data.
 */
import { Parameter, SimdAdamError } from 'simd-adam';

/** Shard boundaries are multiples of this many elements. */
export const SHARD_ALIGN = 256;

/** One parameter of the full model as laid out in the flat buffer. */
export interface FlatParam {
  param: Parameter;
  /** Element offset of its data in the flat buffer. */
  offset: number;
  /** Its index in group order (the state dict's id). */
  id: number;
}

/** The owned part of one parameter: a Parameter over data[from, to) of the flat buffer. */
export interface Piece {
  whole: FlatParam;
  part: Parameter;
  from: number;
  to: number;
  /** The part's grad: a view of the reduced shard gradient, the same array every step. */
  grad: Float32Array;
}

/** Rank boundaries: starts[r] for r in 0..size, starts[size] = total. Each shard holds total/size
 * elements rounded to a block, so shards differ from one another by at most one block. */
export function shardStarts(total: number, size: number): number[] {
  const starts: number[] = [];
  for (let r = 0; r < size; r++) starts.push(Math.min(total, Math.round((r * total) / size / SHARD_ALIGN) * SHARD_ALIGN));
  starts.push(total);
  return starts;
}

/** Shard lengths as the MPI binding takes them. */
export function shardCounts(starts: readonly number[]): Int32Array {
  const counts = new Int32Array(starts.length - 1);
  for (let r = 0; r < counts.length; r++) counts[r] = starts[r + 1]! - starts[r]!;
  return counts;
}

/**
 * The flat buffer all parameters live in, and each parameter's offset in it: the parameters must
 * view one ArrayBuffer (a ParameterStore's `data`); the flat buffer runs from the first to the
 * end of the last, in memory order.
 * @throws SimdAdamError (code ERR_PARAM_GROUP) when the parameters do not share one buffer.
 */
export function flatLayout(params: readonly Parameter[], where: string): { flat: Float32Array; layout: FlatParam[] } {
  const buffer = params[0]!.data.buffer;
  let lo = Infinity, hi = 0;
  for (const p of params) {
    if (p.data.buffer !== buffer) {
      throw new SimdAdamError('ERR_PARAM_GROUP', `${where}: ${p.label} is not in the same ParameterStore as ${params[0]!.label}; ZeroRedundancyOptimizer shards one store's flat buffer`);
    }
    lo = Math.min(lo, p.data.byteOffset);
    hi = Math.max(hi, p.data.byteOffset + p.data.byteLength);
  }
  const flat = new Float32Array(buffer, lo, (hi - lo) / Float32Array.BYTES_PER_ELEMENT);
  const layout = params.map((param, id) => ({ param, id, offset: (param.data.byteOffset - lo) / Float32Array.BYTES_PER_ELEMENT }));
  return { flat, layout };
}

/** The pieces of [start, end) for each group. A parameter with no elements belongs to the rank
 * whose shard holds its offset (the last rank for one at the very end), so that its step count
 * lives somewhere. */
export function cutPieces(groups: readonly (readonly FlatParam[])[], start: number, end: number, total: number, shardGrad: Float32Array): Piece[][] {
  return groups.map((group) =>
    group.flatMap((whole) => {
      const { param, offset } = whole;
      const from = Math.max(start, offset), to = Math.min(end, offset + param.numel);
      const owned = param.numel === 0 ? (offset >= start && offset < end) || (offset === total && end === total) : from < to;
      if (!owned) return [];
      const lo = param.numel === 0 ? offset : from, hi = param.numel === 0 ? offset : to;
      const name = param.name === undefined ? undefined : `${param.name}[${lo - offset}:${hi - offset}]`;
      const part = new Parameter(param.data.subarray(lo - offset, hi - offset), name === undefined ? {} : { name });
      return [{ whole, part, from: lo, to: hi, grad: shardGrad.subarray(lo - start, hi - start) }];
    }),
  );
}
