import { afterAll, describe, expect, it } from 'vitest';

import { availableBackends, backend, setBackend } from '../src/index.js';
import { loadCases } from './support/fixtures.js';
import { buildOptimizer, runSteps } from './support/runner.js';

const cases = loadCases();
const initial = backend();
afterAll(() => setBackend(initial));

describe.each(availableBackends())('PyTorch conformance on the %s backend', (name) => {
  it.each(cases.map((c) => [c.name, c] as const))('%s matches the recorded trajectory', (_, c) => {
    setBackend(name);
    const { opt, params } = buildOptimizer(c, c.params_init.map((t) => t.data));
    expect(runSteps(c, opt, params)).toEqual([]);
  });
});

it('the fixtures cover every feature the numerics contract names', () => {
  const groups = cases.flatMap((c) => c.param_groups);
  expect(cases.length).toBeGreaterThanOrEqual(18);
  expect(groups.some((g) => g.amsgrad)).toBe(true);
  expect(groups.some((g) => g.maximize)).toBe(true);
  expect(groups.some((g) => g.weight_decay > 0)).toBe(true);
  expect(cases.some((c) => c.optimizer === 'AdamW')).toBe(true);
  expect(cases.some((c) => c.steps.some((s) => s.grads.includes(null)))).toBe(true);
});
