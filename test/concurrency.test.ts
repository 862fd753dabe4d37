/** A running stepAsync() against every other entry point of the package: each call either
 * throws ERR_BUSY with nothing changed, or runs correctly because it shares only memory that
 * both read. The record of memory in use is process-wide and native, so other optimizers and
 * other workers are refused too; opt.busy and whenIdle() let code wait instead. */
import { Worker } from 'node:worker_threads';

import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { Adam, backend, clipGradNorm, numThreads, Parameter, ParameterStore, setBackend, setNumThreads, type BackendName } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { firstBitDifference } from './support/compare.js';

const initial = backend();
const initialThreads = numThreads();
afterAll(() => {
  setBackend(initial);
  setNumThreads(initialThreads);
});
afterEach(() => expect(addon.liveClaims()).toBe(0)); // no claim outlives its step

const N = 1 << 20;

function param(fill: number, grad = 0.5, n = N): Parameter {
  const p = new Parameter(new Float32Array(n).fill(fill));
  p.grad = new Float32Array(n).fill(grad);
  return p;
}

function busy(call: () => unknown): void {
  expect(call).toThrow(expect.objectContaining({ code: 'ERR_BUSY', name: 'SimdAdamError' }));
}

/** A Parameter stepped `steps` times alone by a fresh Adam: the value a correct run gives. */
function reference(fill: number, grad: number, steps: number): number {
  const p = param(fill, grad, 64);
  const opt = new Adam([p], { lr: 0.01 });
  for (let s = 0; s < steps; s++) opt.step();
  return p.data[0]!;
}

const backends: BackendName[] = [initial, 'js'];

describe.each(backends)('while a stepAsync() runs on the %s backend', (name) => {
  it('refuses clipGradNorm that would scale its grads (ERR_BUSY, nothing changed), and runs one that only reads them', async () => {
    setBackend(name);
    const p = param(0.8);
    const opt = new Adam([p], { lr: 0.01 });
    const running = opt.stepAsync();
    const grad = p.grad!.slice();
    busy(() => clipGradNorm([p], 1e-3));
    expect(firstBitDifference(p.grad!, grad)).toBeNull();
    expect(clipGradNorm([p], 1e9)).toBeCloseTo(Math.sqrt(N) * 0.5, 0); // reads only: no scaling needed
    await running;
    // Every element got one and the same update: the value spread the race used to leave is gone.
    expect(new Set(p.data).size).toBe(1);
    expect(p.data[0]).toBe(reference(0.8, 0.5, 1));
  });

  it("refuses another optimizer's step, stepAsync and explain over the same parameter, and zeroGrad's fill of its grads", async () => {
    setBackend(name);
    const p = param(0.8);
    const opt = new Adam([p], { lr: 0.01 });
    const other = new Adam([p], { lr: 0.01 });
    const running = opt.stepAsync();
    const grad = p.grad!.slice();
    busy(() => other.step());
    await expect(other.stepAsync()).rejects.toMatchObject({ code: 'ERR_BUSY' });
    busy(() => other.explain());
    busy(() => other.zeroGrad({ setToNone: false }));
    expect(firstBitDifference(p.grad!, grad)).toBeNull();
    await running;
    expect(p.data[0]).toBe(reference(0.8, 0.5, 1));
    expect(other.state.size).toBe(0); // the refused steps left no state behind
    other.step(); // and it steps once the memory is free
  });

  it("runs another optimizer's loadStateDict and stateDict over the same parameter: they touch only its own state", async () => {
    setBackend(name);
    const p = param(0.8);
    const opt = new Adam([p], { lr: 0.01 });
    const other = new Adam([p], { lr: 0.02 });
    other.step();
    const saved = other.stateDict();
    const running = opt.stepAsync();
    expect(() => other.loadStateDict(saved)).not.toThrow();
    expect(other.stateDict().state[0]!.step).toBe(1);
    await running;
  });

  it('runs a second step that only reads the same grad, with the bits of running alone', async () => {
    setBackend(name);
    const p = param(0.8);
    const q = new Parameter(new Float32Array(N).fill(0.3));
    q.grad = p.grad; // both steps read it; neither writes it
    const opt = new Adam([p], { lr: 0.01 });
    const other = new Adam([q], { lr: 0.01 });
    const running = opt.stepAsync();
    other.step();
    await running;
    expect(q.data[0]).toBe(reference(0.3, 0.5, 1));
    expect(p.data[0]).toBe(reference(0.8, 0.5, 1));
  });

  it("refuses the same optimizer's every call touching its memory", async () => {
    setBackend(name);
    const p = param(0.8);
    const opt = new Adam([p], { lr: 0.01 });
    const running = opt.stepAsync();
    for (const call of [() => opt.step(), () => opt.explain(), () => opt.stateDict(), () => opt.zeroGrad(), () => opt.loadStateDict({ state: {}, param_groups: [] })]) busy(call);
    await running;
  });

  it("refuses a ParameterStore's attachGrads while a step reads its grads, and attaches afterwards", async () => {
    setBackend(name);
    const store = new ParameterStore([{ shape: [N / 2] }, { shape: [N / 2] }]);
    store.grads.fill(0.25);
    store.attachGrads();
    const opt = new Adam(store.params, { lr: 0.01 });
    const running = opt.stepAsync();
    store.params.forEach((p) => (p.grad = null));
    busy(() => store.attachGrads());
    expect(store.params.every((p) => p.grad === null)).toBe(true);
    await running;
    store.attachGrads();
    expect(store.params.every((p) => p.grad !== null)).toBe(true);
  });

  it('says busy, for this optimizer and one sharing its memory, and not for one that shares nothing', async () => {
    setBackend(name);
    const p = param(0.8);
    const opt = new Adam([p]);
    const sharing = new Adam([p]);
    const apart = new Adam([param(0.1, 0.5, 64)]);
    expect(opt.busy).toBe(false);
    const running = opt.stepAsync();
    expect([opt.busy, sharing.busy, apart.busy]).toEqual([true, true, false]);
    await sharing.whenIdle();
    expect([opt.busy, sharing.busy]).toEqual([false, false]);
    await running;
  });
});

