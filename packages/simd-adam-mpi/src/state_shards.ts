/**
 * The sharded state to and from a full state dict in PyTorch's layout (the core's, for bfloat16
 * and 8-bit moments too). Consolidation gathers the shards one moment at a time into one flat
 * buffer of the parameters' length (so a rank holds one extra flat buffer at a time), and lets
 * the never-stepped full optimizer on rank 0 write the dict; loading lets the full optimizer
 * validate and hold a dict saved at any world size, cuts this rank's pieces out of it, and drops
 * the rest.
 *
 * Every storage format travels in the same float32 flat buffer, element by element: a float32
 * moment as is, a bfloat16 one widened to the float32 whose upper half it is (exact), an 8-bit
 * one as its codes (0..255, exact). An 8-bit moment's block scales travel in a second flat
 * buffer: shards are cut on 256-element blocks of each parameter, so a shard's scales are one
 * contiguous slice of the scales of all 8-bit parameters laid end to end in memory order.
 */
import { type Adam, type AdamState, type AdamW, type StateDict, type StateDictInput } from 'simd-adam';
import type { Communicator } from './communicator.js';
import { SHARD_ALIGN, type FlatParam, type Piece } from './layout.js';

/** What the state functions need from a ZeroRedundancyOptimizer. */
export interface ShardedState {
  comm: Communicator;
  full: Adam | AdamW;
  shard: Adam | AdamW | undefined;
  pieces: readonly Piece[];
  layout: readonly FlatParam[];
  counts: Int32Array;
  /** This rank's first element in the flat buffer. */
  start: number;
  total: number;
  /** Copies the full groups' hyperparameters (stateDtype and min8bitSize included) to the shard's. */
  syncShard: () => void;
}

const KINDS = [
  ['exp_avg', 'expAvg'],
  ['exp_avg_sq', 'expAvgSq'],
  ['max_exp_avg_sq', 'maxExpAvgSq'],
] as const;

/** Storage formats as numbers, so that one all-reduce (max) tells every rank each parameter's. */
const DTYPES = ['float32', 'bfloat16', '8bit'] as const;
type Dtype = (typeof DTYPES)[number];
type Q8 = { codes: Uint8Array; scale: Float32Array };
type Moment = Float32Array | Uint16Array | Q8;
type Entry = { step: number } & Record<string, number | Moment>;

const blocks = (n: number) => Math.ceil(n / SHARD_ALIGN);

/** Where each 8-bit parameter's scales start in the scales of all of them laid end to end in
 * memory order, and how many scales rank r holds: every rank computes the same from the layout. */
function scaleLayout(s: ShardedState, dtypes: readonly Dtype[]): { offsets: Map<number, number>; counts: Int32Array; total: number } {
  const q8 = s.layout.filter(({ id }) => dtypes[id] === '8bit').sort((a, b) => a.offset - b.offset);
  const offsets = new Map<number, number>();
  let total = 0;
  for (const { id, param } of q8) (offsets.set(id, total), (total += blocks(param.numel)));
  // The scales below element x of the flat buffer: a cut inside a parameter is a multiple of 256
  // elements from its start, so no block straddles two ranks.
  const below = (x: number) => q8.reduce((n, { param, offset }) => n + (x <= offset ? 0 : x >= offset + param.numel ? blocks(param.numel) : blocks(x - offset)), 0);
  const counts = new Int32Array(s.counts.length);
  let at = 0;
  for (let r = 0; r < counts.length; r++) {
    const from = below(at);
    at += s.counts[r]!;
    counts[r] = below(at) - from;
  }
  return { offsets, counts, total };
}

