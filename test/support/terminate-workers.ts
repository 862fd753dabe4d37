/** A child process that starts workers running simd-adam (terminate-worker.ts) and terminates
 * each at a random moment: during its import, or during a step, stepAsync, clipGradNorm or
 * explain, with the non-finite guard on or off, on 1 or 2 threads. It exits 0 only if the
 * process survived every termination; a crash shows as its exit status or signal.
 * Usage: node --import tsx test/support/terminate-workers.ts <rounds> <seed> */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';

import { build } from 'esbuild';

import type { Operation } from './terminate-worker.js';

const rounds = Number(process.argv[2] ?? 20);
let seed = Number(process.argv[3] ?? 1) >>> 0;
/** xorshift32: the same terminations for the same seed. */
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/* The worker's code bundled once into one ES module (esbuild, which tsx runs on): a worker then
 * starts in tens of milliseconds instead of registering tsx and compiling the sources again. The
 * bundle loads the addon SIMD_ADAM_ADDON names (the sanitized one under test:sanitize). */
const root = fileURLToPath(new URL('../..', import.meta.url));
process.env.SIMD_ADAM_ADDON ??= join(root, 'build', 'Release', 'simd_adam.node');
const dir = mkdtempSync(join(tmpdir(), 'simd-adam-terminate-'));
const bundle = join(dir, 'worker.mjs');
await build({
  entryPoints: [fileURLToPath(new URL('./terminate-worker.ts', import.meta.url))],
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile: bundle,
  external: ['node-gyp-build'],
  // The sources find the package root (package.json, node-gyp-build's search) from their own
  // URL, two levels down: give them one from there instead of the bundle's temporary path.
  define: { 'import.meta.url': JSON.stringify(pathToFileURL(join(root, 'src', 'common', 'version.ts')).href) },
  banner: { js: "import { createRequire as __simdAdamRequire } from 'node:module'; const require = __simdAdamRequire(import.meta.url);" },
  logLevel: 'error',
});
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const ops: Operation[] = ['step', 'stepAsync', 'clipGradNorm', 'explain'];
const counts: Record<string, number> = {};

for (let r = 0; r < rounds; r++) {
  const job = { op: pick(ops), guard: random() < 0.5, threads: random() < 0.5 ? 1 : 2, n: 1 << 20 };
  const early = random() < 0.2; // terminated while it still loads the package
  const worker = new Worker(bundle, { workerData: job });
  let error: Error | undefined;
  const failed = new Promise<Error>((resolve) => worker.once('error', (e) => resolve((error = e))));
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  if (early) await sleep(random() * 200);
  else {
    const ready = new Promise((resolve) => worker.once('message', resolve));
    const first = await Promise.race([ready, failed, exited]);
    if (first instanceof Error) throw first;
    await sleep(random() * 25);
  }
  await worker.terminate();
  await exited;
  // The worker must have been running its loop when terminated, not stopped by an error of its own.
  if (error) throw error;
  const key = early ? 'early' : `${job.op}/${job.guard ? 'guard' : 'plain'}/${job.threads}`;
  counts[key] = (counts[key] ?? 0) + 1;
}
console.log(JSON.stringify({ rounds, counts }));
