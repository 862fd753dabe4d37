/**
 * The MPI world as the optimizer sees it: rank, size and four collectives on typed arrays, each
 * run on libuv's thread pool by the native binding. Calls are queued so that at most one is in
 * MPI at a time (the binding asks for MPI_THREAD_SERIALIZED), in the order they were made, which
 * is the order every rank must make them in.
 */
import { createRequire } from 'node:module';
import { SimdAdamError } from 'simd-adam';

/** Reduction operators of {@link Communicator.allReduce}. */
export type ReduceOp = 'sum' | 'max' | 'min';

interface Binding {
  init(): { rank: number; size: number; threadLevel: string; library: string };
  reduceScatter(
    send: Float32Array, recv: Float32Array, counts: Int32Array, mean: boolean,
    scan?: Int32Array, sumSq?: boolean, fillArrays?: Float32Array[], fillOffsets?: Int32Array,
  ): Promise<ReduceScatterScan>;
  allGather(buf: Float32Array, counts: Int32Array): Promise<void>;
  allReduce(buf: Float64Array | Int32Array, op: ReduceOp): Promise<void>;
  barrier(): Promise<void>;
}

/** What {@link Communicator.reduceScatter} found in the ranges of `recv` it was asked to scan,
 * after the reduction (and the division, with `mean`). */
export interface ReduceScatterScan {
  /** Index in `recv` of the first NaN or ±Inf in the scanned ranges (in the order given); −1 if
   * none. */
  firstNonFinite: number;
  /** Σx² over the scanned ranges, in float64, in order (0 unless `sumSq` was asked for). */
  sumSq: number;
}

/** What {@link Communicator.reduceScatter} does on its worker thread besides reducing. */
export interface ReduceScatterOptions {
  /** [from, to) pairs of indices into `recv` to check for NaN and ±Inf after the reduction. */
  scan?: Int32Array;
  /** Also sum the squares over `scan`'s ranges. Default false. */
  sumSq?: boolean;
  /** Arrays to copy into `send` at these element offsets before the reduction. */
  fill?: { arrays: Float32Array[]; offsets: Int32Array };
}

/** Bytes this rank handed MPI for other ranks, counted per collective (see docs/distributed.md). */
export interface TrafficCounters {
  /** Payload of reduce-scatters and all-gathers that leaves this rank: for a reduce-scatter the
   * elements of the other ranks' blocks, for an all-gather this rank's block once per other rank. */
  bulkBytes: number;
  /** All-reduce payload (scalars, flags) times (size − 1). */
  smallBytes: number;
  collectives: number;
}

const INSTALL =
  'install an MPI library and rebuild the binding: apt-get install -y openmpi-bin libopenmpi-dev (or mpich libmpich-dev), then npm rebuild simd-adam-mpi';

function loadBinding(): Binding {
  const require = createRequire(import.meta.url);
  try {
    return require('../build/Release/simd_adam_mpi.node') as Binding;
  } catch (cause) {
    const why = (cause as { code?: string }).code === 'MODULE_NOT_FOUND' ? 'the MPI binding was not built' : `the MPI binding failed to load (${(cause as Error).message})`;
    throw new SimdAdamError('ERR_MPI', `mpiWorld(): ${why}; ${INSTALL}`, { cause });
  }
}

/** MPI_COMM_WORLD. Get it from {@link mpiWorld}. */
export class Communicator {
  /** This process's rank in the world, 0 ≤ rank < size. */
  readonly rank: number;
  /** The number of processes (`mpirun -np N`). */
  readonly size: number;
  /** The thread level MPI granted (at least MPI_THREAD_SERIALIZED). */
  readonly threadLevel: string;
  /** MPI_Get_library_version(). */
  readonly library: string;
  /** Bytes handed to MPI so far; reset it with {@link resetTraffic}. */
  readonly traffic: TrafficCounters = { bulkBytes: 0, smallBytes: 0, collectives: 0 };
  readonly #binding: Binding;
  #tail: Promise<unknown> = Promise.resolve();

