/**
 * Per-rank checkpoint files: each rank writes its shard of the optimizer state and of the
 * parameters with the core's streamed checkpoint writer (from the shard optimizer's live storage,
 * never gathered into one buffer), plus metadata saying which shard of which layout it is; a run
 * of the same world size loads them back. Both are collective, so that every rank learns whether
 * every other rank succeeded: a load changes nothing on any rank unless every rank's file is the
 * right one, from the same write, and valid. Layout: docs/distributed.md.
 */
import { randomInt } from 'node:crypto';
import {
  Parameter,
  readStateDict,
  SimdAdamError,
  writeStateDict,
  type Adam,
  type AdamParamGroup,
  type AdamW,
  type Checkpoint,
  type StateDictInput,
} from 'simd-adam';
import type { Communicator } from './communicator.js';
import { coded, describe } from './errors.js';
import type { FlatParam, Piece } from './layout.js';

type Core = Adam | AdamW;

/** What a shard file's `zero_shard` metadata says, checked on load. */
export const SHARD_FORMAT = 'simd-adam-mpi/zero-shard';

/** `writeShard(path, extras)`: stored beside the shard, returned by loadShard(). */
export interface ShardExtras {
  /** A scheduler's `stateDict()`. Default: none stored. */
  scheduler?: Readonly<Record<string, unknown>>;
  /** Any JSON-serialisable value of your own. Default: none stored. */
  metadata?: unknown;
}

/** What loadShard() returns once the state and parameters are loaded. */
export interface ShardCheckpoint {
  scheduler?: Record<string, unknown>;
  metadata?: unknown;
}

/** What the shard files need from a ZeroRedundancyOptimizer. */
export interface ShardFileContext {
  comm: Communicator;
  optimizer: 'Adam' | 'AdamW';
  Ctor: typeof Adam | typeof AdamW;
  full: Core;
  shard: Core | undefined;
  pieces: readonly Piece[];
  layout: readonly FlatParam[];
  flat: Float32Array;
  counts: Int32Array;
  start: number;
  /** The hyperparameters of a full group, as its constructor takes them. */
  hyperOf: (group: AdamParamGroup) => Record<string, unknown>;
  /** Options of the optimizer as a whole (warnOnZeroGrad, nonFinite). */
  optimizerLevel: Record<string, unknown>;
  /** A fresh shard optimizer over this rank's pieces, with hyperparameters from `groups`. */
  buildShard: (groups: readonly AdamParamGroup[]) => Core | undefined;
  /** Makes `shard` this optimizer's shard optimizer. */
  adopt: (shard: Core | undefined) => void;
}

interface ShardMetadata {
  format: string;
  version: number;
  rank: number;
  world_size: number;
  optimizer: string;
  total: number;
  shard: [number, number];
  tag: number;
  params: Array<[number, number]>;
  param_groups: unknown;
}

function describeShard(c: ShardFileContext, tag: number): ShardMetadata {
  return {
    format: SHARD_FORMAT,
    version: 1,
    rank: c.comm.rank,
    world_size: c.comm.size,
    optimizer: c.optimizer,
    total: c.flat.length,
    shard: [c.start, c.start + c.counts[c.comm.rank]!],
    tag,
    params: c.layout.map(({ offset, param }) => [offset, param.numel]),
    param_groups: c.full.stateDict().param_groups,
  };
}

function checkExtras(extras: unknown, where: string): ShardExtras {
  if (extras === undefined) return {};
  if (extras === null || typeof extras !== 'object' || Array.isArray(extras)) {
    throw coded(new TypeError(`${where}: extras must be an object { scheduler?, metadata? }, got ${describe(extras)}`), 'ERR_CHECKPOINT');
  }
  for (const key of Object.keys(extras)) {
    if (key !== 'scheduler' && key !== 'metadata') {
      const why = key === 'params' ? ": each rank's shard of the parameters is always written" : '';
      throw coded(new TypeError(`${where}: extras may hold scheduler and metadata, got '${key}'${why}`), 'ERR_CHECKPOINT');
    }
  }
  return extras as ShardExtras;
}

/** One max all-reduce: whether any rank failed. */
async function anyFailed(comm: Communicator, failed: boolean): Promise<boolean> {
  const flag = new Float64Array([failed ? 1 : 0]);
  await comm.allReduce(flag, 'max');
  return flag[0]! > 0;
}

export async function writeShardFile(c: ShardFileContext, path: string, extras: unknown, where: string): Promise<void> {
  let error: unknown;
  let checked: ShardExtras = {};
  try {
    checked = checkExtras(extras, where);
  } catch (e) {
    error = e;
  }
  // One number every rank's file carries, so that a load can tell a set of files from one write
  // from a mix of two; rank 0's draw (any rank's would do: the maximum).
  const tag = new Float64Array([randomInt(2 ** 47)]);
  await c.comm.allReduce(tag, 'max');
  if (error === undefined) {
    try {
      const { scheduler, metadata } = checked;
      // Written live: the pieces view the parameters, the shard optimizer streams its own storage.
      const params = c.pieces.map((piece) => new Parameter(piece.part.data, { name: String(piece.whole.id) }));
      const source = c.shard ?? ({ state: {}, param_groups: [] } as unknown as StateDictInput);
      await writeStateDict(path, source, { params, ...(scheduler === undefined ? {} : { scheduler }), metadata: { zero_shard: describeShard(c, tag[0]!), user: metadata } });
    } catch (e) {
      error = e;
    }
  }
  const others = await anyFailed(c.comm, error !== undefined);
  if (error !== undefined) throw error;
  if (others) {
    throw new SimdAdamError('ERR_CHECKPOINT', `${where}: another rank failed to write its shard file (see its error); this rank wrote ${path}, but the set of files is incomplete`);
  }
}

