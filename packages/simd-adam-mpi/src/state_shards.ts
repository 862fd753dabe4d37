/**
 * The sharded state to and from a full state dict in PyTorch's layout. Consolidation gathers the
 * shards one state kind at a time (so a rank holds one extra flat buffer at a time) and lets the
 * never-stepped full optimizer on rank 0 write the dict; loading lets the full optimizer validate
 * and hold a dict saved at any world size, cuts this rank's pieces out of it, and drops the rest.
 */
import { SimdAdamError, type Adam, type AdamState, type AdamW, type StateDict, type StateDictInput } from 'simd-adam';
import type { Communicator } from './communicator.js';
import type { FlatParam, Piece } from './layout.js';

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
}

const KINDS = [
  ['exp_avg', 'expAvg'],
  ['exp_avg_sq', 'expAvgSq'],
  ['max_exp_avg_sq', 'maxExpAvgSq'],
] as const;

type Entry = { step: number } & Record<string, number | Float32Array>;

/** State dicts of bfloat16 and 8-bit shards need their blocks and scales stitched; not done yet.
 * Decided from the groups, which every rank holds alike, so every rank refuses alike. */
function refuseReducedState(full: Adam | AdamW, where: string): void {
  const reduced = full.paramGroups.findIndex((group) => group.stateDtype !== 'float32');
  if (reduced >= 0) {
    throw new SimdAdamError(
      'ERR_STATE_DICT',
      `${where}: paramGroups[${reduced}] keeps its state in ${String(full.paramGroups[reduced]!.stateDtype)}; ` +
        "ZeroRedundancyOptimizer's state dicts are float32 only for now (stateDtype 'float32')",
    );
  }
}

export async function consolidate(s: ShardedState): Promise<StateDict | null> {
  const { comm, layout } = s;
  refuseReducedState(s.full, 'consolidateStateDict()');
  const shardState = s.shard?.state;
  // Every piece of a parameter has the same step count; -1 marks a parameter without state.
  const steps = new Float64Array(layout.length).fill(-1);
  let amsgrad = 0;
  for (const piece of s.pieces) {
    const state = shardState?.get(piece.part);
    if (!state) continue;
    steps[piece.whole.id] = state.step;
    if (state.maxExpAvgSq) amsgrad = 1;
  }
  const flags = new Float64Array([...steps, amsgrad]);
  await comm.allReduce(flags, 'max');
  const entries = new Map<number, Entry>();
  if (comm.rank === 0) for (const { id } of layout) if (flags[id]! >= 0) entries.set(id, { step: flags[id]! } as Entry);
  const kinds = flags[layout.length]! > 0 ? KINDS : KINDS.slice(0, 2);
  for (const [key, field] of kinds) {
    const flat = new Float32Array(s.total);
    for (const piece of s.pieces) {
      const values = shardState?.get(piece.part)?.[field as keyof AdamState];
      if (values instanceof Float32Array) flat.set(values, piece.from);
    }
    await comm.allGather(flat, s.counts);
    if (comm.rank !== 0) continue;
    for (const [id, entry] of entries) {
      const { param, offset } = layout[id]!;
      // max_exp_avg_sq only for parameters of amsgrad groups: their state has it.
      if (key === 'max_exp_avg_sq' && !groupOf(s.full, param)?.amsgrad) continue;
      entry[key] = flat.slice(offset, offset + param.numel);
    }
  }
  if (comm.rank !== 0) return null;
  // The full optimizer writes the dict (shapes, names, groups); then it holds no state again.
  const groups = s.full.stateDict().param_groups;
  s.full.loadStateDict({ state: Object.fromEntries(entries), param_groups: groups } as unknown as StateDictInput);
  const dict = s.full.stateDict();
  s.full.loadStateDict({ state: {}, param_groups: dict.param_groups } as unknown as StateDictInput);
  return dict as unknown as StateDict;
}

function groupOf(full: Adam | AdamW, param: FlatParam['param']) {
  return full.paramGroups.find((group) => group.params.includes(param));
}

export function loadFull(s: ShardedState, stateDict: StateDictInput): void {
  refuseReducedState(s.full, 'loadStateDict()');
  // Validates everything (and takes the groups' hyperparameters) before anything changes here.
  s.full.loadStateDict(stateDict);
  const loaded = s.full.state;
  if (s.shard) {
    const ids = new Map<object, number>();
    s.shard.paramGroups.flatMap((group) => group.params).forEach((part, id) => ids.set(part, id));
    const state: Record<number, Entry> = {};
    for (const piece of s.pieces) {
      const whole = loaded.get(piece.whole.param);
      if (!whole || whole.dtype !== 'float32') continue;
      const lo = piece.from - piece.whole.offset, hi = piece.to - piece.whole.offset;
      const entry = { step: whole.step, exp_avg: whole.expAvg.subarray(lo, hi), exp_avg_sq: whole.expAvgSq.subarray(lo, hi) } as Entry;
      if (whole.maxExpAvgSq) entry.max_exp_avg_sq = whole.maxExpAvgSq.subarray(lo, hi);
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