export async function consolidate(s: ShardedState): Promise<StateDict | null> {
  const { comm, layout } = s;
  const shardState = s.shard?.state;
  const n = layout.length;
  // Per parameter: its step count (-1: no state) and storage format; then whether any has
  // amsgrad state. Every piece of a parameter has the same step count and format.
  const info = new Float64Array(2 * n + 1);
  info.fill(-1, 0, n);
  for (const piece of s.pieces) {
    const state = shardState?.get(piece.part);
    if (!state) continue;
    info[piece.whole.id] = state.step;
    info[n + piece.whole.id] = DTYPES.indexOf(state.dtype ?? 'float32');
    if (state.maxExpAvgSq) info[2 * n] = 1;
  }
  await comm.allReduce(info, 'max');
  const dtypes = Array.from({ length: n }, (_, id) => DTYPES[info[n + id]!]!);
  const entries = new Map<number, Entry>();
  if (comm.rank === 0) for (const { id } of layout) if (info[id]! >= 0) entries.set(id, { step: info[id]! } as Entry);
  const scales = dtypes.includes('8bit') ? scaleLayout(s, dtypes) : undefined;
  const kinds = info[2 * n]! > 0 ? KINDS : KINDS.slice(0, 2);
  for (const [key, field] of kinds) {
    const flat = new Float32Array(s.total);
    const bits = new Uint32Array(flat.buffer);
    const scaleFlat = scales && new Float32Array(scales.total);
    for (const piece of s.pieces) {
      const m = shardState?.get(piece.part)?.[field as keyof AdamState] as Moment | undefined;
      if (m === undefined) continue;
      if (m instanceof Float32Array) flat.set(m, piece.from); // a byte copy: NaN payloads kept
      else if (m instanceof Uint16Array) for (let i = 0; i < m.length; i++) bits[piece.from + i] = m[i]! << 16;
      else {
        flat.set(m.codes, piece.from);
        scaleFlat!.set(m.scale, scales!.offsets.get(piece.whole.id)! + (piece.from - piece.whole.offset) / SHARD_ALIGN);
      }
    }
    await comm.allGather(flat, s.counts);
    if (scaleFlat) await comm.allGather(scaleFlat, scales!.counts);
    if (comm.rank !== 0) continue;
    for (const [id, entry] of entries) {
      const { param, offset } = layout[id]!;
      // max_exp_avg_sq only for parameters of amsgrad groups: their state has it.
      if (key === 'max_exp_avg_sq' && !groupOf(s.full, param)?.amsgrad) continue;
      const to = offset + param.numel;
      if (dtypes[id] === 'float32') entry[key] = flat.slice(offset, to);
      else if (dtypes[id] === 'bfloat16') entry[key] = Uint16Array.from(bits.subarray(offset, to), (b) => b >>> 16);
      else {
        const at = scales!.offsets.get(id)!;
        entry[key] = { codes: Uint8Array.from(flat.subarray(offset, to)), scale: scaleFlat!.slice(at, at + blocks(param.numel)) };
      }
    }
  }
  if (comm.rank !== 0) return null;
  // The full optimizer writes the dict (shapes, names, groups, the low-bit tensor forms); each
  // moment is already in its group's format, so it is copied bit for bit. Then it holds no state.
  const groups = s.full.stateDict().param_groups;
  s.full.loadStateDict({ state: Object.fromEntries(entries), param_groups: groups } as unknown as StateDictInput);
  const dict = s.full.stateDict();
  s.full.loadStateDict({ state: {}, param_groups: dict.param_groups } as unknown as StateDictInput);
  return dict as unknown as StateDict;
}

function groupOf(full: Adam | AdamW, param: FlatParam['param']) {
  return full.paramGroups.find((group) => group.params.includes(param));
}

/** Piece [lo, hi) (elements of the whole parameter) of a moment in any format. */
function sliceMoment(m: Moment, lo: number, hi: number): Moment {
  if (m instanceof Float32Array || m instanceof Uint16Array) return m.subarray(lo, hi);
  return { codes: m.codes.subarray(lo, hi), scale: m.scale.subarray(lo / SHARD_ALIGN, blocks(hi)) };
}

export function loadFull(s: ShardedState, stateDict: StateDictInput): void {
  // Validates everything (and takes the groups' hyperparameters, stateDtype included) before
  // anything changes here; converts each moment to its group's format.
  s.full.loadStateDict(stateDict);
  const loaded = s.full.state;
  if (s.shard) {
    // The shard stores each piece as its group now stores the whole parameter.
    s.syncShard();
    const ids = new Map<object, number>();
    s.shard.paramGroups.flatMap((group) => group.params).forEach((part, id) => ids.set(part, id));
    const state: Record<number, Entry> = {};
    for (const piece of s.pieces) {
      const whole = loaded.get(piece.whole.param);
      if (!whole) continue;
      const lo = piece.from - piece.whole.offset, hi = piece.to - piece.whole.offset;
      const entry = { step: whole.step, exp_avg: sliceMoment(whole.expAvg, lo, hi), exp_avg_sq: sliceMoment(whole.expAvgSq, lo, hi) } as Entry;
      if (whole.maxExpAvgSq) entry.max_exp_avg_sq = sliceMoment(whole.maxExpAvgSq, lo, hi);
      state[ids.get(piece.part)!] = entry;
    }
    // Groups as ids only: a key the saved group lacks keeps the shard's own value (and every step
    // copies the hyperparameters from the full optimizer's groups anyway).
    let next = 0;
    const groups = s.shard.paramGroups.map((group) => ({ params: group.params.map(() => next++) }));
    s.shard.loadStateDict({ state, param_groups: groups } as unknown as StateDictInput);
  }
  // The full optimizer only ever holds state while a dict passes through it.
  let next = 0;
  const groups = s.full.paramGroups.map((group) => ({ params: group.params.map(() => next++) }));
  s.full.loadStateDict({ state: {}, param_groups: groups } as unknown as StateDictInput);
}
