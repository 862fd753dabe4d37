/** Loads the native addon once. If it cannot be loaded, importing simd-adam fails with one
 * actionable error: there is no silent fallback to the slow TypeScript kernel. */
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SimdAdamError } from '../common/errors.js';

/** Column indices of the step plan, exported by the addon from native/runtime/segment_table.h. */
export interface PlanLayout {
  segment: Record<
    | 'LENGTH' | 'SCALARS_ROW' | 'PARAM_BUFFER' | 'PARAM_OFFSET' | 'GRAD_BUFFER' | 'GRAD_OFFSET' | 'EXP_AVG_BUFFER'
    | 'EXP_AVG_OFFSET' | 'EXP_AVG_SQ_BUFFER' | 'EXP_AVG_SQ_OFFSET' | 'MAX_EXP_AVG_SQ_BUFFER'
    | 'MAX_EXP_AVG_SQ_OFFSET' | 'STATE_FORMAT' | 'EXP_AVG_SCALE_BUFFER' | 'EXP_AVG_SCALE_OFFSET'
    | 'EXP_AVG_SQ_SCALE_BUFFER' | 'EXP_AVG_SQ_SCALE_OFFSET' | 'MAX_EXP_AVG_SQ_SCALE_BUFFER'
    | 'MAX_EXP_AVG_SQ_SCALE_OFFSET' | 'STRIDE',
    number
  >;
  scalars: Record<
    | 'BETA1' | 'ONE_MINUS_BETA1' | 'BETA2' | 'ONE_MINUS_BETA2' | 'EPS' | 'WEIGHT_DECAY'
    | 'DECAY_FACTOR' | 'BIAS_CORRECTION2_SQRT' | 'NEG_STEP_SIZE' | 'FLAGS' | 'STRIDE',
    number
  >;
  flags: Record<'AMSGRAD' | 'MAXIMIZE' | 'COUPLED_DECAY' | 'DECOUPLED_DECAY', number>;
  /** Values of the STATE_FORMAT column. */
  formats: Record<'F32' | 'BF16' | 'Q8', number>;
}

/** Constants of the reductions and of the step pre-pass (native/napi/reduce_napi.cc, native/runtime/guard.h). */
export interface ReduceLayout {
  /** Columns per view row: (buffer index, element offset, length). */
  VIEW_STRIDE: number;
  ops: Record<'SUM_SQ' | 'SUM_ABS' | 'SUM_POW' | 'MAX_ABS' | 'FIRST_NON_FINITE', number>;
  guard: Record<'NON_FINITE' | 'ZERO_SCAN' | 'ZERO_GRAD' | 'ZERO_PARAM' | 'ZERO_EXP_AVG', number>;
}

export type Buffers = ReadonlyArray<ArrayBuffer | Uint8Array>;

/** A step plan held natively: its buffers (strongly referenced) and decoded segments. */
export interface NativePlan {
  readonly __nativePlan: unique symbol;
}

/** Where a guarded step was refused: [segment, element] of the first non-finite grad. */
export type Stop = [number, number];

