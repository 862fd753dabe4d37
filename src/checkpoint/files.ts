/**
 * Checkpoint files of any size. Writes stream the header and then each tensor from its memory
 * (an optimizer's live state, or a state dict's arrays) into a temporary file in the same
 * directory, which is fsynced and renamed over the path, and the directory fsynced. Reads use
 * positioned I/O: the header first, checked against the file's size, then each tensor straight
 * into the array that is returned. Neither side ever holds the whole file in one buffer.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { SimdAdamError, typeError } from '../common/errors.js';
import { describe } from '../common/validate.js';
import { Optimizer } from '../optim/optimizer.js';
import type { AnyOptimizer } from '../optim/optimizer.js';
import type { LiveStateSource, StateDictInput } from '../optim/state_dict.js';
import { foreignFormat } from './foreign.js';
import { planLive, planStateDict, type CheckpointExtras, type CheckpointPlan } from './layout.js';
import { assemble, checkLayout, type Checkpoint } from './restore.js';
import { allocateTensor, checkHeaderLength, dtypeSize, encodeHeader, MAX_HEADER_BYTES, parseHeader, type RawTensor } from './safetensors.js';
import { ChunkedReader, ChunkedWriter } from './stream.js';

function checkPath(path: unknown, where: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw typeError('ERR_CHECKPOINT', `${where}: path must be a non-empty string, got ${describe(path)}`);
  }
  return path;
}

/**
 * Writes a checkpoint as a safetensors file: an optimizer's state (from the optimizer itself, or
 * a state dict from `opt.stateDict()`, its JSON round trip or a PyTorch dump), and optionally the
 * model's parameters, a scheduler's state dict and metadata of your own, so one file resumes a
 * whole run. Files of any size: nothing is encoded into one buffer.
 *
 * - Given the optimizer, the state streams from the optimizer's own storage, without a copy. The
 *   optimizer is held until the returned promise settles: step(), stepAsync(), loadStateDict(),
 *   stateDict(), zeroGrad() and explain() refuse with ERR_BUSY meanwhile, so the file is the
 *   state of the moment of the call. If a state dict hook is registered, stateDict() is taken
 *   (hooks run) and written instead.
 * - Given a state dict, its arrays are written from where they are (leave them be until the
 *   promise settles); parameters passed as Parameter objects are copied at the call, so the file
 *   holds what they held then even if a step runs meanwhile.
 *
 * Everything is validated before the disk is touched. The write is atomic: a crash or an error
 * never leaves a torn file at `path`.
 *
 * @param path The file to write (replaced if it exists); its folder must exist.
 * @param source an Adam/AdamW optimizer, or a state dict.
 * @param extras `{ params?, scheduler?, metadata? }`, see {@link CheckpointExtras}.
 * @throws SimdAdamError `ERR_BUSY` when `source` is an optimizer with a stepAsync() (or another
 *   write) in flight; `ERR_STATE_DICT` (SimdAdamError, TypeError or RangeError) for a state dict
 *   that cannot be saved, `ERR_STATE` for corrupted live state; `ERR_DETACHED` for a buffer
 *   transferred before or during the write.
 * @throws `ERR_CHECKPOINT`: a TypeError for an empty or non-string `path` or extras of the wrong
 *   type (a `scheduler` that is not an object, `metadata` that is not JSON-serialisable); a
 *   SimdAdamError for unnamed or duplicate parameter names in `params`, a header beyond 100 MB,
 *   or an I/O error (the old file, if any, is left as it was).
 */
export async function writeStateDict(path: string, source: StateDictInput | AnyOptimizer, extras?: CheckpointExtras): Promise<void> {
  const where = 'writeStateDict()';
  checkPath(path, where);
  let plan: CheckpointPlan;
  let release = () => {};
  if (source instanceof Optimizer) {
    // Planned and held in one synchronous stretch: nothing can step in between.
    const streams = source as unknown as Partial<LiveStateSource>;
    const live = typeof streams.liveStateDict === 'function' ? streams.liveStateDict() : undefined;
    plan = live ? planLive(live, extras, where) : planStateDict(source.stateDict(), extras, where);
    release = source.beginExclusiveUse(where);
  } else {
    plan = planStateDict(source, extras, where);
  }
  try {
    await writePlan(path, plan, where);
  } finally {
    release();
  }
}

