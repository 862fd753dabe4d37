/** stepAsync: the same update as step(), off the event loop, with every overlapping call refused. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

import { Adam, availableBackends, backend, numThreads, Parameter, setBackend, setNumThreads } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng } from './support/random.js';
import { f32State } from './support/float32_state.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const initialBackend = backend();
afterAll(() => setBackend(initialBackend));

function setup(n: number, seed: number, amsgrad = false) {
  const params = [n, 37, 1000].map((size, i) => {
    const p = new Parameter(fillValues(new Float32Array(size), rng(seed + i)), { name: `p${i}` });
    p.grad = fillValues(new Float32Array(size), rng(seed + 10 + i));
    return p;
  });
  return { params, opt: new Adam(params, { lr: 0.01, weightDecay: 0.01, amsgrad }) };
}

/** Counts event-loop turns (setImmediate) and timer callbacks until `done` settles. */
async function liveness(done: Promise<void>): Promise<{ immediates: number; timers: number }> {
  let settled = false;
  const counts = { immediates: 0, timers: 0 };
  const spin = () => setImmediate(() => {
    if (settled) return;
    counts.immediates++;
    spin();
  });
  const tick = () => setTimeout(() => {
    if (settled) return;
    counts.timers++;
    tick();
  }, 0);
  spin();
  tick();
  await done;
  settled = true;
  return counts;
}

describe.each(availableBackends())('stepAsync on the %s backend', (name) => {
  it('gives the same bits as step(), state and step counts included', async () => {
    setBackend(name);
    const a = setup(70_000, 1, true);
    const b = setup(70_000, 1, true);
    for (let s = 0; s < 3; s++) {
      a.opt.step();
      await b.opt.stepAsync();
    }
    a.params.forEach((p, i) => {
      const q = b.params[i]!;
      expect(firstBitDifference(q.data, p.data)).toBeNull();
      const [sa, sb] = [f32State(a.opt.state.get(p)), f32State(b.opt.state.get(q))];
      expect(sb.step).toBe(3);
      expect(firstBitDifference(sb.expAvg, sa.expAvg)).toBeNull();
      expect(firstBitDifference(sb.maxExpAvgSq!, sa.maxExpAvgSq!)).toBeNull();
    });
  });

  it('keeps the event loop serving immediates and timers while it runs', async () => {
    setBackend(name);
    // Large enough to take milliseconds on any backend: the loop turns many times meanwhile.
    const { opt } = setup(name === 'js' ? 3_000_000 : 4_000_000, 2);
    const counts = await liveness(opt.stepAsync());
    expect(counts.immediates).toBeGreaterThanOrEqual(1);
  });
});

describe('stepAsync crossings', () => {
  afterEach(() => vi.restoreAllMocks());

  it.each([
    ['unguarded', {}],
    ["with nonFinite: 'skip'", { nonFinite: 'skip' as const }],
  ])('crosses into native code once per step, a step that rebuilds its plan included (%s)', async (_, options) => {
    setBackend(initialBackend);
    const params = [1000, 37].map((n, i) => {
      const p = new Parameter(fillValues(new Float32Array(n), rng(40 + i)));
      p.grad = fillValues(new Float32Array(n), rng(50 + i));
      return p;
    });
    const opt = new Adam(params, options);
    const names = ['step', 'prepare', 'run', 'runAsync', 'prepareAsync'] as const;
    const spies = names.map((n) => vi.spyOn(addon, n));
    const crossings = () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
    await opt.stepAsync(); // builds the plan
    expect(crossings()).toBe(1);
    await opt.stepAsync(); // reuses it
    expect(crossings()).toBe(2);
    params[1]!.grad = fillValues(new Float32Array(37), rng(60)); // a new grad array: rebuilt
    await opt.stepAsync();
    expect(crossings()).toBe(3);
    expect(f32State(opt.state.get(params[1]!)).step).toBe(3);
  });
});

describe('while a stepAsync is in flight', () => {
  const refused = expect.objectContaining({ code: 'ERR_BUSY' });

  it('every method of that optimizer touching params, grads or state is refused, and setBackend and setNumThreads too', async () => {
    const { opt, params } = setup(2_000_000, 3);
    const other = new Parameter(new Float32Array(4));
    const pending = opt.stepAsync();
    expect(() => opt.step()).toThrow(refused);
    await expect(opt.stepAsync()).rejects.toThrow(refused);
    expect(() => opt.zeroGrad()).toThrow(refused);
    expect(() => opt.addParamGroup({ params: [other] })).toThrow(refused);
    // Methods added by other features refuse the same way, whatever their arguments.
    const more = opt as unknown as Record<string, ((...args: unknown[]) => unknown) | undefined>;
    for (const method of ['stateDict', 'loadStateDict', 'explain']) {
      if (typeof more[method] === 'function') expect(() => more[method]!.call(opt, {})).toThrow(refused);
    }
    expect(() => setBackend('scalar')).toThrow(refused);
    expect(() => setNumThreads(1)).toThrow(refused);
    await pending;
    // Afterwards everything updates again.
    setNumThreads(numThreads());
    opt.zeroGrad();
    expect(params[0]!.grad).toBeNull();
    expect(f32State(opt.state.get(params[0]!)).step).toBe(1);
  });

  it('another optimizer still steps, synchronously or not', async () => {
    const first = setup(2_000_000, 4);
    const second = setup(1000, 5);
    const pending = first.opt.stepAsync();
    second.opt.step();
    await second.opt.stepAsync();
    await pending;
    expect(f32State(second.opt.state.get(second.params[0]!)).step).toBe(2);
  });

  it('its buffers survive forced garbage collection, though nothing but the plan\'s weak references holds them', () => {
    // A child process: gc() needs --expose-gc, and a step writing into collected buffers may
    // crash its process instead of failing an assertion.
    const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', 'test/support/async-gc.ts'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect({ status: child.status, signal: child.signal }, child.stderr).toEqual({ status: 0, signal: null });
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
    expect(report).toEqual({
      buffers: 5,
      gcsWhilePending: expect.any(Number),
      fewestAliveWhilePending: 5,
      paramWritten: true,
      // The control: once the step settled the same collections freed them all, the plan alive.
      aliveAfterSettle: 0,
      runAfterCollection: expect.stringContaining('a plan buffer is gone'),
    });
  });

  it('a validation error rejects the promise and changes nothing', async () => {
    const { opt, params } = setup(100, 6);
    params[1]!.grad = new Float32Array(3);
    const before = params.map((p) => p.data.slice());
    await expect(opt.stepAsync()).rejects.toThrow(expect.objectContaining({ code: 'ERR_GRAD_LENGTH' }));
    params.forEach((p, i) => expect(firstBitDifference(p.data, before[i]!)).toBeNull());
    expect(opt.state.size).toBe(0);
    params[1]!.grad = new Float32Array(37);
    await opt.stepAsync();
  });

  it('a buffer detached after the plan was cached is reported with its own code', async () => {
    const { opt, params } = setup(100, 7);
    await opt.stepAsync();
    const grad = params[2]!.grad!;
    structuredClone(grad.buffer, { transfer: [grad.buffer as ArrayBuffer] });
    await expect(opt.stepAsync()).rejects.toThrow(expect.objectContaining({ code: 'ERR_GRAD_LENGTH' }));
    expect(f32State(opt.state.get(params[0]!)).step).toBe(1);
  });
});
