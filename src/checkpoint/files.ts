/**
 * Checkpoint files: atomic writes (a temporary file in the same directory, fsync, rename), and
 * reads that treat the file as hostile (read once, every length checked against the bytes present
 * before anything is sliced or allocated).
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { SimdAdamError, typeError } from '../common/errors.js';
import type { StateDictInput } from '../optim/state_dict.js';
import { describe } from '../common/validate.js';
import { fromSafetensors, toSafetensors, type Checkpoint, type CheckpointExtras } from './layout.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

function checkPath(path: unknown, where: string): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw typeError('ERR_CHECKPOINT', `${where}: path must be a non-empty string, got ${describe(path)}`);
  }
  return path;
}

/**
 * Writes a state dict (from `opt.stateDict()`, its JSON round trip, or a PyTorch dump) as a
 * safetensors file, with optionally the model's parameters and a scheduler's state dict, so one
 * file resumes a whole run. Everything is validated and encoded before the disk is touched. The
 * write is atomic: a crash or an error never leaves a torn file at `path`.
 *
 * @param path The file to write (replaced if it exists); its folder must exist.
 * @param extras `params` and `scheduler` to store beside the state dict; default none.
 * @throws `ERR_STATE_DICT` (SimdAdamError, TypeError or RangeError) for a state dict that
 *   cannot be saved, as loadStateDict() would refuse it; SimdAdamError `ERR_DETACHED` for a
 *   parameter in `params` whose buffer was transferred.
 * @throws `ERR_CHECKPOINT`: a TypeError for an empty or non-string `path` or extras of the wrong
 *   type (a `scheduler` that is not a JSON-able object); a SimdAdamError for unnamed or duplicate
 *   parameter names in `params`, or an I/O error (the old file, if any, is left as it was).
 */
export async function writeStateDict(path: string, stateDict: StateDictInput, extras?: CheckpointExtras): Promise<void> {
  const where = 'writeStateDict()';
  checkPath(path, where);
  // Encoded into one buffer synchronously: the file is a snapshot of the moment of the call, even
  // if the caller steps (and so changes the parameters) while the write is in flight.
  const bytes = encodeSafetensors(toSafetensors(stateDict, extras, where));
  const dir = dirname(path);
  const temporary = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(temporary, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temporary, { force: true }).catch(() => undefined);
    throw new SimdAdamError('ERR_CHECKPOINT', `${where}: could not write ${path}: ${(error as Error).message}`, { cause: error });
  }
  await syncDirectory(dir);
}

/** Makes the rename itself durable where the platform allows fsync on a directory. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
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
 * layout). Returns the state dict, ready for `opt.loadStateDict()`, and `params` and `scheduler`
 * when the file holds them. A malformed file is a SimdAdamError with code ERR_CHECKPOINT; the
 * reader never allocates more than the file's size.
 *
 * @throws TypeError `ERR_CHECKPOINT` for an empty or non-string `path`; SimdAdamError
 *   `ERR_CHECKPOINT` when the file cannot be read or is not a well-formed checkpoint (truncated,
 *   bad header, offsets, dtypes or shapes, a negative or non-finite step). A well-formed file
 *   holding an invalid state dict is refused later, by loadStateDict() (`ERR_STATE_DICT`).
 */
export async function readStateDict(path: string): Promise<Checkpoint> {
  const where = `readStateDict(): ${checkPath(path, 'readStateDict()')}`;
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (error) {
    throw new SimdAdamError('ERR_CHECKPOINT', `${where}: could not read the file: ${(error as Error).message}`, { cause: error });
  }
  return fromSafetensors(decodeSafetensors(file, where), where);
}