export interface NativeAddon {
  /** Runs every segment of a step plan with the selected kernel: one crossing per step. Every
   * step (and reduction) claims the memory it reads and writes for as long as it runs, and
   * throws an Error with code ERR_BUSY, having done nothing, if a running step holds it. With
   * guard flags, a read-only pre-pass runs first in the same crossing, and the step is refused
   * (nothing written, the Stop returned) if a grad is not finite. */
  step(buffers: Buffers, table: Float64Array, scalars: Float64Array): void;
  step(buffers: Buffers, table: Float64Array, scalars: Float64Array, guardFlags: number, zeroReport: Uint8Array | null): Stop | null | undefined;
  /** Decodes a plan once, for an optimizer to run step after step with new scalars; with
   * scalars, also runs it (one crossing for a step that had to rebuild its plan). With guard
   * arguments it returns [plan, Stop | null]. */
  prepare(buffers: Buffers, table: Float64Array, scalars?: Float64Array): NativePlan;
  prepare(buffers: Buffers, table: Float64Array, scalars: Float64Array, guardFlags: number, zeroReport: Uint8Array | null): [NativePlan, Stop | null];
  /** `checked`: the caller compared every plan buffer's byteLength with what it was when the
   * plan was prepared, just now, so the addon need not re-read each buffer (~50 ns apiece). */
  run(plan: NativePlan, scalars: Float64Array, checked?: boolean): void;
  run(plan: NativePlan, scalars: Float64Array, checked: boolean, guardFlags: number, zeroReport: Uint8Array | null): Stop | null | undefined;
  /** The same step on a libuv worker; the plan (and every buffer) is held until it settles. With
   * guard arguments the pre-pass runs first, on the calling thread: a refused step returns its
   * Stop instead of a promise. */
  runAsync(plan: NativePlan, scalars: Float64Array, checked?: boolean): Promise<void>;
  runAsync(plan: NativePlan, scalars: Float64Array, checked: boolean, guardFlags: number, zeroReport: Uint8Array | null): Promise<void> | Stop;
  /** prepare and runAsync in one crossing: [plan, what runAsync returns]. */
  prepareAsync(buffers: Buffers, table: Float64Array, scalars: Float64Array): [NativePlan, Promise<void>];
  prepareAsync(buffers: Buffers, table: Float64Array, scalars: Float64Array, guardFlags: number, zeroReport: Uint8Array | null): [NativePlan, Promise<void> | Stop];
  /** Moves a prepared plan's grads to `column` (per segment: buffer index, element offset).
   * The plan keeps its first `fixed + from` buffers and appends `registry[from..]`, reading only
   * those; a grad that does not fit its buffer throws, and leaves the plan to decode again. */
  refreshGrads(plan: NativePlan, fixed: number, registry: Buffers, from: number, column: Float64Array): void;
  setNumThreads(n: number): void;
  numThreads(): number;
  tuning(options: { chunkElements?: number; parallelMin?: number }): void;
  /** The buffer's address modulo 64. */
  alignment(buffer: ArrayBuffer | Uint8Array): number;
  /** Per view: 1 if every element is ±0. */
  allZero(buffers: Buffers, table: Float64Array): Uint8Array;
  /** Per view: the reduction `op` (see reduceLayout.ops); `p` is used by SUM_POW only. */
  reduce(buffers: Buffers, table: Float64Array, op: number, p: number): Float64Array;
  /** Every view *= factor (rounded to float once), in place. */
  scale(buffers: Buffers, table: Float64Array, factor: number): void;
  reduceLayout: ReduceLayout;
  /** Claims the views (rows as reduce's; `writes`: 1 where the view is written) in the
   * process-wide record of memory in use: an id to release(), or 0 if a running step holds some
   * of it. The environment's teardown releases what its JS still holds. */
  claim(buffers: Buffers, table: Float64Array, writes: Uint8Array | null): number;
  release(id: number): void;
  /** True if claim() would be refused now. */
  inUse(buffers: Buffers, table: Float64Array, writes: Uint8Array | null): boolean;
  /** Claims held in the whole process (every worker) now. */
  liveClaims(): number;
  backends(): Array<{ name: string; supported: boolean }>;
  current(): string;
  select(name: string): boolean;
  planLayout: PlanLayout;
}

/** src/native/ in a clone run by tsx, dist/native/ when built: the package root is two up. */
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Developer option: SIMD_ADAM_ADDON=/abs/path/simd_adam.node loads that file instead of the
 * usual search (build/Release, then prebuilds/). `npm run test:sanitize` uses it to run the whole
 * suite, child processes included (they inherit the environment), against an ASan/UBSan build. */
function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const override = process.env.SIMD_ADAM_ADDON;
  try {
    if (override) return require(resolve(override)) as NativeAddon;
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeAddon;
    return nodeGypBuild(packageRoot);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    if (override) {
      throw new SimdAdamError('ERR_ADDON_LOAD', `simd-adam could not load the addon SIMD_ADAM_ADDON names (${override}): ${reason}`, { cause });
    }
    throw new SimdAdamError(
      'ERR_ADDON_LOAD',
      `simd-adam could not load its native addon for ${process.platform}-${process.arch} ` +
        `(Node ${process.versions.node}, ABI ${process.versions.modules}): ${reason}\n` +
        'Prebuilt binaries ship for linux-x64 and linux-arm64 with glibc 2.28 or later; elsewhere (musl,\n' +
        'macOS, Windows) the addon is compiled by its install script. Remedies:\n' +
        '  - if npm skipped the install script (npm may ask to approve it: `npm install-scripts approve\n' +
        '    simd-adam`), or the prebuild does not load here: `npm rebuild simd-adam --foreground-scripts`,\n' +
        '    which says why and compiles (needs a C++17 compiler, make and Python 3;\n' +
        '    Debian/Ubuntu: apt-get install -y g++ make python3; macOS: xcode-select --install);\n' +
        '  - in a clone of simd-adam: `npm run build:native`.',
      { cause },
    );
  }
}

export const addon: NativeAddon = load();
