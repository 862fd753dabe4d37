/** The native boundary never half-applies: setters validated before they change anything (in
 * TypeScript and again natively), resizable buffers refused everywhere with a code, the thread
 * count changed only by an explicit call, and TypeScript's own validate-then-commit (the
 * non-finite guard's state, scheduler constructors). */
import { Worker } from 'node:worker_threads';

import { afterAll, describe, expect, it } from 'vitest';

import { Adam, backend, clipGradNorm, numThreads, Parameter, setBackend, setNumThreads, StepLR } from '../src/index.js';
import { addon } from '../src/native/addon.js';

const initialThreads = numThreads();
const initialBackend = backend();
afterAll(() => {
  setNumThreads(initialThreads);
  setBackend(initialBackend);
});

const S = addon.planLayout.segment;
const C = addon.planLayout.scalars;

/** A resizable ArrayBuffer (ES2024; Node 20 has it, the TypeScript lib here may not). */
function resizable(bytes: number): ArrayBuffer {
  return new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer)(bytes, { maxByteLength: bytes * 4 });
}
function growable(bytes: number): SharedArrayBuffer {
  return new (SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer)(bytes, { maxByteLength: bytes * 4 });
}

describe('setNumThreads', () => {
  it('refuses a string, a fraction or an out-of-range count before changing anything, in TypeScript and natively', () => {
    setNumThreads(3);
    for (const bad of ['4', 2.5, 0, 1025, NaN, -1]) {
      expect(() => setNumThreads(bad as number)).toThrow(expect.objectContaining({ code: 'ERR_OPTION' }));
      expect(() => addon.setNumThreads(bad as number)).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
      expect(numThreads()).toBe(3);
    }
  });

  it("refuses a bad tuning setter whole: a valid key beside a bad one is not applied", () => {
    for (const bad of [{ chunkElements: '8' }, { parallelMin: -1 }, { chunkElements: 64, parallelMin: 2 ** 40 }, null]) {
      expect(() => addon.tuning(bad as never)).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
    }
    addon.tuning({ chunkElements: 0, parallelMin: 0 });
  });

  it('is not reset by importing the package in a worker: only an explicit call changes it', async () => {
    setNumThreads(3);
    const entry = new URL('../src/index.ts', import.meta.url).href;
    const code =
      `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })` +
      `.then((m) => require('node:worker_threads').parentPort.postMessage(m.numThreads()))`;
    const worker = new Worker(code, { eval: true });
    const seen = await new Promise<number>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
    await worker.terminate();
    expect(seen).toBe(3);
    expect(numThreads()).toBe(3);
  });
});

describe('resizable buffers', () => {
  it('are refused as parameter data (ERR_RESIZABLE), growable SharedArrayBuffers too', () => {
    for (const buffer of [resizable(64), growable(64)]) {
      expect(() => new Parameter(new Float32Array(buffer))).toThrow(expect.objectContaining({ code: 'ERR_RESIZABLE' }));
    }
  });

  it('are refused as grads by step, stepAsync, explain and clipGradNorm, nothing changed', async () => {
    const p = new Parameter(new Float32Array(16).fill(1));
    p.grad = new Float32Array(resizable(64));
    p.grad.fill(0.5);
    const opt = new Adam([p]);
    expect(() => opt.step()).toThrow(expect.objectContaining({ code: 'ERR_RESIZABLE' }));
    await expect(opt.stepAsync()).rejects.toMatchObject({ code: 'ERR_RESIZABLE' });
    expect(() => opt.explain()).toThrow(expect.objectContaining({ code: 'ERR_RESIZABLE' }));
    expect(() => clipGradNorm([p], 1e-3)).toThrow(expect.objectContaining({ code: 'ERR_RESIZABLE' }));
    expect(Array.from(p.data)).toEqual(new Array(16).fill(1));
    expect(Array.from(p.grad)).toEqual(new Array(16).fill(0.5));
    expect(opt.state.size).toBe(0);
  });

  it('are refused by the addon itself (ERR_INTERNAL), by step, prepare and the reductions', () => {
    const table = new Float64Array(S.STRIDE);
    table[S.LENGTH] = 4;
    for (const [b, o] of [[S.PARAM_BUFFER, S.PARAM_OFFSET], [S.GRAD_BUFFER, S.GRAD_OFFSET], [S.EXP_AVG_BUFFER, S.EXP_AVG_OFFSET], [S.EXP_AVG_SQ_BUFFER, S.EXP_AVG_SQ_OFFSET]] as const) {
      table[b] = 0;
      table[o] = 0;
    }
    table[S.MAX_EXP_AVG_SQ_BUFFER] = -1;
    const view = new Float64Array([0, 0, 4]);
    for (const buffers of [[resizable(64)], [new Uint8Array(growable(64))]]) {
      const bytes = new Uint8Array(buffers[0] instanceof Uint8Array ? buffers[0].buffer : buffers[0]!).slice();
      for (const call of [
        () => addon.step(buffers, table, new Float64Array(C.STRIDE)),
        () => addon.prepare(buffers, table),
        () => addon.reduce(buffers, view, addon.reduceLayout.ops.SUM_SQ, 2),
        () => addon.scale(buffers, view, 2),
        () => addon.claim(buffers, view, null),
      ]) {
        expect(call).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
      }
      expect(new Uint8Array(buffers[0] instanceof Uint8Array ? buffers[0].buffer : buffers[0]!)).toEqual(bytes);
    }
  });
});

