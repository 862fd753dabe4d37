/** Runs in a worker that the parent terminates at a random moment: one operation of simd-adam
 * over a few MiB, forever (see terminate-workers.ts). */
import { parentPort, workerData } from 'node:worker_threads';

import { Adam, clipGradNorm, Parameter, setNumThreads } from '../../src/index.js';

export type Operation = 'step' | 'stepAsync' | 'clipGradNorm' | 'explain';
const { op, guard, threads, n } = workerData as { op: Operation; guard: boolean; threads: number; n: number };

setNumThreads(threads);
const params = [n, n / 4].map((size, i) => {
  const p = new Parameter(new Float32Array(size).fill(0.5 + i));
  p.grad = new Float32Array(size).fill(0.25);
  return p;
});
const opt = new Adam(params, { lr: 1e-3, ...(guard ? { nonFinite: 'skip' as const, warnOnZeroGrad: true } : {}) });
const turn = () => new Promise((resolve) => setImmediate(resolve));

parentPort!.postMessage('ready');
for (let round = 0; ; round++) {
  if (op === 'stepAsync') await opt.stepAsync();
  else if (op === 'step') opt.step();
  else if (op === 'clipGradNorm') clipGradNorm(params, round % 2 ? 1e-3 : 1e9);
  else opt.explain();
  // New grad arrays now and then: the plan is prepared again (a native plan object made, wrapped).
  if (round % 3 === 0) for (const p of params) p.grad = new Float32Array(p.numel).fill(round % 2 ? Number.NaN : 0.25);
  if (op !== 'stepAsync') await turn();
}
