/**
 * Tensor data to and from a file with positioned I/O, never holding the whole file: large tensors
 * go straight between their own memory and the file in chunks (a write reads the live view, a read
 * fills the array it returns), small ones are gathered into one staging buffer so that a model of
 * many small parameters costs a few large system calls rather than one per tensor. Chunks stay
 * far below the 2 GiB a single fs call may move, and below V8's 2^32-element typed array limit.
 */

import { SimdAdamError } from '../common/errors.js';
import { dtypeSize, LITTLE_ENDIAN, swapInPlace } from './safetensors.js';

/** The part of node:fs/promises' FileHandle these classes use, spelled out so that the published
 * declarations need no Node types. */
export interface PositionedFile {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

/** Bytes per system call: large enough that per-call costs vanish next to the copy, small
 * enough to stay a rounding error in peak memory. */
export const CHUNK_BYTES = 16 * 2 ** 20;

/** Tensors smaller than this are staged (copied) rather than written or read on their own. */
const STAGE_BELOW = 2 ** 20;

/** Chunks of one large tensor in flight at once: libuv's default thread pool has 4 threads, and
 * the page faults of fresh arrays and the copies then proceed on every core. */
const IN_FLIGHT = 4;

/** Runs `io(at, n)` over [0, total) in CHUNK_BYTES pieces, IN_FLIGHT at a time. A batch settles
 * whole before an error surfaces, so no call is left running unobserved. */
async function chunked(total: number, io: (at: number, n: number) => Promise<void>, before: () => void = () => {}): Promise<void> {
  for (let at = 0; at < total; ) {
    before();
    const batch: Array<Promise<void>> = [];
    for (let k = 0; k < IN_FLIGHT && at < total; k++) {
      const n = Math.min(CHUNK_BYTES, total - at);
      batch.push(io(at, n));
      at += n;
    }
    const results = await Promise.allSettled(batch);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** A tensor to write: its elements in the host's byte order, and the byte count it had when the
 * write was planned (a view whose buffer is detached meanwhile reads as empty). */
export interface TensorSource {
  name: string;
  dtype: string;
  shape: readonly number[];
  data: ArrayBufferView;
  byteLength: number;
}

function chunkOf(data: ArrayBufferView, at: number, length: number): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset + at, length);
}

/** Sequential writes from position 0, through a staging buffer for the small pieces. */
export class ChunkedWriter {
  readonly #handle: PositionedFile;
  readonly #where: string;
  readonly #stage: Uint8Array;
  #staged = 0;
  #position = 0;

  constructor(handle: PositionedFile, totalBytes: number, where: string) {
    this.#handle = handle;
    this.#where = where;
    this.#stage = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(totalBytes, 1)));
  }