async function writePlan(path: string, plan: CheckpointPlan, where: string): Promise<void> {
  const { header, dataLength } = encodeHeader(plan.tensors, plan.metadata);
  if (header.byteLength - 8 > MAX_HEADER_BYTES) {
    throw new SimdAdamError('ERR_CHECKPOINT', `${where}: the header (tensor names, param_groups, scheduler, metadata) would take ${header.byteLength - 8} bytes, beyond the ${MAX_HEADER_BYTES} a safetensors reader accepts`);
  }
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx');
    const writer = new ChunkedWriter(handle, header.byteLength + dataLength, where);
    await writer.bytes(header);
    for (const t of plan.tensors) await writer.tensor(t);
    await writer.flush();
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temporary, { force: true }).catch(() => undefined);
    if (error instanceof SimdAdamError) throw error;
    throw new SimdAdamError('ERR_CHECKPOINT', `${where}: could not write ${path}: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable where the platform allows fsync on a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows and some file systems refuse to fsync a directory; the file itself is already synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Reads a checkpoint written by {@link writeStateDict} (or by Python's safetensors in the same
 * layout), of any size. Returns the state dict, ready for `opt.loadStateDict()`, and `params`,
 * `scheduler` and `metadata` when the file holds them. The header is read and checked against
 * the file's size first; then each tensor is read straight into the Float32Array returned for
 * it: peak memory is the returned arrays plus 16 MiB.
 *
 * @throws TypeError `ERR_CHECKPOINT` for an empty or non-string `path`; SimdAdamError
 *   `ERR_CHECKPOINT` for a missing or malformed file (never an allocation larger than the file),
 *   a file of another format (a torch.save zip or pickle, JSON: the message says how to convert
 *   it), or a tensor beyond the 2^32 elements a typed array can hold. A well-formed file holding
 *   an invalid state dict is refused later, by loadStateDict() (`ERR_STATE_DICT`).
 */
export async function readStateDict(path: string): Promise<Checkpoint> {
  const where = `readStateDict(): ${checkPath(path, 'readStateDict()')}`;
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    return await readOpen(handle, where);
  } catch (error) {
    if (error instanceof SimdAdamError) throw error;
    throw new SimdAdamError('ERR_CHECKPOINT', `${where}: could not read the file: ${(error as Error).message}`, { cause: error });
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function readOpen(handle: FileHandle, where: string): Promise<Checkpoint> {
  const size = (await handle.stat()).size;
  const first = new Uint8Array(Math.min(size, 16));
  await handle.read(first, 0, first.byteLength, 0);
  let headerBytes: number;
  let parsed: ReturnType<typeof parseHeader>;
  try {
    headerBytes = checkHeaderLength(first, size, where);
    const header = new Uint8Array(headerBytes);
    const { bytesRead } = await handle.read(header, 0, headerBytes, 8);
    if (bytesRead !== headerBytes) throw new SimdAdamError('ERR_CHECKPOINT', `${where}: the file ended inside its header (was it truncated while being read?)`);
    parsed = parseHeader(header, size - 8 - headerBytes, where);
  } catch (error) {
    // Another format fails here; say what it is rather than what its first bytes decode to.
    const foreign = foreignFormat(first);
    if (foreign && error instanceof SimdAdamError) throw new SimdAdamError('ERR_CHECKPOINT', `${where}: ${foreign}`, { cause: error });
    throw error;
  }
  const layout = checkLayout(parsed.entries, parsed.metadata, where);
  const reader = new ChunkedReader(handle, 8 + headerBytes, size, where);
  const tensors: Array<[string, RawTensor]> = [];
  for (const e of parsed.entries) {
    const data = allocateTensor(e.dtype, (e.end - e.begin) / dtypeSize(e.dtype)!);
    await reader.tensor(data, e.dtype);
    tensors.push([e.name, { dtype: e.dtype, shape: e.shape, data }]);
  }
  return assemble(tensors, layout, where);
}