describe('whenIdle()', () => {
  it('gives a handler waiting on it its turn between back-to-back stepAsync() calls, every time', async () => {
    setBackend(initial);
    const p = param(0.8, 0.5, 1 << 18);
    const opt = new Adam([p], { lr: 0.01 });
    let training = true;
    const loop = (async () => {
      for (let s = 0; s < 40; s++) await opt.stepAsync();
      training = false;
    })();
    let served = 0, refused = 0;
    while (training) {
      await opt.whenIdle();
      try {
        opt.stateDict();
        served++;
      } catch (error) {
        if ((error as { code?: string }).code !== 'ERR_BUSY') throw error;
        refused++;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    await loop;
    expect(refused).toBe(0);
    expect(served).toBeGreaterThan(0);
  });
});

/** Starts test/support/worker-step-loop.ts over SharedArrayBuffers: stepAsync() back to back
 * until stop() is called. */
async function steppingWorker(n: number) {
  const data = new SharedArrayBuffer(n * 4), grad = new SharedArrayBuffer(n * 4), control = new SharedArrayBuffer(4);
  new Float32Array(grad).fill(0.5);
  const entry = new URL('./support/worker-step-loop.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: { data, grad, control, n } });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  await new Promise((resolve) => worker.once('message', resolve));
  const stop = async () => {
    Atomics.store(new Int32Array(control), 0, 1);
    return exited;
  };
  return { data, grad, stop };
}

describe('across workers', () => {
  it("changes the process-wide thread count while another worker's steps run on the pool", async () => {
    setBackend(initial);
    const { stop } = await steppingWorker(1 << 20);
    const p = param(0.8, 0.5, 1 << 20);
    const opt = new Adam([p], { lr: 0.01 });
    for (let k = 0; k < 12; k++) {
      setNumThreads(1 + (k % 2)); // waits for a parallel step the worker is running
      opt.step();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect(await stop()).toBe(0);
    const q = param(0.8, 0.5, 64);
    const alone = new Adam([q], { lr: 0.01 });
    for (let k = 0; k < 12; k++) alone.step();
    expect(p.data[0]).toBe(q.data[0]);
  });

  it('refuses clipGradNorm on SharedArrayBuffer grads a worker is stepping, with nothing changed', async () => {
    setBackend(initial);
    const { data, grad, stop } = await steppingWorker(1 << 21);
    const p = new Parameter(new Float32Array(data));
    p.grad = new Float32Array(grad);
    const opt = new Adam([p]);
    let refused = 0;
    const deadline = Date.now() + 20_000;
    while (refused === 0 && Date.now() < deadline) {
      const before = p.grad.slice(0, 1024);
      try {
        clipGradNorm([p], 1e-3);
        p.grad.fill(0.5); // it ran between two of the worker's steps: put the grads back
      } catch (error) {
        expect((error as { code?: string }).code).toBe('ERR_BUSY');
        expect(firstBitDifference(p.grad.subarray(0, 1024), before)).toBeNull();
        expect(opt.busy).toBe(true);
        refused++;
      }
    }
    expect(await stop()).toBe(0);
    expect(refused).toBe(1);
    await opt.whenIdle(); // the worker's last step ended: polled, it resolves
    expect(opt.busy).toBe(false);
  }, 60_000);
});

describe('a checkpoint write', () => {
  it("is refused while another optimizer's stepAsync() writes the parameters it would stream, and holds them against steps while it runs", async () => {
    setBackend(initial);
    const { writeStateDict } = await import('../src/index.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'simd-adam-concurrency-'));
    try {
      const p = param(0.8);
      const opt = new Adam([p]);
      opt.step();
      const other = new Adam([p]);
      const running = other.stepAsync();
      await expect(writeStateDict(join(dir, 'a.safetensors'), opt)).rejects.toMatchObject({ code: 'ERR_BUSY' });
      await running;
      const writing = writeStateDict(join(dir, 'b.safetensors'), opt);
      busy(() => other.step()); // it would write the parameter the write is streaming
      expect(opt.busy).toBe(true);
      await writing;
      other.step();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
