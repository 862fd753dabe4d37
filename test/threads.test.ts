/** Threads change speed, never results: every backend, thread counts 1-3, several chunk sizes,
 * a model mixing separate buffers, a ParameterStore, amsgrad, odd lengths and misaligned views. */
import { afterAll, describe, expect, it } from 'vitest';

import { Adam, AdamW, availableBackends, backend, numThreads, Parameter, ParameterStore, setBackend, setNumThreads } from '../src/index.js';
import { addon } from '../src/native/addon.js';
import { firstBitDifference } from './support/compare.js';
import { fillValues, rng, SPECIALS } from './support/random.js';
import { f32State } from './support/float32_state.js';

const initialBackend = backend();
const initialThreads = numThreads();
afterAll(() => {
  setBackend(initialBackend);
  setNumThreads(initialThreads);
  addon.tuning({ chunkElements: 0, parallelMin: 0 });
});

/** Builds the same model from a seed each time: params, grads, and an optimizer over them. */
function model(seed: number) {
  const next = rng(seed);
  const separate = [5000, 1, 33, 17_000, 0, 4099].map((n, i) => {
    const offset = i % 4;
    const buffer = new ArrayBuffer((n + offset) * 4);
    const p = new Parameter(fillValues(new Float32Array(buffer, offset * 4, n), next), { name: `s${i}` });
    p.grad = fillValues(new Float32Array(n), next, SPECIALS);
    return p;
  });
  const store = new ParameterStore([{ shape: [64, 129] }, { shape: [7] }, { shape: [3000, 3] }, { shape: [1] }]);
  fillValues(store.data, next);
  fillValues(store.grads, next);
  store.attachGrads({ zero: false });
  const opt = new AdamW([{ params: separate, amsgrad: true }, { params: store.params, lr: 0.01, weightDecay: 0.1 }]);
  const all = [...separate, ...store.params];
  return { opt, all };
}

function run(seed: number): Float32Array[] {
  const { opt, all } = model(seed);
  for (let s = 0; s < 3; s++) opt.step();
  return all.flatMap((p) => {
    const st = opt.state.get(p) && f32State(opt.state.get(p));
    return [p.data, ...(st ? [st.expAvg, st.expAvgSq, ...(st.maxExpAvgSq ? [st.maxExpAvgSq] : [])] : [])];
  });
}

describe.each(availableBackends())('on the %s backend', (name) => {
  it('gives bit-identical results whatever the thread count and chunk size', () => {
    setBackend(name);
    addon.tuning({ parallelMin: 1 });
    setNumThreads(1);
    const reference = run(7);
    for (const threads of [1, 2, 3]) {
      for (const chunk of [0, 16, 1000, 4096]) {
        setNumThreads(threads);
        addon.tuning({ chunkElements: chunk });
        const result = run(7);
        result.forEach((a, i) => {
          const bad = firstBitDifference(a, reference[i]!);
          expect(bad, `threads ${threads}, chunk ${chunk}, array ${i}`).toBeNull();
        });
      }
    }
  });
});

describe('the thread count', () => {
  it('defaults to the cores this process may use, and can be set', () => {
    expect(initialThreads).toBeGreaterThanOrEqual(1);
    setNumThreads(3);
    expect(numThreads()).toBe(3);
    setNumThreads(initialThreads);
  });

  it('is validated', () => {
    for (const bad of [0, -1, 1.5, NaN, '2', 2000]) {
      expect(() => setNumThreads(bad as number)).toThrow(expect.objectContaining({ code: 'ERR_OPTION' }));
    }
  });

  it('spreads a large step without changing it: one step of 1M elements matches Adam on one thread', () => {
    const make = () => {
      const p = new Parameter(fillValues(new Float32Array(1 << 20), rng(3)));
      p.grad = fillValues(new Float32Array(1 << 20), rng(4));
      return p;
    };
    addon.tuning({ chunkElements: 0, parallelMin: 0 });
    setNumThreads(1);
    const one = make();
    new Adam([one]).step();
    setNumThreads(2);
    const two = make();
    new Adam([two]).step();
    expect(firstBitDifference(two.data, one.data)).toBeNull();
  });
});