describe('the addon validates what it converts', () => {
  it('refuses a scalars row whose flags are not a set of known bits (a NaN or huge double would be an undefined cast)', () => {
    const buffer = new ArrayBuffer(64);
    const table = new Float64Array(S.STRIDE);
    table[S.LENGTH] = 1;
    table[S.MAX_EXP_AVG_SQ_BUFFER] = -1;
    for (const flags of [NaN, 1e300, -1, 0.5, 16]) {
      const scalars = new Float64Array(C.STRIDE);
      scalars[C.FLAGS] = flags;
      expect(() => addon.step([buffer], table, scalars)).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
    }
    expect(() => addon.step([buffer], table, new Float64Array(C.STRIDE), 1e300, null)).toThrow(expect.objectContaining({ code: 'ERR_INTERNAL' }));
    expect(addon.liveClaims()).toBe(0);
  });
});

describe('validate, then commit', () => {
  it("keeps no second copy of the state when the guard refuses a first step: the next plan finds the same arena slot", () => {
    const [a, b] = [new Parameter(new Float32Array(64).fill(1)), new Parameter(new Float32Array(64).fill(2))];
    const opt = new Adam([a, b], { nonFinite: 'skip' });
    a.grad = new Float32Array(64).fill(NaN); // b has no grad: the refused plan covers a alone
    opt.step();
    expect(opt.skippedSteps).toBe(1);
    expect(opt.state.size).toBe(0);
    a.grad = new Float32Array(64).fill(0.5); // new arrays: the plan is built again, for a and b
    b.grad = new Float32Array(64).fill(0.5);
    opt.step();
    // Both from the group's one arena, which a refused step would otherwise have left a hole in.
    expect((opt.state.get(a)!.expAvg as Float32Array).buffer).toBe((opt.state.get(b)!.expAvg as Float32Array).buffer);
  });

  it('leaves every group as it was when a scheduler constructor fails on a later group', () => {
    const opt = new Adam([{ params: [new Parameter(new Float32Array(4))], lr: 0.1 }, { params: [new Parameter(new Float32Array(4))], lr: 0.2 }]);
    const groups = opt.paramGroups as unknown as Array<Record<string, unknown>>;
    groups[1]!.initialLr = 'not a number';
    expect(() => new StepLR(opt, { stepSize: 1 })).toThrow(expect.objectContaining({ code: 'ERR_OPTION' }));
    expect('initialLr' in groups[0]!).toBe(false);
    expect(groups.map((g) => g.lr)).toEqual([0.1, 0.2]);
    expect(groups[1]!.initialLr).toBe('not a number');
  });
});
