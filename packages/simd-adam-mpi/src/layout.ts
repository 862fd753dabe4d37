/**
 * How a ZeroRedundancyOptimizer cuts the flat parameter buffer: rank r owns the contiguous
 * elements [starts[r], starts[r + 1]). A cut inside a parameter falls on a multiple of 256
 * elements from that parameter's start, so that an 8-bit state's blocks (256 elements of the
 * flattened parameter) are never split, and a shard starts on the same 64-byte alignment as the
 * parameter it starts in; a cut may also fall on a boundary between parameters. Each parameter
 * the shard touches becomes a piece: a Parameter viewing the owned part of its data.
 */
import { Parameter, SimdAdamError, type ParameterStore } from 'simd-adam';

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

/** Rank boundaries: starts[r] for r in 0..size, starts[size] = total. Each cut is the allowed cut
 * point nearest to r·total/size (allowed: a parameter boundary, or a multiple of SHARD_ALIGN from
 * the start of the parameter it falls in), so shards differ from total/size by at most one block. */
export function shardStarts(total: number, size: number, layout: readonly FlatParam[] = []): number[] {
  const spans = layout
    .filter(({ param }) => param.numel > 0)
    .map(({ param, offset }) => ({ from: offset, to: offset + param.numel }))
    .sort((a, b) => a.from - b.from);
  const starts: number[] = [0];
  for (let r = 1; r < size; r++) {
    const target = (r * total) / size;
    // The parameter the target falls in; between parameters (elements of the buffer no parameter
    // given to the optimizer holds) any cut will do.
    let lo = 0, hi = spans.length - 1, span: { from: number; to: number } | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, s = spans[mid]!;
      if (target < s.from) hi = mid - 1;
      else if (target >= s.to) lo = mid + 1;
      else {
        span = s;
        break;
      }
    }
    if (!span) {
      starts.push(Math.max(starts[r - 1]!, Math.round(target)));
      continue;
    }
    const below = span.from + Math.floor((target - span.from) / SHARD_ALIGN) * SHARD_ALIGN;
    const above = Math.min(below + SHARD_ALIGN, span.to);
    starts.push(Math.max(starts[r - 1]!, target - below <= above - target ? below : above));
  }
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

/** Offsets of a store's parameters in its flat buffer, in group order. */
export function storeLayout(store: ParameterStore, params: readonly Parameter[]): FlatParam[] {
  const base = store.data.byteOffset;
  return params.map((param, id) => ({ param, id, offset: (param.data.byteOffset - base) / Float32Array.BYTES_PER_ELEMENT }));
}
