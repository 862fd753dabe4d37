/**
 * The benchmark addon (native/bench/, never shipped): the roofline probes and the bare kernel,
 * timed natively over the same kernels, dispatch and thread pool code as a step. `npm run bench`
 * builds it first (`npm run build:bench`, cmake-js into build-bench/). It has a pool and a
 * backend choice of its own, so every call mirrors the shipped addon's current settings first.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { backend, numThreads } from '../src/index.js';
import type { Buffers } from '../src/native/addon.js';

/** 'adam': the selected kernel; 'traffic': 28 bytes/element moved, no math ('traffic-bf16': 20,
 * 'traffic-q8': 16.06, the traffic of reduced-precision state); 'triad': STREAM; 'update-q8' (x86-64
 * with AVX-512F only): the float32 update over 'traffic-q8', the 8-bit step with free
 * (de)quantizing. */
export type ProbeKind = 'adam' | 'traffic' | 'traffic-bf16' | 'traffic-q8' | 'triad' | 'update-q8';

interface BenchAddon {
  probe(kind: ProbeKind, param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, reps: number, parallel: boolean): Float64Array;
  probePlan(kind: 'adam' | 'traffic', buffers: Buffers, table: Float64Array, reps: number, parallel: boolean): Float64Array;
  select(name: string): boolean;
  setNumThreads(n: number): void;
}

const path = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'build-bench', 'Release', 'simd_adam_bench.node');
if (!existsSync(path)) throw new Error(`bench: ${path} is missing: run \`npm run build:bench\` (npm run bench does it first)`);
const bench = createRequire(import.meta.url)(path) as BenchAddon;

/** The bench addon, set to the shipped addon's backend and thread count. */
export function probes(): BenchAddon {
  const name = backend();
  if (name !== 'js' && !bench.select(name)) throw new Error(`bench: the bench addon cannot select backend '${name}'`);
  bench.setNumThreads(numThreads());
  return bench;
}