  /** Appends raw bytes (already in file order). */
  async bytes(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.byteLength; ) {
      if (this.#staged === this.#stage.byteLength) await this.flush();
      const n = Math.min(bytes.byteLength - at, this.#stage.byteLength - this.#staged);
      this.#stage.set(bytes.subarray(at, at + n), this.#staged);
      this.#staged += n;
      at += n;
    }
  }

  /** Appends a tensor's elements, swapped to little-endian on a big-endian host. */
  async tensor(t: TensorSource): Promise<void> {
    const width = dtypeSize(t.dtype)!;
    const swap = !LITTLE_ENDIAN && width > 1;
    const direct = !swap && t.byteLength >= STAGE_BELOW;
    if (direct) {
      await this.flush();
      const start = this.#position;
      this.#position += t.byteLength;
      await chunked(t.byteLength, (at, n) => this.#writeAt(chunkOf(t.data, at, n), start + at), () => this.#checkAttached(t));
      return;
    }
    for (let at = 0; at < t.byteLength; ) {
      this.#checkAttached(t);
      // Staged: whole elements only, so that a swap never straddles two stagings.
      if (this.#stage.byteLength - this.#staged < width) await this.flush();
      const room = this.#stage.byteLength - this.#staged;
      const n = Math.min(t.byteLength - at, room - (room % width));
      const target = this.#stage.subarray(this.#staged, this.#staged + n);
      target.set(chunkOf(t.data, at, n));
      if (swap) swapInPlace(target, width);
      this.#staged += n;
      at += n;
    }
  }

  /** Writes what is staged. */
  async flush(): Promise<void> {
    if (this.#staged === 0) return;
    const n = this.#staged;
    this.#staged = 0;
    await this.#write(this.#stage.subarray(0, n));
  }

  #checkAttached(t: TensorSource): void {
    if (t.data.byteLength !== t.byteLength) {
      throw new SimdAdamError('ERR_DETACHED', `${this.#where}: the buffer of tensor '${t.name}' was detached (transferred?) while it was being written`);
    }
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const start = this.#position;
    this.#position += bytes.byteLength;
    await this.#writeAt(bytes, start);
  }

  async #writeAt(bytes: Uint8Array, position: number): Promise<void> {
    for (let done = 0; done < bytes.byteLength; ) {
      const { bytesWritten } = await this.#handle.write(bytes, done, bytes.byteLength - done, position + done);
      if (bytesWritten <= 0) throw new SimdAdamError('ERR_CHECKPOINT', `${this.#where}: the file system accepted no bytes at offset ${position + done}`);
      done += bytesWritten;
    }
  }
}

/** Sequential reads from `start`, through a staging buffer for the small pieces. */
export class ChunkedReader {
  readonly #handle: PositionedFile;
  readonly #where: string;
  readonly #stage: Uint8Array;
  /** File position of the next byte not yet read into the stage or an array. */
  #position: number;
  readonly #end: number;
  /** The stage holds [#stageStart, #stageEnd) of the file's bytes, from its index 0. */
  #stageStart = 0;
  #stageEnd = 0;

  constructor(handle: PositionedFile, start: number, end: number, where: string) {
    this.#handle = handle;
    this.#where = where;
    this.#position = start;
    this.#stageStart = start;
    this.#stageEnd = start;
    this.#end = end;
    this.#stage = new Uint8Array(Math.min(CHUNK_BYTES, Math.max(end - start, 1)));
  }

  /** Fills `data` (a fresh typed array of `dtype`) with the next data.byteLength bytes of the
   * file, swapped to the host's order. */
  async tensor(data: ArrayBufferView, dtype: string): Promise<void> {
    const total = data.byteLength;
    const bytes = (at: number, n: number) => chunkOf(data, at, n);
    let at = 0;
    // First whatever the stage already holds.
    const buffered = Math.min(total, this.#stageEnd - this.#position);
    if (buffered > 0) {
      bytes(0, buffered).set(this.#stage.subarray(this.#position - this.#stageStart, this.#position - this.#stageStart + buffered));
      this.#position += buffered;
      at = buffered;
    }
    if (total - at >= STAGE_BELOW) {
      const [first, start] = [at, this.#position];
      await chunked(total - first, (k, n) => this.#read(bytes(first + k, n), start + k));
      this.#position += total - first;
    } else if (at < total) {
      await this.#refill();
      const n = total - at;
      bytes(at, n).set(this.#stage.subarray(0, n));
      this.#position += n;
    }
    if (!LITTLE_ENDIAN) swapInPlace(bytes(0, total), dtypeSize(dtype)!);
  }

  /** Reads the next stage-full of the file (or what remains of it). */
  async #refill(): Promise<void> {
    const n = Math.min(this.#stage.byteLength, this.#end - this.#position);
    await this.#read(this.#stage.subarray(0, n), this.#position);
    this.#stageStart = this.#position;
    this.#stageEnd = this.#position + n;
  }

  async #read(into: Uint8Array, position: number): Promise<void> {
    for (let done = 0; done < into.byteLength; ) {
      const { bytesRead } = await this.#handle.read(into, done, into.byteLength - done, position + done);
      if (bytesRead <= 0) {
        throw new SimdAdamError('ERR_CHECKPOINT', `${this.#where}: the file ended at byte ${position + done}, before the ${this.#end} its header promised (was it truncated while being read?)`);
      }
      done += bytesRead;
    }
  }
}