  /** @internal Use mpiWorld(). */
  constructor(binding: Binding) {
    const info = binding.init();
    this.#binding = binding;
    this.rank = info.rank;
    this.size = info.size;
    this.threadLevel = info.threadLevel;
    this.library = info.library;
  }

  resetTraffic(): void {
    Object.assign(this.traffic, { bulkBytes: 0, smallBytes: 0, collectives: 0 });
  }

  /**
   * Sums `send` (the full buffer, Float32) over ranks and leaves this rank's block in `recv`;
   * with `mean`, divides that sum by `size` once, after the reduction. `counts[r]` is rank r's
   * block length; blocks are contiguous, in rank order. `send` and `recv` must not overlap.
   * Work the worker thread does around the reduction, off the event loop: `fill` copies arrays
   * into `send` at element offsets first (grads that are not views of one flat buffer); `scan`
   * ([from, to) pairs of indices into `recv`) checks those ranges for NaN and ±Inf afterwards, and
   * with `sumSq` sums their squares too: the result says what it found (nothing scanned: −1, 0).
   * @throws TypeError (code ERR_MPI) on mismatched lengths, ranges outside `recv`, or fill arrays
   *   outside `send` or overlapping it; rejects (ERR_MPI) if MPI fails.
   */
  reduceScatter(send: Float32Array, recv: Float32Array, counts: Int32Array, mean = false, options: ReduceScatterOptions = {}): Promise<ReduceScatterScan> {
    const { scan, sumSq = false, fill } = options;
    return this.#enqueue(
      () => this.#binding.reduceScatter(send, recv, counts, mean, scan, sumSq, fill?.arrays, fill?.offsets),
      4 * (send.length - (counts[this.rank] ?? 0)),
      'bulk',
    );
  }

  /** In place: rank r's block of `buf` (at the sum of the counts before r) goes to every rank.
   * @throws TypeError (code ERR_MPI) on mismatched lengths; rejects (ERR_MPI) if MPI fails. */
  allGather(buf: Float32Array, counts: Int32Array): Promise<void> {
    return this.#enqueue(() => this.#binding.allGather(buf, counts), 4 * (counts[this.rank] ?? 0) * (this.size - 1), 'bulk');
  }

  /** In place, elementwise over ranks. Float64Array or Int32Array.
   * @throws TypeError (code ERR_MPI) for another array type or op; rejects (ERR_MPI) if MPI fails. */
  allReduce(buf: Float64Array | Int32Array, op: ReduceOp = 'sum'): Promise<void> {
    return this.#enqueue(() => this.#binding.allReduce(buf, op), buf.byteLength * (this.size - 1), 'small');
  }

  /** Resolves once every rank has called it. */
  barrier(): Promise<void> {
    return this.#enqueue(() => this.#binding.barrier(), 0, 'small');
  }

  #enqueue<T>(start: () => Promise<T>, bytes: number, kind: 'bulk' | 'small'): Promise<T> {
    // The binding validates synchronously; starting only once the previous call settled keeps
    // MPI's calls serialized. A failed call does not block the ones after it.
    const run = this.#tail.then(() => {
      const promise = start();
      this.traffic[kind === 'bulk' ? 'bulkBytes' : 'smallBytes'] += bytes;
      this.traffic.collectives++;
      return promise;
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }
}

let world: Communicator | undefined;

/**
 * MPI_COMM_WORLD, initializing MPI on first use (MPI_Init_thread, asking for and checking
 * MPI_THREAD_SERIALIZED). MPI is finalized when the process exits. Launch with
 * `mpirun -np N node train.js`; run without mpirun, it is a world of one.
 * @throws SimdAdamError (code ERR_MPI) when no MPI library or binding is installed (the message
 * says what to install), or MPI fails to initialize.
 */
export async function mpiWorld(): Promise<Communicator> {
  if (world) return world;
  const binding = loadBinding();
  try {
    world = new Communicator(binding);
  } catch (cause) {
    throw new SimdAdamError('ERR_MPI', `mpiWorld(): ${(cause as Error).message}`, { cause });
  }
  return world;
}