interface Prepared {
  tag: number;
  fullGroups: unknown;
  shard: Core | undefined;
  data: Array<[Piece, Float32Array]>;
  checkpoint: Checkpoint;
}

function mismatch(where: string, path: string, what: string): SimdAdamError {
  return new SimdAdamError('ERR_CHECKPOINT', `${where}: ${path} ${what}; nothing was changed on any rank`);
}

/** Reads and checks this rank's file and builds what loading it makes, changing nothing. */
async function prepare(c: ShardFileContext, path: string, where: string): Promise<Prepared> {
  const checkpoint = await readStateDict(path);
  const meta = (checkpoint.metadata as { zero_shard?: ShardMetadata } | undefined)?.zero_shard;
  if (meta === null || typeof meta !== 'object' || meta.format !== SHARD_FORMAT) {
    throw mismatch(where, path, 'is not a ZeroRedundancyOptimizer shard file (its metadata has no zero_shard; write shard files with writeShard())');
  }
  const ours = describeShard(c, meta.tag);
  if (meta.world_size !== ours.world_size || meta.rank !== ours.rank) {
    throw mismatch(
      where,
      path,
      `was written by rank ${meta.rank} of a world of ${meta.world_size}, but this is rank ${ours.rank} of ${ours.world_size}: a shard file loads only at the world size ` +
        'and rank that wrote it (to change the world size, save with consolidateStateDict() and load that with loadStateDict())',
    );
  }
  if (meta.optimizer !== ours.optimizer) throw mismatch(where, path, `holds the state of ${meta.optimizer}, but this optimizer is ${ours.optimizer}`);
  if (meta.total !== ours.total || JSON.stringify(meta.params) !== JSON.stringify(ours.params)) {
    throw mismatch(where, path, `was written for another model layout (${meta.params?.length} parameters in ${meta.total} elements; here ${ours.params.length} in ${ours.total}, or other sizes or offsets)`);
  }
  if (JSON.stringify(meta.shard) !== JSON.stringify(ours.shard)) {
    throw mismatch(where, path, `holds elements [${meta.shard?.join(', ')}) of the flat buffer, but this rank's shard is [${ours.shard.join(', ')})`);
  }
  const data = c.pieces.map((piece): [Piece, Float32Array] => {
    const saved = checkpoint.params?.[String(piece.whole.id)];
    if (!saved || saved.data.length !== piece.to - piece.from) {
      throw mismatch(where, path, `lacks this rank's ${piece.to - piece.from} elements of ${piece.whole.param.label} (tensor param.${piece.whole.id})`);
    }
    return [piece, saved.data];
  });
  // The saved hyperparameters, validated by a full optimizer of their own (it holds no state).
  const trial = new c.Ctor(
    c.full.paramGroups.map((group) => ({ ...c.hyperOf(group), params: [...group.params] })),
    c.optimizerLevel,
  );
  trial.loadStateDict({ state: {}, param_groups: meta.param_groups } as unknown as StateDictInput);
  const shard = c.buildShard(trial.paramGroups);
  if (shard) shard.loadStateDict(checkpoint);
  else if (Object.keys(checkpoint.state).length > 0) throw mismatch(where, path, 'holds state, but this rank owns no elements');
  return { tag: meta.tag, fullGroups: meta.param_groups, shard, data, checkpoint };
}

export async function loadShardFile(c: ShardFileContext, path: string, where: string): Promise<ShardCheckpoint> {
  let prepared: Prepared | undefined;
  let error: unknown;
  try {
    if (typeof path !== 'string' || path.length === 0) throw coded(new TypeError(`${where}: path must be a non-empty string, got ${describe(path)}`), 'ERR_CHECKPOINT');
    prepared = await prepare(c, path, where);
  } catch (e) {
    error = e;
  }
  // Whether every rank is ready, and whether all files carry one tag (its largest and smallest).
  const tag = prepared?.tag ?? 0;
  const vote = new Float64Array([error === undefined ? 0 : 1, tag, -tag]);
  await c.comm.allReduce(vote, 'max');
  if (error !== undefined) throw error;
  if (vote[0]! > 0) throw new SimdAdamError('ERR_RANK_MISMATCH', `${where}: another rank could not load its shard file (see its error); nothing was changed on any rank`);
  if (vote[1] !== -vote[2]!) {
    throw mismatch(where, path, "and the other ranks' files come from different writeShard() calls (a mixed set of shard files)");
  }
  const { fullGroups, shard, data, checkpoint } = prepared!;
  c.full.loadStateDict({ state: {}, param_groups: fullGroups } as unknown as StateDictInput);
  c.adopt(shard);
  for (const [piece, values] of data) piece.part.data.set(values);
  // Every rank loaded its shard of the parameters; gathering them restores all of them everywhere.
  await c.comm.allGather(c.flat, c.counts);
  const out: ShardCheckpoint = {};
  if (checkpoint.scheduler) out.scheduler = checkpoint.scheduler;
  const user = (checkpoint.metadata as { user?: unknown }).user;
  if (user !== undefined) out.metadata = user;
  return out;
}
