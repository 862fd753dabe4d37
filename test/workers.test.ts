/** The addon in worker_threads: loading in several at once, SharedArrayBuffer-backed
 * parameters, and concurrent optimizers giving the same bits as sequential ones. */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, availableBackends, backend, Parameter, setBackend, type BackendName } from '../src/index.js';
import { firstBitDifference } from './support/compare.js';
import { trainDeterministic } from './support/train.js';

const initial = backend();
afterAll(() => setBackend(initial));

function runWorker<T>(data: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    // The worker registers tsx itself, so it can load the TypeScript sources.
    const entry = new URL('./support/worker-train.ts', import.meta.url).href;
    const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(bootstrap, { eval: true, workerData: data });
    worker.once('message', (m: T) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`worker exited with ${code}`)));
  });
}

const natives = availableBackends().filter((b) => b !== 'js');

describe('worker_threads', () => {
  it('loads the addon in several workers at once, each with its own backend choice', async () => {
    const wanted: BackendName[] = [natives[0]!, 'scalar', 'js', natives.at(-1)!];
    const results = await Promise.all(wanted.map((b, i) => runWorker<{ backend: string }>({ backend: b, seed: i, steps: 2 })));
    expect(results.map((r) => r.backend)).toEqual(wanted);
    expect(backend()).toBe(initial); // a worker's setBackend does not reach the main thread
  });

  it('gives two optimizers stepping at the same time in two workers the bits of running them one after the other', async () => {
    const steps = 40;
    const [a, b] = await Promise.all([
      runWorker<{ result: number[][] }>({ backend: natives[0], seed: 1, steps }),
      runWorker<{ result: number[][] }>({ backend: natives[0], seed: 2, steps }),
    ]);
    setBackend(natives[0]!);
    expect(a.result).toEqual(trainDeterministic(1, steps));
    expect(b.result).toEqual(trainDeterministic(2, steps));
  });

  it('steps parameters backed by a SharedArrayBuffer, visible to the thread that shares them', async () => {
    const length = 1000;
    const shared = { data: new SharedArrayBuffer(length * 4), grad: new SharedArrayBuffer(length * 4), length };
    const data = new Float32Array(shared.data);
    const grad = new Float32Array(shared.grad);
    data.forEach((_, i) => (data[i] = Math.sin(i)));
    grad.forEach((_, i) => (grad[i] = Math.cos(i) / 10));
    const local = new Parameter(data.slice());
    const opt = new Adam([local], { lr: 0.01, weightDecay: 0.1, amsgrad: true });
    setBackend(natives[0]!);
    for (let s = 0; s < 5; s++) {
      local.grad = grad.slice();
      opt.step();
    }
    await runWorker({ backend: natives[0], seed: 0, steps: 5, shared });
    expect(firstBitDifference(new Float32Array(shared.data), local.data)).toBeNull();
  });

  it('steps SharedArrayBuffer parameters on the main thread on every backend', () => {
    for (const name of availableBackends()) {
      setBackend(name);
      const p = new Parameter(new Float32Array(new SharedArrayBuffer(64 * 4)).fill(1));
      const q = new Parameter(new Float32Array(64).fill(1));
      const opt = new Adam([p, q], { lr: 0.1 });
      p.grad = new Float32Array(new SharedArrayBuffer(64 * 4)).fill(0.5);
      q.grad = new Float32Array(64).fill(0.5);
      opt.step();
      expect(firstBitDifference(p.data, q.data), name).toBeNull();
      expect(p.data[0]).toBeCloseTo(0.9, 6);
    }
  });
});
